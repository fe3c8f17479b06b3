"""The corpus as the preview last read it, kept up to date file by file.

Reading 100,000 files again (a walk and a stat of each, the cache's rows) after every save
would take seconds; the watcher says which files changed, so only those are read again and
the reading of each open draft is patched. Anything a patch cannot settle for sure (a
folder moved, two files claiming one id, many files at once, the config, the templates or
an overrides file) makes the next draft read the whole corpus again, as a build would.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from ...core.models import Article, Problem
from ...reading.corpus import CorpusReading, read_article_file
from ...reading.walk import ARTICLE_SUFFIXES, article_id, walk_corpus

MAX_PATCHED_FILES = 200  # more changed files than this at once: read the whole corpus again


def _walk_order(relative: str) -> list[str]:
    """The walk's order (each folder's entries sorted by name) as a sort key."""
    return relative.split("/")


class CorpusTracker:
    """Which article files exist below ``root``, and the patching of readings of it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.known: set[str] | None
        try:
            self.known = set(walk_corpus(root)[0].paths)
        except OSError:
            self.known = None  # an unreadable folder: read the whole corpus every time

    def relative(self, path: str) -> str | None:
        """``path`` below the corpus folder, or None when it is not in it."""
        try:
            return Path(path).relative_to(self.root).as_posix()
        except ValueError:
            return None

    def patchable(self, relatives: Iterable[str]) -> list[str] | None:
        """The article files among changed paths, or None when a patch cannot be sure of
        the result (a folder changed, an id shared with another file, too many)."""
        if self.known is None:
            return None
        known = self.known
        files: list[str] = []
        for relative in relatives:
            parts = relative.split("/")
            if any(part.startswith(".") for part in parts):
                continue  # hidden: the walk never reads it
            if (self.root / relative).is_dir():
                return None  # a folder: what it holds is not listed
            prefix = relative + "/"
            if relative not in known and any(k.startswith(prefix) for k in known):
                return None  # a folder gone
            if not relative.endswith(ARTICLE_SUFFIXES):
                continue
            stem = article_id(relative)
            if any(stem + suffix in known for suffix in ARTICLE_SUFFIXES
                   if stem + suffix != relative):
                return None  # two files, one id: the first keeps it
            files.append(relative)
        return files if len(files) <= MAX_PATCHED_FILES else None

    def read(self, files: Iterable[str]) -> dict[str, Article | Problem | None]:
        """Each file as it reads now (None: gone)."""
        return {relative: read_article_file(self.root, relative) for relative in files}

    def patch(self, reading: CorpusReading, now: dict[str, Article | Problem | None]
              ) -> CorpusReading:
        """``reading`` with the files of ``now`` replaced by what they read as now."""
        articles = {a.path: a for a in reading.articles}
        problems = {p.path: p for p in reading.problems}
        unread, unvalidated = reading.unread, reading.unvalidated
        for relative, result in now.items():
            was_read = articles.pop(relative, None) or problems.pop(relative, None)
            if self.known is not None and relative in self.known and was_read is None:
                # It was left unread (outside the window): it is read now.
                unread, unvalidated = max(0, unread - 1), max(0, unvalidated - 1)
            if isinstance(result, Article):
                articles[relative] = result
            elif isinstance(result, Problem):
                problems[relative] = result
        return replace(
            reading,
            articles=tuple(articles[k] for k in sorted(articles, key=_walk_order)),
            problems=tuple(problems[k] for k in sorted(problems, key=_walk_order)),
            unread=unread, unvalidated=unvalidated)

    def settle(self, now: dict[str, Article | Problem | None]) -> None:
        """Record which of the files exist, once every reading is patched."""
        if self.known is None:
            return
        for relative, result in now.items():
            if result is None:
                self.known.discard(relative)
            else:
                self.known.add(relative)
