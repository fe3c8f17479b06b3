"""The long-running scheduler: APScheduler driving our wall-clock trigger, stopped cleanly
by SIGTERM or Ctrl-C; one active at a time (:mod:`.roles`), following its configuration file
as it is edited (:mod:`.watch`).

With the SQLite state, one scheduler per output folder (an flock on a file inside it, which
every config naming the folder finds whatever its state_dir): a second one exits naming the
first. With a PostgreSQL state, schedulers may run on several machines: one is active
(it holds the newsletter's advisory lock), the others wait as standbys and the first to see
the lock free takes over, making up the run it missed (the catch-up), so a run killed
halfway is finished by the standby (building is idempotent and sending exactly once). An
active scheduler that stops being the active one (frozen, cut off) stops before its run's
next step, which its successor makes."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType

from ..core.config import Config
from ..core.errors import NewsletterError
from ..core.text import terminal_safe
from ..core.timing import schedule_cron, schedule_settings
from ..delivery.mailserver import smtp_password
from ..delivery.tokens import read_secret
from .job import IssueJob, WallClockTrigger, grace
from .roles import HEALTH_CHECK, SchedulerLeadership, scheduler_lock
from .runs import Guard, Outcome, run_pass, unguarded, when
from .watch import ConfigWatch

log = logging.getLogger("newsletter.schedule")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def run_scheduler(config: Config, *, reload: Callable[[], Config] | None = None,
                  once: bool = False, strict: bool = False,
                  clock: Callable[[], dt.datetime] = _now) -> int:
    """Run until SIGTERM or Ctrl-C (or one pass with ``once``); the exit status. Raises
    :class:`~newsletter.state.leadership.LeadershipLost` when this process stopped being the
    active scheduler (another one took over).

    ``reload`` reads the configuration afresh: for each scheduled run, so that an editor's
    change to topics or email settings applies to the next issue without a restart, and
    whenever the file is edited, so that a changed schedule is followed at once (an edit that
    makes it invalid is reported, and the schedule stays as it was; a run that failed because
    of it is made up once the file is saved fixed, as a missed run is at start).
    """
    schedule_settings(config)
    watch = ConfigWatch(config.path, reload) if reload is not None else None
    load = reload or (lambda: config)
    if config.state_url:
        leadership = SchedulerLeadership(config)
        try:
            with _stop_on_signals() as stop:
                if not leadership.acquire(stop, wait=not once):
                    log.info("stopped" if stop.is_set() else "another scheduler is active: "
                             "nothing to do here")
                    return 0
                if watch is not None:  # a standby may have waited for days
                    config = watch.current(config)
                return _active(config, load, stop, leadership, watch, once=once,
                               strict=strict, clock=clock)
        finally:
            leadership.close()
    with scheduler_lock(config), _stop_on_signals() as stop:
        return _active(config, load, stop, None, watch, once=once, strict=strict,
                       clock=clock)


def _active(config: Config, load: Callable[[], Config], stop: threading.Event,
            leadership: SchedulerLeadership | None, watch: ConfigWatch | None, *, once: bool,
            strict: bool, clock: Callable[[], dt.datetime]) -> int:
    settings = schedule_settings(config)
    log.info("scheduler for %s: %r in %s (publish: %s, send: %s, catch_up_hours: %g)",
             config.output, settings.cron, config.timezone.key, settings.publish,
             settings.send, settings.catch_up_hours)
    if settings.send:
        _say_if_sending_cannot_start(config)
    guard = leadership.check if leadership is not None else unguarded
    started = clock()
    first = run_pass(config, started, strict=strict, guard=guard)
    if once:
        return 0 if first else 1
    if stop.is_set():
        log.info("stopped")
        return 0
    _run_forever(config, load, stop, leadership, watch, guard, strict=strict, clock=clock,
                 first=(first, started))
    return 0


def _say_if_sending_cannot_start(config: Config) -> None:
    """A secret or password missing from the environment fails every run at its send, the
    first maybe days away: said now, when whoever started the scheduler is looking."""
    try:
        read_secret(config)
        smtp_password(config)
    except NewsletterError as error:
        log.warning("schedule.send is true, but %s; every run will publish its issue and fail "
                    "to send it until this is fixed and the scheduler restarted", error)


# APScheduler sleeps until the next fire time on a monotonic timeout, which stops while the
# machine is suspended and ignores a wall-clock jump: woken this often, it looks at the wall
# clock again, so such a run starts within this many seconds instead of hours or days late.
WAKE_EVERY = 30.0


def _follow_edits(job: IssueJob, watch: ConfigWatch) -> None:
    """Between runs (a run in progress follows the file itself when it ends, or the next
    look does), reschedule the job when the configuration file was edited."""
    if not job.one_at_a_time.acquire(blocking=False):
        return
    try:
        try:
            edited = watch.edited()
        except NewsletterError as error:
            upcoming = job.cron.next_fire_time(job.clock())
            log.error("%s\nthe scheduler keeps the schedule it had, %r in %s (next run: %s), "
                      "until the file is fixed; saving it fixed is enough, no restart needed",
                      error, job.cron.cron, job.cron.timezone.key,
                      when(upcoming) if upcoming else "none")
            return
        if edited is None:
            return
        changes = job.follow(edited)
        log.info("%s was edited: %s", watch.path,
                 "; ".join(changes) if changes else "the schedule is unchanged")
        if job.failed is not None or job.stuck is not None:
            job.make_up(edited)  # it announces the next run after the one it makes up
        elif changes:
            job.announce()
    finally:
        job.one_at_a_time.release()


def _retry_if_due(job: IssueJob) -> None:
    """Between runs, try a failed run again: after a passing failure, once its delay is over
    (on the wall clock, so that a machine that slept through the delay retries on waking);
    after a lasting one, once its inputs changed."""
    if job.retry is None and job.stuck is None:
        return
    if not job.one_at_a_time.acquire(blocking=False):
        return
    try:
        job.retry_now()
        job.rearm()
    finally:
        job.one_at_a_time.release()


def _run_forever(config: Config, load: Callable[[], Config], stop: threading.Event,
                 leadership: SchedulerLeadership | None, watch: ConfigWatch | None,
                 guard: Guard, *, strict: bool, clock: Callable[[], dt.datetime],
                 first: tuple[Outcome, dt.datetime]) -> None:
    from apscheduler.events import EVENT_JOB_MISSED
    from apscheduler.schedulers.background import BackgroundScheduler

    cron = schedule_cron(config)
    scheduler = BackgroundScheduler(timezone=cron.timezone)
    job = IssueJob(scheduler, load, config, strict=strict, clock=clock, guard=guard,
                   stop=stop)
    # coalesce: a backlog of missed runs is one run. No persistent job store, so no
    # replace_existing trap: missed runs are made up by run_pass at start instead.
    scheduler.add_job(job, WallClockTrigger(cron), id="issue", name="issue",
                      misfire_grace_time=grace(schedule_settings(config)), coalesce=True,
                      max_instances=1)
    scheduler.add_listener(job.missed, EVENT_JOB_MISSED)
    job.settle(config, cron, *first)  # a failed pass at start is tried again as any run
    scheduler.start()
    job.announce()
    checked = woken = time.monotonic()
    try:
        while not stop.wait(1):
            if time.monotonic() - woken >= WAKE_EVERY:
                woken = time.monotonic()
                scheduler.wakeup()
            if watch is not None:
                _follow_edits(job, watch)
            _retry_if_due(job)
            if leadership is not None and time.monotonic() - checked >= HEALTH_CHECK:
                checked = time.monotonic()
                # Between runs too: the lock went with its connection, a standby may be
                # active by now, and this one must not start the next run beside it.
                leadership.check("its next run")
    finally:
        log.info("stopping (after the run in progress, if any)")
        scheduler.shutdown(wait=True)
        log.info("stopped")
    if job.lost is not None:
        raise job.lost


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """SIGTERM and Ctrl-C set the event, asking for a stop: the run in progress finishes
    first. The previous handlers come back afterwards (the scheduler may run in a test)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    received: list[str] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        if len(received) == 1:
            log.info("received %s: stopping", received[-1])
        elif len(received) == 2:  # a send to a long list may go on for an hour
            log.warning("received %s again: still waiting for the run in progress to end (its "
                        "send goes on until every subscriber left is tried); SIGINT (Ctrl-C) "
                        "or SIGTERM once more stops at once: the next run sends what this one "
                        "left, and names the messages then in flight and sends them again",
                        received[-1])
        else:  # the ledger is made for a stop at any moment: a kill loses nothing
            log.warning("received %s a third time: stopping at once", received[-1])
            os._exit(128 + signum)
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
