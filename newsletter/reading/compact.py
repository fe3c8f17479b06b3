"""The corpus cache's compact table: what the last reading decided per file, in columns."""

from __future__ import annotations

import array
import itertools
import operator
import os
import zlib
from collections.abc import Iterable, Iterator
from itertools import repeat
from typing import BinaryIO

from .reads import NO_DATE, FreshRows

Stamp = tuple[int, int, int, int]  # size, mtime_ns, ino, ctime_ns
URLS, TOPICS = 0, 1  # the table's texts, one per row each (see Known)


class Known:
    """What the last reading decided for each file, in columns: the paths, one array per
    number (size, mtime_ns, ino, ctime_ns, flags, published_us), and two texts per row,
    each decoded only when asked for: the canonical URLs (when an editor names files by
    URL) and the topics of the valid articles (:func:`reads.joined_topics`; when check
    looks for a configured topic that no article has, without a payload read per row).

    A warm build decides from this alone, with no SQL row per file and no payload: an
    article is decoded only when it is in the window or wanted. It is kept in a file of its
    own beside the cache's database (:meth:`CompactBuilder.encode`), rewritten whole by a
    reading that added or removed files, and by one that changed many rows; a few changed
    rows go to a changes file of their own (:func:`encode_changes`). A row another process
    made stale only costs a read (payloads are fetched under the stamp they must have). Rows
    are in the order of the walk that wrote them, so that the next walk of an unchanged
    folder equals the table column for column and is compared at C speed."""

    def __init__(self, columns: list[array.array], texts: tuple[bytes, bytes] = (b"", b""),
                 *, paths: list[str] | None = None, stored_paths: bytes = b"") -> None:
        self.count = len(columns[0])
        self._paths = paths  # decoded from ``stored_paths`` when first asked for
        self.stored_paths = stored_paths if paths is None else None  # as encoded in the file
        self._index: dict[str, int] | None = None
        self.sizes, self.mtimes, self.inos, self.ctimes, self.flags, self.published = columns
        self._stored_texts = texts  # as encoded in the file: "\0" between rows
        self._texts: list[list[str] | None] = [None, None]
        self.table = ""  # the name of the table file it was decoded from (changes name it)
        # Rows the changes file (:meth:`apply_changes`) replaced, with their two texts.
        self.changed: dict[int, tuple[str, str]] = {}

    @property
    def paths(self) -> list[str]:
        if self._paths is None:
            stored = self.stored_paths or b""  # as many as rows (checked by read)
            self._paths = stored.decode("utf-8").split("\0") if self.count else []
        return self._paths

    @paths.setter
    def paths(self, paths: list[str]) -> None:
        self._paths = paths

    def lists(self, paths: list[str]) -> bool:
        """Whether the table's rows are ``paths``, in this order: compared in the table's
        encoding, at C speed, without making a string per row of its own (a million at
        scale)."""
        if self._paths is not None:
            return self._paths == paths
        if len(paths) != self.count:
            return False
        stored, offset = self.stored_paths or b"", 0
        try:
            for piece in _joined(paths):  # a piece at a time: no copy of them all
                if not stored.startswith(piece, offset):
                    return False
                offset += len(piece)
        except UnicodeEncodeError:
            return False
        return offset == len(stored)

    def rows_of(self, paths: list[str]) -> tuple[array.array, list[str]]:
        """The row of each of ``paths`` in the table (-1: none), and the table's paths that
        are not among them. Keyed by the given strings: the table's own paths are decoded a
        piece at a time and dropped, never a million of them at once."""
        where = dict(zip(paths, range(len(paths)), strict=True))
        rows = array.array("q", [-1]) * len(paths)
        missing = []
        for row, path in enumerate(self._each_path()):
            at = where.pop(path, -1)
            if at < 0:
                missing.append(path)
            else:
                rows[at] = row
        return rows, missing

    def _each_path(self) -> Iterator[str]:
        if self._paths is not None or not self.count:
            yield from self.paths
            return
        stored, start = self.stored_paths or b"", 0
        while (end := stored.find(b"\0", start + _PIECE_BYTES)) >= 0:
            yield from stored[start:end].decode("utf-8").split("\0")
            start = end + 1
        yield from stored[start:].decode("utf-8").split("\0")

    @property
    def index(self) -> dict[str, int]:
        """Path -> row, built when first asked for (to find the few files an editor names
        by id)."""
        if self._index is None:
            self._index = dict(zip(self.paths, range(self.count), strict=True))
        return self._index

    @property
    def columns(self) -> tuple[array.array, ...]:
        return self.sizes, self.mtimes, self.inos, self.ctimes, self.flags, self.published

    def stored_text(self, part: int) -> bytes | None:
        # Changed rows may hold other texts than the table file: then the list is encoded.
        return (self._stored_texts[part] if self.stored_paths is not None and not self.changed
                else None)

    @classmethod
    def empty(cls) -> Known:
        return cls([array.array("q") for _ in range(6)], paths=[])

    @classmethod
    def read(cls, handle: BinaryIO, fingerprint: str) -> Known:
        """The table :meth:`CompactBuilder.encode` wrote, read part by part from ``handle``
        (a million rows are tens of megabytes: the file is never held whole beside its
        parts); ValueError when it is damaged or was written by another version
        (``fingerprint``), when it must be built again. The paths stay encoded until asked
        for."""
        try:
            magic, written_by, table, lengths, checksum = (
                handle.readline(4096).decode("ascii").rstrip("\n").split(" "))
            sizes = [int(length) for length in lengths.split(",")]
        except (UnicodeDecodeError, ValueError):
            raise ValueError("not a compact table") from None
        if magic != _MAGIC or written_by != fingerprint:
            raise ValueError("written by another version")
        # The lengths say how much to read: checked against the file's size first, so that
        # a damaged one never has a build ask for terabytes.
        start = handle.tell()
        end = handle.seek(0, os.SEEK_END)
        handle.seek(start)
        if len(sizes) != 4 or min(sizes) < 0 or sizes[1] % 48 or sum(sizes) != end - start:
            raise ValueError("truncated or damaged")
        count = sizes[1] // 48
        stored_paths = handle.read(sizes[0])
        crc = zlib.crc32(stored_paths)
        columns = []
        for _ in range(6):
            column = array.array("q")
            part = handle.read(8 * count)
            crc = zlib.crc32(part, crc)
            column.frombytes(part[:len(part) // 8 * 8])
            columns.append(column)
        canonicals = handle.read(sizes[2])
        topics = handle.read(sizes[3])
        crc = zlib.crc32(topics, zlib.crc32(canonicals, crc))
        if (len(stored_paths) != sizes[0] or len(canonicals) != sizes[2]
                or len(topics) != sizes[3] or handle.read(1)
                or any(len(column) != count for column in columns)
                or f"{crc:08x}" != checksum):
            raise ValueError("truncated or damaged")
        # A text per row in each part (an empty one too: a row without a URL or topics).
        if ((stored_paths.count(b"\0") + 1 if stored_paths else 0) != count or any(
                (text.count(b"\0") + 1 if count else len(text)) != count
                for text in (canonicals, topics))):
            raise ValueError("paths, texts and columns of different lengths")
        known = cls(columns, (canonicals, topics), stored_paths=stored_paths)
        known.table = table
        return known

    def apply_changes(self, data: bytes, fingerprint: str) -> None:
        """Take in the rows a changes file (:func:`encode_changes`) holds; ValueError, with
        nothing taken, when it is damaged or was written for another table or version."""
        end = data.find(b"\n")
        try:
            magic, written_by, table, count_text, checksum = data[:end].decode("ascii").split(" ")
            count = int(count_text)
        except (UnicodeDecodeError, ValueError):
            raise ValueError("not a changes file") from None
        if magic != _CHANGES_MAGIC or written_by != fingerprint or table != self.table:
            raise ValueError("written for another table")
        body = memoryview(data)[end + 1:]
        if count < 0 or len(body) < 56 * count or f"{zlib.crc32(body):08x}" != checksum:
            raise ValueError("truncated or damaged")
        numbers = array.array("q")
        numbers.frombytes(body[:56 * count])
        texts = bytes(body[56 * count:]).decode("utf-8").split("\0") if count else []
        rows = numbers[:count]
        if len(texts) != 2 * count or any(not 0 <= row < self.count for row in rows):
            raise ValueError("rows out of place")
        for number, column in enumerate(self.columns, start=1):
            for row, value in zip(rows, numbers[count * number:count * (number + 1)],
                                  strict=True):
                column[row] = value
        self.changed = dict(zip(rows, zip(texts[:count], texts[count:], strict=True),
                                strict=True))

    def texts(self, part: int) -> list[str]:
        """Every row's text ``part`` (:data:`URLS` or :data:`TOPICS`; "" for none),
        decoded when first asked for."""
        decoded = self._texts[part]
        if decoded is None:  # as many as rows (checked by read)
            decoded = self._stored_texts[part].decode("utf-8").split("\0") if self.count else []
            for changed, texts in self.changed.items():
                decoded[changed] = texts[part]
            self._texts[part] = decoded
        return decoded

    def canonical(self, row: int) -> str | None:
        return self.texts(URLS)[row] or None

    def canonical_list(self) -> list[str]:
        """Every row's canonical URL ("" for none), decoded."""
        return self.texts(URLS)

    def stamp(self, row: int) -> Stamp:
        return self.sizes[row], self.mtimes[row], self.inos[row], self.ctimes[row]


class CompactBuilder:
    """The next compact table: the rows a reading kept, in the order of its walk."""

    def __init__(self, paths: list[str], columns: list[array.array],
                 texts: list[list[str]], *, stored_paths: bytes | None = None,
                 stored_texts: tuple[bytes | None, bytes | None] = (None, None)) -> None:
        self.paths = paths
        self.columns = columns
        self.texts = texts  # canonical URLs, topics
        # The parts as the table read had them encoded, when they did not change: written
        # as they are (at scale, encoding them again costs more than writing them).
        self.stored_paths = stored_paths
        self.stored_texts = stored_texts

    @classmethod
    def from_walk(cls, known: Known, paths: list[str], same: array.array,
                  fresh: FreshRows, *, same_paths: bool) -> CompactBuilder:
        """The table for a walk's ``paths``: row ``same[i]`` of ``known`` where it still
        holds (>= 0), the row ``fresh`` holds for file ``i`` where it was read; a walked file
        with neither (an id claimed twice) is left out. Rows are copied column by column at
        C speed: a build after an edit copies 100,000 of them, a cold one none.
        ``same_paths``: whether ``known.lists(paths)`` (the caller knows)."""
        stored = [known.texts(URLS), known.texts(TOPICS)] if known.count else [[], []]
        dropped = same.count(-1) - len(fresh)  # files with no row, kept or read
        patch = len(fresh) > 0
        if patch and len(fresh) == len(paths):  # every file was read
            columns, texts = fresh.whole()
            patch = False
        elif same_paths:  # then every row is where it was (same[i] is i or -1)
            columns = [array.array("q", source) for source in known.columns]
            texts = [list(text) for text in stored]
        elif known.count:
            rows = array.array("q", map(max, same, repeat(0)))  # 0: a placeholder for now
            columns = [array.array("q", map(source.__getitem__, rows))
                       for source in known.columns]
            texts = [list(map(text.__getitem__, rows)) for text in stored]
        else:
            columns = [array.array("q", bytes(8 * len(paths))) for _ in range(6)]
            texts = [[""] * len(paths), [""] * len(paths)]
        if patch:
            urls, topics = texts
            for index in fresh.indexes():
                row = fresh.row(index)
                for column, value in zip(columns, row[:6], strict=True):
                    column[index] = value
                urls[index], topics[index] = row[6:]
        if dropped:
            keep = [i for i, row in enumerate(same) if row >= 0 or i in fresh]
            paths = list(map(paths.__getitem__, keep))
            columns = [array.array("q", map(column.__getitem__, keep)) for column in columns]
            texts = [list(map(text.__getitem__, keep)) for text in texts]
        same_paths = same_paths and len(paths) == known.count
        unchanged = [known.stored_text(part) if texts[part] == stored[part] else None
                     for part in (URLS, TOPICS)]
        return cls(paths, columns, texts,
                   stored_paths=known.stored_paths if same_paths else None,
                   stored_texts=(unchanged[URLS], unchanged[TOPICS]))

    def encode(self, fingerprint: str) -> list[bytes | memoryview]:
        """The table as one file: a line naming the format, the version of newsletter that
        wrote it, the table, the lengths of its four parts and their CRC-32, then the parts
        (paths, the six columns, canonical URLs, topics). A torn or damaged file fails the
        check and is built again: the file is a cache, so it is written without waiting for
        the disk."""
        numbers: list[bytes | memoryview] = [memoryview(column).cast("B")  # not copied
                                             for column in self.columns]
        parts: list[list[bytes] | list[bytes | memoryview]] = [
            [self.stored_paths] if self.stored_paths is not None else _joined(self.paths),
            numbers,
            *([stored] if stored is not None else _joined(texts)
              for stored, texts in zip(self.stored_texts, self.texts, strict=True))]
        checksum = 0
        for part in parts:
            for piece in part:
                checksum = zlib.crc32(piece, checksum)
        lengths = ",".join(str(sum(map(len, part))) for part in parts)
        # A name of its own (random: the checksum could repeat) for changes files to name.
        name = os.urandom(8).hex()
        return [f"{_MAGIC} {fingerprint} {name} {lengths} {checksum:08x}\n".encode(),
                *(piece for part in parts for piece in part)]


def _joined(texts: list[str], chunk: int = 20_000) -> list[bytes]:
    """``"\0".join(texts).encode()`` in pieces: a million paths never make one string."""
    pieces = []
    for start in range(0, len(texts), chunk):
        piece = "\0".join(texts[start:start + chunk])
        pieces.append((f"\0{piece}" if start else piece).encode("utf-8"))
    return pieces or [b""]


_PIECE_BYTES = 1 << 20  # of encoded paths decoded at a time

_MAGIC = "newsletter-compact-table"
_CHANGES_MAGIC = "newsletter-compact-changes"

MAX_CHANGED_ROWS = 256  # or a sixteenth of the table, whichever is more


def encode_changes(known: Known, fresh: FreshRows, fingerprint: str
                   ) -> list[bytes | memoryview] | None:
    """The rows that differ from the table file ``known`` was decoded from, the ones an
    earlier changes file held and the ones ``fresh`` holds (rows of a walk that lists the
    table's files in its order), as a changes file; None when they are too many, for the
    table to be written whole.

    A build after a few edits writes these few rows, not the table: a table of a million
    rows is tens of megabytes, and writing it (or even copying it) would cost more than
    reading the edited files. The file names the table it applies to (the random name in its
    header), so a table written since makes it stale, never wrong."""
    rows = sorted(known.changed.keys() | set(fresh.indexes()))
    if not known.table or len(rows) > max(MAX_CHANGED_ROWS, known.count // 16):
        return None
    marks = fresh.marks
    values = [fresh.row(row) if marks[row] else
              (*(column[row] for column in known.columns), *known.changed[row])
              for row in rows]
    numbers = array.array("q", rows)
    for number in range(6):
        numbers.extend([value[number] for value in values])
    texts = [value[6] for value in values] + [value[7] for value in values]
    body = numbers.tobytes() + "\0".join(texts).encode("utf-8")
    header = (f"{_CHANGES_MAGIC} {fingerprint} {known.table} {len(rows)} "
              f"{zlib.crc32(body):08x}\n")
    return [header.encode(), body]


def differing_rows(walked: Iterable[array.array], stored: Iterable[array.array]
                   ) -> array.array:
    """Per row, nonzero when any walked column differs from the stored one there. The
    columns are taken as big numbers and compared by exclusive or, all at C speed: a few
    changed rows among 100,000 cost a few milliseconds, not a comparison per number."""
    differing = 0
    count = 0
    for walked_column, stored_column in zip(walked, stored, strict=True):
        count = len(walked_column)
        if walked_column != stored_column:
            differing |= (int.from_bytes(walked_column, "little")
                          ^ int.from_bytes(stored_column, "little"))
    rows = array.array("q")
    if differing:
        rows.frombytes(differing.to_bytes(8 * count, "little"))
    return rows


def later_rows(known: Known, newest: int | None, decided: set[int]
               ) -> list[tuple[int, int, int]]:
    """(published_us, row, kind) of the rows not decided one by one that are newer than
    ``newest`` (all of them without one): the only ones the search for the newest valid
    article can need."""
    published, flags = known.published, known.flags
    bound = NO_DATE if newest is None else newest
    return [(published[row], row, flags[row] >> 1) for row in itertools.compress(
            range(len(published)), map(operator.lt, itertools.repeat(bound), published))
            if row not in decided]
