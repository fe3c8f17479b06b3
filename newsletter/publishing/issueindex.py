"""What a build and a publish need of every issue already in the output folder, kept between
runs: its status, title, window and topics, and the articles it featured (their canonical
URLs, which an issue may not feature again). Reading every ``issue.json`` for them was most
of a publish after years of daily issues (1.3 s of 1.8 s at 3,000), nearly all of it the
articles' canonical URLs.

A cache, never trusted over the files themselves: each entry holds the ``stat`` of the
``issue.json`` it was made from (size, modification and change times in nanoseconds, inode),
and a file whose ``stat`` differs is read again. An entry is kept only for a file modified
more than :data:`RACY_SECONDS` before the index is written, so that a rewrite within one tick
of the file system's clock (same size, same times) cannot go unseen. The index lives in
``state_dir`` beside the corpus cache (one machine's, rebuilt at will), one file per output
folder, written whole through a temporary file and a rename: a run killed while writing it
leaves the old index or the new one, and a damaged or foreign one is ignored."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..core.models import Issue, IssueStatus, Section, Window
from ..core.private import private_file
from .output import write_atomic

INDEX_FORMAT = "newsletter issue index 1"
RACY_SECONDS = 2.0

Stamp = tuple[int, int, int, int]


def stamp_of(info: os.stat_result) -> Stamp:
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


@dataclass(frozen=True)
class Summary:
    """What the index keeps of one ``issue.json``."""

    stamp: Stamp
    status: str
    title: str
    window: tuple[str, str, str]  # start, end (ISO 8601), timezone
    topics: tuple[str, ...]  # its sections' topics, in order
    featured: tuple[str, ...]  # :func:`.issues.featured_url` of each article placed

    def light_issue(self, issue_date: dt.date) -> Issue:
        """The issue as far as the index knows it: its sections name their topics and hold
        no article. Only for what needs no more (the archive's years and topic feeds, the
        previous/next links); whatever renders an issue asks the store for it whole."""
        start, end, zone = self.window
        return Issue(
            slug=issue_date.isoformat(),
            date=issue_date,
            title=self.title,
            window=Window(
                dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end), ZoneInfo(zone)
            ),
            sections=tuple(Section(topic, ()) for topic in self.topics),
            status=IssueStatus(self.status),
        )


def summary_of(issue: Issue, stamp: Stamp, featured: tuple[str, ...]) -> Summary:
    window = (
        issue.window.start.isoformat(),
        issue.window.end.isoformat(),
        issue.window.timezone.key,
    )
    return Summary(
        stamp,
        str(issue.status),
        issue.title,
        window,
        tuple(section.topic for section in issue.sections),
        featured,
    )


def index_path(state_dir: Path, output: Path) -> Path:
    """The index of the output folder ``output``: one per folder, as configs may share a
    ``state_dir``."""
    key = hashlib.sha256(str(output.resolve()).encode("utf-8")).hexdigest()[:16]
    return state_dir / f"issue-index-{key}.json"


def load_index(path: Path) -> dict[str, Summary]:
    """The entries of the index at ``path`` by issue slug; none when it is missing, damaged
    or of another format (it is rebuilt from the files)."""
    try:
        data = json.loads(path.read_bytes())
        if data.get("format") != INDEX_FORMAT:
            return {}
        return {
            slug: Summary(
                tuple(entry["stamp"]),
                entry["status"],
                entry["title"],
                tuple(entry["window"]),
                tuple(entry["topics"]),
                tuple(entry["featured"]),
            )
            for slug, entry in data["issues"].items()
        }
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def save_index(path: Path, entries: dict[str, Summary], now: float | None = None) -> None:
    """Write the entries whose file was modified more than RACY_SECONDS ago (the others are
    read again next time), atomically; a state folder that cannot be written is left as it
    is (the index only saves time)."""
    cutoff = ((time.time() if now is None else now) - RACY_SECONDS) * 1e9
    issues: dict[str, Any] = {
        slug: {
            "stamp": list(s.stamp),
            "status": s.status,
            "title": s.title,
            "window": list(s.window),
            "topics": list(s.topics),
            "featured": list(s.featured),
        }
        for slug, s in sorted(entries.items())
        if s.stamp[1] < cutoff
    }
    data = json.dumps(
        {"format": INDEX_FORMAT, "issues": issues}, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")
    if not path.parent.is_dir():
        return
    with contextlib.suppress(OSError):
        write_atomic(path, data)
        private_file(path)
