"""Which drafts the preview offers, and which one it opens first.

The next scheduled issue is often empty (the corpus has not caught up with the calendar, or
nothing came in yet), so the preview opens the latest date whose draft has something in it
and lists the others: the next scheduled issue, every unpublished issue folder the editor
started (``overrides.yaml`` or a built ``issue.json``), and the issue that holds the newest
article.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from ...core.config import Config
from ...core.errors import NewsletterError
from ...core.timing import next_issue_date, parse_issue_date
from ...publishing.issuefile import ISSUE_FILE
from ...publishing.issues import IssueStore
from ...selecting.overrides import OVERRIDES_FILE
from .drafts import Draft


@dataclass(frozen=True)
class DraftDate:
    date: dt.date
    note: str = ""  # "" when it has articles; else why not ("nothing in it", the error)

    @property
    def has_articles(self) -> bool:
        return not self.note


@dataclass(frozen=True)
class Listing:
    default: dt.date  # the draft opened first
    drafts: tuple[DraftDate, ...]  # latest first
    published: tuple[dt.date, ...]  # latest first

    @property
    def others(self) -> tuple[DraftDate, ...]:
        return tuple(d for d in self.drafts if d.date != self.default)


def started_drafts(config: Config, published: set[dt.date]) -> set[dt.date]:
    """Dates of the unpublished issue folders holding an overrides.yaml or an issue.json."""
    dates: set[dt.date] = set()
    try:
        folders = list(config.output.iterdir())
    except OSError:
        return dates
    for folder in folders:
        try:  # a folder dated outside the issue dates is no draft: it cannot be built
            date = parse_issue_date(folder.name)
        except ValueError:
            continue
        if date.isoformat() != folder.name:  # " 2021-02-22" is not that issue's folder
            continue
        if date not in published and ((folder / OVERRIDES_FILE).is_file()
                                      or (folder / ISSUE_FILE).is_file()):
            dates.add(date)
    return dates


def issue_holding(config: Config, moment: dt.datetime) -> dt.date:
    """The first scheduled issue whose window (it ends at 00:00 on the issue date) holds
    ``moment``."""
    local = moment.astimezone(config.timezone)
    next_midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0),
                                        tzinfo=config.timezone)
    return next_issue_date(config, next_midnight)


def issue_after(config: Config, date: dt.date) -> dt.date:
    """The first scheduled issue dated after ``date`` (the next day without a schedule)."""
    midnight = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(0),
                                   tzinfo=config.timezone)
    return next_issue_date(config, midnight)


def list_drafts(config: Config, now: dt.datetime, draft: Callable[[dt.date], Draft],
                fixed: dt.date | None = None) -> Listing:
    """The drafts on offer and the one to open: ``fixed`` when given, else the latest one
    with articles (the next scheduled issue when none has any). ``draft`` renders one.

    The next scheduled issue is the first one not published yet (today's, published by hand
    before its run, is no draft any more); the issue after the latest published one is
    offered too: the one an editor working through a backlog does next."""
    published = set(IssueStore(config.output).published_dates())
    upcoming = next_issue_date(config, now)
    for _ in range(len(published)):
        if upcoming not in published:
            break
        upcoming = issue_after(config, upcoming)
    candidates = {upcoming} | started_drafts(config, published)
    if published:
        following = issue_after(config, max(published))
        if following < upcoming and following not in published:
            candidates.add(following)
    if fixed is not None:
        candidates.add(fixed)
    notes: dict[dt.date, str] = {}

    def note(date: dt.date) -> str:
        if date not in notes:
            try:
                rendered = draft(date)
                notes[date] = "nothing in it" if rendered.empty_reason else ""
                if rendered.newest is not None:
                    newest = issue_holding(config, min(rendered.newest, now))
                    if newest not in published and newest < upcoming:
                        candidates.add(newest)
            except NewsletterError as error:
                notes[date] = f"cannot be built: {str(error).splitlines()[0]}"
        return notes[date]

    note(upcoming)  # names the newest article, whose issue becomes a candidate too
    ordered = sorted(candidates, reverse=True)
    drafts = tuple(DraftDate(date, note(date)) for date in ordered)
    default = fixed or next((d.date for d in drafts if d.has_articles), upcoming)
    return Listing(default, drafts, tuple(sorted(published, reverse=True)))
