"""Sending a published issue to the subscribers: each exactly once, over reused SMTP
connections (``smtp.py``), with per-subscriber unsubscribe links (``tokens.py``), by one or
many senders (``senders.py``) in one or many processes (``workers.py``).

A run prepares the issue's recipients in the state database (``claims``: every active
subscriber without a ``deliveries`` row), names the messages an earlier run left in flight,
then its senders (``smtp.concurrency`` connections in each of ``--workers`` processes) claim
recipients in batches until none is left. Exactly once rests on the ledger: an ``attempts``
row is committed before a message is handed to the server, the ``deliveries`` row right
after the server accepted it; a run sends only to those without a delivery, so a run that
was stopped, killed or failed is simply run again; one whose ledger was pruned
(``newsletter state prune``) is refused, as nobody's delivery is recorded any more. A
mailbox is one subscriber (``mailboxes.py``): where an older database holds several
spellings of it, one is sent the issue, and none once any was. An ``attempts`` row without a
delivery is a message that was in flight when its sender died: the server may or may not
have taken it. There is at most one per connection; those addresses are named and sent
again, because a possible duplicate is better than a possible miss.

A connection that drops after the message went out but before the server's reply is the same
uncertainty without a kill (SMTP has no way to ask); the message is retried and the address
named in a warning.

With the SQLite state one run of an issue sends at a time (an flock per issue); with
PostgreSQL, runs on several machines share the issue's recipients.

Rendering is per distinct set of sections (a subscriber's topics select them), never per
subscriber: each set is compiled once into a
:class:`~newsletter.rendering.message.MessageTemplate`, and a subscriber's message is that
template joined with their address and token.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..core.config import Config
from ..core.errors import NewsletterError
from ..core.folders import newsletter_command
from ..core.locks import exclusive
from ..core.models import Issue, IssueStatus
from ..core.private import private_folder
from ..publishing.editing import unlike_published
from ..publishing.issues import IssueStore
from ..publishing.output import safe_path, write_atomic
from ..rendering.mail import render_email
from ..rendering.message import MessageError, MessageTemplate, build_template
from ..state.database import Database, open_database
from ..state.prune import refuse_pruned
from ..state.schema import SQLITE
from .editions import EditionKey, edition_for, edition_key
from .interrupts import settle_on_interrupt
from .leases import release_dead_here
from .mailboxes import subscriber_key
from .mailserver import smtp_password
from .outcome import read_back
from .progress import sent_to_everyone
from .refusals import verdict
from .report import SendReport
from .runmarks import live_run, send_lock
from .senders import WorkerOutcome, WorkerSpec, in_flight_line, run_worker
from .signups import key_of
from .smtp import (
    DEFAULT_RETRY,
    Connection,
    Failed,
    Fatal,
    Permanent,
    Refused,
    Retry,
    deliver_one,
    envelope_sender,
    refused_session,
)
from .subscribers import HOW_TO_ADD, AddressError, normalize_address, stored_topics
from .tokens import link_tokens, new_key, read_secret
from .unsent import refresh_unsent
from .workers import run_processes

Log = Callable[[str], None]
__all__ = ["SendReport", "load_published_issue", "send_issue", "send_test_copy"]


def load_published_issue(config: Config, issue_date: dt.date) -> Issue:
    """The published issue dated ``issue_date``; a draft or a missing one is refused."""
    slug = issue_date.isoformat()
    store = IssueStore(config.output)
    issue = store.get(issue_date)
    if issue is None:
        build = newsletter_command(config.path, f"build --date {slug} --publish")
        raise NewsletterError(f"there is no issue dated {slug} ({store.path(issue_date)} is "
                              f"missing); build and publish it first: {build}")
    if issue.status != IssueStatus.PUBLISHED:
        raise NewsletterError(f"issue {slug} is a {issue.status}, and only a published issue "
                              "is sent; review it, then: "
                              f"{newsletter_command(config.path, f'publish {slug}')}")
    return issue


# -- the run ---------------------------------------------------------------------------------

def _safe_file_name(address: str) -> str:
    return re.sub(r"[^A-Za-z0-9@._+-]", "_", address)


def _write_outbox(outbox: Path, name: str, message: bytes) -> None:
    try:
        write_atomic(safe_path(outbox, name), message)
    except OSError as error:
        raise NewsletterError(f"cannot write {outbox / name}: {error}") from None


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
    # a subscriber's copy carries their own links; anyone else's, links to nobody
    tokens = link_tokens(secret, key_of(config, address) or new_key())
    # A copy for the outbox keeps the issue's time, as the outbox of a run does: the same
    # bytes each time it is written. One that leaves is dated when it leaves.
    sent = None if outbox is not None else dt.datetime.now(dt.UTC).timestamp()
    message = template.render(address, display, tokens["unsubscribe"], tokens["preferences"],
                              sent=sent)
    report = SendReport(issue.slug, outbox=outbox)
    if outbox is not None:
        _write_outbox(outbox, f"test-{_safe_file_name(address)}.eml", message)
        report.sent.append(address)
        log(f"Wrote the test copy for {address} to {outbox}.")
        return report
    connection = Connection(config, smtp_password(config))
    try:
        deliver_one(connection, envelope_sender(config), address, message, retry)
        report.sent.append(address)
        log(f"Sent a test copy of issue {issue.slug} to {address} (not recorded).")
    except Permanent as error:
        report.bounced.append(address)
        log(f"bounced: {address}: {error}")
    except Fatal as error:
        raise NewsletterError(str(error)) from None
    except Failed as error:
        if error.fatal:  # the server, not this address: said as a run's send says it
            raise NewsletterError(f"{error}; the test copy to {address} was not sent") from None
        report.failed.append(address)
        log(f"failed: {address}: {error}")
    except Refused as error:
        report.failed.append(address)
        log(f"failed: {address}: {error}")
    finally:
        connection.close()
    return report


def send_issue(config: Config, issue_date: dt.date, *, to: str | None = None,
               outbox: Path | None = None, log: Log = print,
               retry: Retry | None = None, workers: int = 1,
               advise: bool = True) -> SendReport:
    """Send the published issue dated ``issue_date`` to every active subscriber who has not
    received it (see the module docstring for how that holds across crashes).

    ``to``: one test copy to that address instead, unrecorded. ``outbox``: write the exact
    messages as ``.eml`` files there instead of connecting, recording nothing. ``workers``:
    sender processes (each with ``smtp.concurrency`` connections); 1 sends from this one.
    ``advise``: end a run that failed for some with the line telling a person to run the same
    command again (the scheduler, which tries its run again itself, says its own).
    Raises :class:`NewsletterError` for a draft or missing issue, a missing secret or password,
    and :class:`~newsletter.core.errors.NotAsPublished` before sending anything when the
    issue's email is not the one published (a test copy goes, with a warning), unless nobody
    was tried it yet and only its rendering changed: its email files are then written again
    (``unsent.py``); with nobody left to send it to, there is nothing to refuse.
    """
    issue = load_published_issue(config, issue_date)
    # Each message is rendered as it is sent: with a template, the theme or the config
    # changed since the issue was published, its subscribers would get another email than
    # the published one, and than those sent it before (a run stopped and run again).
    unlike = unlike_published(config, issue)
    if to is not None:
        if unlike is not None:  # a test copy of what sending now would give, said so
            log(f"warning: {unlike.difference}. This test copy is rendered as it would be "
                f"now; a send to the subscribers is refused until you {unlike.fix}")
        return send_test_copy(config, issue, to, outbox=outbox, log=log, retry=retry)
    if unlike is not None and outbox is not None:
        raise unlike
    secret = read_secret(config)
    if outbox is not None:
        return _write_outbox_run(config, issue, secret, outbox, log)
    password = smtp_password(config)
    with _exclusive(config, issue.slug), live_run(config, issue.slug) as run:
        if unlike is not None and (said := sent_to_everyone(config, issue)):
            log(said)  # nobody would get the email that differs: nothing to refuse
            return SendReport(issue.slug)
        if unlike is not None:  # written again when nobody was sent it yet, else refused
            refresh_unsent(config, issue, unlike, log)
        report = _send(config, issue, run, secret, password, log, retry or DEFAULT_RETRY,
                       max(1, workers))
    if advise:
        for line in report.advice(config.path):
            log(line)
    return report


@contextlib.contextmanager
def _exclusive(config: Config, slug: str) -> Iterator[None]:
    """With the SQLite state, one run per issue at a time (its recipients' claims are reset
    at the start of a run, which is right only when no other run is sending; the lock goes
    with its process, however it dies). With PostgreSQL, runs share the issue's recipients:
    no lock."""
    if config.state_url:
        yield
        return
    private_folder(config.state_dir, keep_open=config.open_folders)
    path = send_lock(config, slug)
    with exclusive(path, lambda holder: NewsletterError(
            f"issue {slug} is being sent by another process right now (it holds {path}); "
            "wait for it to finish")):
        yield


@dataclass
class _Recipients:
    received: list[str] = field(default_factory=list)  # already had it, or chose no topic
    no_topics: int = 0
    spellings: int = 0  # another spelling of their mailbox has it (or is sent it)
    pending: list[str] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)  # named: an earlier sender died
    unbuildable: list[tuple[str, str, str]] = field(default_factory=list)  # address, why, since
    editions: dict[EditionKey, Issue] = field(default_factory=dict)  # what pending get


def _recipients(config: Config, db: Database, issue: Issue, run: str) -> _Recipients:
    """Who is what for the issue, read in one go; the issue's claims are brought up to date
    first. A subscriber whose message could not be built is not tried again until their row
    changes: this run marks their claim failed from the start. One the issue has nothing for
    (none of their topics is in it) is no recipient: their claim goes at once, so that the
    senders never walk it (each would take a slot of the pace) and a prune finds the issue
    finished; a run they change their topics after does not send to them, a later one does."""
    slug = issue.slug
    found = _Recipients()
    with db.transaction():
        refuse_pruned(db, slug)  # its ledger is gone: everyone would get it again
        unlike = unlike_published(config, issue)  # again, under the issue's lock: unsent.py
        if unlike is not None:
            raise unlike
        # This run's mark, from now until it ends: while it lives, the issue counts as tried,
        # as it may send (unsent.py); a run that ends, or dies, having sent nothing does not.
        db.run("send_run.begin", (run, slug))
        if db.dialect == SQLITE:  # this run holds the issue's flock: no sender is alive
            db.run("claims.release_all", (slug,))
        else:
            release_dead_here(db, slug)
        db.run("claims.prune", (slug,))
        db.run("claims.fill", (slug,))
        claimed = {row[0] for row in db.run("claims.of_issue", (slug,))}
        done = {row[0] for row in db.run("deliveries.addresses", (slug,))}
        found.in_flight = [row[0] for row in db.run("attempts.orphaned", (slug,))]
        subscribers = db.run("subscribers.active_stamped").fetchall()
        failures = {row[0]: (row[1], row[2]) for row in db.run("failures.of_issue", (slug,))}
        nothing_for: list[tuple[str, str]] = []
        for address, _, topics, updated in subscribers:
            failure = failures.get(address)
            if address in done:
                found.received.append(address)
            elif address not in claimed:  # the issue goes to another spelling of the mailbox
                found.spellings += 1
                found.received.append(address)
            elif failure is not None and failure[0] == updated:
                found.unbuildable.append((address, failure[1], updated))
                db.run("claim.failed", (run, slug, address))
            elif (part := edition_for(issue, stored_topics(topics))) is None:
                found.no_topics += 1
                found.received.append(address)
                nothing_for.append((slug, address))
            else:
                found.pending.append(address)
                found.editions.setdefault(edition_key(part), part)
        db.run_many("claim.done", nothing_for)
    return found


def _send(config: Config, issue: Issue, run: str, secret: bytes, password: str | None,
          log: Log, retry: Retry, workers: int) -> SendReport:
    report = SendReport(issue.slug)
    slug = issue.slug
    with open_database(config) as db:
        found = _recipients(config, db, issue, run)
        skipped, no_topics, pending, in_flight = (found.received, found.no_topics,
                                                  found.pending, found.in_flight)
        spellings = found.spellings
        report.skipped = skipped
        report.in_flight_unknown = in_flight
        if not pending:  # the run ends here: its mark goes (outcome.py ends one that sends)
            with db.transaction():
                db.run("send_run.end", (run,))
        if in_flight:
            # Named once; those still pending get a fresh attempt row when they are sent.
            waiting = set(pending)
            with db.transaction():
                db.run_many("attempt.delete", [(slug, address) for address in in_flight
                                               if address not in waiting])
    if not (skipped or pending or found.unbuildable):
        log(f"No active subscribers: {HOW_TO_ADD}.")
    if in_flight:
        log(in_flight_line(in_flight))
    if skipped:
        also = (f", {spellings} are another spelling of a mailbox that has it once (see "
                "newsletter subscribers list)" if spellings else "")
        log(f"Skipping {len(skipped)} subscriber(s): {len(skipped) - no_topics - spellings} "
            f"already received issue {slug}, {no_topics} chose no topic it has{also}.")
    for address, why, updated in found.unbuildable:
        log(f"failed: {address!r}: {why}; not tried again: the subscriber is unchanged since "
            f"({updated}). Correct or remove it: newsletter subscribers add/remove")
    if pending:
        processes = min(workers, len(pending))
        connections = min(config.smtp.concurrency, len(pending))
        spread = (f"{processes} worker process(es) x {connections} connection(s)"
                  if processes > 1 else f"{connections} connection(s)")
        log(f"Sending issue {slug} to {len(pending)} subscriber(s) over {spread} to "
            f"{config.smtp.host}:{config.smtp.port}.")
        # Every edition the run foresees, rendered now: a template or the theme edited
        # while it sends (hours, for a large list) reaches none of its messages.
        templates = {key: build_template(config, part, render_email(part, config))
                     for key, part in found.editions.items()}
        spec = WorkerSpec(config, issue, run, secret, password, retry, frozenset(in_flight),
                          templates=templates)
        # A refused greeting, login or sender is the answer every sender would get: asked
        # once. Whether it lasts is judged as for one met while sending.
        refused = (refused_session(config, password) if processes * connections > 1
                   else None)
        lost: list[str] = []
        if refused is not None:
            judged = verdict(refused)
            outcome = WorkerOutcome(fatal=[str(refused)],
                                    refused=[str(refused)] if judged.lasts else [])
        else:
            with settle_on_interrupt() as interrupted:  # Ctrl-C: interrupts.py
                if processes > 1:
                    outcome, lost = run_processes(spec, processes, log, interrupted)
                else:
                    outcome = run_worker(spec, log, interrupted)
        report.in_flight_unknown += outcome.in_flight
        report.unbuildable = outcome.unbuildable
        report.refused = outcome.refused[0] if outcome.refused else None
        report.interrupted = outcome.interrupted
        read_back(config, report, run, outcome.fatal, lost, log)
    else:
        report.failed = [address for address, _, _ in found.unbuildable]
    report.unbuildable += [address for address, _, _ in found.unbuildable]
    log(report.summary())
    return report


def _write_outbox_run(config: Config, issue: Issue, secret: bytes, outbox: Path,
                      log: Log) -> SendReport:
    """The messages every pending subscriber would get, as files; nothing is recorded."""
    report = SendReport(issue.slug, outbox=outbox)
    with open_database(config) as db:
        refuse_pruned(db, issue.slug)
        done = {subscriber_key(row[0]) for row in db.run("deliveries.addresses", (issue.slug,))}
        subscribers = db.run("subscribers.active_keys").fetchall()
    if not subscribers:
        log(f"No active subscribers: {HOW_TO_ADD}.")
    templates: dict[EditionKey, MessageTemplate] = {}
    index = 0
    for address, name, topics, token_key in subscribers:
        part = edition_for(issue, stored_topics(topics))
        mailbox = subscriber_key(address)
        seen = mailbox in done
        done.add(mailbox)  # its first active spelling stands for the mailbox, as in a send
        if seen or part is None:
            report.skipped.append(address)
            continue
        key = edition_key(part)
        template = templates.get(key)
        if template is None:
            template = templates[key] = build_template(config, part,
                                                       render_email(part, config))
        index += 1
        try:
            tokens = link_tokens(secret, token_key)
            message = template.render(address, name, tokens["unsubscribe"],
                                      tokens["preferences"])
        except MessageError as error:
            report.failed.append(address)
            log(f"failed: {address!r}: {error}")
            continue
        _write_outbox(outbox, f"{index:05d}-{_safe_file_name(address)}.eml", message)
        report.sent.append(address)
    log(report.summary() + " Nothing was sent or recorded.")
    return report
