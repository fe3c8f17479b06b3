"""Ctrl-C during ``newsletter send``: the run stops once each sender has settled the message
it has in flight (its outcome in the ledger), then says what went and what was not
attempted, and that running the same command continues where it stopped. A second Ctrl-C
stops at once, leaving the ledger as a kill does (the next run names the messages that
were in flight and sends them again).

Only where Ctrl-C would otherwise raise ``KeyboardInterrupt`` in the main thread (the
command line): a process with a handler of its own (the scheduler, which finishes the run
in progress), or that ignores SIGINT, keeps it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


@contextlib.contextmanager
def settle_on_interrupt() -> Iterator[threading.Event]:
    """An event that the first Ctrl-C sets for the length of the ``with`` block; the second
    raises ``KeyboardInterrupt`` as usual. The previous handler comes back afterwards."""
    interrupted = threading.Event()
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield interrupted
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if interrupted.is_set():
            raise KeyboardInterrupt
        interrupted.set()  # the senders look at it between messages, never in one

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)
