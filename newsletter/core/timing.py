"""When an issue happens: its date and its timestamp in feeds and emails come from the
schedule (the scheduler's own fire times), never from the wall clock."""

from __future__ import annotations

import datetime as dt
import re

from .config import MAX_WINDOW_DAYS, Config
from .cron import WallClockCron
from .errors import NewsletterError
from .models import Issue
from .settings import ScheduleSettings
from .text import impossible_date


def issue_timestamp(config: Config, issue_date: dt.date) -> dt.datetime:
    """The issue date at the schedule's time of day in the config's timezone (00:00 with no
    schedule, or when the schedule does not fire that day), so the same inputs always give
    the same bytes."""
    midnight = dt.datetime.combine(issue_date, dt.time(0), tzinfo=config.timezone)
    if config.schedule is None:
        return midnight
    fire = WallClockCron(config.schedule.cron, config.timezone).next_fire_time(
        midnight, inclusive=True)
    if fire is None or fire.date() != issue_date:
        return midnight
    return fire


def issue_time(config: Config, issue: Issue) -> dt.datetime:
    """``issue``'s timestamp: the one stored when it was published, else (a draft, or an issue
    published before timestamps were stored) the schedule's (:func:`issue_timestamp`)."""
    return issue.published_at or issue_timestamp(config, issue.date)


def schedule_settings(config: Config) -> ScheduleSettings:
    if config.schedule is None:
        raise NewsletterError(
            f"{config.path}: no schedule configured; add a schedule with its cron, e.g.\n"
            '  schedule:\n    cron: "0 7 * * mon"   # schedule.cron: Mondays at 07:00 in the '
            "config's timezone")
    return config.schedule


def schedule_cron(config: Config) -> WallClockCron:
    return WallClockCron(schedule_settings(config).cron, config.timezone)


def next_issue_date(config: Config, now: dt.datetime) -> dt.date:
    """The date of the next scheduled issue (today when there is no schedule): the issue an
    editor is preparing."""
    if config.schedule is None:
        return now.astimezone(config.timezone).date()
    fire = schedule_cron(config).next_fire_time(now, inclusive=True)
    return (fire or now).astimezone(config.timezone).date()

_ISSUE_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_UNPADDED_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
# The issue dates every command can work with. An issue's window reaches back window_days
# (at most MAX_WINDOW_DAYS, about a century) and its schedule looks ahead for the next fire
# time (a February 29 crontab can be 8 years away) and converts to UTC: beyond these ends
# that arithmetic leaves the calendar Python can represent (years 1 to 9999).
FIRST_ISSUE_DATE = dt.date(1000, 1, 1)
LAST_ISSUE_DATE = dt.date(9989, 12, 31)
assert FIRST_ISSUE_DATE - dt.timedelta(days=MAX_WINDOW_DAYS + 1) > dt.date.min


def minute_text(moment: dt.datetime, *, zone: bool = False) -> str:
    """``YYYY-MM-DD HH:MM`` (and the zone's abbreviation): the year always in four digits,
    which strftime's ``%Y`` does not give before the year 1000 (an issue of 1000-01-01
    reaches back into 999, written "999-12-25")."""
    return f"{moment.date().isoformat()} {moment:%H:%M}" + (f" {moment:%Z}" if zone else "")


def _padded(text: str) -> str:
    """`` (did you mean 2021-02-02?)`` for a date written without its zeros (2021-2-2):
    issues' folders and links are named YYYY-MM-DD, so a date is asked for as they write it;
    "" when the text is no such date."""
    match = _UNPADDED_DATE.fullmatch(text)
    if match is None:
        return ""
    try:
        meant = dt.date(*(int(part) for part in match.groups()))
    except ValueError:
        return ""
    return f" (did you mean {meant.isoformat()}?)"


def parse_issue_date(text: str) -> dt.date:
    """``YYYY-MM-DD`` as a date; a ValueError says in words what is wrong, e.g.
    "2021-02-30 is not a date: February 2021 has 28 days; use YYYY-MM-DD"."""
    match = _ISSUE_DATE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f'"{text}" is not a date: use YYYY-MM-DD, e.g. 2021-02-22'
                         + _padded(text.strip()))
    year, month, day = (int(part) for part in match.groups())
    problem = impossible_date(year, month, day)
    if problem is not None:
        raise ValueError(f"{text} is not a date: {problem}; use YYYY-MM-DD")
    date = dt.date(year, month, day)
    if not FIRST_ISSUE_DATE <= date <= LAST_ISSUE_DATE:
        raise ValueError(f"{text} is out of range: issue dates go from "
                         f"{FIRST_ISSUE_DATE.isoformat()} to {LAST_ISSUE_DATE.isoformat()} "
                         "(an issue's window and schedule must stay within the calendar)")
    return date
