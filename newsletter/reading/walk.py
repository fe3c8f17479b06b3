"""The one directory walker (sorted, hidden entries skipped, folder links not followed) and
the corpus walk built on it."""

from __future__ import annotations

import operator
import os
from collections.abc import Iterator
from pathlib import Path

from .cache import Stamp

ARTICLE_SUFFIXES = (".md", ".txt")


def article_id(relative_path: str) -> str:
    """``briefs/2021-02-17-x.md`` -> ``briefs/2021-02-17-x``."""
    stem, _, _suffix = relative_path.rpartition(".")
    return stem


Found = tuple[str, str, Stamp]  # relative path, path, stamp
_NAME = operator.attrgetter("name")


def walk_files(root: Path, *, suffixes: tuple[str, ...] = (), skip_hidden: bool = True,
               ignore_errors: bool = False) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(path relative to ``root``, entry) of every file below ``root``, sorted by name.

    Folder symlinks are not followed, so a link loop cannot make the walk endless. Only
    names ending in one of ``suffixes`` when given; hidden files and folders skipped unless
    ``skip_hidden`` is false; with ``ignore_errors`` an unreadable folder or entry is left
    out instead of raising.
    """

    def walk(folder: str, prefix: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=_NAME)
        except OSError:
            if ignore_errors:
                return
            raise
        for entry in entries:
            name = entry.name
            if skip_hidden and name[0] == ".":
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    yield from walk(entry.path, prefix + name + "/")
                elif (not suffixes or name.endswith(suffixes)) and entry.is_file():
                    yield prefix + name, entry
            except OSError:
                if not ignore_errors:
                    raise

    return walk(str(root), "")


def walk_corpus(root: Path) -> list[Found]:
    """Every ``*.md`` and ``*.txt`` file below ``root`` (see :func:`walk_files`) with the
    stamp of its stat: 100,000 files are walked per build, and only the stamp of each stat
    is kept (a stat result weighs ten times more)."""
    found: list[Found] = []
    append = found.append
    for relative, entry in walk_files(root, suffixes=ARTICLE_SUFFIXES):
        info = entry.stat()
        append((relative, entry.path,
                (info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns)))
    return found
