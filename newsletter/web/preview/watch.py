"""Watching what a draft is made of: OS file notifications, polling only where they fail.

The corpus, the packaged templates, the config's ``templates:`` folder of overrides and
the output folder (its ``overrides.yaml`` and ``issue.json`` files: a newly published issue
changes what later drafts may feature) are watched with
``watchfiles`` (inotify on Linux, FSEvents on macOS): an idle preview costs next to nothing
however large the corpus, where polling 100,000 files every 0.3 s kept a core busy.

Network mounts (NFS, SMB, sshfs, ...) deliver no notification for an edit made on another
machine, so there the watcher polls (``watchfiles``' polling mode) on its own; ``poll=True``
(``newsletter preview --poll``) forces it anywhere, and it is also the fallback when the
system refuses notifications (too many watches). Polling compares modification times to
the second, as network filesystems often keep them. The config file is looked at twice a
second, by one stat: it may live in a folder that is not worth watching whole.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import watchfiles

from ...core.config import Config
from ...publishing.issuefile import ISSUE_FILE
from ...rendering.templating import TEMPLATES
from ...selecting.overrides import OVERRIDES_FILE

log = logging.getLogger("newsletter.preview")

TICK_MS = 500  # how often the config file and missing folders are looked at
STEP_MS = 30  # a batch of changes ends after this long without another one
DEBOUNCE_MS = 300  # ... or after this long in all
POLL_DELAY_MS = 500  # polling mode: time between two scans
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "sshfs", "9p", "afs", "ceph",
    "glusterfs", "fuse.glusterfs", "lustre", "gpfs", "fuse.rclone", "davfs", "fuse.davfs2",
})
_EDITOR_DEBRIS = (".swp", ".swx", ".tmp", "~")


@dataclass(frozen=True)
class Watched:
    """What one configuration makes the preview watch."""

    folders: tuple[Path, ...]  # watched recursively; only those that exist
    missing: tuple[Path, ...]  # folders that do not exist yet: looked at every tick
    output: Path | None
    state: Path | None  # the state folder: the database changes, drafts do not
    templates: Path | None = None  # the config's folder of template overrides


def watched(config: Config | None, templates: Path = TEMPLATES) -> Watched:
    candidates = [templates]
    output = state = overrides = None
    if config is not None:
        candidates += [config.corpus, config.output]
        output, state, overrides = config.output, config.state_dir, config.templates
        if overrides is not None:  # the email is rendered with these templates first
            candidates.append(overrides)
    unique = sorted(set(candidates))
    folders = tuple(p for p in unique if p.is_dir())
    # A folder inside another watched one is seen through it.
    folders = tuple(p for p in folders if not any(p != o and p.is_relative_to(o)
                                                  for o in folders))
    missing = tuple(p for p in unique if not p.is_dir())
    return Watched(folders, missing, output, state, overrides)


def relevance(target: Watched) -> Callable[[watchfiles.Change, str], bool]:
    """Which reported paths can change a draft: not editors' swap and backup files, not the
    state folder, and in the output folder only the overrides and issue files (a folder of
    template overrides placed there counts whole)."""

    def relevant(_change: watchfiles.Change, name: str) -> bool:
        path = Path(name)
        if path.name.startswith(".") and path.name.endswith(_EDITOR_DEBRIS):
            return False
        if path.name.endswith("~"):
            return False
        if target.templates is not None and path.is_relative_to(target.templates):
            return True
        if target.state is not None and path.is_relative_to(target.state):
            return False
        if target.output is not None and path.is_relative_to(target.output):
            return path.name in (OVERRIDES_FILE, ISSUE_FILE) or path == target.output
        return True

    return relevant


def _mounts() -> list[tuple[str, str]]:
    """(mount point, filesystem type) of every mount, longest mount point first."""
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as handle:
            rows = [line.split()[1:3] for line in handle if len(line.split()) >= 3]
    except OSError:
        return []
    mounts = [(point.replace("\\040", " "), kind) for point, kind in rows]
    return sorted(mounts, key=lambda m: len(m[0]), reverse=True)


def on_network_mount(folders: Iterable[Path]) -> bool:
    """Whether any folder lies on a network filesystem, where edits made elsewhere raise no
    notification here."""
    mounts = _mounts()
    for folder in folders:
        resolved = str(folder.resolve())
        for point, kind in mounts:
            if resolved == point or resolved.startswith(point.rstrip("/") + "/"):
                if kind in NETWORK_FILESYSTEMS:
                    return True
                break
    return False


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


class Watcher:
    """The watcher thread's loop: calls ``on_change(paths)`` after each batch of relevant
    changes (``paths`` None when anything may have changed: the config file, a folder).

    ``current_config()`` gives the configuration to watch for; when a change moves the
    corpus or the output folder (or one appears), watching starts again on the new folders.
    ``poll``: True forces polling, None polls on network mounts only.
    """

    def __init__(self, config_path: Path, current_config: Callable[[], Config | None],
                 on_change: Callable[[set[str] | None], object], *, poll: bool | None = None,
                 templates: Path = TEMPLATES) -> None:
        self.config_path = config_path
        self.current_config = current_config
        self.on_change = on_change
        self.poll = poll
        self.templates = templates
        self.polling = False  # the mode in use, once started
        self.started = threading.Event()  # set once the first watch is in place
        self._stop = threading.Event()
        # Folders changed and watching starts again: an edit made before the new watch is
        # in place raises no notification, so its first report says anything may have.
        self._unwatched_gap = False

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        config_stamp = _stamp(self.config_path)
        refused = False  # the system refused notifications: poll from then on
        while not self._stop.is_set():
            target = watched(self.current_config(), self.templates)
            self.polling = bool(self.poll or refused or (
                self.poll is None and on_network_mount(target.folders)))
            try:
                config_stamp = self._watch(target, config_stamp)
            except Exception as error:  # never let the watcher die: pages would not reload
                if not self.polling and not self._stop.is_set():
                    log.warning("file notifications failed (%s); polling instead", error)
                    refused = True
                    continue
                log.exception("watching for changes failed")
                self._stop.wait(1.0)

    def _watch(self, target: Watched, config_stamp: tuple[int, int, int] | None
               ) -> tuple[int, int, int] | None:
        """Watch ``target`` until its folders change; the config file's last stamp."""
        if not target.folders:  # nothing to watch yet: look again every tick
            self.started.set()
            while not self._stop.wait(TICK_MS / 1000):
                stamp = _stamp(self.config_path)
                if stamp != config_stamp or any(p.is_dir() for p in target.missing):
                    self.on_change(None)
                    self._unwatched_gap = True
                    return stamp
            return config_stamp
        changes_seen = watchfiles.watch(
            *target.folders, watch_filter=relevance(target), debounce=DEBOUNCE_MS,
            step=STEP_MS, stop_event=self._stop, rust_timeout=TICK_MS, yield_on_timeout=True,
            force_polling=self.polling, poll_delay_ms=POLL_DELAY_MS, raise_interrupt=False,
            ignore_permission_denied=True)
        for changes in changes_seen:
            self.started.set()
            stamp = _stamp(self.config_path)
            appeared = any(p.is_dir() for p in target.missing)
            if changes or stamp != config_stamp or appeared or self._unwatched_gap:
                everything = stamp != config_stamp or appeared or self._unwatched_gap
                config_stamp = stamp
                self._unwatched_gap = False
                self.on_change(None if everything else {path for _change, path in changes})
                if watched(self.current_config(), self.templates) != target:
                    self._unwatched_gap = True
                    return config_stamp  # other folders now: watch those
            elif not all(p.is_dir() for p in target.folders):
                self.on_change(None)  # a watched folder went away
                self._unwatched_gap = True
                return config_stamp
        return config_stamp
