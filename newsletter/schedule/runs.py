"""``newsletter schedule``: build (and publish) each issue on time, once, by itself.

A thin shell around :func:`newsletter.build.build_issue`. What is worth reading here is how
fire times are computed, because APScheduler 3.11's own ``CronTrigger`` gets them wrong in
ways a weekly newsletter notices:

* ``CronTrigger.from_crontab`` reads weekday ``0`` as Monday (``1`` as Tuesday...), unlike
  every crontab; we translate numeric weekdays to names first.
* Iterated across DST changes in a local timezone it skips a day (00:00 on the day after a
  spring-forward in New York) or returns the same repeated time forever (02:30 on the
  fall-back day in Berlin), which in a running scheduler means a skipped or doubled issue.

So fire times are computed on the *wall clock*: the crontab is evaluated in UTC, where no
DST exists, giving naive local times, and each is then placed in the configured timezone. A
time that does not exist (02:30 on a spring-forward day) fires when the clock has jumped
past it (03:30 the same day); a time that exists twice (02:30 on a fall-back day in Berlin)
fires once, at its first occurrence. APScheduler still drives the long-running mode, with
our trigger (:class:`WallClockTrigger`).

Runs are made up once: a run is recorded as done in a small state file *after* it
succeeded (a crash never loses a run), and at start the most recent fire time is made up if
it is not done and not older than ``catch_up_hours``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from .config import Config, ScheduleSettings
from .errors import NewsletterError
from .issuefile import ISSUE_FILE, read_issue_file
from .output import write_atomic

log = logging.getLogger("newsletter.schedule")

PUBLISHED = "published"
_CRON_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab: 0 and 7 = Sunday
# A DST gap moves a wall-clock time forward by at most this much (real gaps are 30-60 min).
_MAX_SHIFT = dt.timedelta(hours=3)
_LOOKBACK_DAYS = (1, 8, 32, 367, 1470)  # daily, weekly, monthly, yearly, Feb 29
_ONE_MICROSECOND = dt.timedelta(microseconds=1)


# -- fire times ------------------------------------------------------------------------------

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


class WallClockCron:
    """A five-field crontab's fire times in a timezone, right across DST changes."""

    def __init__(self, cron: str, timezone: ZoneInfo) -> None:
        self.cron = cron
        self.timezone = timezone
        self._utc = CronTrigger.from_crontab(apscheduler_crontab(cron), timezone=dt.UTC)

    def _walls(self, start: dt.datetime) -> Iterator[dt.datetime]:
        """Naive local wall-clock fire times from ``start`` (naive) on, in order."""
        fire = self._utc.get_next_fire_time(None, start.replace(tzinfo=dt.UTC))
        while fire is not None:
            yield fire.replace(tzinfo=None)
            fire = self._utc.get_next_fire_time(fire, fire + _ONE_MICROSECOND)

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


class WallClockTrigger(BaseTrigger):
    """APScheduler's trigger interface over :class:`WallClockCron`."""

    def __init__(self, cron: WallClockCron) -> None:
        self.cron = cron

    def get_next_fire_time(self, previous_fire_time: dt.datetime | None,
                           now: dt.datetime) -> dt.datetime | None:
        if previous_fire_time is not None:
            return self.cron.next_fire_time(previous_fire_time)
        return self.cron.next_fire_time(now, inclusive=True)

    def __str__(self) -> str:
        return f"cron[{self.cron.cron!r} in {self.cron.timezone.key}]"


def _settings(config: Config) -> ScheduleSettings:
    if config.schedule is None:
        raise NewsletterError(
            f"{config.path}: no schedule configured; add a schedule with its cron, e.g.\n"
            '  schedule:\n    cron: "0 7 * * mon"   # schedule.cron: Mondays at 07:00 in the '
            "config's timezone")
    return config.schedule


def schedule_cron(config: Config) -> WallClockCron:
    return WallClockCron(_settings(config).cron, config.timezone)


def next_issue_date(config: Config, now: dt.datetime) -> dt.date:
    """The date of the next scheduled issue (today when there is no schedule): the issue an
    editor is preparing."""
    if config.schedule is None:
        return now.astimezone(config.timezone).date()
    fire = schedule_cron(config).next_fire_time(now, inclusive=True)
    return (fire or now).astimezone(config.timezone).date()


# -- state: which runs are done ----------------------------------------------------------------

def _output_key(config: Config) -> str:
    """One scheduler (and one record of runs) per output folder, whichever config names it."""
    return hashlib.sha256(str(config.output.resolve()).encode("utf-8")).hexdigest()[:16]


def lock_path(config: Config) -> Path:
    return config.state_dir / f"schedule-{_output_key(config)}.lock"


def state_path(config: Config) -> Path:
    return config.state_dir / f"schedule-{_output_key(config)}.json"


def _last_completed(config: Config) -> dt.datetime | None:
    try:
        data = json.loads(state_path(config).read_text("utf-8"))
        return dt.datetime.fromisoformat(data["last_completed"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record_completed(config: Config, fire_time: dt.datetime) -> None:
    """Mark a run done, only after it succeeded, atomically (a crash never loses a run)."""
    previous = _last_completed(config)
    if previous is not None and previous >= fire_time:
        return
    data = {"output": str(config.output), "last_completed": fire_time.isoformat()}
    write_atomic(state_path(config), (json.dumps(data, indent=2) + "\n").encode("utf-8"))


def _issue_status(config: Config, issue_date: dt.date) -> str | None:
    path = config.output / issue_date.isoformat() / ISSUE_FILE
    if not path.is_file():
        return None
    return str(read_issue_file(path).get("status"))


def _when(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %Z")


# -- catch-up: pure decisions over an injected clock --------------------------------------------

@dataclass(frozen=True)
class Due:
    """What a pass of the scheduler does at ``now``, and the sentence it logs."""

    action: str  # "run", "done" (nothing to do), "too_late" (logged only) or "none"
    message: str
    fire_time: dt.datetime | None = None

    @property
    def issue_date(self) -> dt.date | None:
        return None if self.fire_time is None else self.fire_time.date()


def check_due(config: Config, now: dt.datetime) -> Due:
    """Whether the most recent fire time (at or before ``now``) must be run now.

    It is run when it is not done yet (its issue not published, or published but not yet
    sent by a run when the schedule sends; and the run not recorded as completed) and it is
    at most ``catch_up_hours`` old; older misses are reported, never built, since an issue
    days late is worse than a skipped one.
    """
    settings = _settings(config)
    fire = schedule_cron(config).latest_fire_time(now)
    if fire is None:
        return Due("none", f"the schedule {settings.cron!r} has not fired yet")
    issue = fire.date().isoformat()
    completed = _last_completed(config)
    if _issue_status(config, fire.date()) == PUBLISHED and not settings.send:
        return Due("done", f"issue {issue} (run of {_when(fire)}) is already published: "
                           "nothing to do", fire)
    if completed is not None and completed >= fire:
        return Due("done", f"the run of {_when(fire)} (issue {issue}) is done: nothing to do",
                   fire)
    late = now - fire
    limit = dt.timedelta(hours=settings.catch_up_hours)
    if late > limit:
        hours = late.total_seconds() / 3600
        return Due("too_late",
                   f"missed the run of {_when(fire)} (issue {issue}) by {hours:.1f} hours, "
                   f"more than schedule.catch_up_hours ({settings.catch_up_hours:g}): not made "
                   f"up; build it by hand with `newsletter build --date {issue} --publish`",
                   fire)
    verb = "making up" if late > dt.timedelta(minutes=1) else "starting"
    return Due("run", f"{verb} the run of {_when(fire)} (issue {issue})", fire)


def missed_run(config: Config, now: dt.datetime) -> dt.datetime | None:
    """The fire time to make up at ``now``, or None when there is nothing to run."""
    due = check_due(config, now)
    return due.fire_time if due.action == "run" else None


# -- one run ------------------------------------------------------------------------------------

def _send(config: Config, issue_date: dt.date) -> None:
    """Deliver the published issue to its subscribers.

    Sending again is safe: delivery records each address it sent to and skips it. A send
    with failed addresses fails the run, so it is not recorded and a restart retries it.
    """
    from . import deliver

    slug = issue_date.isoformat()
    log.info("sending issue %s", slug)
    report = deliver.send_issue(config, issue_date, log=lambda line: log.info("%s", line))
    log.info("%s", report.summary())
    if not report.ok:
        raise NewsletterError(f"sending issue {slug} failed for some subscribers: "
                              f"{report.summary()}")


def run_issue(config: Config, fire_time: dt.datetime, *, strict: bool = False) -> None:
    """Build the issue dated ``fire_time``'s local date, publish it and send it as the
    schedule says, then record the run as done. Raises on failure (nothing recorded)."""
    from .build import build_issue

    settings = _settings(config)
    issue_date = fire_time.astimezone(config.timezone).date()
    slug = issue_date.isoformat()
    if _issue_status(config, issue_date) == PUBLISHED:
        if settings.send:  # published, but this run has not sent it yet
            log.info("issue %s is already published: sending it", slug)
            _send(config, issue_date)
        else:
            log.info("issue %s is already published: nothing to do", slug)
        record_completed(config, fire_time)
        return
    result = build_issue(config, issue_date, strict=strict, publish=settings.publish)
    for problem in result.problems:
        log.warning("skipped invalid article file: %s", problem)
    for warning in result.warnings:
        log.warning("%s", warning)
    if result.empty_reason:
        log.warning("issue %s: nothing to build: %s", slug, result.empty_reason)
        record_completed(config, fire_time)
        return
    issue = result.selection.issue
    verb = "built and published" if settings.publish else "built (as a draft)"
    log.info("issue %s %s: %d topics, %d articles, %d file(s) written in %s", slug, verb,
             len(issue.sections), len(issue.placed), len(result.written), config.output)
    if settings.send:
        _send(config, issue_date)
    record_completed(config, fire_time)


def run_pass(config: Config, now: dt.datetime, *, strict: bool = False) -> bool:
    """One pass: make up the most recent fire time if it is due. False when the run failed."""
    due = check_due(config, now)
    if due.action == "too_late":
        log.warning("%s", due.message)
        return True
    log.info("%s", due.message)
    if due.action != "run" or due.fire_time is None:
        return True
    try:
        run_issue(config, due.fire_time, strict=strict)
    except NewsletterError as error:
        log.error("the run of %s failed: %s", _when(due.fire_time), error)
        return False
    except Exception as error:  # a failed run must not stop the scheduler
        log.exception("the run of %s failed: unexpected %s: %s", _when(due.fire_time),
                      type(error).__name__, error)
        return False
    return True


# -- the process --------------------------------------------------------------------------------

class SchedulerLock:
    """An exclusive ``flock`` on a file in the state folder, one per output folder.

    The kernel drops the lock when its process dies, however it dies, so a dead scheduler's
    lock is taken over without any stale-PID guessing; the PID inside is only for the message.
    """

    def __init__(self, config: Config) -> None:
        self.path = lock_path(config)
        self.output = config.output
        self._file: IO[str] | None = None

    def __enter__(self) -> SchedulerLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held until exit)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read().strip() or "unknown"
            handle.close()
            raise NewsletterError(
                f"another scheduler (PID {pid}) is already running for the output folder "
                f"{self.output} (lock file {self.path}); only one may run per output folder: "
                "stop that one first") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()  # closing releases the flock
            self._file = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def run_scheduler(config: Config, *, reload: Callable[[], Config] | None = None,
                  once: bool = False, strict: bool = False,
                  clock: Callable[[], dt.datetime] = _now) -> int:
    """Run until SIGTERM or Ctrl-C (or one pass with ``once``); the exit status.

    ``reload`` reads the configuration afresh for each scheduled run, so an editor's change
    to topics or email settings applies to the next issue without a restart (the cron itself
    is read once, at start).
    """
    settings = _settings(config)
    load = reload or (lambda: config)
    with SchedulerLock(config), _stop_on_signals() as stop:
        cron = WallClockCron(settings.cron, config.timezone)
        log.info("scheduler for %s: %r in %s (publish: %s, send: %s, catch_up_hours: %g)",
                 config.output, settings.cron, config.timezone.key, settings.publish,
                 settings.send, settings.catch_up_hours)
        ok = run_pass(config, clock(), strict=strict)
        if once:
            return 0 if ok else 1
        if stop.is_set():
            log.info("stopped")
            return 0
        return _run_forever(load, cron, settings, stop, strict=strict, clock=clock)


def _run_forever(load: Callable[[], Config], cron: WallClockCron, settings: ScheduleSettings,
                 stop: threading.Event, *, strict: bool,
                 clock: Callable[[], dt.datetime]) -> int:
    from apscheduler.schedulers.background import BackgroundScheduler

    def scheduled_run() -> None:
        try:
            config = load()
        except NewsletterError as error:
            log.error("the run failed: the configuration cannot be read: %s", error)
            return
        run_pass(config, clock(), strict=strict)
        upcoming = cron.next_fire_time(clock())
        if upcoming is not None:
            log.info("next run: %s (issue %s)", _when(upcoming), upcoming.date().isoformat())

    scheduler = BackgroundScheduler(timezone=cron.timezone)
    # misfire_grace_time: a run delayed (machine asleep, busy) still happens within the
    # catch-up limit, where the default grace of 1 s would silently drop it; coalesce: a
    # backlog of missed runs is one run. No persistent job store, so no replace_existing
    # trap: missed runs are made up by run_pass at start instead.
    scheduler.add_job(scheduled_run, WallClockTrigger(cron), id="issue", name="issue",
                      misfire_grace_time=max(1, int(settings.catch_up_hours * 3600)),
                      coalesce=True, max_instances=1)
    scheduler.start()
    upcoming = cron.next_fire_time(clock())
    if upcoming is not None:
        log.info("next run: %s (issue %s)", _when(upcoming), upcoming.date().isoformat())
    try:
        while not stop.wait(1):
            pass
    finally:
        log.info("stopping (after the run in progress, if any)")
        scheduler.shutdown(wait=True)
        log.info("stopped")
    return 0


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """SIGTERM and Ctrl-C set the event, asking for a stop: the run in progress finishes
    first. The previous handlers come back afterwards (the scheduler may run in a test)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {number: signal.signal(number, handler)
                for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for number, old_handler in previous.items():
            signal.signal(number, old_handler)


_LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def configure_logging() -> None:
    """Timestamped lines on stderr: what a systemd journal or a cron mail shows."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(_LOG_FORMAT, datefmt="%Y-%m-%dT%H:%M:%S%z"))
    logger = logging.getLogger("newsletter")
    if not any(getattr(h, "_newsletter", False) for h in logger.handlers):
        handler._newsletter = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    if not logging.getLogger("apscheduler").handlers:
        logging.getLogger("apscheduler").addHandler(handler)

