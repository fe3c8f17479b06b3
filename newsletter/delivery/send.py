"""Sending a published issue to the subscribers: each exactly once, over reused SMTP
connections (``smtp.py``), with per-subscriber unsubscribe links (``tokens.py``).

Exactly once rests on two tables in the state database (``state/database.py``):

* before a message is handed to the server, an ``attempts`` row (issue, address) is
  committed; right after the server accepted it (``sendmail`` returned), a ``deliveries`` row
  is committed and the attempt removed, before that connection sends anything else;
* a run sends only to active subscribers without a ``deliveries`` row for the issue, so a run
  that was stopped, killed or failed is simply run again. An ``attempts`` row without a
  delivery is a message that was in flight when a run died: the server may or may not have
  taken it. There is at most one per connection; the resumed run names those addresses and
  sends to them again, because a possible duplicate is better than a possible miss.

A connection that drops after the message went out but before the server's reply is the same
uncertainty without a kill (SMTP has no way to ask); the message is retried and the address
named in a warning. A run holds an flock per issue, so two senders never overlap.

Rendering is per distinct set of sections (a subscriber's topics select them), never per
subscriber: each set is compiled once into a
:class:`~newsletter.rendering.message.MessageTemplate`, and a subscriber's message is that
template joined with their address and token.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import email.utils
import queue
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..core.config import Config
from ..core.errors import NewsletterError
from ..core.locks import exclusive
from ..core.models import Issue, IssueStatus, Section
from ..core.private import private_folder
from ..core.text import topic_key
from ..publishing.issues import IssueStore
from ..publishing.output import safe_path, write_atomic
from ..rendering.mail import render_email
from ..rendering.message import MessageError, MessageTemplate, build_template, mailbox
from ..state.database import connect, now, transaction
from .smtp import (
    DEFAULT_RETRY,
    Connection,
    Failed,
    Fatal,
    Pacer,
    Permanent,
    Retry,
    deliver_one,
    smtp_password,
)
from .subscribers import HOW_TO_ADD, AddressError, normalize_address
from .tokens import read_secret, unsubscribe_token

Log = Callable[[str], None]


def load_published_issue(config: Config, issue_date: dt.date) -> Issue:
    """The published issue dated ``issue_date``; a draft or a missing one is refused."""
    slug = issue_date.isoformat()
    store = IssueStore(config.output)
    issue = store.get(issue_date)
    if issue is None:
        raise NewsletterError(f"there is no issue dated {slug} ({store.path(issue_date)} is "
                              f"missing); build and publish it first: "
                              f"newsletter build --date {slug} --publish")
    if issue.status != IssueStatus.PUBLISHED:
        raise NewsletterError(f"issue {slug} is a {issue.status}, and only a published issue "
                              f"is sent; review it, then: newsletter publish {slug}")
    return issue


def sections_for(issue: Issue, topics: Sequence[str]) -> tuple[Section, ...]:
    """The sections a subscriber receives: all of them without topics, else those whose topic
    they chose (case-insensitively); () means this issue has nothing for them."""
    if not topics:
        return issue.sections
    wanted = {topic_key(t) for t in topics}
    return tuple(s for s in issue.sections if topic_key(s.topic) in wanted)


def edition_for(issue: Issue, topics: Sequence[str]) -> Issue | None:
    """The issue as a subscriber with ``topics`` gets it (None: nothing for them). An
    edition of chosen topics shows their own topic intros, and the editor's intro (which
    talks about the whole issue) only when the overrides say ``intro_in_filtered: true``."""
    sections = sections_for(issue, topics)
    if not sections:
        return None
    if not topics:
        return issue
    intro = issue.intro if issue.intro_in_filtered else ()
    return dataclasses.replace(issue, sections=sections, intro=intro)


# -- the run ---------------------------------------------------------------------------------

@dataclass
class SendReport:
    """What a run did, by address. ``in_flight_unknown``: messages an earlier, interrupted
    run had handed to the server without seeing the reply; this run sent them again."""

    issue: str
    sent: list[str] = field(default_factory=list)
    bounced: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    in_flight_unknown: list[str] = field(default_factory=list)
    outbox: Path | None = None
    unbuildable: list[str] = field(default_factory=list)  # also in failed: fix the row

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        verb = f"written to {self.outbox}" if self.outbox else "sent"
        return (f"Issue {self.issue}: {len(self.sent)} {verb}, {len(self.bounced)} bounced, "
                f"{len(self.failed)} failed, {len(self.skipped)} skipped.")


@dataclass(frozen=True)
class _Job:
    address: str
    name: str
    template: MessageTemplate
    updated: str = ""  # the subscriber row's stamp: a failure is kept until it changes


def _safe_file_name(address: str) -> str:
    return re.sub(r"[^A-Za-z0-9@._+-]", "_", address)


def _write_outbox(outbox: Path, name: str, message: bytes) -> None:
    try:
        write_atomic(safe_path(outbox, name), message)
    except OSError as error:
        raise NewsletterError(f"cannot write {outbox / name}: {error}") from None


def _envelope_sender(config: Config) -> str:
    try:
        return mailbox(config.email.sender)[1]
    except ValueError as error:
        raise NewsletterError(f"email.from: {error}; correct it in the configuration") from None


def send_test_copy(config: Config, issue: Issue, to: str, *, outbox: Path | None = None,
                   log: Log = print, retry: Retry | None = None) -> SendReport:
    """One copy of the whole issue to ``to``, subject marked as a test; nothing recorded."""
    retry = retry or DEFAULT_RETRY
    display, raw = email.utils.parseaddr(to)
    try:
        address = normalize_address(raw or to)
    except AddressError as error:
        raise NewsletterError(f"--to {to!r}: {error}") from None
    secret = read_secret(config)
    template = build_template(config, issue, render_email(issue, config), test=True)
    message = template.render(address, display, unsubscribe_token(secret, address))
    report = SendReport(issue.slug, outbox=outbox)
    if outbox is not None:
        _write_outbox(outbox, f"test-{_safe_file_name(address)}.eml", message)
        report.sent.append(address)
        log(f"Wrote the test copy for {address} to {outbox}.")
        return report
    connection = Connection(config, smtp_password(config))
    try:
        deliver_one(connection, _envelope_sender(config), address, message, retry)
        report.sent.append(address)
        log(f"Sent a test copy of issue {issue.slug} to {address} (not recorded).")
    except Permanent as error:
        report.bounced.append(address)
        log(f"bounced: {address}: {error}")
    except Fatal as error:
        raise NewsletterError(str(error)) from None
    except Failed as error:
        report.failed.append(address)
        log(f"failed: {address}: {error}")
    finally:
        connection.close()
    return report


def send_issue(config: Config, issue_date: dt.date, *, to: str | None = None,
               outbox: Path | None = None, log: Log = print,
               retry: Retry | None = None) -> SendReport:
    """Send the published issue dated ``issue_date`` to every active subscriber who has not
    received it (see the module docstring for how that holds across crashes).

    ``to``: one test copy to that address instead, unrecorded. ``outbox``: write the exact
    messages as ``.eml`` files there instead of connecting, recording nothing.
    Raises :class:`NewsletterError` for a draft or missing issue, a missing secret or password.
    """
    issue = load_published_issue(config, issue_date)
    if to is not None:
        return send_test_copy(config, issue, to, outbox=outbox, log=log, retry=retry)
    secret = read_secret(config)
    if outbox is not None:
        return _send(config, issue, secret, None, outbox, log, retry or DEFAULT_RETRY)
    password = smtp_password(config)
    with _exclusive(config, issue.slug):
        return _send(config, issue, secret, password, None, log, retry or DEFAULT_RETRY)


@contextlib.contextmanager
def _exclusive(config: Config, slug: str) -> Iterator[None]:
    """One sender per issue at a time (the scheduler and a manual run could otherwise both
    see a subscriber as pending)."""
    private_folder(config.state_dir, keep_open=(config.output, config.corpus, config.folder))
    path = config.state_dir / f"send-{slug}.lock"
    with exclusive(path, lambda holder: NewsletterError(
            f"issue {slug} is being sent by another process right now (it holds {path}); "
            "wait for it to finish")):
        yield


def _send(config: Config, issue: Issue, secret: bytes, password: str | None,
          outbox: Path | None, log: Log, retry: Retry) -> SendReport:
    report = SendReport(issue.slug, outbox=outbox)

    db = connect(config)
    try:
        done = {row[0] for row in db.execute(
            "SELECT email FROM deliveries WHERE issue = ?", (issue.slug,))}
        report.in_flight_unknown = [row[0] for row in db.execute(
            "SELECT email FROM attempts WHERE issue = ? AND email NOT IN "
            "(SELECT email FROM deliveries WHERE issue = ?) ORDER BY at, email",
            (issue.slug, issue.slug))]
        subscribers = db.execute("SELECT email, name, topics, updated FROM subscribers "
                                 "WHERE status = 'active' ORDER BY id").fetchall()
        failures = {row[0]: (row[1], row[2]) for row in db.execute(
            "SELECT email, subscriber_updated, reason FROM failures WHERE issue = ?",
            (issue.slug,))}
    finally:
        db.close()
    if not subscribers:
        log(f"No active subscribers: {HOW_TO_ADD}.")

    if report.in_flight_unknown and outbox is None:
        log(f"warning: {len(report.in_flight_unknown)} message(s) were in flight when an "
            "earlier send of this issue stopped; they may have been delivered already and are "
            "sent again: " + ", ".join(report.in_flight_unknown))

    templates: dict[tuple[tuple[str, ...], bool], MessageTemplate] = {}
    jobs: list[_Job] = []
    no_topics = 0
    for address, name, topics, updated in subscribers:
        if address in done:
            report.skipped.append(address)
            continue
        failure = failures.get(address)
        if failure is not None and failure[0] == updated and outbox is None:
            report.failed.append(address)
            report.unbuildable.append(address)
            log(f"failed: {address!r}: {failure[1]}; not tried again: the subscriber is "
                f"unchanged since ({updated}). Correct or remove it: newsletter subscribers "
                "add/remove")
            continue
        part = edition_for(issue, [t for t in topics.split(";") if t])
        if part is None:
            report.skipped.append(address)
            no_topics += 1
            continue
        key = (tuple(s.topic for s in part.sections), bool(part.intro))
        template = templates.get(key)
        if template is None:
            template = templates[key] = build_template(config, part,
                                                       render_email(part, config))
        jobs.append(_Job(address, name, template, updated))
    if report.skipped:
        log(f"Skipping {len(report.skipped)} subscriber(s): {len(report.skipped) - no_topics} "
            f"already received issue {issue.slug}, {no_topics} chose no topic it has.")

    if outbox is None and report.in_flight_unknown:
        # Named once; those still pending get a fresh attempt row when they are sent.
        pending = {job.address for job in jobs}
        db = connect(config)
        try:
            with transaction(db):
                db.executemany("DELETE FROM attempts WHERE issue = ? AND email = ?",
                               [(issue.slug, address) for address in report.in_flight_unknown
                                if address not in pending])
        finally:
            db.close()

    if outbox is not None:
        for index, job in enumerate(jobs, 1):
            try:
                message = job.template.render(job.address, job.name,
                                              unsubscribe_token(secret, job.address))
            except MessageError as error:
                report.failed.append(job.address)
                log(f"failed: {job.address!r}: {error}")
                continue
            _write_outbox(outbox, f"{index:05d}-{_safe_file_name(job.address)}.eml", message)
            report.sent.append(job.address)
        log(report.summary() + " Nothing was sent or recorded.")
        return report

    _run_workers(config, issue.slug, jobs, secret, password, retry, report, log)
    log(report.summary())
    if len(report.failed) > len(report.unbuildable):
        log("Run the same command again to retry the failed ones; those already sent are "
            "not sent twice.")
    return report


def _run_workers(config: Config, slug: str, jobs: list[_Job], secret: bytes,
                 password: str | None, retry: Retry, report: SendReport, log: Log) -> None:
    """``smtp.concurrency`` threads, each with its own SMTP connection and its own database
    connection, taking jobs from one queue."""
    if not jobs:
        return
    work: queue.Queue[_Job] = queue.Queue()
    for job in jobs:
        work.put(job)
    lock = threading.Lock()
    stop = threading.Event()
    fatal: list[str] = []
    pacer = Pacer(config.smtp.rate_per_second)
    sender = _envelope_sender(config)
    count = min(config.smtp.concurrency, len(jobs))
    log(f"Sending issue {slug} to {len(jobs)} subscriber(s) over {count} connection(s) to "
        f"{config.smtp.host}:{config.smtp.port}.")

    def record(kind: list[str] | None, address: str, line: str | None = None) -> None:
        with lock:  # one thread at a time appends and logs
            if kind is not None:
                kind.append(address)
            if line:
                log(line)

    def worker() -> None:
        db = connect(config)
        connection = Connection(config, password)
        try:
            while not stop.is_set():
                try:
                    job = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    message = job.template.render(job.address, job.name,
                                                  unsubscribe_token(secret, job.address))
                except MessageError as error:  # this subscriber's problem, not the run's
                    with transaction(db):
                        db.execute("INSERT OR REPLACE INTO failures (issue, email, reason, "
                                   "subscriber_updated, at) VALUES (?, ?, ?, ?, ?)",
                                   (slug, job.address, str(error), job.updated, now()))
                    with lock:
                        report.unbuildable.append(job.address)
                    record(report.failed, job.address, f"failed: {job.address!r}: {error}")
                    continue
                pacer.wait()
                with transaction(db):
                    db.execute("INSERT OR REPLACE INTO attempts (issue, email, at) "
                               "VALUES (?, ?, ?)", (slug, job.address, now()))
                uncertain = False
                try:
                    if deliver_one(connection, sender, job.address, message, retry):
                        record(None, job.address,
                               f"warning: {job.address}: the connection dropped while the "
                               "message was being sent, and it was sent again: if the server "
                               "had kept the first one, this address has it twice")
                    status, detail = "sent", ""
                except Permanent as error:
                    status, detail = "bounced", str(error)
                except (Fatal, Failed) as error:
                    status, detail = "", str(error)
                    uncertain = isinstance(error, Failed) and error.uncertain
                    if isinstance(error, Fatal) or (isinstance(error, Failed)
                                                     and error.fatal):
                        stop.set()
                        with lock:
                            fatal.append(str(error))
                with transaction(db):  # at once: this is what makes it exactly once
                    if status:
                        db.execute("INSERT OR REPLACE INTO deliveries (issue, email, status, "
                                   "detail, at) VALUES (?, ?, ?, ?, ?)",
                                   (slug, job.address, status, detail, now()))
                    if not uncertain:  # else the next run names it, like one cut by a kill
                        db.execute("DELETE FROM attempts WHERE issue = ? AND email = ?",
                                   (slug, job.address))
                if status == "sent":
                    record(report.sent, job.address)
                elif status == "bounced":
                    record(report.bounced, job.address, f"bounced: {job.address}: {detail}")
                else:
                    record(report.failed, job.address, f"failed: {job.address}: {detail}")
        except Exception as error:  # a bug or a broken database: stop, and say so
            with lock:
                fatal.append(str(error) if isinstance(error, NewsletterError)
                             else f"unexpected {type(error).__name__}: {error}")
            stop.set()
        finally:
            connection.close()
            db.close()

    threads = [threading.Thread(target=worker, name=f"smtp-{i}", daemon=True)
               for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    left = []
    while True:
        try:
            left.append(work.get_nowait().address)
        except queue.Empty:
            break
    if fatal:
        report.failed.extend(left)
        log(f"error: {fatal[0]}")
        log(f"Stopped: {len(left)} message(s) not attempted.")
