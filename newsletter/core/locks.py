"""The one lock helper: an exclusive ``flock`` on a file, not waited for unless asked.

The kernel releases an flock when its process dies, however it dies (even by SIGKILL), so a
crash never leaves a stale lock and no PID needs guessing; the PID written inside is only
for the message that names the holder.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from .private import private_file

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locking, as there is no flock
    fcntl = None  # type: ignore[assignment]  # the module is absent on this platform


@contextlib.contextmanager
def exclusive(path: Path, busy: Callable[[str], Exception], *, wait: float = 0.0,
              waiting: Callable[[str], None] | None = None, note: str = "") -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created, with its folder, when missing) for the
    ``with`` block. When another process holds it, raises ``busy(holder)``, where ``holder``
    is what that process wrote (its PID, then its ``note`` in brackets), or "unknown": at
    once, or after trying for ``wait`` seconds, having called ``waiting(holder)`` once. A
    holder may delete the file before it lets go (a folder it made for nothing): the lock
    is then taken again on the file at ``path``, never kept on the deleted one."""
    deadline = time.monotonic() + wait
    said = False
    while True:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        private_file(path)  # the PID inside is nobody else's business
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held past the loop
        state = "busy"
        try:
            state = _take(handle, path)
            if state == "held":
                break
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
        finally:
            if state != "held":
                handle.close()
        if state == "gone":
            continue  # deleted by the holder we waited for: lock the file path names now
        if time.monotonic() >= deadline:
            raise busy(holder)
        if waiting is not None and not said:
            waiting(holder)
            said = True
        time.sleep(0.1)  # polled: a blocking flock could not be given up
    with handle:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()} ({note})\n" if note else f"{os.getpid()}\n")
        handle.flush()
        yield  # closing the file releases the lock


def _take(handle: IO[str], path: Path) -> str:
    """Try the lock once: "held" by this process now, "busy" (another holds it), or "gone":
    locked, but the file is no longer the one at ``path`` (its holder deleted it before
    letting go), so that holding it would keep out nobody who opens ``path`` now."""
    if fcntl is None:
        return "held"
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return "busy"
    try:
        same = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
    except OSError:  # deleted, not made again yet
        same = False
    return "held" if same else "gone"
