"""The one lock helper: an exclusive ``flock`` on a file, never waited for.

The kernel releases an flock when its process dies, however it dies (even by SIGKILL), so a
crash never leaves a stale lock and no PID needs guessing; the PID written inside is only
for the message that names the holder.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from .private import private_file

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locking, as there is no flock
    fcntl = None  # type: ignore[assignment]  # the module is absent on this platform


@contextlib.contextmanager
def exclusive(path: Path, busy: Callable[[str], Exception]) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created, with its folder, when missing) for the
    ``with`` block. When another process holds it, raises ``busy(holder)`` at once, where
    ``holder`` is that process's PID as it wrote it, or "unknown"."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    private_file(path)  # the PID inside is nobody else's business
    with open(path, "a+", encoding="utf-8") as handle:
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                raise busy(handle.read().strip() or "unknown") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield  # closing the file releases the lock
