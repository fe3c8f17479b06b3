"""SMTP: one reused connection per worker, retries with backoff for 4xx replies and dropped
connections, and a pacer for the configured rate."""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..core.config import Config
from ..core.errors import NewsletterError
from ..rendering.message import mailbox

SMTP_TIMEOUT = 60.0  # seconds for one SMTP command: a stuck server is a dropped connection


def no_delay(smtp: smtplib.SMTP) -> None:
    """Send each command at once. With Nagle's algorithm the last, short segment of a message
    waits for the server to acknowledge the previous ones, and servers delay that ack (40 ms
    on Linux): a round trip lost per message, which over a distant relay costs a connection
    a third of its rate."""
    sock = smtp.sock
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@dataclass(frozen=True)
class Retry:
    """Backoff for 4xx replies and dropped connections: ``attempts`` tries in all, waiting
    ``first_delay`` seconds, then twice as long each time, never past ``max_total``."""

    attempts: int = 4
    first_delay: float = 1.0
    max_total: float = 60.0


DEFAULT_RETRY = Retry()  # 4 tries over about 7 s; tests shorten it


class Permanent(Exception):
    """A 5xx refusing this recipient's address (no such mailbox, a disabled one): retrying
    cannot help, and the subscriber is bounced."""


class Refused(Exception):
    """A 5xx refusing this message rather than the address: after DATA (a content or policy
    filter, a size limit, the recipient's mailbox full), or at RCPT for a reason of policy or
    relay. The subscriber stays; the message is tried again by the next run. (One saying a
    limit of the sender or a blocklist naming this machine is a :class:`TurnedAway`.)"""


# An enhanced status code (RFC 3463) at the start of a reply: its class 5, its subject.
_ENHANCED = re.compile(r"5\.(\d{1,3})\.\d{1,3}\b")


def _refuses_the_address(reply: object) -> bool:
    """Whether a 5xx RCPT reply is about the address: subjects 1 (addressing) and 2
    (mailbox) of an enhanced code, or no enhanced code at all (the classic "550 no such
    user"). "554 5.7.1 Relay access denied" refuses the sender's use of the server."""
    found = _ENHANCED.match(_text(reply))
    return found is None or found.group(1) in ("1", "2")


class Fatal(Exception):
    """A problem with the settings (refused login, refused sender, TLS) or a server refusing
    this client (a 5xx greeting): every other message would fail the same way, so the run
    stops."""
    untried: bool = False  # before the message's recipient (deliver_one): nobody's fault


class TurnedAway(Fatal):
    """A server refusing this client for now, with a 5xx that passes with time: a 554
    greeting ("no SMTP service here", RFC 5321 3.1: a blocklist it consults, an overload),
    or, wherever it comes (MAIL FROM, RCPT TO, after DATA), a quota or rate limit of the
    sender or a DNS blocklist naming this machine (:func:`passes_with_time`; at RCPT TO or
    after DATA a :class:`Limited`). Every other message would be refused alike, so the run
    stops, as for any :class:`Fatal`; but a later run may be taken."""


class Limited(TurnedAway):
    """A :class:`TurnedAway` met at RCPT TO or after DATA: the words of a sender's limit or a
    blocklist, but said of one message, and a server may say them of one recipient alone
    ("550 5.7.1 recipient rate limit exceeded, try again later"). The run stops only when
    the next message is refused alike (:class:`~.refusals.Streak`)."""


# A 5xx saying a limit of the sender, not a refusal of it: a quota, a rate, too many
# messages. Servers say so in words rather than codes (many reply "550 5.7.1" both to a
# sender not allowed and to one over its quota), except 5.4.5 (a sending limit, congestion)
# and 5.7.28 (a flood). A size limit (5.3.4, "size") is the message's, and lasts.
_LIMIT = re.compile(r"quota|rate.?limit|too many|throttl|(send|sending|daily|hourly) limit|"
                    r"limit (exceeded|reached)|(exceeded|reached) (the |your |its )?\w* ?limit|"
                    r"try (again )?later|\b5\.4\.5\b|\b5\.7\.28\b", re.IGNORECASE)
_SIZE = re.compile(r"\b5\.3\.4\b|\bsize\b", re.IGNORECASE)
# To RCPT TO or after DATA a quota may be the recipient's: their mailbox full ("552 5.2.2
# over quota", "mailbox full"), which is theirs, as before; unless the reply names the
# sender's sending or submission (Exchange's "SubmissionQuotaExceededException", Gmail's
# "Daily user sending quota exceeded").
_MAILBOX = re.compile(r"\b5\.2\.2\b|mailbox|inbox|storage|\bfull\b|over (its |the |their )?quota",
                      re.IGNORECASE)
_SENDING = re.compile(r"submission|\bsend(ing)? ?quota|\bsending\b", re.IGNORECASE)
# A DNS blocklist the server consulted about this machine (or the sender's domain): Postfix
# applies them to RCPT TO by default ("554 5.7.1 Service unavailable; Client host [192.0.2.1]
# blocked using zen.spamhaus.org"), Exim and Microsoft say "listed", "block list", "RBL".
# Every message from this machine gets it, and a listing expires or is removed. Not one
# naming the recipient's domain ("Recipient address [...] blocked using") or a link in the
# message (a URI blocklist: the content's).
_BLOCKLIST = re.compile(r"blocked using|\b(dns)?rbls?\b|\bdnsbls?\b|(black|block) ?list|"
                        r"\bspamhaus\b|\bspamcop\b", re.IGNORECASE)
_NOT_THIS_MACHINE = re.compile(r"recipient|\bur[il]s?\b|\blinks?\b|\bbody\b|content",
                               re.IGNORECASE)


def _blocklisted(text: str) -> bool:
    return bool(_BLOCKLIST.search(text)) and not _NOT_THIS_MACHINE.search(text)


def passes_with_time(code: int, reply: object, *, at: str = "MAIL FROM") -> bool:
    """Whether a 5xx ``at`` the greeting, ``MAIL FROM``, ``RCPT TO`` or ``DATA`` says a refusal
    of this client that passes with time: a quota or a rate of the sender, a DNS blocklist
    naming this machine, or, at the greeting, 554 itself. The one place these words are told
    apart, wherever the reply comes."""
    text = _text(reply)
    if at == "greeting" and code == 554:
        return True
    if _blocklisted(text):
        return True
    if not _LIMIT.search(text) or _SIZE.search(text):
        return False
    if at in ("RCPT TO", "DATA") and _MAILBOX.search(text):
        return bool(_SENDING.search(text))  # the recipient's mailbox, unless the sender's
    return True


def _turned_away(said: str, code: int, reply: object,
                 kind: type[TurnedAway] = TurnedAway) -> TurnedAway:
    """A refusal that :func:`passes_with_time`, ``said`` naming what was refused."""
    if _blocklisted(_text(reply)):
        return kind(f"{said}: a blocklist the server consults names this machine or its "
                    "sender domain, for every message, which usually passes; tried again "
                    "later, and if it lasts, ask the list named for removal")
    return kind(f"{said}: a sending quota or rate limit, which passes with time; "
                "tried again later, and if it lasts, see the server's limits for this sender")


class Connection:
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
            no_delay(smtp)
            smtp.ehlo()
            lacking = _NO_STARTTLS
            if s.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            lacking = _NO_LOGIN
            if s.username:
                smtp.login(s.username, self.password or "")
        except smtplib.SMTPConnectError as error:
            if error.smtp_code < 500:
                raise  # 421, busy for now: tried again as a dropped connection
            said = (f"the SMTP server {s.host}:{s.port} refused the session: "
                    f"{_reply(error.smtp_code, error.smtp_error)}")
            if passes_with_time(error.smtp_code, error.smtp_error, at="greeting"):
                raise TurnedAway(f"{said}: no service for this machine for now (a blocklist "
                                 "the server consults, or its load), which usually passes; "
                                 "tried again later, and if it lasts, ask the server's "
                                 "operator, or check smtp.host and smtp.port") from None
            raise Fatal(f"{said}; check smtp.host and smtp.port, or the server's rules for "
                        "this machine") from None
        except smtplib.SMTPAuthenticationError as error:
            if error.smtp_code < 500:
                # 454, a temporary authentication failure (the server's password store did
                # not answer): the same password may be taken next time.
                raise
            raise Fatal(f"the SMTP server {s.host}:{s.port} refused the login of "
                         f"{s.username}: {error.smtp_code} {_text(error.smtp_error)}; check "
                         "smtp.username and the password variable") from None
        except smtplib.SMTPNotSupportedError as error:
            raise Fatal(f"the SMTP server {s.host}:{s.port}: {error}; {lacking}") from None
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError):
            # The connection dropped during the handshake (a busy server, the network): the
            # same settings may work next time. A certificate or protocol that does not match
            # (below) will not.
            raise
        except ssl.SSLError as error:
            raise Fatal(f"TLS with {s.host}:{s.port} failed ({error}); check smtp.security "
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


# What to change when the server lacks what the settings ask of it (smtplib's "STARTTLS
# extension not supported by server." names neither the setting nor the fix).
_NO_STARTTLS = ("it offers no STARTTLS: for a server that takes mail without TLS (a relay on "
                "this machine, a test server) write smtp.security: none; for one that speaks "
                "TLS from the start (port 465) write security: ssl")
_NO_LOGIN = ("it offers no login (AUTH) here: if it takes mail without one, leave out "
             "smtp.username; if it offers a login only over TLS, write smtp.security: "
             "starttls or ssl")


def _text(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).split())


def _reply(code: int, message: object) -> str:
    return f"{code} {_text(message)}".strip()


class Failed(Exception):
    """The retries ran out; ``uncertain`` when a connection dropped in mid-transaction, after
    which only the server knows whether it kept the message."""

    def __init__(self, message: str, *, uncertain: bool, fatal: bool,
                 untried: bool = False) -> None:
        super().__init__(message)
        self.uncertain = uncertain
        self.fatal = fatal  # the server is unreachable: stop rather than wait out the
        # retries once per subscriber
        self.untried = untried  # no try reached the recipient: the message was not tried


def deliver_one(connection: Connection, sender: str, address: str, message: bytes,
                retry: Retry, sleep: Callable[[float], None] = time.sleep) -> bool:
    """Hand one message to the server and return once it is accepted.

    Returns whether an earlier try dropped in mid-transaction (the server may then hold the
    message twice: SMTP cannot tell). Raises :class:`Permanent` for a 5xx refusing the
    address, :class:`Refused` for a 5xx refusing the message, :class:`Fatal` for a settings
    problem (:class:`TurnedAway` for a refusal that passes with time: a 554 greeting, a
    sender's quota or rate, a blocklist naming this machine, wherever it comes),
    :class:`Failed` when the retries for 4xx replies and dropped connections ran out.
    """
    started = time.monotonic()
    delay = retry.first_delay
    attempt = 0
    uncertain = False
    tried = False  # a try reached the recipient (RCPT TO) or dropped in mid-transaction
    while True:
        attempt += 1
        replied = False  # the server answered: it certainly did not take the message
        try:
            smtp = connection.open()
        except Fatal as error:  # the greeting, TLS, the login: before this message
            error.untried = not tried
            raise
        except (smtplib.SMTPException, OSError) as error:  # refused, timed out: nothing sent
            last: Exception = error
        else:
            try:
                smtp.sendmail(sender, [address], message)
                return uncertain
            except smtplib.SMTPRecipientsRefused as error:
                code, reply = error.recipients.get(address, (450, b"refused"))
                if code >= 500:
                    raise _message_refused(address, code, reply, "RCPT TO") from None
                last, replied, tried = smtplib.SMTPResponseException(code, reply), True, True
            except smtplib.SMTPSenderRefused as error:  # MAIL FROM: before the recipient
                if error.smtp_code >= 500:
                    refused = _sender_refused(sender, error.smtp_code, error.smtp_error)
                    refused.untried = not tried
                    raise refused from None
                last, replied = error, True
            except smtplib.SMTPResponseException as error:  # DATA refused, among others
                if error.smtp_code >= 500:
                    raise _message_refused(address, error.smtp_code, error.smtp_error,
                                           "DATA") from None
                last, replied, tried = error, True, True
            except (smtplib.SMTPException, OSError) as error:  # dropped in mid-transaction
                last, uncertain, tried = error, True, True
        connection.close()  # 4xx or a broken session: start again on a fresh connection
        elapsed = time.monotonic() - started
        if attempt >= retry.attempts or elapsed + delay > retry.max_total:
            if replied:  # a 4xx for this message: the others may still go through
                raise Failed(_describe(last), uncertain=uncertain, fatal=False)
            s = connection.settings
            if isinstance(last, smtplib.SMTPResponseException):  # 421 greeting, 454 login
                raise Failed(f"the SMTP server {s.host}:{s.port} turned the session away for "
                              f"now, {attempt} times (last: {_describe(last)}): a busy server "
                              "or one of its services down; tried again later, and if it "
                              "lasts, ask the server's operator", uncertain=uncertain, fatal=True,
                              untried=not tried)
            raise Failed(f"the SMTP server {s.host}:{s.port} is unreachable or keeps dropping "
                          f"the connection ({attempt} attempts; last: {_describe(last)}); "
                          "check smtp.host, smtp.port and smtp.security",
                          uncertain=uncertain, fatal=True, untried=not tried)
        sleep(delay)
        delay *= 2


def _sender_refused(sender: str, code: int, reply: object) -> Fatal:
    """A 5xx to MAIL FROM: the sender refused (:class:`Fatal`), or over its quota or rate
    for now (:class:`TurnedAway`)."""
    said = f"the server refused the sender {sender}: {_reply(code, reply)}"
    if passes_with_time(code, reply):
        return _turned_away(said, code, reply)
    return Fatal(f"{said}; check email.from")


def _message_refused(address: str, code: int, reply: object, at: str) -> Exception:
    """A 5xx ``at`` RCPT TO or after DATA: a limit of the sender or a blocklist naming this
    machine (:class:`Limited`: every message would get it, for now, unless it is this
    recipient's alone), else a refusal of the address (:class:`Permanent`, at RCPT TO) or of
    this message (:class:`Refused`)."""
    if passes_with_time(code, reply, at=at):
        return _turned_away(f"the server refused the message to {address}: "
                            f"{_reply(code, reply)}", code, reply, Limited)
    if at == "RCPT TO" and _refuses_the_address(reply):
        return Permanent(_reply(code, reply))
    return Refused(_reply(code, reply))


def refused_session(config: Config, password: str | None) -> Fatal | None:
    """Why the server refuses this client's session (its greeting; the login, 535; the
    sender, a 5xx to MAIL FROM), asked once before a run starts its senders, as it would
    refuse each of them alike. None when it takes both, or cannot tell now (unreachable,
    busy): the senders' own retries deal with that."""
    connection = Connection(config, password)
    sender = envelope_sender(config)
    try:
        smtp = connection.open()
        code, reply = smtp.mail(sender)
        if code >= 500:
            return _sender_refused(sender, code, reply)
        smtp.rset()
    except Fatal as error:
        return error
    except (smtplib.SMTPException, OSError, ValueError):
        pass
    finally:
        connection.close()
    return None


def _describe(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        return _reply(error.smtp_code, error.smtp_error)
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def envelope_sender(config: Config) -> str:
    """The bare address of ``email.from``: the SMTP envelope sender (MAIL FROM)."""
    try:
        return mailbox(config.email.sender)[1]
    except ValueError as error:
        raise NewsletterError(f"email.from: {error}; correct it in the configuration") from None
