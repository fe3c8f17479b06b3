"""Cron maths: a crontab's fire times on the wall clock, right across DST changes.

The scheduler, the configuration's validation and every issue timestamp use these fire
times. They are computed here, not by APScheduler 3.11's own ``CronTrigger``, which gets them
wrong in ways a weekly newsletter notices:

* ``CronTrigger.from_crontab`` reads weekday ``0`` as Monday (``1`` as Tuesday...), unlike
  every crontab; we translate numeric weekdays to names first.
* With both the day of the month and the weekday restricted (``0 7 1 * mon``), it fires
  when both match, where crontab fires when either does (every Monday, and the 1st); we
  evaluate a day-only and a weekday-only trigger and take the earlier fire time.
* Iterated across DST changes in a local timezone it skips a day (00:00 on the day after a
  spring-forward in New York) or returns the same repeated time forever (02:30 on the
  fall-back day in Berlin), which in a running scheduler means a skipped or doubled issue.

So fire times are computed on the *wall clock*: the crontab is evaluated in UTC, where no
DST exists, giving naive local times, and each is then placed in the configured timezone. A
time that does not exist (02:30 on a spring-forward day) fires when the clock has jumped
past it (03:30 the same day); a time that exists twice (02:30 on a fall-back day in Berlin)
fires once, at its first occurrence.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

_CRON_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab: 0 and 7 = Sunday
# A DST gap moves a wall-clock time forward by at most this much (real gaps are 30-60 min).
_MAX_SHIFT = dt.timedelta(hours=3)
_LOOKBACK_DAYS = (1, 8, 32, 367, 1470)  # daily, weekly, monthly, yearly, Feb 29
_ONE_MICROSECOND = dt.timedelta(microseconds=1)


def _weekday_numbers(field: str) -> set[int] | None:
    """The crontab weekday field as numbers (0 = Sunday), or None if it is not plain."""
    names = {name: number for number, name in enumerate(_CRON_WEEKDAYS)}
    days: set[int] = set()
    for part in field.lower().split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() else 1
        if step_text and not step_text.isdigit():
            return None
        if base == "*":
            low, high = 0, 6
        else:
            low_text, _, high_text = base.partition("-")
            values = []
            for text in (low_text, high_text or None):
                if text is None:
                    continue
                if text.isdigit() and int(text) <= 7:
                    values.append(int(text))
                elif text in names:
                    values.append(names[text])
                else:
                    return None
            low = values[0]
            high = values[1] if len(values) == 2 else (6 if step_text else low)
            if high == 0 and low > 0:  # "5-0" or "fri-sun": to Sunday at the end of the week
                high = 7
            if high < low:
                return None
        days.update(day % 7 for day in range(low, high + 1, step))
    return days


def apscheduler_crontab(cron: str) -> str:
    """``cron`` with its weekday field spelt in names, which APScheduler reads as crontab does.

    ``CronTrigger.from_crontab("0 7 * * 1")`` fires on Tuesdays (its weekday 0 is Monday);
    ``"0 7 * * mon"`` fires on Mondays, as the user meant.
    """
    fields = cron.split()
    if len(fields) != 5 or fields[4] == "*":
        return cron
    days = _weekday_numbers(fields[4])
    if days is None:
        return cron
    fields[4] = ",".join(_CRON_WEEKDAYS[day] for day in sorted(days))
    return " ".join(fields)


def _utc_triggers(cron: str) -> list[Any]:
    """APScheduler triggers in UTC whose fire times, together, are the crontab's.

    Crontab fires on either the day of the month or the weekday when both are restricted
    (neither starts with ``*``); APScheduler only on both: one trigger each, then. The day one
    is left out when no month has that day (``31 2``), or it would search to the year 9999
    on every call.
    """
    # Imported here: APScheduler brings asyncio and ssl along (40 ms), which every command
    # reading a config without a schedule would otherwise pay.
    from apscheduler.triggers.cron import CronTrigger

    whole = CronTrigger.from_crontab(apscheduler_crontab(cron), timezone=dt.UTC)  # validates
    minute, hour, day, month, weekday = cron.split()
    if day.startswith("*") or weekday.startswith("*"):
        return [whole]
    triggers = [CronTrigger.from_crontab(apscheduler_crontab(
        f"{minute} {hour} * {month} {weekday}"), timezone=dt.UTC)]
    leap_year = CronTrigger(year=2000, month=month, day=day, hour=hour, minute=minute,
                            timezone=dt.UTC)  # a year with February 29, searched alone
    if leap_year.get_next_fire_time(None, dt.datetime(2000, 1, 1, tzinfo=dt.UTC)):
        triggers.append(CronTrigger.from_crontab(f"{minute} {hour} {day} {month} *",
                                                 timezone=dt.UTC))
    return triggers


class WallClockCron:
    """A five-field crontab's fire times in a timezone, right across DST changes."""

    def __init__(self, cron: str, timezone: ZoneInfo) -> None:
        self.cron = cron
        self.timezone = timezone
        self._utc = _utc_triggers(cron)

    def _walls(self, start: dt.datetime) -> Iterator[dt.datetime]:
        """Naive local wall-clock fire times from ``start`` (naive) on, in order."""
        previous = None
        for wall in heapq.merge(*(self._trigger_walls(trigger, start) for trigger in self._utc)):
            if wall != previous:  # a day both triggers fire on fires once
                yield wall
            previous = wall

    @staticmethod
    def _trigger_walls(trigger: Any, start: dt.datetime) -> Iterator[dt.datetime]:
        fire = trigger.get_next_fire_time(None, start.replace(tzinfo=dt.UTC))
        while fire is not None:
            yield fire.replace(tzinfo=None)
            fire = trigger.get_next_fire_time(fire, fire + _ONE_MICROSECOND)

    def instant(self, wall: dt.datetime) -> dt.datetime:
        """The moment a naive wall-clock time fires: fold=0 places a time that exists twice
        at its first occurrence and a missing one after the jump (02:30 -> 03:30)."""
        return wall.replace(tzinfo=self.timezone, fold=0).astimezone(dt.UTC).astimezone(
            self.timezone)

    def _wall(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(self.timezone).replace(tzinfo=None)

    def next_fire_time(self, after: dt.datetime, *, inclusive: bool = False
                       ) -> dt.datetime | None:
        """The first fire time after ``after`` (or at it, when ``inclusive``)."""
        best: dt.datetime | None = None
        for wall in self._walls(self._wall(after) - _MAX_SHIFT):
            if best is not None and wall > self._wall(best) + _MAX_SHIFT:
                break
            moment = self.instant(wall)
            if (moment > after or (inclusive and moment == after)) and (
                    best is None or moment < best):
                best = moment
        return best

    def latest_fire_time(self, now: dt.datetime) -> dt.datetime | None:
        """The most recent fire time at or before ``now``."""
        end = self._wall(now) + _MAX_SHIFT
        for days in _LOOKBACK_DAYS:
            latest: dt.datetime | None = None
            for wall in self._walls(self._wall(now) - dt.timedelta(days=days)):
                if wall > end:
                    break
                moment = self.instant(wall)
                if moment <= now and (latest is None or moment > latest):
                    latest = moment
            if latest is not None:
                return latest
        return None

    def fire_times(self, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
        """Every fire time in [start, end), in order: what the tests check across DST."""
        times = []
        fire = self.next_fire_time(start, inclusive=True)
        while fire is not None and fire < end:
            times.append(fire)
            fire = self.next_fire_time(fire)
        return times

