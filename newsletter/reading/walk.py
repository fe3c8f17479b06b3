"""The one directory walker (sorted, hidden entries skipped, folder links not followed) and
the corpus walk built on it."""

from __future__ import annotations

import array
import errno
import functools
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import overload

from ..core.errors import NewsletterError
from ..core.models import Problem
from .cache import Stamp

ARTICLE_SUFFIXES = (".md", ".txt")
# Names (lowercased) of files that look like articles but are not read: another spelling of
# Markdown or text (``.markdown``, ``.MD`` from Windows, ``.TXT``), named so that an editor
# whose tool saves them learns why they are left out. Anything else (images, notes, editor
# backups ``x.md~``, ``x.md.swp``, ``#x.md#``, the state folder) is no article to miss,
# and naming it at every build would bury the line that matters.
LOOKALIKE_SUFFIXES = (".md", ".txt", ".markdown", ".mdown", ".mkdn", ".mkd", ".mdwn",
                      ".mdtext", ".mdtxt", ".text")


def article_id(relative_path: str) -> str:
    """``briefs/2021-02-17-x.md`` -> ``briefs/2021-02-17-x``."""
    stem, _, _suffix = relative_path.rpartition(".")
    return stem


Found = tuple[str, Stamp]  # relative path, stamp
_TYPE, _FILE, _FOLDER, _LINK = stat.S_IFMT(0o170000), stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK


def walk_files(root: Path, *, suffixes: tuple[str, ...] = (), skip_hidden: bool = True,
               problems: list[Problem] | None = None, lookalikes: list[str] | None = None
               ) -> Iterator[tuple[str, os.stat_result]]:
    """(path relative to ``root``, stat) of every file below ``root``, sorted by name.

    Only names ending in one of ``suffixes`` when given; hidden files and folders skipped
    unless ``skip_hidden`` is false. Folder symlinks are not followed, so a link loop cannot
    make the walk endless; a file symlink is followed only when its target stays inside
    ``root``, so that nothing outside it is ever read. An entry that cannot be walked never
    stops the walk: with a ``problems`` list it is reported there (a folder that cannot be
    read, a name that is not UTF-8, a file symlink that loops, dangles or leaves ``root``),
    else left out. A ``lookalikes`` list gets the path of each file left out for its suffix
    whose name ends in one of :data:`LOOKALIKE_SUFFIXES`, in any case. Names are sorted as
    plain strings and each gets one ``lstat``: a third cheaper than sorting ``scandir``'s
    entries, and every file needs its stat anyway. The
    ``lstat`` is made relative to the open folder where the system allows it, so that the
    kernel looks up one name, not every folder of the path, per file.
    """
    inside = os.path.realpath(root) + os.sep

    def report(relative: str, message: str) -> None:
        if problems is not None:
            problems.append(Problem(shown_path(relative), message))

    def opened(folder: str, prefix: str) -> Folder:
        """A folder's sorted names, its path with a separator, its prefix, how to lstat a
        name in it, and its descriptor (None without ``dir_fd``) to close."""
        fd = None
        stat_in: Callable[[str], os.stat_result]
        try:
            if _RELATIVE_STAT:
                fd = os.open(folder, _FOLDER_FLAGS)
                names = sorted(os.listdir(fd))
                stat_in = functools.partial(os.stat, dir_fd=fd, follow_symlinks=False)
            else:
                names = sorted(os.listdir(folder))
                base = folder + os.sep
                stat_in = lambda name: os.lstat(base + name)  # noqa: E731
        except OSError as error:
            if fd is not None:
                os.close(fd)
            if not prefix and problems is not None:
                raise  # the corpus folder itself: the caller says what to fix
            report(prefix, f"folder cannot be read: {error.strerror or error}; its files are "
                           "left out")
            return iter(()), folder + os.sep, prefix, os.lstat, None
        return iter(names), folder + os.sep, prefix, stat_in, fd

    def walk() -> Iterator[tuple[str, os.stat_result]]:
        # One generator and a stack of the folders being listed, not a generator per
        # folder: each file then passes one ``yield``, not one per level of folders.
        stack = [opened(str(root), "")]
        try:
            while stack:
                names, base, prefix, stat_in, _fd = stack[-1]
                for name in names:
                    if skip_hidden and name[0] == ".":
                        continue
                    wanted = not suffixes or name.endswith(suffixes)
                    try:
                        info = stat_in(name)
                        kind = info.st_mode & _TYPE
                        # The common case first, as cheaply as possible: a file to walk.
                        if kind == _FILE and wanted and name.isascii():
                            yield prefix + name, info
                        elif kind == _FOLDER:
                            if name.isascii() or _is_utf8(name):
                                stack.append(opened(base + name, prefix + name + "/"))
                                break  # into the folder; this one goes on after it
                            report(prefix + name + "/", _NOT_UTF8)
                        elif not wanted or kind not in (_FILE, _LINK):
                            # not a file to walk (folder links are not followed)
                            if (lookalikes is not None and kind == _FILE
                                    and name.lower().endswith(LOOKALIKE_SUFFIXES)):
                                lookalikes.append(shown_path(prefix + name))
                        elif not _is_utf8(name):
                            report(prefix + name, _NOT_UTF8)
                        elif kind == _LINK and (problem := _link_problem(base + name, inside)):
                            report(prefix + name, problem)
                        elif kind == _FILE or stat.S_ISREG(
                                (info := os.stat(base + name)).st_mode):
                            yield prefix + name, info
                    except FileNotFoundError:
                        continue  # deleted since the folder was listed
                    except OSError as error:
                        report(prefix + name, f"cannot be read: {error.strerror or error}")
                else:
                    _close(stack.pop()[4])
        finally:
            for folder in stack:
                _close(folder[4])

    return walk()


# What :func:`walk_files` keeps of a folder being listed (see ``opened``).
Folder = tuple[Iterator[str], str, str, Callable[[str], os.stat_result], int | None]
_RELATIVE_STAT = os.stat in os.supports_dir_fd and os.listdir in os.supports_fd
_FOLDER_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


def _close(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)


class Walked(Sequence[Found]):
    """The files of a corpus walk in columns: their paths and the four numbers of their
    stamps. A tuple per file would weigh three times more (a million files are walked
    per build at scale), and columns compare with the cache's at C speed. Indexing gives
    a file's ``(path, stamp)``."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        # Files left out that look like articles (see LOOKALIKE_SUFFIXES), to name them.
        self.lookalikes: list[str] = []
        self.sizes, self.mtimes, self.inos, self.ctimes = (array.array("q") for _ in range(4))

    def __len__(self) -> int:
        return len(self.paths)

    @overload
    def __getitem__(self, index: int) -> Found: ...
    @overload
    def __getitem__(self, index: slice) -> list[Found]: ...
    def __getitem__(self, index: int | slice) -> Found | list[Found]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        return self.paths[index], self.stamp(index)

    def stamp(self, index: int) -> Stamp:
        return self.sizes[index], self.mtimes[index], self.inos[index], self.ctimes[index]

    @property
    def stamps(self) -> tuple[array.array, ...]:
        return self.sizes, self.mtimes, self.inos, self.ctimes


def walk_corpus(root: Path) -> tuple[Walked, list[Problem]]:
    """Every ``*.md`` and ``*.txt`` file below ``root`` (see :func:`walk_files`) with the
    stamp of its stat (and the files that look like articles but are not read, in
    ``lookalikes``), and a Problem for each entry that cannot be an article file; only
    the stamp of each stat is kept (a stat result weighs ten times more). OSError when
    ``root`` itself cannot be listed (:func:`unreadable_corpus` says what to fix)."""
    found = Walked()
    problems: list[Problem] = []
    path, size, mtime, ino, ctime = (found.paths.append, found.sizes.append,
                                     found.mtimes.append, found.inos.append,
                                     found.ctimes.append)
    for relative, info in walk_files(root, suffixes=ARTICLE_SUFFIXES, problems=problems,
                                     lookalikes=found.lookalikes):
        path(relative)
        size(info.st_size)
        mtime(info.st_mtime_ns)
        ctime(info.st_ctime_ns)
        try:
            ino(info.st_ino)
        except OverflowError:  # an inode number over 2**63 (unsigned), kept as its bits
            ino(info.st_ino - 2**64)
    return found, problems


def walked_file(root: Path, relative: str) -> os.stat_result | Problem | None:
    """The one file ``root/relative`` as :func:`walk_corpus` finds it, by the same rules: its
    stat, a Problem (a link the walk does not follow, a name that is not UTF-8, a file that
    cannot be read), or None when the walk would not list it (gone, hidden, not an article
    file, not a regular file, or below a folder reached through a link)."""
    parts = relative.split("/")
    if not relative.endswith(ARTICLE_SUFFIXES) or any(not p or p[0] == "." for p in parts):
        return None
    real_root = os.path.realpath(root)
    path = os.path.join(root, *parts)
    if os.path.realpath(os.path.dirname(path)) != os.path.join(real_root, *parts[:-1]):
        return None  # a folder link on the way: the walk never enters one
    if not _is_utf8(relative):
        return Problem(shown_path(relative), _NOT_UTF8)
    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            if problem := _link_problem(path, real_root + os.sep):
                return Problem(relative, problem)
            info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        return Problem(relative, f"cannot be read: {error.strerror or error}")
    return info if stat.S_ISREG(info.st_mode) else None


def unreadable_corpus(root: Path, error: OSError) -> NewsletterError:
    return NewsletterError(
        f"the corpus folder {root} cannot be read ({error.strerror or error}): give the user "
        "running newsletter access to it, or set `corpus:` in the configuration to the "
        "folder of the articles")


_NOT_UTF8 = ("name is not valid UTF-8: rename it (ids, links and the cache need names that "
             "are text)")


def _is_utf8(name: str) -> bool:
    """Whether a name from the file system was UTF-8 (else it holds surrogate escapes)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown_path(relative: str) -> str:
    """A path fit for messages and reports: bytes that are not UTF-8 as ``\\xNN``."""
    return os.fsencode(relative).decode("utf-8", "backslashreplace")


def _link_problem(path: str, inside: str) -> str | None:
    """Why a file symlink is not followed, or None when it stays inside the walked folder."""
    if not os.path.realpath(path).startswith(inside):
        return ("symlink to a file outside the corpus folder: not read (only links that "
                "stay inside it are followed)")
    try:
        os.stat(path)
    except FileNotFoundError:
        return "symlink to a missing file"
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "symlink loop: the link leads back to itself"
        return f"cannot be read: {error.strerror or error}"
    return None
