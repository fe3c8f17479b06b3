"""What APScheduler runs: our wall-clock trigger, and the job each fire of the schedule
starts, which follows the configuration as it is edited."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from apscheduler.triggers.base import BaseTrigger

from ..core.config import Config
from ..core.cron import WallClockCron
from ..core.errors import NewsletterError
from ..core.settings import ScheduleSettings
from ..core.timing import schedule_cron, schedule_settings
from ..state.leadership import LeadershipLost
from .failures import by_hand
from .runs import Guard, Outcome, run_pass, when
from .watch import InputWatch

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


def grace(settings: ScheduleSettings) -> int:
    """misfire_grace_time: a run delayed (machine asleep, busy) still happens within the
    catch-up limit, where APScheduler's default grace of 1 s would drop it."""
    return max(1, int(settings.catch_up_hours * 3600))


def _yes_no(value: bool) -> str:
    return "true" if value else "false"


def schedule_changes(before: Config, after: Config) -> list[str]:
    """What changed between two configurations in what the scheduler does, one phrase per
    key, in the words of the file."""
    old, new = schedule_settings(before), schedule_settings(after)
    zones = before.timezone.key, after.timezone.key
    changes = []
    if old.cron != new.cron:
        changes.append(f"schedule.cron changed from {old.cron!r} in {zones[0]} to "
                       f"{new.cron!r} in {zones[1]}")
    elif zones[0] != zones[1]:
        changes.append(f"timezone changed from {zones[0]} to {zones[1]} (schedule.cron "
                       f"{new.cron!r})")
    for key in ("publish", "send"):
        if getattr(old, key) != getattr(new, key):
            changes.append(f"schedule.{key} changed from {_yes_no(getattr(old, key))} to "
                           f"{_yes_no(getattr(new, key))}")
    if old.catch_up_hours != new.catch_up_hours:
        changes.append(f"schedule.catch_up_hours changed from {old.catch_up_hours:g} to "
                       f"{new.catch_up_hours:g}")
    return changes


# After a run failed for a passing reason (the SMTP server down, a full disk, the database
# briefly unreachable), the minutes until it is tried again, then every last one: soon at
# first, as most such failures last minutes, then seldom enough not to flood the log. The
# whole run is tried again: publishing rewrites only what differs, and delivery skips every
# address already sent, so a run that failed halfway through the send resumes it.
RETRY_MINUTES = (1, 2, 5, 10, 20, 30)


RETRY_MARGIN = dt.timedelta(minutes=1)
SHOWN_INPUTS = 6  # the inputs of a lasting failure named in the log, the rest counted


def retry_delay(attempt: int) -> dt.timedelta:
    """The wait before retry number ``attempt`` (1 for the first)."""
    return dt.timedelta(minutes=RETRY_MINUTES[min(attempt, len(RETRY_MINUTES)) - 1])


@dataclass(frozen=True)
class Retry:
    """A failed run to try again at ``at``: the fire time of ``cron`` it was for."""

    cron: WallClockCron
    fire_time: dt.datetime
    attempt: int  # the retry to make, 1 for the first
    at: dt.datetime


@dataclass(frozen=True)
class Stuck:
    """A run that failed for a lasting reason (:mod:`.failures`), for the fire time of
    ``cron``: not tried again on a timer, but once its inputs changed, as a person fixing it
    changes them (the configuration file too, watched by the loop)."""

    cron: WallClockCron
    fire_time: dt.datetime
    inputs: InputWatch


class IssueJob:
    """What each fire of the schedule does: one pass at a time, decided with the cron the job
    fired on; a schedule edited in the configuration reschedules the job for the next runs.

    A pass stopped because this process is no longer the active scheduler ends the loop:
    ``lost`` holds why, and ``stop`` is set."""

    def __init__(self, scheduler: Any, load: Callable[[], Config], config: Config, *,
                 strict: bool, clock: Callable[[], dt.datetime], guard: Guard,
                 stop: threading.Event) -> None:
        self.scheduler = scheduler
        self.load = load
        self.config = config  # the one the job is scheduled with
        self.cron = schedule_cron(config)
        self.strict = strict
        self.clock = clock
        self.guard = guard
        self.stop = stop
        self.lost: LeadershipLost | None = None
        # The cron of a run that failed because the configuration could not be read: once
        # the file is saved fixed, that run is made up (:meth:`make_up`), not left to a
        # restart, since a typo fixed minutes later must not cost the issue.
        self.failed: WallClockCron | None = None
        # A run that failed for another reason, tried again from the loop (:meth:`retry_now`)
        # while within catch_up_hours of its fire time, rather than lost until a restart.
        self.retry: Retry | None = None
        # A run that failed for a lasting reason: tried again when its inputs change
        # (:meth:`rearm`) or the configuration file is saved (:meth:`make_up`).
        self.stuck: Stuck | None = None
        # Held by a pass, and by whoever reschedules the job: a made-up miss and a fire may
        # coincide, and an edit is followed between runs.
        self.one_at_a_time = threading.Lock()

    def __call__(self) -> None:
        with self.one_at_a_time:
            if self.lost is not None:
                return
            config = self._read(self.cron)
            if config is None:
                return
            fired = self.cron
            changes = self.follow(config)
            if changes:
                # Decided with the cron that fired: the edited one's latest fire time is
                # another (an older one, "missed", or one whose issue is done), and this
                # week's issue would be lost.
                log.info("%s: this run is decided with the cron it fired on, the next ones "
                         "follow the configuration as it is now", "; ".join(changes))
            self._pass(config, fired)

    def _read(self, fired: WallClockCron) -> Config | None:
        """The configuration as it is now; None when it cannot be used, the run of ``fired``
        then being made up once the file is saved fixed."""
        try:
            config = self.load()
            schedule_settings(config)
        except NewsletterError as error:
            self.failed = fired
            self.retry = self.stuck = None  # the fixed file makes it up, as any run due
            log.error("the run failed: the configuration cannot be used: %s\nthe run is "
                      "made up as soon as the file is saved fixed, if that is within "
                      "schedule.catch_up_hours", error)
            return None
        return config

    def _pass(self, config: Config, fired: WallClockCron) -> None:
        """The usual pass (catch-up included) at the clock's time, with ``config`` but the
        cron that fired. The caller holds ``one_at_a_time``."""
        self.failed = None  # this pass decides the latest fire time of that cron
        decided = replace(config, timezone=fired.timezone,
                          schedule=replace(schedule_settings(config), cron=fired.cron))
        now = self.clock()
        try:
            outcome = run_pass(decided, now, strict=self.strict, guard=self.guard)
        except LeadershipLost as error:
            self.lost = error
            self.stop.set()
            return
        self.settle(decided, fired, outcome, now)
        self.announce()

    def _active(self, step: str) -> bool:
        """Whether this is still the active scheduler, before ``step`` (a retry): one that
        stopped being it stops, rather than say it tries again what its successor makes."""
        try:
            self.guard(step)
        except LeadershipLost as error:
            self.lost = error
            self.stop.set()
            return False
        return True

    def settle(self, config: Config, fired: WallClockCron, outcome: Outcome,
               at: dt.datetime) -> None:
        """After the pass made at ``at`` for ``fired``: nothing more to do when it succeeded
        (done, or a later fire time now decides); a passing failure is tried again on the
        timer (:meth:`plan_retry`), a lasting one once its inputs changed."""
        self.stuck = None
        if outcome.ok:
            self.retry = None
            return
        if outcome.lasting is None:
            self.plan_retry(config, fired, at)  # counts the retries of the same fire time
            return
        self.retry = None
        fire = fired.latest_fire_time(at)
        if fire is None:
            return
        inputs = outcome.lasting.inputs
        self.stuck = Stuck(fired, fire, InputWatch(inputs))
        shown = [str(path) for path in inputs[:SHOWN_INPUTS]]
        if len(inputs) > SHOWN_INPUTS:  # the articles of an issue a template failed on
            shown.append(f"{len(inputs) - SHOWN_INPUTS} more file(s) it read")
        log.info("the run of %s is tried again as soon as %s%s changed, if that is within "
                 "schedule.catch_up_hours (%g) of its fire time", when(fire),
                 ", ".join(shown) + " or " if inputs else "",
                 config.path, schedule_settings(config).catch_up_hours)

    def rearm(self) -> None:
        """Try again the run that failed for a lasting reason once an input it depends on
        changed (saved fixed, as far as the scheduler can tell), through the same guard as
        every run. The caller holds ``one_at_a_time``."""
        stuck = self.stuck
        if stuck is None or self.lost is not None:
            return
        changed = stuck.inputs.changed()
        if not changed or not self._active(f"the retry of the run of {when(stuck.fire_time)}"):
            return
        config = self._read(stuck.cron)
        if config is None:
            return
        self.follow(config)
        log.info("%s changed: trying again the run of %s", ", ".join(map(str, changed)),
                 when(stuck.fire_time))
        self._pass(config, stuck.cron)

    def plan_retry(self, config: Config, fired: WallClockCron, failed_at: dt.datetime) -> None:
        """After the run of ``fired``'s latest fire time at ``failed_at`` failed: try it again
        after the next delay of :data:`RETRY_MINUTES`, while within catch_up_hours of its fire
        time (as a missed run is made up at start), else say how to make it by hand."""
        fire = fired.latest_fire_time(failed_at)
        if fire is None:
            return
        earlier = self.retry
        attempt = earlier.attempt + 1 if earlier and earlier.fire_time == fire else 1
        settings = schedule_settings(config)
        # The last try a little before the limit, not at it: past it by the second the loop
        # takes to notice, the pass would refuse the run as too late.
        last = fire + dt.timedelta(hours=settings.catch_up_hours) - RETRY_MARGIN
        at = min(failed_at + retry_delay(attempt), last)
        issue = fire.astimezone(fired.timezone).date().isoformat()
        if at <= failed_at:
            self.retry = None
            log.error("the run of %s (issue %s) is not tried again: schedule.catch_up_hours "
                      "(%g) after its fire time is past; once the cause is fixed, %s",
                      when(fire), issue, settings.catch_up_hours,
                      by_hand(config, fire, strict=self.strict))
            return
        self.retry = Retry(fired, fire, attempt, at)
        log.warning("the run of %s (issue %s) is tried again at %s (retry %d; tried again "
                    "while within schedule.catch_up_hours, %g, of its fire time)", when(fire),
                    issue, at.astimezone(fired.timezone).strftime("%Y-%m-%d %H:%M:%S %Z"),
                    attempt,
                    settings.catch_up_hours)

    def retry_now(self) -> None:
        """Try the failed run again when its time has come, with the configuration as it is
        now and the cron it fired on, through the same guard as every run. The caller holds
        ``one_at_a_time``."""
        pending = self.retry
        if pending is None or self.lost is not None or self.clock() < pending.at:
            return
        if not self._active(f"retry {pending.attempt} of the run of {when(pending.fire_time)}"):
            return
        config = self._read(pending.cron)
        if config is None:
            return
        changes = self.follow(config)
        if changes:
            log.info("%s: the retry is decided with the cron it fired on, the next runs "
                     "follow the configuration as it is now", "; ".join(changes))
        log.info("trying again the run of %s (retry %d)", when(pending.fire_time),
                 pending.attempt)
        self._pass(config, pending.cron)

    def make_up(self, config: Config) -> None:
        """After the file was saved (``config``, already followed): the run that failed
        because it could not be read, or for another lasting reason (a fix may be in the
        file), is decided now as at start, with the cron it fired on, so it is made up when it
        is not done and within catch_up_hours. The caller holds ``one_at_a_time``."""
        fired = self.failed or (self.stuck.cron if self.stuck else None)
        if fired is None or self.lost is not None:
            return
        missed = fired.latest_fire_time(self.clock())
        log.info("%s %s: the run of %s, which failed %s, runs now if it is still due",
                 config.path, "can be used again" if self.failed else "was saved",
                 when(missed) if missed else "none",
                 "while it could not be read" if self.failed else "(see above)")
        self._pass(config, fired)

    def follow(self, config: Config) -> list[str]:
        """Schedule the job as ``config`` says; what changed (:func:`schedule_changes`). The
        caller holds ``one_at_a_time``."""
        changes = schedule_changes(self.config, config)
        settings = schedule_settings(config)
        reloaded = WallClockCron(settings.cron, config.timezone)
        if (reloaded.cron, reloaded.timezone) != (self.cron.cron, self.cron.timezone):
            self.cron = reloaded
            self.scheduler.reschedule_job("issue", trigger=WallClockTrigger(reloaded))
        if settings.catch_up_hours != schedule_settings(self.config).catch_up_hours:
            self.scheduler.modify_job("issue", misfire_grace_time=grace(settings))
        self.config = config
        return changes

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
