"""Sending a published issue to the subscribers: each exactly once, over reused SMTP
connections, with per-subscriber unsubscribe links.

Exactly once rests on two tables in the state database (``state.py``):

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
subscriber: each set is compiled once into a :class:`MessageTemplate` (headers and
quoted-printable parts, split where the unsubscribe token goes), and a subscriber's message is
that template joined with their address and token. The token alphabet (base64url and ".")
is literal in quoted-printable and in HTML attributes, so the substitution is exact.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import email.policy
import email.utils
import hashlib
import hmac
import os
import queue
import re
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from email import quoprimime
from email.headerregistry import Address
from pathlib import Path
from urllib.parse import urlsplit

from .config import Config
from .errors import NewsletterError
from .issuefile import ISSUE_FILE, load_issue
from .models import Issue, Section
from .output import safe_path, write_atomic
from .render import UNSUBSCRIBE_PLACEHOLDER, RenderedEmail, render_email
from .state import connect, now, transaction
from .subscribers import AddressError, normalize_address
from .timing import issue_timestamp

TOKEN_VERSION = "1"
MIN_SECRET_LENGTH = 16
TEST_SUBJECT_PREFIX = "[TEST] "
SMTP_TIMEOUT = 60.0  # seconds for one SMTP command: a stuck server is a dropped connection

Log = Callable[[str], None]


# -- the unsubscribe token --------------------------------------------------------------------

def read_secret(config: Config) -> bytes:
    """The HMAC key from the environment variable the config names (never from a file)."""
    value = os.environ.get(config.secret_env, "")
    if not value.strip():
        raise NewsletterError(
            f"the environment variable {config.secret_env} is not set: it holds the secret "
            "that signs unsubscribe links (secret_env in the configuration names it). Set it "
            "to a long random string, the same for every run and for serve, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    if len(value) < MIN_SECRET_LENGTH:
        raise NewsletterError(f"the environment variable {config.secret_env} holds a secret "
                              f"shorter than {MIN_SECRET_LENGTH} characters; use a long random "
                              "string")
    return value.encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict: only the canonical spelling decodes, so a token has exactly one form."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not canonical base64url")
    return data


def _mac(secret: bytes, address: str) -> bytes:
    message = f"newsletter-unsubscribe:v{TOKEN_VERSION}:{address}".encode()
    return hmac.new(secret, message, hashlib.sha256).digest()


def unsubscribe_token(secret: bytes, address: str) -> str:
    """``1.<address>.<mac>`` (base64url): names the address and proves the sender made it.

    The address travels in the token so that a link keeps working whatever happens to the
    database; the MAC binds it, so a token cannot be forged nor moved to another address.
    """
    return f"{TOKEN_VERSION}.{_b64(address.encode('utf-8'))}.{_b64(_mac(secret, address))}"


def verify_token(secret: bytes, token: object) -> str | None:
    """The address a genuine token names, else None (for every kind of bad token alike)."""
    if not isinstance(token, str) or len(token) > 1024:
        return None
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_VERSION:
        return None
    try:
        address = _unb64(parts[1]).decode("utf-8")
        mac = _unb64(parts[2])
    except (ValueError, UnicodeDecodeError):
        return None
    return address if hmac.compare_digest(mac, _mac(secret, address)) else None


# -- the issue and the message ---------------------------------------------------------------

def load_published_issue(config: Config, issue_date: dt.date) -> Issue:
    """The published issue dated ``issue_date``; a draft or a missing one is refused."""
    slug = issue_date.isoformat()
    path = config.output / slug / ISSUE_FILE
    if not path.is_file():
        raise NewsletterError(f"there is no issue dated {slug} ({path} is missing); build and "
                              f"publish it first: newsletter build --date {slug} --publish")
    issue = load_issue(path)
    if issue.status != "published":
        raise NewsletterError(f"issue {slug} is a {issue.status}, and only a published issue "
                              f"is sent; review it, then: newsletter publish {slug}")
    return issue


def sections_for(issue: Issue, topics: Sequence[str]) -> tuple[Section, ...]:
    """The sections a subscriber receives: all of them without topics, else those whose topic
    they chose (case-insensitively); () means this issue has nothing for them."""
    if not topics:
        return issue.sections
    wanted = {" ".join(t.split()).casefold() for t in topics}
    return tuple(s for s in issue.sections if " ".join(s.topic.split()).casefold() in wanted)


_POLICY = email.policy.SMTP  # CRLF, lines folded at 78, RFC 2047 for non-ASCII text
_SIMPLE_NAME = re.compile(r"[A-Za-z0-9 !#$%&'*+/=?^_`{|}~-]*")  # needs no quoting nor encoding


def _header(name: str, value: str) -> bytes:
    """One header, folded and encoded (a non-ASCII name or subject becomes RFC 2047)."""
    return _POLICY.header_factory(name, value).fold(policy=_POLICY).encode("ascii")


def _to_header(address: str, name: str) -> bytes:
    if not name:
        return f"To: {address}\r\n".encode("ascii")
    if _SIMPLE_NAME.fullmatch(name) and len(name) + len(address) < 68:
        return f"To: {name} <{address}>\r\n".encode("ascii")
    return _header("To", str(Address(display_name=name, addr_spec=address)))


def _qp(text: str) -> bytes:
    """``text`` as UTF-8 in quoted-printable: 7-bit, lines of at most 76 characters."""
    latin = text.encode("utf-8").decode("latin-1")  # quoprimime encodes each byte as a char
    return quoprimime.body_encode(latin, maxlinelen=76, eol="\r\n").encode("ascii")


def _token_lines(token: str) -> bytes:
    """The token on lines of its own between quoted-printable soft line breaks: the lines
    around it keep their length, and decoding joins it back into its line."""
    pieces = [token[i:i + 72] for i in range(0, len(token), 72)]
    return b"=\r\n" + b"".join(p.encode("ascii") + b"=\r\n" for p in pieces)


def _list_id(config: Config) -> str:
    """RFC 2919: the site's path and host as a dot-atom, e.g. ``ai.news.example.org``."""
    parts = urlsplit(config.site_url)
    labels = [re.sub(r"[^A-Za-z0-9-]+", "-", p).strip("-").lower()
              for p in parts.path.split("/") if p]
    labels = [label for label in labels if label] or ["newsletter"]
    return ".".join([*labels, (parts.hostname or "localhost").lower()])


@dataclass(frozen=True)
class MessageTemplate:
    """The message for one set of sections, ready for any subscriber."""

    issue: Issue
    site_url: str
    host: str
    segments: tuple[bytes, ...]  # the rest of the message, split where each token goes
    unsubscribe_url: str  # ends with "token="
    mailto: str | None
    test: bool = False

    def message_id(self, address: str) -> str:
        """Deterministic from site, issue and address: a repeated message is recognisably
        the same one (receivers drop duplicates by Message-ID); test copies are unique."""
        if self.test:
            return email.utils.make_msgid("test", domain=self.host)
        digest = hashlib.sha256(
            f"{self.site_url}\x00{self.issue.slug}\x00{address}".encode()).hexdigest()
        return f"<{self.issue.slug}.{digest[:16]}@{self.host}>"

    def render(self, address: str, name: str, token: str) -> bytes:
        """The complete message for one subscriber (CRLF line ends, 7-bit)."""
        url = f"{self.unsubscribe_url}{token}"
        list_unsubscribe = f"<{url}>"
        if self.mailto:
            list_unsubscribe += f", <mailto:{self.mailto}?subject=unsubscribe>"
        head = (_to_header(address, name)
                + f"Message-ID: {self.message_id(address)}\r\n"
                  f"List-Unsubscribe: {list_unsubscribe}\r\n".encode("ascii"))
        return head + _token_lines(token).join(self.segments)


def build_template(config: Config, issue: Issue, rendered: RenderedEmail, *,
                   test: bool = False) -> MessageTemplate:
    """Headers shared by every subscriber and both parts, quoted-printable, split at the
    placeholder token the renderer left in the unsubscribe URL."""
    subject = (TEST_SUBJECT_PREFIX if test else "") + rendered.subject
    host = urlsplit(config.site_url).hostname or "localhost"
    digest = hashlib.sha256("\x00".join((subject, rendered.text, rendered.html))
                            .encode("utf-8")).hexdigest()
    boundary = f"=_newsletter_{digest[:32]}"  # "=_" never occurs in quoted-printable
    mailto = None
    if config.email.unsubscribe_mailto:
        mailto = email.utils.parseaddr(config.email.unsubscribe_mailto)[1] or None
    headers = [
        _header("From", config.email.sender),
        _header("Subject", subject),
        f"Date: {email.utils.format_datetime(issue_timestamp(config, issue.date))}\r\n"
        .encode("ascii"),
    ]
    if config.email.reply_to:
        headers.append(_header("Reply-To", config.email.reply_to))
    headers += [
        _header("List-Id", f"{config.title} <{_list_id(config)}>"),
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
        b"MIME-Version: 1.0\r\n",
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n'
        .encode("ascii"),
    ]

    def part(subtype: str, text: str) -> list[bytes]:
        if not text.endswith("\n"):
            text += "\n"
        pieces = [_qp(piece) for piece in text.split(UNSUBSCRIBE_PLACEHOLDER)]
        pieces[0] = (f"--{boundary}\r\nContent-Type: text/{subtype}; charset=\"utf-8\"\r\n"
                     "Content-Transfer-Encoding: quoted-printable\r\n\r\n").encode("ascii") \
            + pieces[0]
        pieces[-1] += b"\r\n"
        return pieces

    text_part, html_part = part("plain", rendered.text), part("html", rendered.html)
    segments = [*text_part[:-1], text_part[-1] + html_part[0], *html_part[1:]]
    segments[0] = b"".join(headers) + segments[0]
    segments[-1] += f"--{boundary}--\r\n".encode("ascii")
    return MessageTemplate(issue, config.site_url, host, tuple(segments),
                           f"{config.site_url}unsubscribe?token=", mailto, test)


SAMPLE_RECIPIENT = ("Subscriber", "subscriber@example.invalid")


def sample_message(config: Config, issue: Issue, rendered: RenderedEmail) -> bytes:
    """The message every subscriber gets, addressed to a placeholder recipient and carrying
    the placeholder token: ``email.eml`` in each issue folder, for an editor to open in a mail
    client. One builder for samples and real sends, so the sample shows what is sent."""
    name, address = SAMPLE_RECIPIENT
    return build_template(config, issue, rendered).render(address, name,
                                                          UNSUBSCRIBE_PLACEHOLDER)


# -- SMTP ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Retry:
    """Backoff for 4xx replies and dropped connections: ``attempts`` tries in all, waiting
    ``first_delay`` seconds, then twice as long each time, never past ``max_total``."""

    attempts: int = 4
    first_delay: float = 1.0
    max_total: float = 60.0


DEFAULT_RETRY = Retry()  # 4 tries over about 7 s; tests shorten it


class _Permanent(Exception):
    """A 5xx for this recipient or message: retrying cannot help."""


class _Fatal(Exception):
    """A problem with the settings (refused login, refused sender, TLS): every other message
    would fail the same way, so the run stops."""


def _password(config: Config) -> str | None:
    settings = config.smtp
    if not settings.username:
        return None
    name = settings.password_env
    if not name:
        raise NewsletterError("smtp.username is set but smtp.password_env is not: name the "
                              "environment variable that holds the SMTP password")
    value = os.environ.get(name)
    if value is None:
        raise NewsletterError(f"the environment variable {name} (smtp.password_env) is not "
                              "set: it holds the SMTP password")
    return value


class _Connection:
    """One SMTP session, opened on first use and reused for many messages."""

    def __init__(self, config: Config, password: str | None) -> None:
        self.settings = config.smtp
        self.password = password
        self.smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        try:
            if s.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=SMTP_TIMEOUT,
                                                      context=context)
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=SMTP_TIMEOUT)
            smtp.ehlo()
            if s.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.username:
                smtp.login(s.username, self.password or "")
        except smtplib.SMTPAuthenticationError as error:
            raise _Fatal(f"the SMTP server {s.host}:{s.port} refused the login of "
                         f"{s.username}: {error.smtp_code} {_text(error.smtp_error)}; check "
                         "smtp.username and the password variable") from None
        except smtplib.SMTPNotSupportedError as error:
            raise _Fatal(f"the SMTP server {s.host}:{s.port}: {error}; check smtp.security"
                         ) from None
        except ssl.SSLError as error:
            raise _Fatal(f"TLS with {s.host}:{s.port} failed ({error}); check smtp.security "
                         "and smtp.port") from None
        return smtp

    def open(self) -> smtplib.SMTP:
        if self.smtp is None:
            self.smtp = self._open()
        return self.smtp

    def close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def _text(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).split())


def _reply(code: int, message: object) -> str:
    return f"{code} {_text(message)}".strip()


class _Failed(Exception):
    """The retries ran out; ``uncertain`` when a connection dropped in mid-transaction, after
    which only the server knows whether it kept the message."""

    def __init__(self, message: str, *, uncertain: bool, fatal: bool) -> None:
        super().__init__(message)
        self.uncertain = uncertain
        self.fatal = fatal  # the server is unreachable: stop rather than wait out the
        # retries once per subscriber


def deliver_one(connection: _Connection, sender: str, address: str, message: bytes,
                retry: Retry, sleep: Callable[[float], None] = time.sleep) -> bool:
    """Hand one message to the server and return once it is accepted.

    Returns whether an earlier try dropped in mid-transaction (the server may then hold the
    message twice: SMTP cannot tell). Raises :class:`_Permanent` for a 5xx reply,
    :class:`_Fatal` for a settings problem, :class:`_Failed` when the retries for 4xx replies
    and dropped connections ran out.
    """
    started = time.monotonic()
    delay = retry.first_delay
    attempt = 0
    uncertain = False
    while True:
        attempt += 1
        replied = False  # the server answered: it certainly did not take the message
        try:
            smtp = connection.open()
        except (smtplib.SMTPException, OSError) as error:  # refused, timed out: nothing sent
            last: Exception = error
        else:
            try:
                smtp.sendmail(sender, [address], message)
                return uncertain
            except smtplib.SMTPRecipientsRefused as error:
                code, reply = error.recipients.get(address, (450, b"refused"))
                if code >= 500:
                    raise _Permanent(_reply(code, reply)) from None
                last, replied = smtplib.SMTPResponseException(code, reply), True
            except smtplib.SMTPSenderRefused as error:
                if error.smtp_code >= 500:
                    raise _Fatal(f"the server refused the sender {sender}: "
                                 f"{_reply(error.smtp_code, error.smtp_error)}; check "
                                 "email.from") from None
                last, replied = error, True
            except smtplib.SMTPResponseException as error:  # DATA refused, among others
                if error.smtp_code >= 500:
                    raise _Permanent(_reply(error.smtp_code, error.smtp_error)) from None
                last, replied = error, True
            except (smtplib.SMTPException, OSError) as error:  # dropped in mid-transaction
                last, uncertain = error, True
        connection.close()  # 4xx or a broken session: start again on a fresh connection
        elapsed = time.monotonic() - started
        if attempt >= retry.attempts or elapsed + delay > retry.max_total:
            if replied:  # a 4xx for this message: the others may still go through
                raise _Failed(_describe(last), uncertain=uncertain, fatal=False)
            s = connection.settings
            raise _Failed(f"the SMTP server {s.host}:{s.port} is unreachable or keeps dropping "
                          f"the connection ({attempt} attempts; last: {_describe(last)}); "
                          "check smtp.host, smtp.port and smtp.security",
                          uncertain=uncertain, fatal=True)
        sleep(delay)
        delay *= 2


def _describe(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        return _reply(error.smtp_code, error.smtp_error)
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class _Pacer:
    """``rate_per_second`` across every connection: each send takes the next time slot."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next = time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            slot = max(self.next, time.monotonic())
            self.next = slot + self.interval
        delay = slot - time.monotonic()
        if delay > 0:
            time.sleep(delay)


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


def _safe_file_name(address: str) -> str:
    return re.sub(r"[^A-Za-z0-9@._+-]", "_", address)


def _write_outbox(outbox: Path, name: str, message: bytes) -> None:
    try:
        write_atomic(safe_path(outbox, name), message)
    except OSError as error:
        raise NewsletterError(f"cannot write {outbox / name}: {error}") from None


def _envelope_sender(config: Config) -> str:
    return email.utils.parseaddr(config.email.sender)[1]


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
    connection = _Connection(config, _password(config))
    try:
        deliver_one(connection, _envelope_sender(config), address, message, retry)
        report.sent.append(address)
        log(f"Sent a test copy of issue {issue.slug} to {address} (not recorded).")
    except _Permanent as error:
        report.bounced.append(address)
        log(f"bounced: {address}: {error}")
    except _Fatal as error:
        raise NewsletterError(str(error)) from None
    except _Failed as error:
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
    password = _password(config)
    with _exclusive(config, issue.slug):
        return _send(config, issue, secret, password, None, log, retry or DEFAULT_RETRY)


@contextlib.contextmanager
def _exclusive(config: Config, slug: str) -> Iterator[None]:
    """One sender per issue at a time (the scheduler and a manual run could otherwise both
    see a subscriber as pending). An flock: the kernel releases it when its process dies,
    even by SIGKILL, so a crash never leaves a stale lock."""
    try:
        import fcntl
    except ImportError:  # not on POSIX: no lock, as before
        yield
        return
    config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = config.state_dir / f"send-{slug}.lock"
    with open(path, "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise NewsletterError(f"issue {slug} is being sent by another process right now "
                                  f"(it holds {path}); wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


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
        subscribers = db.execute("SELECT email, name, topics FROM subscribers "
                                 "WHERE status = 'active' ORDER BY id").fetchall()
    finally:
        db.close()

    if report.in_flight_unknown and outbox is None:
        log(f"warning: {len(report.in_flight_unknown)} message(s) were in flight when an "
            "earlier send of this issue stopped; they may have been delivered already and are "
            "sent again: " + ", ".join(report.in_flight_unknown))

    templates: dict[tuple[str, ...], MessageTemplate] = {}
    jobs: list[_Job] = []
    no_topics = 0
    for address, name, topics in subscribers:
        if address in done:
            report.skipped.append(address)
            continue
        sections = sections_for(issue, [t for t in topics.split(";") if t])
        if not sections:
            report.skipped.append(address)
            no_topics += 1
            continue
        key = tuple(s.topic for s in sections)
        template = templates.get(key)
        if template is None:
            part = dataclasses.replace(issue, sections=sections)
            template = templates[key] = build_template(config, part,
                                                       render_email(part, config))
        jobs.append(_Job(address, name, template))
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
            message = job.template.render(job.address, job.name,
                                          unsubscribe_token(secret, job.address))
            _write_outbox(outbox, f"{index:05d}-{_safe_file_name(job.address)}.eml", message)
            report.sent.append(job.address)
        log(report.summary() + " Nothing was sent or recorded.")
        return report

    _run_workers(config, issue.slug, jobs, secret, password, retry, report, log)
    log(report.summary())
    if report.failed:
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
    pacer = _Pacer(config.smtp.rate_per_second)
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
        connection = _Connection(config, password)
        try:
            while not stop.is_set():
                try:
                    job = work.get_nowait()
                except queue.Empty:
                    return
                message = job.template.render(job.address, job.name,
                                              unsubscribe_token(secret, job.address))
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
                except _Permanent as error:
                    status, detail = "bounced", str(error)
                except (_Fatal, _Failed) as error:
                    status, detail = "", str(error)
                    uncertain = isinstance(error, _Failed) and error.uncertain
                    if isinstance(error, _Fatal) or (isinstance(error, _Failed)
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
                fatal.append(f"unexpected {type(error).__name__}: {error}")
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
