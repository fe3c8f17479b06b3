"""The output folder's issues: each ``issue.json`` read at most once per run.

One :class:`IssueStore` per build, publish, send or scheduled run answers what the stages
ask of the issues already there: an issue's status, the published issues (for the archive,
the feeds and the previous/next links), and the articles they featured (never featured
twice).
"""

from __future__ import annotations

import datetime as dt
import stat
from collections.abc import Sequence
from pathlib import Path

from ..core.config import Config
from ..core.errors import NewsletterError
from ..core.models import Issue, IssueStatus, PlacedArticle
from .issuefile import ISSUE_FILE, DamagedIssueError, load_issue
from .issueindex import Stamp, Summary, index_path, load_index, save_index, stamp_of, summary_of


class IssueStore:
    """``rebuild``: the date of an issue about to be rebuilt from the corpus whatever its
    ``issue.json`` holds (``build --force``): a damaged one counts as missing, and
    ``damaged`` keeps what was wrong with it, instead of failing the build that replaces it.
    ``index``: the file of :mod:`.issueindex` that keeps what publishing needs of every issue
    between runs (:meth:`summaries`); without it, every issue.json is read for that."""

    def __init__(self, output: Path, *, rebuild: dt.date | None = None,
                 index: Path | None = None) -> None:
        self.output = output
        self.rebuild = rebuild
        self.index = index
        self.damaged: DamagedIssueError | None = None
        self._dates: list[dt.date] | None = None
        self._issues: dict[dt.date, Issue] = {}
        self._summaries: dict[dt.date, Summary] | None = None
        self._light: dict[dt.date, Issue] = {}
        self._stamps: dict[dt.date, Stamp] = {}  # of the files read, taken before reading

    @classmethod
    def of(cls, config: Config, *, rebuild: dt.date | None = None) -> IssueStore:
        """The store of the configured output folder, with its index in ``state_dir``."""
        return cls(config.output, rebuild=rebuild,
                   index=index_path(config.state_dir, config.output))

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
            try:  # before reading it: a file changed meanwhile is read again next time
                info = path.stat()
            except OSError:
                return None
            if not stat.S_ISREG(info.st_mode):
                return None
            try:
                self._issues[issue_date] = load_issue(path)
            except DamagedIssueError as error:
                if issue_date != self.rebuild:
                    raise
                self.damaged = error
                return None
            self._stamps[issue_date] = stamp_of(info)
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

    def summaries(self) -> dict[dt.date, Summary]:
        """What publishing needs of every issue (:class:`.issueindex.Summary`), from the
        index where its entry was made from the file as it is (its ``stat``), else from the
        file read whole (kept, as :meth:`get` keeps it); the index is written again when an
        entry changed. The ``stat`` is taken before the file is read: a file changed in
        between is read again next time."""
        if self._summaries is None:
            stored = load_index(self.index) if self.index is not None else {}
            found: dict[dt.date, Summary] = {}
            for date in self.dates():
                entry = stored.get(date.isoformat())
                if date not in self._issues and entry is not None:
                    try:
                        if entry.stamp != stamp_of(self.path(date).stat()):
                            entry = None
                    except OSError:  # gone since the folder was listed
                        continue
                if entry is None or date in self._issues:
                    issue = self.get(date)
                    if issue is None:
                        continue
                    featured = (featured_url(p) for p in issue.placed)
                    entry = summary_of(issue, self._stamps[date],
                                       tuple(url for url in featured if url))
                found[date] = entry
            self._summaries = found
            entries = {date.isoformat(): entry for date, entry in found.items()}
            if self.index is not None and entries != stored:
                save_index(self.index, entries)
        return self._summaries

    def published_light(self) -> list[Issue]:
        """The published issues, oldest first: those read already whole, the others as the
        index knows them (:meth:`.issueindex.Summary.light_issue`: topics, no articles). Pass
        each through :meth:`whole` before rendering it."""
        found = []
        for date, entry in self.summaries().items():
            if entry.status != IssueStatus.PUBLISHED:
                continue
            issue = self._issues.get(date)
            if issue is None:
                issue = self._light.setdefault(date, entry.light_issue(date))
            found.append(issue)
        return found

    def whole(self, issue: Issue) -> Issue:
        """``issue`` whole: read from its issue.json when it is one of :meth:`published_light`'s
        light issues, else itself (an issue about to be published is not the one on disk)."""
        if self._light.get(issue.date) is not issue:
            return issue
        loaded = self.get(issue.date)
        if loaded is None:  # deleted since it was listed: rendering it light would be wrong
            raise NewsletterError(f"{self.path(issue.date)}: deleted while this command ran; "
                                  "run it again")
        return loaded

    def featured_in(self, issue_date: dt.date) -> dict[str, str]:
        """The canonical URL of each article featured in a published issue dated before the
        date, with the slug of the first issue that featured it."""
        featured: dict[str, str] = {}
        for date, entry in self.summaries().items():
            if date < issue_date and entry.status == IssueStatus.PUBLISHED:
                for url in entry.featured:
                    featured.setdefault(url, date.isoformat())
        return featured

    def latest_published(self) -> tuple[Issue | None, dt.date | None]:
        """The latest published issue, and the date of the latest draft after it (None when
        there is none): what ``send`` and ``publish`` without a date name."""
        draft = None
        for date in reversed(self.dates()):
            issue = self.get(date)
            if issue is not None and issue.status == IssueStatus.PUBLISHED:
                return issue, draft
            draft = draft or date
        return None, draft

    def featured_before(self, issue_date: dt.date) -> frozenset[str]:
        """Canonical URLs of the articles featured in published issues dated before the date."""
        return frozenset(self.featured_in(issue_date))


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
