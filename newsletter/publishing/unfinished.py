"""The issues whose publish has not finished writing: a small file in the output folder,
``.newsletter-publishing``, one issue date a line.

A publish writes the issue's ``issue.json`` before the pages of the issues around it (their
new previous or next link), the archive and the feeds; stopped in between (a kill, a full
disk), the issue reads as published while those files do not show it yet. Reading the pages
around the issue published tells it only when the next publish is of that issue or of one
next to it: after a publish stopped halfway through an issue published between two others,
the next publish of a later date would find its own neighbours' pages right and leave the
stopped one's for ever, and nothing short of reading every page of the archive would find
them. So each publish names its issue in this file before it writes anything, and deletes
the file once everything is written: the next publish, whatever its date, mends the pages
around every issue the file still names (reading two pages for each), and ``check`` names
them by reading this one file.

Hidden (a leading dot): ``serve`` never serves it, and the copy to a static host, which
takes only the files ``serve`` serves, leaves it out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from ..core.models import IssueStatus
from .issuefile import DamagedIssueError
from .issues import IssueStore

UNFINISHED_FILE = ".newsletter-publishing"


def unfinished_dates(output: Path) -> list[dt.date]:
    """The dates of the issues whose publish stopped before it wrote everything, oldest
    first. A line that is not a date (the file edited by hand) is passed over: the
    file only ever adds work, so what it fails to name is what a publish without it mends."""
    try:
        text = (output / UNFINISHED_FILE).read_text("utf-8", errors="replace")
    except OSError:  # none: every publish finished (the usual case)
        return []
    dates = set()
    for line in text.splitlines():
        try:
            dates.add(dt.date.fromisoformat(line.strip()))
        except ValueError:
            continue
    return sorted(dates)


def unfinished_file(dates: Iterable[dt.date]) -> dict[str, bytes]:
    """The file naming ``dates``, as a file to write (relative to the output folder)."""
    text = "".join(f"{date.isoformat()}\n" for date in sorted(set(dates)))
    return {UNFINISHED_FILE: text.encode("utf-8")}


def unfinished_lines(output: Path, *, strict: bool = False) -> list[str]:
    """What ``check`` says of the publishes that stopped halfway: for each published issue
    the file names, the pages it leaves stale and the command that writes them."""
    store = IssueStore(output)
    lines = []
    for date in unfinished_dates(output):
        try:
            published = store.status(date) == IssueStatus.PUBLISHED
        except DamagedIssueError:  # named, with its fix, by every command that reads it
            continue
        if not published:  # stopped before its issue.json: nothing around it changed yet
            continue
        slug = date.isoformat()
        lines.append(
            f"{'error' if strict else 'warning'}: {output / UNFINISHED_FILE}: the publish "
            f"of issue {slug} stopped before it wrote everything: the pages of the issues "
            "before and after it may still lead past it (their previous/next links), and "
            f"the archive and the feeds may not list it yet; `newsletter publish {slug}` "
            "writes them (so does the next publish of any issue)"
        )
    return lines
