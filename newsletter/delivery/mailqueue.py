"""The confirmation and welcome emails the web pages ask for, sent from a queue.

A signup POST only records a ``mail_queue`` row and returns, so a slow or dead SMTP server
never holds a request, and response times say nothing about what happened. The queue is
emptied by a sender thread of ``newsletter serve`` (:class:`QueueSender`) or, where the web
processes must not send, by ``newsletter send-pending`` (:func:`send_pending`).

Several senders may run at once (processes of a WSGI server): each claims a row by pushing
its ``due_at`` ahead in a write transaction before sending it, so a row is taken by one of
them only. A 4xx or a dropped connection is retried by the usual SMTP retries, then the row
is tried again later with a growing delay; after ``MAX_ATTEMPTS`` rounds, or at a 5xx, it is
given up (``failed``). A confirmation whose signup expired or was confirmed meanwhile is
dropped rather than sent. Log lines name the address and the kind, never a token. A run's
report counts every email still waiting for a retry when it ends, with the time of the next
(one a run before failed, too): "0 to retry later" while one waits would send an operator
looking for a fault already fixed. A sender thread that starts (``serve`` restarted, likely
after its smtp settings were fixed) tries those waiting at once (:func:`retry_now`).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..core.config import Config
from ..core.errors import ConfigError, NewsletterError
from ..rendering.mail import render_notice
from ..rendering.message import MessageError, mailbox, notice_message
from ..state.database import open_database
from .mailserver import smtp_password
from .refusals import stops_sending
from .signups import latest_issue_url, purge
from .smtp import (
    DEFAULT_RETRY,
    Connection,
    Failed,
    Fatal,
    Permanent,
    Refused,
    Retry,
    deliver_one,
)
from .subscribers import iso, pending_cutoff
from .tokens import make_token, read_secret

Clock = Callable[[], dt.datetime]
Log = Callable[[str], None]
LEASE = dt.timedelta(minutes=10)  # a claimed row is someone's for this long
MAX_ATTEMPTS = 5  # rounds of SMTP retries before a row is given up
POLL_SECONDS = 5.0


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class QueueReport:
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    # every email still queued once the run ended, not only those it tried: the ones
    # waiting out their retry delay (a failure of an earlier run, a restarted serve's)
    waiting: int = 0
    next_try: dt.datetime | None = None

    def summary(self) -> str:
        later = f"{self.waiting} to retry later"
        if self.waiting and self.next_try is not None:
            later += f" (the next at {self.next_try.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC)"
        return (f"{len(self.sent)} sent, {later}, {len(self.failed)} failed, "
                f"{len(self.dropped)} no longer needed.")


@dataclass(frozen=True)
class _Row:
    id: int
    kind: str
    email: str
    attempts: int


def _claim(config: Config, at: dt.datetime) -> _Row | None:
    """The next due row, leased to this sender (another sender skips it meanwhile)."""
    with open_database(config) as db:
        while True:
            with db.transaction():
                row = db.run("mail_queue.next_due", (iso(at),)).fetchone()
                if row is None:
                    return None
                if db.run("mail_queue.lease", (iso(at + LEASE), row[0], iso(at))).rowcount:
                    return _Row(row[0], row[1], row[2], row[3] + 1)


def _finish(config: Config, row: _Row, status: str, detail: str = "",
            due: dt.datetime | None = None) -> None:
    with open_database(config) as db, db.transaction():
        if due is not None:
            stamp = iso(due)
            db.run("mail_queue.retry_at", (stamp, f"{detail} (next try {stamp})", row.id))
        else:
            db.run("mail_queue.finish", (status, detail, row.id))


def waiting(config: Config, at: dt.datetime) -> tuple[int, dt.datetime | None]:
    """How many queued emails are not due yet at ``at``, and when the first of them is."""
    with open_database(config) as db:
        count, first = db.run("mail_queue.waiting", (iso(at),)).fetchone()
    return int(count), None if first is None else dt.datetime.fromisoformat(first)


def retry_now(config: Config, at: dt.datetime) -> int:
    """Make every email waiting out its retry delay due at ``at`` (a restarted ``serve``: the
    operator may just have fixed the cause); how many. An email a sender has claimed is
    left to it: its claim moved ``due_at`` away from the time its detail names."""
    with open_database(config) as db, db.transaction():
        return int(db.run("mail_queue.retry_now", (iso(at), iso(at))).rowcount)


def build_notice(config: Config, secret: bytes, kind: str, address: str, at: dt.datetime
                 ) -> bytes | None:
    """The message for one queue row, or None when it is no longer wanted (the signup
    expired or was confirmed; the subscriber left before their welcome went out)."""
    with open_database(config) as db:
        row = db.run("subscriber.signup_state", (address,)).fetchone()
    if row is None:
        return None
    status, requested, key = row
    if kind == "confirm":
        if status != "pending" or requested is None or requested < pending_cutoff(config, at):
            return None
        issued = int(dt.datetime.fromisoformat(requested).timestamp())
        token = make_token(secret, "confirm", key, issued)
        rendered = render_notice(config, kind, address,
                                 confirm_url=f"{config.site_url}confirm?token={token}")
        unsubscribe_url = ""
    else:
        if status != "active":
            return None
        token = make_token(secret, "preferences", key)
        rendered = render_notice(config, kind, address,
                                 preferences_url=f"{config.site_url}preferences?token={token}",
                                 latest_url=latest_issue_url(config))
        unsubscribe_url = (f"{config.site_url}unsubscribe?token="
                           f"{make_token(secret, 'unsubscribe', key)}")
    host = urlsplit(config.site_url).hostname or "localhost"
    return notice_message(config, address, rendered, date=at,
                          message_id=email.utils.make_msgid(kind, domain=host),
                          unsubscribe_url=unsubscribe_url)


def send_pending(config: Config, *, secret: bytes | None = None, log: Log = print,
                 retry: Retry | None = None, clock: Clock = _utcnow,
                 stop: threading.Event | None = None, now: bool = False) -> QueueReport:
    """Send every queued email that is due (``now``: those waiting for a retry too), then
    return."""
    secret = secret if secret is not None else read_secret(config)
    retry = retry or DEFAULT_RETRY
    report = QueueReport()
    purge(config, clock())
    if now and (brought := retry_now(config, clock())):
        log(f"mail queue: trying the {brought} email(s) waiting for a retry now")
    connection = Connection(config, smtp_password(config))
    sender = mailbox(config.email.sender)[1]
    try:
        while stop is None or not stop.is_set():
            at = clock()
            row = _claim(config, at)
            if row is None:
                break
            try:
                message = build_notice(config, secret, row.kind, row.email, at)
            except MessageError as error:  # stored by an older version that let it in
                _finish(config, row, "failed", str(error))
                report.failed.append(row.email)
                log(f"{row.kind} email to {row.email} not sent: {error}")
                continue
            if message is None:
                _finish(config, row, "dropped")
                report.dropped.append(row.email)
                continue
            try:
                deliver_one(connection, sender, row.email, message, retry)
            except Permanent as error:
                _finish(config, row, "failed", str(error))
                report.failed.append(row.email)
                log(f"{row.kind} email to {row.email} bounced: {error}")
            except Refused as error:
                _finish(config, row, "failed", str(error))
                report.failed.append(row.email)
                log(f"{row.kind} email to {row.email} refused by the server: {error}")
            except (Failed, Fatal) as error:
                if row.attempts >= MAX_ATTEMPTS:
                    _finish(config, row, "failed", str(error))
                    report.failed.append(row.email)
                    log(f"{row.kind} email to {row.email} failed {row.attempts} times, given "
                        f"up: {error}")
                else:
                    delay = dt.timedelta(minutes=2 ** row.attempts)
                    _finish(config, row, "queued", str(error), due=clock() + delay)
                    report.retrying.append(row.email)
                    log(f"{row.kind} email to {row.email} not sent ({error}); trying again "
                        f"in {int(delay.total_seconds() // 60)} min")
                if stops_sending(error):
                    break  # the server is down or refuses us: the others would fail alike
            else:
                _finish(config, row, "sent")
                report.sent.append(row.email)
                log(f"{row.kind} email sent to {row.email}")
    finally:
        connection.close()
    report.waiting, report.next_try = waiting(config, clock())
    return report


class QueueSender:
    """A daemon thread that empties the queue every ``POLL_SECONDS``, and at once when
    :meth:`wake` is called (after a signup or a confirmation)."""

    def __init__(self, config: Config, secret: bytes, *, log: Log = print,
                 retry: Retry | None = None, poll: float = POLL_SECONDS) -> None:
        self.config = config
        self.secret = secret
        self.log = log
        self.retry = retry
        self.poll = poll
        self.event = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="mail-queue", daemon=True)

    def start(self) -> QueueSender:
        self.thread.start()
        return self

    def wake(self) -> None:
        self.event.set()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.event.set()
        self.thread.join(timeout)

    def _run(self) -> None:
        first = True
        while not self.stopping.is_set():
            self.event.clear()
            try:
                report = send_pending(self.config, secret=self.secret, log=self.log,
                                      retry=self.retry, stop=self.stopping, now=first)
                if report.retrying:  # the server failed: maybe the settings are wrong
                    self.log(f"mail queue: {report.summary()} This process read the "
                             "configuration when it started: after a change to smtp, "
                             "restart it.")
                elif first and report.waiting:
                    self.log(f"mail queue: {report.summary()}")
            except ConfigError as error:  # (no smtp: section): fixed in the file, read at a
                # restart; said once, not every few seconds
                self.log(f"mail queue: {error}\nmail queue: sends nothing until the "
                         "configuration is fixed and this process restarted")
                return
            except NewsletterError as error:
                self.log(f"mail queue: {error}")
            except Exception as error:  # keep serving pages; say what went wrong
                self.log(f"mail queue: unexpected {type(error).__name__}: {error}")
            first = False  # a start tries the emails waiting for a retry once
            self.event.wait(self.poll)
