"""The SMTP server the delivery tests send to, and how they read what it received.

``Recorder`` is an aiosmtpd handler that keeps every message it accepts and misbehaves on
cue (refuses, answers 451, drops the line, holds its reply); ``smtp_server`` runs it on
127.0.0.1 on a free port for the length of a ``with`` block (``smtp_server_on``: on the
port a config already names). ``parse`` and ``parts`` turn what it kept back into a message
and its decoded text and HTML; ``token_of`` and ``key_in`` read and check a message's
unsubscribe token. ``FAST`` is a retry schedule short enough for a test to wait out.

A module of its own, not a test module, so that every test file that sends imports it the
same way (``from smtp_support import ...``, tests/ being on sys.path as for conftest.py)
whatever order pytest collects them in.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from newsletter.delivery.smtp import Retry
from newsletter.delivery.tokens import check_token

FAST = Retry(attempts=4, first_delay=0.01, max_total=5)


class Recorder:
    """An aiosmtpd handler that keeps every accepted message, and can misbehave on cue:
    ``reject`` answers 550 at RCPT; ``temporary`` answers 451 at DATA so many times per
    address; from ``hold_after`` messages on, DATA keeps the message but holds back the
    reply until ``release`` is set; ``drop`` keeps the message and closes the connection
    instead of replying, so many times per address."""

    def __init__(self, *, reject: set[str] | None = None,
                 temporary: dict[str, int] | None = None, hold_after: int | None = None,
                 delay: float = 0.0, drop: dict[str, int] | None = None) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.rcpt_calls: Counter[str] = Counter()
        self.data_calls: Counter[str] = Counter()
        self.reject = reject or set()
        self.temporary = dict(temporary or {})
        self.hold_after = hold_after
        self.delay = delay
        self.held: list[str] = []
        self.release = threading.Event()
        self.drop = dict(drop or {})

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        self.rcpt_calls[address] += 1
        if address in self.reject:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        (address,) = envelope.rcpt_tos
        self.data_calls[address] += 1
        if self.temporary.get(address, 0) > 0:
            self.temporary[address] -= 1
            return "451 4.3.0 Try again later"
        if self.delay:
            await asyncio.sleep(self.delay)
        hold = self.hold_after is not None and len(self.messages) >= self.hold_after
        self.messages.append((address, envelope.content))
        if self.drop.get(address, 0) > 0:  # kept, then the line goes dead before the reply
            self.drop[address] -= 1
            server.transport.close()
            return None
        if hold:  # taken, but the client does not hear so (yet)
            self.held.append(address)
            while not self.release.is_set():
                await asyncio.sleep(0.005)
        return "250 2.0.0 OK: queued"

    def count(self) -> Counter[str]:
        return Counter(address for address, _ in self.messages)

    def parsed(self) -> dict[str, EmailMessage]:
        return {address: parse(raw) for address, raw in self.messages}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server(recorder: Recorder) -> Iterator[int]:
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        recorder.release.set()
        controller.stop()


@contextmanager
def smtp_server_on(recorder: Recorder, port: int) -> Iterator[int]:
    """An aiosmtpd server on ``port``, the one the configuration names."""
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def parts(message: EmailMessage) -> tuple[str, str]:
    """The decoded text and HTML parts, with \\n line ends."""
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    return text.replace("\r\n", "\n"), html.replace("\r\n", "\n")


def token_of(message: EmailMessage) -> str:
    match = re.search(r"<https://[^>]*unsubscribe\?token=([^>]+)>", message["List-Unsubscribe"])
    assert match, message["List-Unsubscribe"]
    return match.group(1)


def key_in(secret: bytes, token: str, purpose: str = "unsubscribe") -> str | None:
    checked = check_token(secret, token, purpose)
    return checked.key if checked else None
