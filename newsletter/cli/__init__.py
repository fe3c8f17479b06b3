"""The ``newsletter`` command: a thin layer that parses options and calls the library."""

from .issue_commands import cli, main

__all__ = ["cli", "main"]
