"""The corpus cache's compact table: what the last reading decided per file, in columns."""

from __future__ import annotations

import array

Stamp = tuple[int, int, int, int]  # size, mtime_ns, ino, ctime_ns


NO_DATE = -(2**63)  # published_us of a row that has none


class Known:
    """What the last reading decided for each file, in columns: one blob of paths, one of
    numbers (size, mtime_ns, ino, ctime_ns, flags, published_us per file, column after
    column) and one of canonical URLs, decoded only when an editor names files by URL.

    A warm build decides from this alone, with no SQL row per file and no payload: an
    article is decoded only when it is in the window or wanted. The table is rewritten
    whole, with the rows, whenever a reading changed anything; a row of it another process
    made stale only costs a read (payloads are fetched under the stamp they must have)."""

    def __init__(self, paths: list[str], numbers: array.array, canonicals: bytes) -> None:
        count = len(paths)
        self.paths = paths
        self.index = dict(zip(paths, range(count), strict=True))
        self.sizes, self.mtimes, self.inos, self.ctimes, self.flags, self.published = (
            numbers[start:start + count] for start in range(0, 6 * count or 6, count or 1))
        self._canonicals = canonicals
        self._canonical: list[str] | None = None

    @classmethod
    def empty(cls) -> Known:
        return cls([], array.array("q"), b"")

    @classmethod
    def decode(cls, parts: dict[int, bytes]) -> Known:
        if not parts:
            return cls.empty()
        paths = parts[0].decode("utf-8").split("\0") if parts[0] else []
        numbers = array.array("q")
        numbers.frombytes(parts[1])
        if len(numbers) != 6 * len(paths):
            raise ValueError("compact table of the wrong length")
        return cls(paths, numbers, parts[2])

    def canonical(self, row: int) -> str | None:
        if self._canonical is None:
            self._canonical = self._canonicals.decode("utf-8").split("\0")
            if len(self._canonical) != len(self.paths):  # damaged: every file is read
                self._canonical = [""] * len(self.paths)
        return self._canonical[row] or None

    def canonical_list(self) -> list[str]:
        """Every row's canonical URL ("" for none), decoded."""
        self.canonical(0) if self.paths else None
        return self._canonical or []

    def stamp(self, row: int) -> Stamp:
        return self.sizes[row], self.mtimes[row], self.inos[row], self.ctimes[row]


class CompactBuilder:
    """The next compact table, file by file in walk order."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.columns = [array.array("q") for _ in range(6)]
        self.canonicals: list[str] = []

    def copy(self, known: Known, rows: list[int]) -> None:
        """The given rows of ``known``, unchanged: column by column, at C speed (a warm
        build after an edit copies 100,000 of them)."""
        self.paths.extend(map(known.paths.__getitem__, rows))
        for column, source in zip(self.columns, (known.sizes, known.mtimes, known.inos,
                                                  known.ctimes, known.flags, known.published),
                                  strict=True):
            column.extend(map(source.__getitem__, rows))
        self.canonicals.extend(map(known.canonical_list().__getitem__, rows))

    def add(self, path: str, size: int, mtime_ns: int, ino: int, ctime_ns: int, trusted: int,
            kind: int, published_us: int | None, canonical: str | None) -> None:
        """A file read in this run: the fields of its cache row (``cache.Entry``)."""
        self.paths.append(path)
        for column, value in zip(self.columns, (size, mtime_ns, ino, ctime_ns,
                                                trusted | kind << 1,
                                                NO_DATE if published_us is None
                                                else published_us), strict=True):
            column.append(value)
        self.canonicals.append(canonical or "")

    def parts(self) -> list[tuple[int, bytes]]:
        numbers = array.array("q")
        for column in self.columns:
            numbers.extend(column)
        return [(0, "\0".join(self.paths).encode("utf-8")), (1, numbers.tobytes()),
                (2, "\0".join(self.canonicals).encode("utf-8"))]
