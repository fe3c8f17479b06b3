"""The configuration's ``schedule:`` section: a crontab that parses and fires, and a
catch-up limit the scheduler can count with."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

from .checks import Report, boolean, mapping, positive_number
from .cron import WallClockCron  # weekdays 0-7 as crontab means them
from .settings import ScheduleSettings

SCHEDULE_KEYS = ("cron", "publish", "send", "catch_up_hours")
MAX_CATCH_UP_HOURS = 366 * 24  # a year: beyond it the limit means nothing (and overflows)
# Five fields have no year and the calendar repeats every 400 years, so a crontab that fires
# at all fires after any moment: a fixed one keeps validation free of the clock.
_ANY_MOMENT = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


_NAMES = re.compile(r"\b(mon|tue|wed|thu|fri|sat|sun|jan|feb|mar|apr|may|jun|jul|aug|sep|"
                    r"oct|nov|dec)[a-z]+\b", re.IGNORECASE)


def _abbreviated(cron: str, timezone: ZoneInfo | None) -> str:
    """``; did you mean "0 7 * * mon"?`` for a crontab naming days or months in full
    ("monday", "January"), which crontab spells in three letters; "" when that is not what
    is wrong."""
    minute, hour, day, month, weekday = cron.split()
    short = " ".join([minute, hour, day, *(_NAMES.sub(lambda m: m[1].lower(), field)
                                           for field in (month, weekday))])
    if short == cron:
        return ""
    try:
        WallClockCron(short, timezone or ZoneInfo("UTC")).next_fire_time(_ANY_MOMENT)
    except ValueError:
        return ""
    return f'; did you mean "{short}"? (crontab names days and months in three letters)'


def check_schedule(report: Report, value: Any, timezone: ZoneInfo | None
                   ) -> ScheduleSettings | None:
    data = mapping(report, value, "schedule", SCHEDULE_KEYS)
    if data is None:
        return None
    cron = data.get("cron")
    if not isinstance(cron, str) or not cron.strip():
        report.expected("schedule.cron", 'a five-field crontab such as "0 7 * * mon"', cron)
        return None
    cron = " ".join(cron.split())
    if len(cron.split()) != 5:
        report.expected("schedule.cron", 'five fields (minute hour day month weekday), such as '
                        '"0 7 * * mon"', cron)
        return None
    try:
        fires = WallClockCron(cron, timezone or ZoneInfo("UTC")).next_fire_time(_ANY_MOMENT)
    except ValueError as error:
        report.errors.append(f'schedule.cron: "{cron}" is not a valid crontab: {error}'
                             + _abbreviated(cron, timezone))
        return None
    if fires is None:  # "0 7 31 2 *": a scheduler that would wait for ever, saying nothing
        report.errors.append(f'schedule.cron: "{cron}" never fires: no date has that day in '
                             "that month; fix its day or month field")
        return None
    publish = boolean(report, "schedule.publish", data.get("publish", True))
    send = boolean(report, "schedule.send", data.get("send", False))
    catch_up = positive_number(report, "schedule.catch_up_hours",
                               data.get("catch_up_hours", 24))
    if catch_up is not None and catch_up > MAX_CATCH_UP_HOURS:
        report.expected("schedule.catch_up_hours", f"a number of hours up to "
                        f"{MAX_CATCH_UP_HOURS} (a year)", catch_up)
    if send and not publish:
        report.errors.append("schedule.send: true needs schedule.publish: true (only a "
                             "published issue is sent)")
    return ScheduleSettings(cron, publish, send, catch_up or 24)
