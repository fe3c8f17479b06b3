"""``newsletter schedule``: which runs are due and doing one: build (and publish) each issue
on time, once, by itself.

A thin shell around :func:`newsletter.publishing.build.build_issue`; fire times come from
:mod:`newsletter.core.cron`, the long-running loop is :mod:`newsletter.schedule.loop`.

Runs are made up once: a run is recorded as done in the state database (``schedule_runs``,
keyed by the newsletter's ``site_url``, so that schedulers on several machines sharing a
PostgreSQL state agree) *after* it succeeded (a crash never loses a run), and at start the
most recent fire time is made up if it is not done and not older than ``catch_up_hours``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..core.config import Config
from ..core.errors import NewsletterError
from ..core.models import IssueStatus
from ..core.text import plural
from ..core.timing import schedule_cron, schedule_settings
from ..delivery import send as delivery
from ..publishing import build
from ..publishing.editing import kept_as_it_was
from ..publishing.issues import IssueStore
from ..state.database import now, open_database
from ..state.leadership import LeadershipLost
from ..state.prune import IssuePruned
from .failures import Lasting, SendFailed, by_hand, lasting

log = logging.getLogger("newsletter.schedule")

# -- state: which runs are done ----------------------------------------------------------------

def _output_key(config: Config) -> str:
    """One scheduler (and one record of runs) per output folder, whichever config names it."""
    return hashlib.sha256(str(config.output.resolve()).encode("utf-8")).hexdigest()[:16]


LOCK_NAME = ".newsletter-schedule.lock"


def lock_path(config: Config) -> Path:
    """In the output folder itself, where every config naming that folder finds it, whatever
    its state_dir. A dotfile that no route of the public site serves, as drafts aren't."""
    return config.output / LOCK_NAME


def legacy_state_path(config: Config) -> Path:
    """Where runs were recorded before they moved into the state database (still read)."""
    return config.state_dir / f"schedule-{_output_key(config)}.json"


def _legacy_completed(config: Config) -> dt.datetime | None:
    try:
        data = json.loads(legacy_state_path(config).read_text("utf-8"))
        return dt.datetime.fromisoformat(data["last_completed"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def last_completed(config: Config) -> dt.datetime | None:
    """The latest fire time whose run succeeded (what ``state migrate`` moved in)."""
    with open_database(config) as db:
        latest = db.run("runs.last", (config.site_url,)).fetchone()[0]
    recorded = dt.datetime.fromisoformat(latest) if latest else None
    legacy = _legacy_completed(config)
    if legacy is not None and (recorded is None or legacy > recorded):
        return legacy
    return recorded


def _moment(fire_time: dt.datetime) -> str:
    return fire_time.astimezone(dt.UTC).isoformat()


def is_done(config: Config, fire_time: dt.datetime, now: dt.datetime) -> bool:
    """Whether the run of this very fire time succeeded.

    Not "a later run succeeded": a pass made while the clock was wrongly ahead records a
    future run, and every real run after the clock is put right would then look done. The
    old JSON record (one fire time, every earlier one done) counts only when not in the
    future, for the same reason.
    """
    with open_database(config) as db:
        if db.run("run.done", (config.site_url, _moment(fire_time))).fetchone() is not None:
            return True
    legacy = _legacy_completed(config)
    return legacy is not None and fire_time <= legacy <= now


def record_completed(config: Config, fire_time: dt.datetime) -> None:
    """Mark a run done, only after it succeeded (a crash never loses a run)."""
    issue = fire_time.astimezone(config.timezone).date().isoformat()
    moment = _moment(fire_time)
    with open_database(config) as db:
        db.run("run.record", (config.site_url, moment, issue, now()))


def import_legacy_runs(config: Config) -> bool:
    """Copy the run recorded in the old JSON file into the database (``state migrate``);
    True when there was one to copy."""
    legacy = _legacy_completed(config)
    if legacy is None:
        return False
    record_completed(config, legacy)
    return True


def _issue_status(config: Config, issue_date: dt.date) -> IssueStatus | None:
    return IssueStore(config.output).status(issue_date)


def when(moment: dt.datetime) -> str:
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


def check_due(config: Config, now: dt.datetime, *, strict: bool = False) -> Due:
    """Whether the most recent fire time (at or before ``now``) must be run now.

    It is run when it is not recorded as done and at most ``catch_up_hours`` old; older
    misses are reported, never built, since an issue days late is worse than a skipped one.
    An issue published without its run recorded (published by hand, or a run stopped after
    writing the issue but before the archive and feeds) is finished at any age when the
    schedule does not send: that only brings the archive and feeds up to date. A miss
    reported names what is left to run by hand as its issue stands (:func:`.failures.by_hand`:
    the build, the send, or nothing).
    """
    settings = schedule_settings(config)
    fire = schedule_cron(config).latest_fire_time(now)
    if fire is None:
        return Due("none", f"the schedule {settings.cron!r} has not fired yet")
    issue = fire.date().isoformat()
    if is_done(config, fire, now):
        return Due("done", f"the run of {when(fire)} (issue {issue}) is done: nothing to do",
                   fire)
    if _issue_status(config, fire.date()) == IssueStatus.PUBLISHED and not settings.send:
        return Due("run", f"issue {issue} is published but the run of {when(fire)} is not "
                          "recorded: finishing it", fire)
    late = now - fire
    limit = dt.timedelta(hours=settings.catch_up_hours)
    if late > limit:
        hours = late.total_seconds() / 3600
        return Due("too_late",
                   f"missed the run of {when(fire)} (issue {issue}) by {hours:.1f} hours, "
                   f"more than schedule.catch_up_hours ({settings.catch_up_hours:g}): not made "
                   f"up; {by_hand(config, fire, strict=strict, failed=False)}", fire)
    verb = "making up" if late > dt.timedelta(minutes=1) else "starting"
    return Due("run", f"{verb} the run of {when(fire)} (issue {issue})", fire)


def missed_run(config: Config, now: dt.datetime) -> dt.datetime | None:
    """The fire time to make up at ``now``, or None when there is nothing to run."""
    due = check_due(config, now)
    return due.fire_time if due.action == "run" else None


# -- one run ------------------------------------------------------------------------------------

def _send(config: Config, issue_date: dt.date) -> None:
    """Deliver the published issue to its subscribers.

    Sending again is safe: delivery records each address it sent to and skips it. A send
    with failed addresses, or stopped before some, fails the run, so it is not recorded and
    the scheduler tries it again (only the addresses not sent yet).
    """
    slug = issue_date.isoformat()
    log.info("sending issue %s", slug)
    # The send logs its own summary through ``log``.
    try:
        # Not "run the same command again": the scheduler tries the run again itself, or
        # names what to run by hand once it stops trying.
        report = delivery.send_issue(config, issue_date, log=lambda line: log.info("%s", line),
                                     advise=False)
    except IssuePruned as pruned:  # sent long ago, its ledger pruned since: nothing to do
        log.info("%s", pruned)
        return
    if not report.ok:  # failed for some, or stopped before some (the session failed)
        raise SendFailed(f"sending issue {slug} did not reach every subscriber: "
                         f"{report.summary()}", report)


# Called with the step a run is about to take ("writing issue 2021-02-22"); raises
# LeadershipLost to stop the run before it. What another scheduler could also do is guarded:
# a scheduler that stopped being the active one (frozen, cut off) must not write an issue
# over the one its successor published meanwhile, from what it read before.
Guard = Callable[[str], None]


def unguarded(step: str) -> None:
    """The guard of a scheduler that cannot stop being the only one (the output folder's
    lock, held until the process ends)."""


def run_issue(config: Config, fire_time: dt.datetime, *, strict: bool = False,
              guard: Guard = unguarded) -> None:
    """Build the issue dated ``fire_time``'s local date, publish it and send it as the
    schedule says, then record the run as done. Raises on failure (nothing recorded).

    ``guard`` is asked before each step that changes anything: the issue's files (just
    before they are written), the send, the record. A send in progress is not stopped: its
    recipients are shared with any other send of the issue, each sent once.
    """
    settings = schedule_settings(config)
    issue_date = fire_time.astimezone(config.timezone).date()
    slug = issue_date.isoformat()
    guard(f"the run of {when(fire_time)}")

    def before_writing() -> None:
        guard(f"writing issue {slug}")

    def waiting(line: str) -> None:  # then it goes on, or fails as a passing failure
        log.info("issue %s: %s", slug, line)

    if _issue_status(config, issue_date) == IssueStatus.PUBLISHED:
        # Published, but this run is not recorded: it may have stopped (disk full, killed)
        # after writing the issue and before the archive, the feeds and the pages of the
        # issues around it (their previous/next link), which publishing again writes (only
        # what differs; the issue stays as it was, what subscribers got).
        issue, written = build.publish_issue(config, issue_date, waiting=waiting,
                                             before_writing=before_writing)
        if written:
            log.info("issue %s is already published: brought %d file(s) up to date in %s "
                     "(the archive, the feeds, the pages of the issues around it)", slug,
                     len(written), config.output)
        if settings.send:  # published, but this run has not sent it yet
            guard(f"sending issue {slug}")
            log.info("issue %s is already published: sending it", slug)
            _send(config, issue_date)
        # After the send: an email unlike the published one stops it, in a stop that names
        # those files and the fix, not to be said twice.
        kept = kept_as_it_was(config, issue)
        if kept:  # a template or the theme changed since: the editor's to correct, or not
            log.warning("issue %s is already published: %s", slug, kept)
        if not settings.send and not written:
            log.info("issue %s is already published: nothing to do", slug)
        guard(f"recording the run of {when(fire_time)}")
        record_completed(config, fire_time)
        return
    result = build.build_issue(config, issue_date, strict=strict, publish=settings.publish,
                               before_writing=before_writing, waiting=waiting)
    for problem in result.problems:
        log.warning("skipped invalid article file: %s", problem)
    for warning in result.warnings:
        log.warning("%s", warning)
    if result.empty_reason:
        log.warning("issue %s: nothing to build: %s", slug, result.empty_reason)
        guard(f"recording the run of {when(fire_time)}")
        record_completed(config, fire_time)
        return
    issue = result.selection.issue
    verb = "built and published" if settings.publish else "built (as a draft)"
    log.info("issue %s %s: %s, %s, %d file(s) written in %s", slug, verb,
             plural(len(issue.sections), "topic"), plural(len(issue.placed), "article"),
             len(result.written), config.output)
    if settings.send:
        guard(f"sending issue {slug}")
        _send(config, issue_date)
    guard(f"recording the run of {when(fire_time)}")
    record_completed(config, fire_time)


@dataclass(frozen=True)
class Outcome:
    """What a pass did: true unless its run failed. ``lasting`` when it failed for a reason
    that stays until a person acts (:mod:`.failures`): not to be tried again on a timer."""

    ok: bool
    lasting: Lasting | None = None

    def __bool__(self) -> bool:
        return self.ok


def _lasting_failure(config: Config, fire_time: dt.datetime, failure: Lasting, *,
                     strict: bool) -> None:
    """The one line a lasting failure gets: its cause, its fix, and how to make the run."""
    issue = fire_time.astimezone(config.timezone).date().isoformat()
    log.error("the run of %s (issue %s) failed, and trying it again cannot help until this is "
              "fixed: %s\nfix: %s\nonce fixed, %s", when(fire_time), issue, failure.cause,
              failure.fix, by_hand(config, fire_time, strict=strict))


def run_pass(config: Config, now: dt.datetime, *, strict: bool = False,
             guard: Guard = unguarded) -> Outcome:
    """One pass: make up the most recent fire time if it is due; false when the run failed.
    :class:`LeadershipLost` from ``guard`` stops the run and is raised."""
    due = check_due(config, now, strict=strict)
    if due.action == "too_late":
        log.warning("%s", due.message)
        return Outcome(True)
    log.info("%s", due.message)
    if due.action != "run" or due.fire_time is None:
        return Outcome(True)
    try:
        run_issue(config, due.fire_time, strict=strict, guard=guard)
    except LeadershipLost:
        raise  # not a failed run: the scheduler itself must stop
    except Exception as error:  # a failed run must not stop the scheduler
        failure = lasting(error, config)
        if failure is not None:
            _lasting_failure(config, due.fire_time, failure, strict=strict)
        elif isinstance(error, NewsletterError):
            log.error("the run of %s failed: %s", when(due.fire_time), error)
        else:
            log.exception("the run of %s failed: unexpected %s: %s", when(due.fire_time),
                          type(error).__name__, error)
        return Outcome(False, failure)
    return Outcome(True)
