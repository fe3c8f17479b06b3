"""When an issue happens: its timestamp in feeds and emails is never the wall clock."""

from __future__ import annotations

import datetime as dt

from .config import Config


def issue_timestamp(config: Config, issue_date: dt.date) -> dt.datetime:
    """The issue date at the schedule's time of day in the config's timezone (00:00 with no
    schedule), so the same inputs always give the same bytes."""
    return dt.datetime.combine(issue_date, dt.time(0), tzinfo=config.timezone)
