"""Publishing: the issue file, building and publishing an issue, the one atomic writer."""
