"""When an issue happens: its timestamp in feeds and emails is never the wall clock."""

from __future__ import annotations

import datetime as dt

from .config import Config


def issue_timestamp(config: Config, issue_date: dt.date) -> dt.datetime:
    """The issue date at the schedule's time of day in the config's timezone (00:00 with no
    schedule, or when the schedule does not fire that day), so the same inputs always give
    the same bytes."""
    midnight = dt.datetime.combine(issue_date, dt.time(0), tzinfo=config.timezone)
    if config.schedule is None:
        return midnight
    from .schedule import WallClockCron  # the scheduler's own fire times, right across DST

    fire = WallClockCron(config.schedule.cron, config.timezone).next_fire_time(
        midnight, inclusive=True)
    if fire is None or fire.date() != issue_date:
        return midnight
    return fire
