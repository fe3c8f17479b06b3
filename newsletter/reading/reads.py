"""What one reading keeps, in columns, of the files it read and the files it left unread:
the next compact table (``compact.py``) is made from them."""

from __future__ import annotations

import array
import operator
from collections.abc import Iterator, Sequence
from itertools import compress, repeat

NO_DATE = -(2**63)  # published_us of a row that has none
FEW_ROWS = 256  # or a sixteenth of the walk: rows kept by index, not in columns
# Between an article's topics in the table's text of them: reading drops every C0 control
# from a topic (``clean_text``), so none can hold it.
TOPIC_SEPARATOR = "\x1f"


def joined_topics(topics: Sequence[str]) -> str:
    """The text the compact table keeps of an article's topics ("" for none)."""
    return TOPIC_SEPARATOR.join(topics)


def split_topics(text: str) -> list[str]:
    return text.split(TOPIC_SEPARATOR) if text else []


class FreshRows:
    """The rows a reading wrote to the cache, by the file's index in the walk: what the next
    compact table takes for them. A few (a build after some edits) are kept by index; past
    a sixteenth of the walk they move to columns (a cold reading writes one per file, a
    million at scale, where a tuple each would weigh five times more, and columns for a few
    rows would weigh as much as for all)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.marks = bytearray(count)
        self.written = 0
        self.few: dict[int, FreshRow] = {}
        self.columns: list[array.array] | None = None  # once there are many
        self.texts: list[list[str]] = [[], []]  # canonical URLs and topics, then

    def add(self, index: int, size: int, mtime_ns: int, ino: int, ctime_ns: int,
            trusted: int, kind: int, published_us: int | None, canonical: str | None,
            topics: str) -> None:
        """The fields of one ``cache.Entry`` (its path aside), and the article's topics
        (:func:`joined_topics`)."""
        if not self.marks[index]:
            self.marks[index] = 1
            self.written += 1
        row = (size, mtime_ns, ino, ctime_ns, trusted | kind << 1,
               NO_DATE if published_us is None else published_us, canonical or "", topics)
        if self.columns is None:
            self.few[index] = row
            if len(self.few) > max(FEW_ROWS, self.count // 16):
                self._to_columns()
            return
        sizes, mtimes, inos, ctimes, flags, published = self.columns
        canonicals, topics_of = self.texts
        (sizes[index], mtimes[index], inos[index], ctimes[index], flags[index],
         published[index], canonicals[index], topics_of[index]) = row

    def _to_columns(self) -> None:
        self.columns = [array.array("q", bytes(8 * self.count)) for _ in range(6)]
        self.texts = [[""] * self.count, [""] * self.count]
        few, self.few = self.few, {}
        for index, row in few.items():
            self._set(index, row)

    def _set(self, index: int, row: FreshRow) -> None:
        assert self.columns is not None
        for column, value in zip(self.columns, row[:6], strict=True):
            column[index] = value
        self.texts[0][index], self.texts[1][index] = row[6:]

    def whole(self) -> tuple[list[array.array], list[list[str]]]:
        """Every row, in columns (for when every file was read)."""
        if self.columns is None:
            self._to_columns()
        assert self.columns is not None
        return self.columns, self.texts

    def row(self, index: int) -> FreshRow:
        """The row of a file that was read: six numbers, then its canonical URL and its
        topics."""
        if self.columns is None:
            return self.few[index]
        return (*(column[index] for column in self.columns), self.texts[0][index],
                self.texts[1][index])

    def __len__(self) -> int:
        return self.written

    def __contains__(self, index: int) -> bool:
        return bool(self.marks[index])

    def indexes(self) -> Iterator[int]:
        return compress(range(self.count), self.marks)


FreshRow = tuple[int, int, int, int, int, int, str, str]  # size, mtime_ns, ino, ctime_ns,
# flags, published_us, canonical URL, topics


class Unread:
    """The files a reading left unread, in columns: when each was published (in
    microseconds), its index in the walk and its kind of cache row."""

    def __init__(self) -> None:
        self.published = array.array("q")
        self.indexes = array.array("q")
        self.kinds = bytearray()

    def add(self, published_us: int, index: int, kind: int) -> None:
        self.published.append(published_us)
        self.indexes.append(index)
        self.kinds.append(kind)

    def __len__(self) -> int:
        return len(self.indexes)

    def count(self, kind: int) -> int:
        return self.kinds.count(kind)

    def take_newer(self, newest: int | None) -> list[tuple[int, int, int]]:
        """Remove and return, newest first, (published_us, index, kind) of the files
        published after ``newest`` (all of them when it is None)."""
        bound = NO_DATE if newest is None else newest
        newer = list(map(operator.lt, repeat(bound), self.published))
        taken = sorted(zip(compress(self.published, newer), compress(self.indexes, newer),
                           compress(self.kinds, newer), strict=True), reverse=True)
        if taken:
            older = list(map(operator.not_, newer))
            self.published = array.array("q", compress(self.published, older))
            self.indexes = array.array("q", compress(self.indexes, older))
            self.kinds = bytearray(compress(self.kinds, older))
        return taken
