"""The long-running scheduler: APScheduler driving our wall-clock trigger, stopped cleanly
by SIGTERM or Ctrl-C; one active at a time.

With the SQLite state, one scheduler per output folder (an flock on a file inside it, which
every config naming the folder finds whatever its state_dir): a second one exits naming the
first. With a PostgreSQL state, schedulers may run on several machines: one is active
(it holds the newsletter's advisory lock), the others wait as standbys and the first to see
the lock free takes over, making up the run it missed (the catch-up), so a run killed
halfway is finished by the standby (building is idempotent and sending exactly once)."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from types import FrameType
from typing import Any

from apscheduler.triggers.base import BaseTrigger

from ..core.config import Config
from ..core.cron import WallClockCron
from ..core.errors import NewsletterError
from ..core.locks import exclusive
from ..core.settings import ScheduleSettings
from ..core.text import terminal_safe
from ..core.timing import schedule_settings
from ..state.leadership import Leadership
from ..state.location import location
from .runs import lock_path, run_pass, when

log = logging.getLogger("newsletter.schedule")


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



@contextlib.contextmanager
def scheduler_lock(config: Config) -> Iterator[None]:
    """One scheduler per output folder, whichever config names it."""
    path = lock_path(config)
    with contextlib.ExitStack() as held:
        try:
            # Made as a build makes it, not private: a web server reads it.
            config.output.mkdir(parents=True, exist_ok=True)
            held.enter_context(exclusive(path, lambda holder: NewsletterError(
                f"another scheduler (PID {holder}) is already running for the output "
                f"folder {config.output} (lock file {path}); only one may run per output "
                "folder: stop that one first")))
        except OSError as error:
            raise NewsletterError(f"cannot take the scheduler's lock {path}: {error}; the "
                                  "output folder must be writable by the user running the "
                                  "scheduler") from error
        yield


STANDBY_POLL = 2.0  # seconds between a standby's attempts to take over
HEALTH_CHECK = 10.0  # seconds between checks that the active scheduler still holds the lock


class SchedulerLeadership:
    """With a PostgreSQL state: the newsletter's scheduler role, waited for as a standby."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.lock = Leadership(location(config), f"schedule {config.site_url}")

    def acquire(self, stop: threading.Event, *, wait: bool) -> bool:
        """True once this process is the active scheduler; False when ``wait`` is off and
        another one is, or when asked to stop while waiting."""
        said = None
        while not stop.is_set():
            try:
                if self.lock.try_acquire():
                    if said is not None:
                        log.info("taking over as the active scheduler")
                    return True
                holder = self.lock.holder() or "another scheduler"
            except NewsletterError as error:  # the database is unreachable: keep trying
                holder = None
                if said != str(error):
                    log.error("%s", error)
                    said = str(error)
            if holder is not None and said != holder:
                log.info("standing by: %s is the active scheduler of %s; this one takes "
                         "over when it stops", holder, self.config.site_url)
                said = holder
            if not wait:
                return False
            stop.wait(STANDBY_POLL)
        return False

    def still_active(self) -> bool:
        return self.lock.still_held()

    def close(self) -> None:
        self.lock.close()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def run_scheduler(config: Config, *, reload: Callable[[], Config] | None = None,
                  once: bool = False, strict: bool = False,
                  clock: Callable[[], dt.datetime] = _now) -> int:
    """Run until SIGTERM or Ctrl-C (or one pass with ``once``); the exit status.

    ``reload`` reads the configuration afresh for each scheduled run, so an editor's change
    to topics or email settings applies to the next issue without a restart; a changed cron
    applies from the run after the one that reads it.
    """
    settings = schedule_settings(config)
    load = reload or (lambda: config)
    if config.state_url:
        leadership = SchedulerLeadership(config)
        try:
            with _stop_on_signals() as stop:
                if not leadership.acquire(stop, wait=not once):
                    log.info("stopped" if stop.is_set() else "another scheduler is active: "
                             "nothing to do here")
                    return 0
                return _active(config, load, settings, stop, leadership, once=once,
                               strict=strict, clock=clock)
        finally:
            leadership.close()
    with scheduler_lock(config), _stop_on_signals() as stop:
        return _active(config, load, settings, stop, None, once=once, strict=strict,
                       clock=clock)


def _active(config: Config, load: Callable[[], Config], settings: ScheduleSettings,
            stop: threading.Event, leadership: SchedulerLeadership | None, *, once: bool,
            strict: bool, clock: Callable[[], dt.datetime]) -> int:
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
    return _run_forever(load, cron, settings, stop, leadership, strict=strict, clock=clock)


# APScheduler sleeps until the next fire time on a monotonic timeout, which stops while the
# machine is suspended and ignores a wall-clock jump: woken this often, it looks at the wall
# clock again, so such a run starts within this many seconds instead of hours or days late.
WAKE_EVERY = 30.0


def _grace(settings: ScheduleSettings) -> int:
    """misfire_grace_time: a run delayed (machine asleep, busy) still happens within the
    catch-up limit, where APScheduler's default grace of 1 s would drop it."""
    return max(1, int(settings.catch_up_hours * 3600))


class IssueJob:
    """What each fire of the schedule does: one pass at a time, decided with the cron the job
    fired on; a cron edited in the configuration reschedules the job for the next runs."""

    def __init__(self, scheduler: Any, load: Callable[[], Config], cron: WallClockCron, *,
                 strict: bool, clock: Callable[[], dt.datetime]) -> None:
        self.scheduler = scheduler
        self.load = load
        self.cron = cron  # the one the job is scheduled with
        self.strict = strict
        self.clock = clock
        self.one_at_a_time = threading.Lock()  # a made-up miss and a fire may coincide

    def __call__(self) -> None:
        with self.one_at_a_time:
            try:
                config = self.load()
            except NewsletterError as error:
                log.error("the run failed: the configuration cannot be read: %s", error)
                return
            if config.schedule is None:
                log.error("the run failed: %s has no schedule any more; put it back, or stop "
                          "the scheduler", config.path)
                return
            fired = self.cron
            self._follow(config, config.schedule)
            # Decided with the cron that fired: the edited one's latest fire time is another
            # (an older one, "missed", or one whose issue is done), and this week's issue
            # would be lost.
            decided = replace(config, timezone=fired.timezone,
                              schedule=replace(config.schedule, cron=fired.cron))
            run_pass(decided, self.clock(), strict=self.strict)
            self.announce()

    def _follow(self, config: Config, settings: ScheduleSettings) -> None:
        reloaded = WallClockCron(settings.cron, config.timezone)
        if (reloaded.cron, reloaded.timezone) == (self.cron.cron, self.cron.timezone):
            return
        log.info("schedule.cron changed from %r in %s to %r in %s: this run is decided "
                 "with the former, the next ones follow the new", self.cron.cron,
                 self.cron.timezone.key, reloaded.cron, reloaded.timezone.key)
        self.cron = reloaded
        self.scheduler.reschedule_job("issue", trigger=WallClockTrigger(reloaded))
        self.scheduler.modify_job("issue", misfire_grace_time=_grace(settings))

    def missed(self, event: Any) -> None:
        """APScheduler dropped a run past its grace time (the machine slept, the clock
        jumped): the usual pass decides, so that the miss is made up or logged as one."""
        log.warning("the run of %s was not started on time (the machine slept or its clock "
                    "jumped): checking what is due now", when(event.scheduled_run_time))
        self()

    def announce(self) -> None:
        upcoming = self.cron.next_fire_time(self.clock())
        if upcoming is not None:
            log.info("next run: %s (issue %s)", when(upcoming), upcoming.date().isoformat())


def _run_forever(load: Callable[[], Config], cron: WallClockCron, settings: ScheduleSettings,
                 stop: threading.Event, leadership: SchedulerLeadership | None, *,
                 strict: bool, clock: Callable[[], dt.datetime]) -> int:
    from apscheduler.events import EVENT_JOB_MISSED
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone=cron.timezone)
    job = IssueJob(scheduler, load, cron, strict=strict, clock=clock)
    # coalesce: a backlog of missed runs is one run. No persistent job store, so no
    # replace_existing trap: missed runs are made up by run_pass at start instead.
    scheduler.add_job(job, WallClockTrigger(cron), id="issue", name="issue",
                      misfire_grace_time=_grace(settings), coalesce=True, max_instances=1)
    scheduler.add_listener(job.missed, EVENT_JOB_MISSED)
    scheduler.start()
    job.announce()
    status = 0
    checked = woken = time.monotonic()
    try:
        while not stop.wait(1):
            if time.monotonic() - woken >= WAKE_EVERY:
                woken = time.monotonic()
                scheduler.wakeup()
            if leadership is not None and time.monotonic() - checked >= HEALTH_CHECK:
                checked = time.monotonic()
                if not leadership.still_active():
                    # The lock went with its connection: a standby may be active by now.
                    log.error("lost the connection that made this the active scheduler; "
                              "stopping (a restart makes it a standby)")
                    status = 1
                    break
    finally:
        log.info("stopping (after the run in progress, if any)")
        scheduler.shutdown(wait=True)
        log.info("stopped")
    return status


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


class _TerminalSafeFormatter(logging.Formatter):
    """Log lines hold article values and file names: their control characters are escaped
    (``\\x1b``), so that a log shown in a terminal cannot be driven by them."""

    def format(self, record: logging.LogRecord) -> str:
        return terminal_safe(super().format(record))


def configure_logging() -> None:
    """Timestamped lines on stderr: what a systemd journal or a cron mail shows."""
    handler = logging.StreamHandler()
    handler.setFormatter(_TerminalSafeFormatter(_LOG_FORMAT, datefmt="%Y-%m-%dT%H:%M:%S%z"))
    logger = logging.getLogger("newsletter")
    if not any(getattr(h, "_newsletter", False) for h in logger.handlers):
        handler._newsletter = True  # type: ignore[attr-defined]  # our mark, against doubles
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    if not logging.getLogger("apscheduler").handlers:
        logging.getLogger("apscheduler").addHandler(handler)
