"""The servers: the public WSGI site and the editor's live preview."""
