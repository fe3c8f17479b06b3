"""The ``newsletter`` command: a thin layer that parses options and calls the library.

The commands are loaded when ``main`` runs, not when this package is imported: loading them
is a good part of a short command's time, and Ctrl-C then must end the command as it does
at any later moment (stops.py), not with a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .stops import exit_interrupted, is_interrupt

if TYPE_CHECKING:
    from .issue_commands import cli

__all__ = ["cli", "main"]


def main() -> None:
    try:
        from .issue_commands import main as run
    except BaseException as error:  # Ctrl-C, also as Python may wrap it
        if is_interrupt(error):
            exit_interrupted()
        raise
    run()


def __getattr__(name: str) -> Any:
    """``newsletter.cli.cli``, the click group, loaded on first use."""
    if name == "cli":
        from .issue_commands import cli as group
        return group
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
