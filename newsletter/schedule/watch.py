"""The configuration file, watched by the long-running scheduler: an edited schedule is
followed between runs, without waiting for the fire time the old one set."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from ..core.config import Config
from ..core.errors import NewsletterError
from ..core.timing import schedule_settings

log = logging.getLogger("newsletter.schedule")

Signature = tuple[int, int, int] | None  # mtime, size, inode; None while the file is missing


def _signature(path: Path) -> Signature:
    try:
        found = os.stat(path)  # through a symbolic link: a link switched to a new file counts
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size, found.st_ino


class ConfigWatch:
    """Looks at the configuration file's date, size and inode (a cheap ``stat``, so it can
    look every second); reads it again once it changed and then stayed the same for one look,
    so that a save in progress is not read half-written."""

    def __init__(self, path: Path, load: Callable[[], Config]) -> None:
        self.path = path
        self.load = load
        self.read = self.seen = _signature(path)  # the one last read; the one last seen

    def _reread(self, signature: Signature) -> Config:
        self.read = signature
        config = self.load()
        schedule_settings(config)  # a configuration without a schedule is of no use here
        return config

    def edited(self) -> Config | None:
        """The configuration read afresh when the file was edited since it was last read,
        else None. Raises :class:`NewsletterError` when the edit made it invalid (once per
        edit: the same invalid file is not read again)."""
        signature = _signature(self.path)
        settled, self.seen = signature == self.seen, signature
        if signature == self.read or not settled:
            return None
        return self._reread(signature)

    def current(self, config: Config) -> Config:
        """``config``, or the file read afresh when it changed since (a standby taking over
        after waiting for days): what an active scheduler starts with."""
        signature = self.seen = _signature(self.path)
        if signature == self.read:
            return config
        try:
            return self._reread(signature)
        except NewsletterError as error:
            log.error("%s; until it is fixed, the configuration read when this scheduler "
                      "started is used", error)
            return config


def _state(path: Path) -> tuple[int, int, int] | None:
    """A file's or folder's change time (which a write, a chmod, a chown all move), inode and
    size; None while it is missing."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_ctime_ns, found.st_ino, found.st_size


class InputWatch:
    """The inputs a run that failed for a lasting reason depends on (the files an error
    named, the folder it could not write in), looked at as cheaply as the configuration
    file, and as patiently: a change counts once it stayed the same for one look."""

    def __init__(self, paths: tuple[Path, ...]) -> None:
        self.paths = paths
        self.read = self.seen = self._look()

    def _look(self) -> tuple[tuple[int, int, int] | None, ...]:
        return tuple(_state(path) for path in self.paths)

    def changed(self) -> list[Path]:
        """The inputs changed since the failure (or the last change seen), once settled."""
        states = self._look()
        settled, self.seen = states == self.seen, states
        if not settled or states == self.read:
            return []
        changed = [path for path, old, new in zip(self.paths, self.read, states, strict=True)
                   if old != new]
        self.read = states
        return changed
