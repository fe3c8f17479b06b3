"""Which files a reading may leave unvalidated, and the progress bar of a long reading."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass

from ..core.models import Window
from ..core.urls import canonical_url
from .cache import microseconds

PROGRESS_MIN_FILES = 2000  # and a progress bar for fewer would only flicker


@dataclass(frozen=True)
class Plan:
    """Which files a reading may leave unvalidated: valid or not, they cannot change the
    issue. ``start_us`` None means every file is validated (check, explain, --strict)."""

    start_us: int | None = None
    end_us: int | None = None
    wanted_ids: frozenset[str] = frozenset()
    wanted_canonical: frozenset[str] = frozenset()

    def may_skip(self, id: str, published_us: int | None, canonical: str | None) -> bool:
        if self.start_us is None or self.end_us is None or published_us is None:
            return False
        if self.start_us <= published_us < self.end_us or id in self.wanted_ids:
            return False
        # An editor's pin or exclude may name it by URL.
        return not (self.wanted_canonical
                    and (canonical is None or canonical in self.wanted_canonical))



def make_plan(window: Window | None, wanted: Iterable[str]) -> Plan:
    if window is None:
        return Plan()
    return Plan(microseconds(window.start), microseconds(window.end), *wanted_names(wanted))


def wanted_names(wanted: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    """The ids and the canonical URLs an editor's pins and excludes may name a file by."""
    entries = frozenset(wanted)
    return entries, frozenset(c for c in (canonical_url(e) for e in entries) if c)



class Progress:
    """``indexing articles 41% (41,000/100,000)`` on stderr, redrawn at most 10 times a
    second, erased at the end; silent unless stderr is a terminal."""

    def __init__(self, total: int, enabled: bool | None) -> None:
        if enabled is None:
            enabled = total >= PROGRESS_MIN_FILES and sys.stderr.isatty()
        self.total, self.enabled, self.done, self.shown = total, enabled, 0, 0.0

    def advance(self, count: int = 1) -> None:
        self.done += count
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.shown >= 0.1 or self.done >= self.total:
            self.shown = now
            share = self.done / self.total if self.total else 1
            bar = "#" * int(share * 30)
            sys.stderr.write(f"\rindexing articles [{bar:<30}] {share:4.0%} "
                             f"({self.done:,}/{self.total:,})")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()

