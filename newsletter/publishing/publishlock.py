"""One writer of an output folder at a time: the lock a build or a publish holds while it reads
what is published and writes.

Every file is written atomically, but the archive pages, the year pages, the feeds, the
issue index and :mod:`.unfinished`'s file are each made from what the writer read of the
published issues: two publishes at once (a publish by hand while the scheduler publishes
another issue, two terminals) would each write them without the other's issue, and the one
that finishes last would drop it from the feeds and the front page, and from the file that
names a publish to mend. So the part of a build or publish that reads the published issues
and writes holds an flock on a file in the output folder (whichever config names it), taken
after the corpus is read, the slow part. A second writer waits up to :data:`PUBLISH_WAIT`
seconds, saying for whom, then gives up with a message naming the holder; nothing is written
then. The kernel releases the lock when its holder dies, however it dies: never a stale lock.
Reading (explain, check, the preview) takes no lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from ..core.errors import NewsletterError
from ..core.locks import exclusive

PUBLISH_LOCK = ".newsletter-publish.lock"  # a dotfile: never served, never copied to a host
PUBLISH_WAIT = 10.0  # seconds; a publish writes for well under that, even after years


class PublishBusy(NewsletterError):
    """Another process is writing the output folder; nothing was written. It passes: the
    same command succeeds once the other finishes (the scheduler tries its run again)."""

    def __init__(self, message: str, holder: str) -> None:
        super().__init__(message)
        self.holder = holder


def publish_lock_path(output: Path) -> Path:
    return output / PUBLISH_LOCK


@contextlib.contextmanager
def writing_output(output: Path, what: str,
                   waiting: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the output folder's lock for the ``with`` block; ``what`` (say "publish of issue
    2021-02-22") is written beside the PID for the message of whoever waits for it, and
    ``waiting`` is told once, when this process has to wait."""
    path = publish_lock_path(output)
    made = not output.exists()
    output.mkdir(parents=True, exist_ok=True)  # as a build makes it, not private

    def said(holder: str) -> None:
        if waiting is not None:
            waiting(f"waiting for PID {holder}, which is writing {output}, to finish (up to "
                    f"{PUBLISH_WAIT:.0f} s)")

    def busy(holder: str) -> PublishBusy:
        return PublishBusy(
            f"{output} is being written by another process, PID {holder}, and was still "
            f"after {PUBLISH_WAIT:.0f} s, so nothing was written for the {what}: run the same "
            "command again once it has finished (a publish by hand, the scheduler, another "
            f"terminal; the lock {path} is released when that process ends, however it "
            "ends)", holder)

    with exclusive(path, busy, wait=PUBLISH_WAIT, waiting=said, note=what):
        try:
            yield
        finally:
            if made:  # a folder made for a build that wrote nothing (an empty or refused
                _unmake(output, path)  # issue) is not left behind: nothing is, then


def _unmake(output: Path, path: Path) -> None:
    """Delete ``output`` when it holds nothing but the lock file ``path`` (whose holder this
    process still is: one waiting for it takes the lock again on a new file)."""
    with contextlib.suppress(OSError):
        if [entry.name for entry in output.iterdir()] == [path.name]:
            path.unlink()
            output.rmdir()
