"""The delivery state: one SQLite schema and its connections."""
