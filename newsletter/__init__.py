"""newsletter: turn a folder of news articles into a curated weekly newsletter."""

__version__ = "0.1.0"
