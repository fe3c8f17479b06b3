"""The output folder's issues: each ``issue.json`` read at most once per run.

One :class:`IssueStore` per build, publish, send or scheduled run answers what the stages
ask of the issues already there: an issue's status, the published issues (for the archive,
the feeds and the previous/next links), and the articles they featured (never featured
twice).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from ..core.models import Issue, IssueStatus, PlacedArticle
from .issuefile import ISSUE_FILE, DamagedIssueError, load_issue


class IssueStore:
    """``rebuild``: the date of an issue about to be rebuilt from the corpus whatever its
    ``issue.json`` holds (``build --force``): a damaged one counts as missing, and
    ``damaged`` keeps what was wrong with it, instead of failing the build that replaces it."""

    def __init__(self, output: Path, *, rebuild: dt.date | None = None) -> None:
        self.output = output
        self.rebuild = rebuild
        self.damaged: DamagedIssueError | None = None
        self._dates: list[dt.date] | None = None
        self._issues: dict[dt.date, Issue] = {}

    def path(self, issue_date: dt.date) -> Path:
        return self.output / issue_date.isoformat() / ISSUE_FILE

    def dates(self) -> list[dt.date]:
        """Dates of the issue folders that hold an ``issue.json``, oldest first."""
        if self._dates is None:
            dates = []
            folders = sorted(self.output.iterdir()) if self.output.is_dir() else []
            for folder in folders:
                try:
                    date = dt.date.fromisoformat(folder.name)
                except ValueError:
                    continue
                if folder.name == date.isoformat() and (folder / ISSUE_FILE).is_file():
                    dates.append(date)
            self._dates = dates
        return self._dates

    def get(self, issue_date: dt.date) -> Issue | None:
        """The issue dated ``issue_date``, or None when there is none."""
        if issue_date not in self._issues:
            path = self.path(issue_date)
            if not path.is_file():
                return None
            try:
                self._issues[issue_date] = load_issue(path)
            except DamagedIssueError as error:
                if issue_date != self.rebuild:
                    raise
                self.damaged = error
                return None
        return self._issues[issue_date]

    def status(self, issue_date: dt.date) -> IssueStatus | None:
        issue = self.get(issue_date)
        return None if issue is None else issue.status

    def published(self) -> list[Issue]:
        """The published issues, oldest first."""
        issues = (self.get(date) for date in self.dates())
        return [i for i in issues if i is not None and i.status == IssueStatus.PUBLISHED]

    def published_around(self, issue_date: dt.date) -> list[Issue]:
        """The published issues just before and just after ``issue_date`` (at most two):
        those the previous and next links of its page name, read without every other
        ``issue.json`` of a long archive."""
        dates = self.dates()
        found = []
        for side in ([d for d in reversed(dates) if d < issue_date],
                     [d for d in dates if d > issue_date]):
            issues = (self.get(date) for date in side)
            nearest = next((i for i in issues if i is not None
                            and i.status == IssueStatus.PUBLISHED), None)
            if nearest is not None:
                found.append(nearest)
        return found

    def published_dates(self) -> list[dt.date]:
        return [issue.date for issue in self.published()]

    def featured_before(self, issue_date: dt.date) -> frozenset[str]:
        """Canonical URLs of the articles featured in published issues dated before the date."""
        urls = (featured_url(p) for issue in self.published()
                if issue.date < issue_date for p in issue.placed)
        return frozenset(url for url in urls if url)


def featured_url(placed: PlacedArticle) -> str | None:
    """The canonical URL of an article an issue read back from its ``issue.json`` placed, or
    None when its URL is not http(s). Reading the issue computed it already (the URL as
    written stands in for it when there is none): computing it again for every article of
    every issue published took a third of a publish after 3,000 daily issues."""
    article = placed.article
    return article.canonical_url if article.canonical_url != article.url else None


def neighbours(issue: Issue, published: Sequence[Issue]) -> tuple[Issue | None, Issue | None]:
    """The published issues just before and just after ``issue``."""
    earlier = [p for p in published if p.date < issue.date]
    later = [p for p in published if p.date > issue.date]
    return (earlier[-1] if earlier else None), (later[0] if later else None)
