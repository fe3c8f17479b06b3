"""The scheduler: which runs are due, one run, the long-running loop."""
