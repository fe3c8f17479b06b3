"""How a command stops early: on Ctrl-C, or when the reader of its output has gone. Kept
free of imports beyond the standard library, so that it can answer Ctrl-C while the
commands themselves are still loading."""

from __future__ import annotations

import sys
from typing import NoReturn

# Exit statuses a shell gives a command a signal stopped: 128 + the signal's number, written
# out (the signal module takes a while to load, and Ctrl-C may come meanwhile).
INTERRUPTED = 130  # SIGINT, 2
OUTPUT_CLOSED = 141  # SIGPIPE, 13

# Every file is written whole or not at all (publishing/output.py) and sending resumes
# where it stopped, so running the command again finishes what Ctrl-C cut short.
INTERRUPTED_MESSAGE = ("Interrupted: stopped before the end; no file is left half-written. "
                       "Run the command again to finish.")


def is_interrupt(error: BaseException) -> bool:
    """Whether Ctrl-C is what ``error`` reports: a KeyboardInterrupt, or an exception raised
    from one. Python 3.11 hands on a KeyboardInterrupt that lands in a descriptor's
    ``__set_name__`` (each field of a dataclass, as a module defining one loads) as
    ``RuntimeError: Error calling __set_name__``, raised from it."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        # The cause only, not the context: an error raised while cleaning up after Ctrl-C
        # is an error of its own, to report.
        cause = cause.__cause__
    return False


def exit_interrupted() -> NoReturn:
    """Say in one line that the command was interrupted, and exit 130 (as after Ctrl-C)."""
    try:
        sys.stderr.write(INTERRUPTED_MESSAGE + "\n")
        sys.stderr.flush()
    except OSError:  # stderr closed as well: the status says it
        pass
    sys.exit(INTERRUPTED)
