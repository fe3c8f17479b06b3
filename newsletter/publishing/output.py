"""The one place that writes files: atomically, and only inside the output folder."""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path

from ..core.errors import NewsletterError


def safe_path(root: Path, relative: str) -> Path:
    """``root / relative``, refusing anything that would land outside ``root``."""
    root = root.resolve()
    target = (root / relative).resolve()
    if target == root or not target.is_relative_to(root):
        raise NewsletterError(f"refusing to write {relative!r}: it is outside {root}")
    return target


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    A reader (or a crash) sees the old file or the new one, never a truncated one.
    Returns False, touching nothing, when the file already holds exactly ``data``, so that
    unchanged files keep their modification times.
    """
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    # Named before it exists (not tempfile.mkstemp): a Ctrl-C landing inside the call that
    # creates it, or just after, still finds the name to remove.
    temporary = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_folder(path.parent)
    return True


STALE_TEMPORARY_SECONDS = 3600


def remove_stale_temporaries(folder: Path, now: float) -> None:
    """Remove the temporary files a writer killed mid-write left behind. Only old ones: a
    younger one may belong to a writer still at work."""
    for temporary in folder.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            if now - temporary.stat().st_mtime > STALE_TEMPORARY_SECONDS:
                temporary.unlink()


def remove_files(root: Path, relatives: list[str]) -> list[Path]:
    """Delete the files (paths relative to ``root``) that exist, in the order given;
    returns those deleted. Every path is checked before the first is deleted."""
    targets = [safe_path(root, relative) for relative in relatives]
    removed = []
    try:
        for path in targets:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    except OSError as error:
        raise NewsletterError(f"cannot delete in {root}: {error}") from error
    for folder in {path.parent for path in removed}:
        _fsync_folder(folder)
    return removed


def write_files(root: Path, files: Mapping[str, bytes]) -> list[Path]:
    """Write every file (paths relative to ``root``) atomically, in the order given.

    Every path is checked before the first write, so a bad one writes nothing.
    Returns the paths that changed.
    """
    targets = [(safe_path(root, relative), data) for relative, data in files.items()]
    try:
        written = [path for path, data in targets if write_atomic(path, data)]
    except OSError as error:
        raise NewsletterError(f"cannot write in {root}: {error}") from error
    now = time.time()
    for folder in {path.parent for path, _data in targets}:
        remove_stale_temporaries(folder, now)
    return written
