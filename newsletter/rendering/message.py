"""The email as sent: headers and quoted-printable parts, built once per set of sections
(a :class:`MessageTemplate`) and joined with each subscriber's address and unsubscribe token.

The template is split where the unsubscribe token goes. The token alphabet (base64url and
".") is literal in quoted-printable and in HTML attributes, so the substitution is exact.
One builder serves the sample message in each issue folder and real sends, so the sample
shows what is sent.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import re
from dataclasses import dataclass
from email import quoprimime
from urllib.parse import urlsplit

from ..core import headers
from ..core.config import Config
from ..core.errors import NewsletterError
from ..core.models import Issue
from ..core.site_url import one_click
from ..core.timing import issue_time
from .mail import PREFERENCES_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER, RenderedEmail

TEST_SUBJECT_PREFIX = "[TEST] "


class MessageError(ValueError):
    """The message for one subscriber cannot be built (an address no header can carry)."""


def mailbox(value: str) -> tuple[str, str]:
    """(display name, ASCII address) of a configured ``Name <local@domain>``; raises
    :class:`headers.HeaderError` for an address a message cannot carry."""
    display, spec = email.utils.parseaddr(headers.one_line(value))
    return display, headers.addr_spec(spec)


def _address_header(name: str, value: str, key: str) -> bytes:
    try:
        display, spec = mailbox(value)
        return headers.address(name, display, spec)
    except headers.HeaderError as error:
        raise NewsletterError(f"{key}: {error}; correct it in the configuration") from None


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
    return ".".join([*labels, headers.ascii_domain(parts.hostname or "localhost")])


@dataclass(frozen=True)
class MessageTemplate:
    """The message for one set of sections, ready for any subscriber."""

    issue: Issue
    site_url: str
    host: str
    segments: tuple[bytes, ...]  # the rest of the message, split where each token goes
    slots: tuple[str, ...]  # which token goes between segments i and i + 1
    unsubscribe_url: str  # ends with "token="
    mailto: str | None
    date: dt.datetime  # the issue's time: the Date of a message no clock was given for
    test: bool = False

    def message_id(self, address: str) -> str:
        """Deterministic from site, issue and address: a repeated message is recognisably
        the same one (receivers drop duplicates by Message-ID); test copies are unique."""
        if self.test:
            return email.utils.make_msgid("test", domain=self.host)
        digest = hashlib.sha256(
            f"{self.site_url}\x00{self.issue.slug}\x00{address}".encode()).hexdigest()
        return f"<{self.issue.slug}.{digest[:16]}@{self.host}>"

    def render(self, address: str, name: str, token: str,
               preferences: str | None = None, *, sent: float | None = None) -> bytes:
        """The complete message for one subscriber (CRLF line ends, 7-bit): ``token`` goes
        in the unsubscribe links, ``preferences`` (default: ``token``) in the preferences
        link. ``sent``: when it leaves (seconds since the epoch, the sender's clock), its Date,
        in UTC; without it, the issue's time, as the sample shows. A send gives it: a message
        sent before its issue's time (an issue published ahead) or long after it (a send
        retried the next day) would otherwise carry a Date in the future or the past, which
        spam filters count against it and mail apps that sort by Date misplace."""
        tokens = {"unsubscribe": token, "preferences": preferences or token}
        if not all(re.fullmatch(r"[A-Za-z0-9_.=-]*", t) for t in tokens.values()):
            raise MessageError("a link token holds characters a URL cannot carry")
        try:
            to = headers.address("To", name, address)
        except headers.HeaderError as error:
            raise MessageError(f"the message cannot be built: {error}") from None
        list_unsubscribe = f"List-Unsubscribe: <{self.unsubscribe_url}{token}>"
        if self.mailto:
            mailto = f"<mailto:{self.mailto}?subject=unsubscribe>"
            # One line while it fits (a URL cannot be folded, and the messages of issues
            # already out stay as they were); else folded between the two.
            fits = len(list_unsubscribe) + 2 + len(mailto) <= headers.LINE_LIMIT
            list_unsubscribe += (", " if fits else ",\r\n ") + mailto
        if any(len(line) > headers.LINE_LIMIT for line in list_unsubscribe.split("\r\n")):
            raise MessageError("the message cannot be built: the unsubscribe link is longer "
                               f"than a mail header line may be ({headers.LINE_LIMIT})")
        date = email.utils.format_datetime(
            self.date if sent is None else dt.datetime.fromtimestamp(sent, dt.UTC))
        head = (to + f"Date: {date}\r\nMessage-ID: {self.message_id(address)}\r\n"
                     f"{list_unsubscribe}\r\n".encode("ascii"))
        body = [self.segments[0]]
        for slot, segment in zip(self.slots, self.segments[1:], strict=True):
            body += [_token_lines(tokens[slot]), segment]
        return head + b"".join(body)


def build_template(config: Config, issue: Issue, rendered: RenderedEmail, *,
                   test: bool = False) -> MessageTemplate:
    """Headers shared by every subscriber and both parts, quoted-printable, split at the
    links the renderer marked for each subscriber's tokens (``RenderedEmail.slots``)."""
    subject = (TEST_SUBJECT_PREFIX if test else "") + rendered.subject
    host = headers.ascii_domain(urlsplit(config.site_url).hostname or "localhost")
    digest = hashlib.sha256("\x00".join((subject, rendered.text, rendered.html))
                            .encode("utf-8")).hexdigest()
    boundary = f"=_newsletter_{digest[:32]}"  # "=_" never occurs in quoted-printable
    mailto = None
    if config.email.unsubscribe_mailto:
        try:
            mailto = mailbox(config.email.unsubscribe_mailto)[1]
        except headers.HeaderError as error:
            raise NewsletterError(f"email.unsubscribe_mailto: {error}; correct it in the "
                                  "configuration") from None
    lines = [
        _address_header("From", config.email.sender, "email.from"),
        headers.unstructured("Subject", subject),
    ]
    if config.email.reply_to:
        lines.append(_address_header("Reply-To", config.email.reply_to, "email.reply_to"))
    lines += [
        headers.angle("List-Id", config.title, _list_id(config)),
    ]
    # RFC 8058 allows it only for an https link; the operator may leave it out knowingly.
    if config.email.one_click_unsubscribe and one_click(config.site_url):
        lines.append(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
    lines += [
        b"MIME-Version: 1.0\r\n",
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n'
        .encode("ascii"),
    ]

    slots: list[str] = []

    def part(subtype: str, text: str) -> list[bytes]:
        between, names = rendered.slots.get(subtype if subtype == "html" else "text",
                                             ((text,), ()))
        if not between[-1].endswith("\n"):
            between = (*between[:-1], between[-1] + "\n")
        pieces = [_qp(piece) for piece in between]
        slots.extend(names)
        pieces[0] = (f"--{boundary}\r\nContent-Type: text/{subtype}; charset=\"utf-8\"\r\n"
                     "Content-Transfer-Encoding: quoted-printable\r\n\r\n").encode("ascii") \
            + pieces[0]
        pieces[-1] += b"\r\n"
        return pieces

    text_part, html_part = part("plain", rendered.text), part("html", rendered.html)
    segments = [*text_part[:-1], text_part[-1] + html_part[0], *html_part[1:]]
    segments[0] = b"".join(lines) + segments[0]
    segments[-1] += f"--{boundary}--\r\n".encode("ascii")
    return MessageTemplate(issue, config.site_url, host, tuple(segments), tuple(slots),
                           f"{config.site_url}unsubscribe?token=", mailto,
                           issue_time(config, issue), test)


SAMPLE_RECIPIENT = ("Subscriber", "subscriber@example.invalid")


def sample_message(config: Config, issue: Issue, rendered: RenderedEmail) -> bytes:
    """The message every subscriber gets, addressed to a placeholder recipient and carrying
    the placeholder token: ``email.eml`` in each issue folder, for an editor to open in a mail
    client. One builder for samples and real sends, so the sample shows what is sent."""
    name, address = SAMPLE_RECIPIENT
    return build_template(config, issue, rendered).render(address, name,
                                                          UNSUBSCRIBE_PLACEHOLDER,
                                                          PREFERENCES_PLACEHOLDER)


def notice_message(config: Config, address: str, rendered: RenderedEmail, *,
                   date: dt.datetime, message_id: str, unsubscribe_url: str = "") -> bytes:
    """A one-off message (confirmation, welcome) to ``address``, the bare address in
    ``To:``: text, then HTML, quoted-printable, CRLF, 7-bit. ``date`` and ``message_id``
    come from the caller, so the same inputs give the same bytes. With ``unsubscribe_url``
    (the welcome: a subscriber's first message of the list), the list's headers as an
    issue carries them, so that mail apps offer their own unsubscribe button."""
    digest = hashlib.sha256(f"{message_id}\x00{rendered.text}".encode()).hexdigest()
    boundary = f"=_newsletter_{digest[:32]}"
    try:
        to = headers.address("To", "", address)
    except headers.HeaderError as error:
        raise MessageError(f"the message cannot be built: {error}") from None
    lines = [
        _address_header("From", config.email.sender, "email.from"),
        to,
        headers.unstructured("Subject", rendered.subject),
        f"Date: {email.utils.format_datetime(date)}\r\n".encode("ascii"),
        f"Message-ID: {message_id}\r\n".encode("ascii"),
    ]
    if config.email.reply_to:
        lines.append(_address_header("Reply-To", config.email.reply_to, "email.reply_to"))
    if unsubscribe_url:
        lines.append(headers.angle("List-Id", config.title, _list_id(config)))
        mailto = config.email.unsubscribe_mailto
        links = [unsubscribe_url, *([f"mailto:{mailbox(mailto)[1]}?subject=unsubscribe"]
                                    if mailto else [])]
        lines.append(("List-Unsubscribe: " + ",\r\n ".join(f"<{link}>" for link in links)
                      + "\r\n").encode("ascii"))
        if config.email.one_click_unsubscribe and one_click(config.site_url):
            lines.append(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
    lines += [
        b"Auto-Submitted: auto-generated\r\n",  # RFC 3834: no auto-replies to this
        b"MIME-Version: 1.0\r\n",
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n'
        .encode("ascii"),
    ]
    body = b""
    for subtype, part in (("plain", rendered.text), ("html", rendered.html)):
        if not part.endswith("\n"):
            part += "\n"
        body += (f"--{boundary}\r\nContent-Type: text/{subtype}; charset=\"utf-8\"\r\n"
                 "Content-Transfer-Encoding: quoted-printable\r\n\r\n").encode("ascii")
        body += _qp(part) + b"\r\n"
    return b"".join(lines) + body + f"--{boundary}--\r\n".encode("ascii")
