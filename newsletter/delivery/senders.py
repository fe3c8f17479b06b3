"""The senders of one process: threads claiming an issue's recipients in batches and
sending each its message (the loop of each, its heartbeat, the pace they share).

Every recipient of an issue still to be sent has a ``claims`` row. A sender (one thread,
with its own SMTP connection and database connection) takes the next few free rows in one
transaction by writing its name and a lease into them; on PostgreSQL ``FOR UPDATE SKIP
LOCKED`` lets many senders on many machines take batches at once without waiting for each
other or taking the same row; on SQLite the write lock does the same, one claim at a time.
A heartbeat renews the leases of a process's senders while it lives. When a sender dies
(SIGKILL, a machine lost), its leases run out after ``smtp.lease_seconds`` and the others
take its unfinished batch; on the same machine they see at once that its process is gone
(``leases.py``). Several processes of one send (``workers.py``) each run these senders.

Exactly once, per message, as before: an ``attempts`` row is committed before the message
is handed to the server; the ``deliveries`` row, the end of the attempt and of the claim are
committed together right after the server accepted it. A claimed recipient that still has an
``attempts`` row was in flight when its sender died: the server may or may not have it, so it
is named and sent again (a possible duplicate rather than a possible miss). What the
server's answer means for the subscriber and the run is decided in ``refusals.py``.

``rate_per_second`` holds for the whole send, however many senders share it: each message
takes the next time slot from one row of the database (``send_pace``), on its clock. A
recipient found to need no message (they left, or chose no topic the issue has) takes none:
a send to 1 reader behind 200 such goes at once, not after 200 slots.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..core.config import Config
from ..core.errors import NewsletterError
from ..core.models import Issue
from ..rendering.mail import render_email
from ..rendering.message import MessageError, MessageTemplate, build_template
from ..state.database import Database, now, open_database
from .editions import EditionKey, edition_for, edition_key
from .leases import process_name, release_dead_here
from .mailboxes import subscriber_for_send
from .refusals import DELIVERY_ERRORS, Streak
from .smtp import Connection, Limited, Retry, deliver_one, envelope_sender
from .subscribers import stored_topics
from .tokens import link_tokens

Log = Callable[[str], None]

BATCH = 8  # recipients per claim: small, so a dead sender leaves little for the others
POLL = 0.5  # seconds between looks for work while other senders hold the rest


# Said once on Ctrl-C (``interrupts.py``): what happens now, and how to stop at once.
STOPPING = ("Interrupted: stopping once the message(s) in flight are settled (Ctrl-C again "
            "stops at once; the next run then names those and sends them again).")


class Halt(Protocol):
    """What asks a run's senders to stop after the message each has in flight: Ctrl-C, by
    way of a ``threading.Event``, or a ``multiprocessing`` one in a worker process."""

    def is_set(self) -> bool: ...


def in_flight_line(addresses: Sequence[str], who: str = "an earlier send") -> str:
    return (f"warning: {len(addresses)} message(s) were in flight when {who} of this issue "
            "stopped; they may have been delivered already and are sent again: "
            + ", ".join(addresses))


# -- one process's senders ---------------------------------------------------------------------

@dataclass(frozen=True)
class WorkerSpec:
    """Everything a sender process needs (picklable: handed to worker processes)."""

    config: Config
    issue: Issue
    run: str  # the run's id, the same for all its processes
    secret: bytes
    password: str | None
    retry: Retry
    named: frozenset[str]  # in flight before, already named by the run: not named again
    parent: int | None = None  # a worker process stops when this process is gone
    # Each edition's message as the run found the templates, the theme and the config at its
    # start (send.py): a template edited meanwhile reaches none of its messages.
    templates: Mapping[EditionKey, MessageTemplate] = field(default_factory=dict)


@dataclass
class WorkerOutcome:
    in_flight: list[str] = field(default_factory=list)  # named while claiming
    fatal: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # of those, the ones that last
    unbuildable: list[str] = field(default_factory=list)  # no message could be made for them
    interrupted: bool = False  # asked to stop (Ctrl-C): no new message was started after


class _Pace:
    """``rate_per_second`` across every sender of the issue, on the database's clock."""

    def __init__(self, rate: float | None, slug: str) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.slug = slug

    def wait(self, db: Database, stop: threading.Event) -> None:
        """Until this message's slot, or ``stop`` (Ctrl-C, a fatal error): at a low rate a
        slot may be many seconds away, and a run asked to stop does not wait for it."""
        if not self.interval:
            return
        i = self.interval
        slot, clock = db.run("pace.take", (self.slug, i, i, i)).fetchone()
        delay = float(slot) - float(clock)
        if delay > 0:
            stop.wait(delay)


def run_worker(spec: WorkerSpec, log: Log, halt: Halt | None = None) -> WorkerOutcome:
    """``smtp.concurrency`` senders in this process, until the issue has no recipient left
    that this run may take (or a fatal error, or ``halt``: each sender settles the message
    it has in flight, then stops); the heartbeat renews their leases."""
    config = spec.config
    issue = spec.issue
    slug = issue.slug
    outcome = WorkerOutcome()
    lock = threading.Lock()
    stop = threading.Event()  # every sender stops: a fatal error, or the send is gone
    finished = threading.Event()  # every sender is done: the heartbeat stops
    me = process_name()
    names = [f"{me}#{i}" for i in range(config.smtp.concurrency)]
    templates = dict(spec.templates)
    pace = _Pace(config.smtp.rate_per_second, slug)
    streak = Streak(spec.run, slug)
    sender = envelope_sender(config)
    lease = config.smtp.lease_seconds

    def say(line: str) -> None:
        with lock:  # one thread at a time logs
            log(line)

    def template_for(part: Issue) -> MessageTemplate:
        key = edition_key(part)
        with lock:  # an edition the run did not foresee (topics changed since): once
            template = templates.get(key)
            if template is None:
                template = templates[key] = build_template(config, part,
                                                           render_email(part, config))
            return template

    def heartbeat() -> None:
        db = open_database(config)
        try:
            while not finished.wait(max(lease / 3, 0.05)):
                if spec.parent is not None and os.getppid() != spec.parent:
                    say("error: the send that started this worker is gone; stopping")
                    stop.set()
                with db.transaction():
                    db.run_many("claims.renew", [(lease, slug, name) for name in names])
        except Exception as error:  # noqa: BLE001 - without renewals the leases run out
            say(f"warning: cannot renew the claims ({type(error).__name__}: {error}); other "
                "senders may take them over")
        finally:
            db.close()

    def send_one(db: Database, connection: Connection, address: str, holder: str,
                 batch: str, paced: bool) -> bool:
        """Settle one recipient: False, with nothing done, when a message is to go after
        all to one ``paced`` False (their topics as claimed gave them nothing): the pace
        is for messages sent, not for recipients found to need none."""
        if paced:
            pace.wait(db, stop)
        # The subscriber as they stand now, read in the transaction recording the attempt: an
        # unsubscribe, new topics, another spelling sent the issue, all apply, even mid-run.
        with db.transaction():
            # refusals in a row, had by any sender of the run; or Ctrl-C during the pace
            if stop.is_set() or streak.stopped(db):
                stop.set()
                return True
            # A sender that stood still past its lease (a paused machine, a stopped process)
            # may have had its batch taken over and sent: it sends nothing it no longer holds.
            if db.run("claim.held", (slug, address, holder, batch)).fetchone() is None:
                return True
            row = subscriber_for_send(db, slug, address)
            part = None
            if row is not None and row[2] == "active":
                part = edition_for(issue, stored_topics(row[1]))
            if part is None or row is None:  # left, bounced, had it spelled otherwise, no topic
                db.run("claim.done", (slug, address))
                db.run("attempt.delete", (slug, address))
                return True
            if not paced:  # topics changed since the claim: its slot first, then all again
                return False
            tokens = link_tokens(spec.secret, row[3])
            try:
                message = template_for(part).render(address, row[0], tokens["unsubscribe"],
                                                    tokens["preferences"], sent=time.time())
            except MessageError as error:  # this subscriber's problem, not the run's
                db.run("failure.record", (slug, str(error), now(), address))
                db.run("claim.failed", (spec.run, slug, address))
                problem: str | None = str(error)
            else:
                problem = None
                db.run("attempt.record", (slug, address, now()))
        if problem is not None:
            with lock:
                outcome.unbuildable.append(address)
            say(f"failed: {address!r}: {problem}")
            return True
        refused: Exception | None = None
        try:
            resent = deliver_one(connection, sender, address, message, spec.retry)
        except DELIVERY_ERRORS as error:
            refused = error
        else:
            if resent:
                say(f"warning: {address}: the connection dropped while the message was "
                    "being sent, and it was sent again: if the server had kept the first "
                    "one, this address has it twice")
        with db.transaction():  # at once: this is what makes it exactly once
            judged = streak.judge(db, refused)
            status, detail = judged.status, judged.detail
            if status:
                db.run("delivery.record_run", (slug, address, status, detail, now(), spec.run))
                db.run("claim.done", (slug, address))
            if status == "bounced":  # nothing more until they sign up again
                db.run("subscriber.bounced", (now(), address))
            elif judged.untried:  # the session failed first: freed, in its place, not failed
                db.run("claim.failed", ("", slug, address))  # (no run's id is '')
            else:
                db.run("claim.failed", (spec.run, slug, address))
            if isinstance(refused, Limited):  # perhaps theirs alone: the others go first
                db.run("claim.last", (slug, slug, address))
            if not judged.uncertain:  # else a later run names it, like one cut by a kill
                db.run("attempt.delete", (slug, address))
        if judged.stop is not None:
            stop.set()
            with lock:
                outcome.fatal.append(judged.stop)
                if judged.lasts:
                    outcome.refused.append(judged.stop)
        if status == "bounced":
            say(f"bounced: {address}: {detail}")
        elif not status and not judged.untried:  # else the run's stop line says it all
            say(f"failed: {address}: {detail}")
        return True

    def claim(db: Database, holder: str, batch: str) -> list[Any]:
        with db.transaction():
            db.run("claims.take", (holder, batch, lease, slug, slug, spec.run, BATCH))
        return db.run("claims.batch", (slug, batch)).fetchall()

    def worker(holder: str) -> None:
        db = open_database(config)
        connection = Connection(config, spec.password)
        number = 0
        try:
            while not stop.is_set():
                number += 1
                batch = f"{holder}#{number}"
                rows = claim(db, holder, batch)
                if not rows:
                    left, first_lease_ends = db.run("claims.outstanding",
                                                    (slug, spec.run)).fetchone()
                    if not left:
                        return
                    if release_dead_here(db, slug):
                        continue
                    wait = POLL if first_lease_ends is None else min(
                        POLL, max(float(first_lease_ends), 0.01))
                    stop.wait(wait)  # the rest is held by live senders: wait for them
                    continue
                for address, _name, topics, was_in_flight in rows:
                    if stop.is_set():
                        break
                    if was_in_flight and address not in spec.named:
                        with lock:
                            outcome.in_flight.append(address)
                        say(in_flight_line([address], "another sender"))
                    wanted = edition_for(issue, stored_topics(topics)) is not None
                    if not send_one(db, connection, address, holder, batch, wanted):
                        send_one(db, connection, address, holder, batch, True)
        except Exception as error:  # a bug or a broken database: stop, and say so
            with lock:
                outcome.fatal.append(str(error) if isinstance(error, NewsletterError)
                                     else f"unexpected {type(error).__name__}: {error}")
            stop.set()
        finally:
            connection.close()
            with contextlib.suppress(Exception):  # what it still held, free for the others
                db.run("claims.release", (slug, holder))
            db.close()

    beat = threading.Thread(target=heartbeat, name="lease-heartbeat", daemon=True)
    beat.start()
    threads = [threading.Thread(target=worker, args=(name,), name=f"smtp-{i}", daemon=True)
               for i, name in enumerate(names)]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():  # looked at often: a halt stops the senders within 0.1 s
            thread.join(0.1)
            if halt is not None and halt.is_set() and not outcome.interrupted:
                outcome.interrupted = True
                stop.set()  # each sender settles the message it has in flight, then stops
                if spec.parent is None:  # a worker process's parent says it for them all
                    say(STOPPING)
    finished.set()
    beat.join()
    return outcome
