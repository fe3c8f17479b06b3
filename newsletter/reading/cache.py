"""The corpus cache: what was read from each article file, so a build re-reads only changes.

One SQLite file per corpus folder in ``state_dir``. A row is keyed by the file's path below
the corpus folder and is used only when the file's whole ``(size, mtime_ns, inode,
ctime_ns)`` tuple is *equal* to the one recorded (an mtime set backwards, or a file replaced
by another of the same size, still differs somewhere in that tuple). A row written while its
file was younger than :data:`RACY_MARGIN_NS` is recorded but not trusted: a change within the
same timestamp tick would leave the tuple equal (git's "racy clean" problem), so such a file is
read again next time.

The cache never changes a result, it only saves work, so every failure degrades to "no
cache": a corrupt, truncated, unreadable or older-format file is rebuilt with a one-line note
on stderr, and a write that fails is dropped with a note; a busy database is waited for,
never deleted. WAL mode and a transaction per batch of rows let two processes share the
file: a row is only ever replaced by a row describing the file as some process saw it, and
such a row can never match a different file (at worst a file is read once more).

Payloads are JSON (never pickle): the state folder may travel with a checkout, and reading it
must not be able to run code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from ..core.codec import decode_article, decode_problem, encode_article, encode_problem
from ..core.models import Article, Problem
from ..core.private import private_file, private_folder
from .compact import CompactBuilder, Known, Stamp
from .reads import NO_DATE
from .sqlitefile import BUSY_WAIT_SECONDS, give_back_free_pages, is_busy, is_corrupt, note, shown
from .tablefiles import TableFiles

# Bump when the schema or the payload encoding changes; the sources of the modules that decide
# what a file reads as are hashed in too (see _fingerprint), so a new validation rule or model
# field can never be served stale rows.
FORMAT = 3
# Files whose mtime or ctime is this close to the start of the run that read them are read
# again next time. 2 s covers the coarsest common timestamp granularity (FAT, some SMB).
RACY_MARGIN_NS = 2_000_000_000

KIND_ARTICLE = 0
KIND_PROBLEM = 1
KIND_DEFERRED = 2  # outside the window, date scanned but never validated (corpus.read_corpus)
# A file that could not be read (permissions, an I/O error): recorded as a problem never
# trusted, as access may come back without its stamp changing (a user added to the file's
# group, a network disk back). Only files.read_file gives it; rows hold KIND_PROBLEM.
KIND_UNREADABLE = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    trusted INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    published_us INTEGER,
    canonical TEXT,
    payload TEXT
);
"""



def is_settled(stamp: Stamp, settled_before_ns: int) -> bool:
    """Whether a later change to the file is bound to change its stamp (not "racy"): both
    its mtime and its ctime are older than the run's start minus :data:`RACY_MARGIN_NS`."""
    return max(stamp[1], stamp[3]) < settled_before_ns




class Entry(NamedTuple):
    """A row to write: what one file read as, under the stamp it had before it was read."""

    path: str
    size: int
    mtime_ns: int
    ino: int
    ctime_ns: int
    trusted: int
    kind: int
    published_us: int | None
    canonical: str | None
    payload: str | None


def entry(path: str, stamp: Stamp, settled_before_ns: int, kind: int,
          published_us: int | None, canonical: str | None, payload: str | None) -> Entry:
    if kind == KIND_UNREADABLE:
        return Entry(path, *stamp, 0, KIND_PROBLEM, published_us, canonical, payload)
    return Entry(path, *stamp, int(is_settled(stamp, settled_before_ns)), kind, published_us,
                 canonical, payload)


# The code that decides what a file reads as: a change to any of it invalidates every row.
READING_CODE = ("reading/cache.py", "reading/compact.py", "reading/corpus.py", "reading/files.py",
                "reading/article.py", "reading/tablefiles.py", "reading/reads.py",
                "reading/frontmatter.py", "reading/plan.py", "reading/walk.py",
                "reading/sqlitefile.py", "core/models.py", "core/urls.py", "core/text.py",
                "core/safeyaml.py", "core/yamlerrors.py", "core/errors.py", "core/codec.py",
                "core/timing.py")


def _fingerprint() -> str:
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(f"format {FORMAT}".encode())
    for name in READING_CODE:
        try:
            digest.update((package / name).read_bytes())
        except OSError:
            digest.update(f"missing {name}".encode())
    return digest.hexdigest()


def cache_path(state_dir: Path, root: Path) -> Path:
    """One cache per corpus folder, whichever config names it."""
    key = hashlib.sha256(str(root.resolve()).encode("utf-8")).hexdigest()[:16]
    return state_dir / f"corpus-cache-{key}.sqlite3"


class CorpusCache:
    """Open with :meth:`open`; every method swallows SQLite failures (with a note)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.format = _fingerprint()
        self.usable = True
        self.tables = TableFiles(path, self.format, note)

    # -- connection and format -----------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        """A connection in WAL mode with the schema in place, waiting out other processes:
        switching to WAL and creating the schema take locks that SQLite's busy timeout
        does not always wait for."""
        deadline = time.monotonic() + BUSY_WAIT_SECONDS
        with contextlib.suppress(OSError):  # else SQLite's own error says what is wrong
            private_file(self.path)
        while True:
            connection = sqlite3.connect(self.path, timeout=BUSY_WAIT_SECONDS,
                                         isolation_level=None)
            try:
                if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
                self._prepare(connection)
                return connection
            except sqlite3.OperationalError as error:
                connection.close()
                if not is_busy(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            except BaseException:
                connection.close()
                raise

    def _remove_files(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):  # not there, or not ours: opening it says so
                os.unlink(f"{self.path}{suffix}")
        self.tables.remove()

    def _give_up(self, error: sqlite3.Error | OSError, what: str, then: str) -> None:
        """The rest of this reading goes without the cache. Damage among the rows (which
        :meth:`load` only checks the format of, as a full check costs a read of the whole
        file) removes the cache files, so that the next build makes a sound cache rather than
        meet the same damage on every build."""
        self.usable = False
        if isinstance(error, sqlite3.Error) and is_corrupt(error):
            self._remove_files()
            note(f"corpus cache {self.path} is damaged: removed, the next build rebuilds it")
        else:
            note(f"corpus cache {self.path} {what} ({shown(error)}){then}")

    def _prepare(self, connection: sqlite3.Connection) -> None:
        """Create the schema, or clear it when it holds another format (under the write lock,
        so two processes upgrading at once do it once)."""
        found = self._stored_format(connection)
        if found == self.format:
            return
        connection.execute("BEGIN IMMEDIATE")
        rebuilt = False
        try:
            found = self._stored_format(connection)
            if found != self.format:
                if found is not None:
                    note(f"corpus cache {self.path} is from another version of newsletter: "
                         "rebuilding it")
                    rebuilt = True
                connection.execute("DROP TABLE IF EXISTS files")
                connection.execute("DROP TABLE IF EXISTS compact")  # older versions kept it here
                connection.execute("DROP TABLE IF EXISTS meta")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?)",
                                   (self.format,))
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        if rebuilt:
            give_back_free_pages(connection)

    @staticmethod
    def _stored_format(connection: sqlite3.Connection) -> str | None:
        exists = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        if not exists:
            return None
        row = connection.execute("SELECT value FROM meta WHERE key='format'").fetchone()
        return row[0] if row else "unknown"

    @classmethod
    def open(cls, state_dir: Path, root: Path, keep_open: tuple[Path, ...] = ()
             ) -> CorpusCache:
        """``keep_open``: see :func:`private_folder` (the corpus is always among them)."""
        cache = cls(cache_path(state_dir, root))
        try:
            private_folder(state_dir, keep_open=(root, *keep_open))
        except OSError as error:
            note(f"corpus cache disabled: cannot create {state_dir}: "
                 f"{error.strerror or error}")
            cache.usable = False
        return cache

    # -- reading -----------------------------------------------------------------------

    def load(self) -> Known:
        """The compact table (see :class:`Known`); an unusable file is rebuilt (empty) with a
        note."""
        if not self.usable:
            return Known.empty()
        problem = ""
        for attempt in (1, 2):
            try:
                connection = self._connect()  # the format checked, damage found early
                try:
                    connection.execute("SELECT count(*) FROM meta").fetchone()
                finally:
                    connection.close()
                return self.tables.load()
            except (sqlite3.Error, ValueError, TypeError, IndexError, KeyError) as error:
                problem = shown(error)
                corrupt = not isinstance(error, sqlite3.Error) or is_corrupt(error)
                if not corrupt:
                    break  # busy past the wait, read-only, ...: not ours to delete
                if attempt == 1:
                    note(f"corpus cache {self.path} is unreadable ({problem}): rebuilding it")
                    self._remove_files()
            except OSError as error:
                problem = str(error)
                break
        note(f"corpus cache {self.path} cannot be used ({problem}): reading without it")
        self.usable = False
        return Known.empty()

    def payloads(self, paths: Sequence[str], stamp: Callable[[str], Stamp]
                 ) -> Iterator[tuple[str, int, str]]:
        """(path, kind, payload) of the rows of ``paths`` whose stamp is ``stamp(path)``, in
        batches small enough for SQLite; rows another process replaced since are left out.
        The stamps are asked for one by one: a million of them at once, a tuple of four
        numbers each, would weigh about 250 MB."""
        if not paths or not self.usable:
            return
        try:
            connection = self._connect()
            try:
                for start in range(0, len(paths), 500):
                    batch = paths[start:start + 500]
                    marks = ",".join("?" * len(batch))
                    rows = connection.execute(
                        "SELECT path, size, mtime_ns, ino, ctime_ns, kind, payload FROM files "
                        f"WHERE path IN ({marks}) AND payload IS NOT NULL", batch).fetchall()
                    for path, size, mtime, ino, ctime, kind, payload in rows:
                        if stamp(path) == (size, mtime, ino, ctime):
                            yield path, kind, payload
            finally:
                connection.close()
        except sqlite3.Error as error:  # the caller reads the files it did not get
            self._give_up(error, "cannot be read", ": reading the files")

    # -- writing -----------------------------------------------------------------------

    def writer(self) -> CacheWriter:
        return CacheWriter(self)


class CacheWriter:
    """Rows go in batches, each its own transaction (a reader never waits for a whole cold
    build), over one connection; a failure drops the rest with a note."""

    FLUSH_CHARS = 16_000_000  # payload characters buffered: bounds memory on a cold check
    FLUSH_ROWS = 20_000  # and rows (a cold build's are mostly dates without payloads)

    def __init__(self, cache: CorpusCache) -> None:
        self.cache = cache
        self.rows: list[Entry] = []
        self.chars = 0
        self.connection: sqlite3.Connection | None = None

    def add(self, row: Entry) -> None:
        self.rows.append(row)
        if row.payload is not None:
            self.chars += len(row.payload)
        if self.chars >= self.FLUSH_CHARS or len(self.rows) >= self.FLUSH_ROWS:
            self._flush(())

    def close(self, vanished: Iterable[str], compact: CompactBuilder | None = None,
              changes: list[bytes | memoryview] | None = None) -> None:
        """Write what is left, then the compact table or its changes (after the rows they
        may point to)."""
        self._flush(list(vanished))
        if self.connection is not None:
            self.connection.close()
            self.connection = None
        if compact is not None and self.cache.usable:
            self.cache.tables.save(compact)
        elif changes is not None and self.cache.usable:
            self.cache.tables.save_changes(changes)

    def _flush(self, vanished: list[str] | tuple[()]) -> None:
        rows, self.rows, self.chars = self.rows, [], 0
        if not self.cache.usable or not (rows or vanished):
            return
        try:
            if self.connection is None:
                self.connection = self.cache._connect()
            connection = self.connection
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany(
                    "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
                connection.executemany("DELETE FROM files WHERE path = ?",
                                       ((p,) for p in vanished))
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        except (sqlite3.Error, OSError) as error:
            if self.connection is not None:
                self.connection.close()
                self.connection = None
            self.cache._give_up(error, "was not updated",
                                "; the next build reads those files again")


def microseconds(instant: dt.datetime) -> int:
    """An aware instant as whole microseconds since the epoch: exact, unlike ``timestamp()``."""
    return (instant - _EPOCH) // _MICROSECOND


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def payload_for(result: Article | Problem) -> tuple[int, str]:
    if isinstance(result, Article):
        return KIND_ARTICLE, encode_article(result)
    return KIND_PROBLEM, encode_problem(result)


def decode(kind: int, payload: str) -> Article | Problem:
    return decode_article(payload) if kind == KIND_ARTICLE else decode_problem(payload)


def known_row(known: Known, row: int, relative: str, kind: int, payload: str, *,
              url: bool) -> Entry:
    """The cache's row of a file as the compact table ``known`` holds it at ``row``."""
    published = known.published[row]
    return Entry(relative, *known.stamp(row), known.flags[row] & 1, kind,
                 None if published == NO_DATE else published,
                 known.canonical(row) if url else None, payload)
