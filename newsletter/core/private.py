"""The state folder and its files are readable by the user running newsletter only.

They hold the subscribers' addresses and the send ledger: on a shared machine, a folder made
with the default umask (0755, files 0644) would show them to every local user. The folder is
made 0700 and each database 0600 whoever creates them first (``build`` makes the corpus cache
before any ``subscribers`` command makes the subscriber database), and a folder or file left
readable by an older version is tightened when it is next opened. SQLite gives a database's
``-wal`` and ``-shm`` files the permissions of the database itself.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def _tighten(path: Path, mode: int) -> None:
    with contextlib.suppress(OSError):  # not ours, or a read-only file system: leave it
        info = path.stat()
        if stat.S_IMODE(info.st_mode) & 0o077 and info.st_uid == os.geteuid():
            path.chmod(mode)


def private_folder(path: Path, *, keep_open: tuple[Path, ...] = ()) -> None:
    """Create ``path`` (and its parents) as 0700, or take away its group and other bits.

    A folder that holds one of ``keep_open`` (the output folder, the corpus: a ``state_dir``
    set to the project folder itself) is left as it is, so that a web server can still read
    the site below it; only the files are then private. So is a folder with the sticky bit
    (/tmp, /var/tmp): it is there to be shared, and closing it breaks every other user.
    """
    path.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
    resolved = path.resolve()
    if any(other.resolve().is_relative_to(resolved) for other in keep_open):
        return
    with contextlib.suppress(OSError):
        if resolved.stat().st_mode & stat.S_ISVTX:
            return
    _tighten(path, FOLDER_MODE)


def private_file(path: Path) -> None:
    """Create ``path`` empty as 0600 when missing (SQLite then opens it as is), else take
    away its group and other bits; the same for SQLite's ``-wal`` and ``-shm`` beside it."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        _tighten(candidate, FILE_MODE)
