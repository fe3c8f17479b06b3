"""A server refusing the session (the login, 535; the sender, a 5xx to MAIL FROM) gives the
same answer to every sender of a run: ``send --workers N`` asks once, before any worker
starts, and a refusal one worker meets later stops the others too, whatever their process."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from conftest import both, run, state_sql, write_config
from newsletter.core.config import load_config
from newsletter.delivery.subscribers import list_subscribers
from sending_support import (
    EMAIL,
    ISSUE,
    NEXT_ISSUE,
    TOPICS,
    add_people,
    ledger,
    project,
    start_send,
)
from smtp_support import Recorder, free_port, smtp_server

pytestmark = pytest.mark.usefixtures("secret")  # NEWSLETTER_SECRET: readers' links are signed

PEOPLE = [f"s{n:02d}@example.org" for n in range(30)]
QUOTA = "550 5.7.1 Sender address rejected: daily sending quota exceeded"


def send_with_workers(config_path: Path, workers: int) -> tuple[int, str]:
    sender = start_send(config_path, "--workers", str(workers), stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT)
    output = sender.communicate(timeout=120)[0].decode()
    return sender.returncode, output


def refused_once(status: int, output: str, tries: int, said: str) -> None:
    """The run asked the server once (``tries``) and said ``said`` once, named nobody as
    failed one by one, and attempted no message."""
    assert status == 1, output
    assert tries == 1, (tries, output)
    assert output.count(said) == 1, output
    assert "failed: " not in output, output
    assert f"Stopped: {len(PEOPLE)} message(s) not attempted." in output, output


def nobody_touched(config_path: Path) -> None:
    config = load_config(config_path)
    assert {s.status for s in list_subscribers(config)} == {"active"}
    assert ledger(config) == []


@both
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_a_refused_login_is_tried_once_whatever_the_workers(site: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """``--workers 3`` with two connections each: one refused login, not six; nobody is
    named as failed one by one, and the run says once what to fix."""
    from aiosmtpd.smtp import AuthResult

    refused_sessions: set[object] = set()

    def authenticator(server, session, envelope, mechanism, data):  # noqa: ANN001, ANN202
        refused_sessions.add(session.peer)
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535

    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, auth_required=True,
                            auth_require_tls=False, authenticator=authenticator)
    controller.start()
    monkeypatch.setenv("SMTP_PASSWORD", "wrong")
    try:
        config_path = write_config(
            tmp_path, topics=TOPICS, corpus=str(site / "articles"),
            output=str(site / "issues"), state_dir=str(tmp_path / "state"), email=EMAIL,
            smtp={"host": "127.0.0.1", "port": port, "concurrency": 2,
                  "username": "newsletter", "password_env": "SMTP_PASSWORD"})
        add_people(load_config(config_path), tmp_path, [f"{a},," for a in PEOPLE])
        status, output = send_with_workers(config_path, 3)
    finally:
        controller.stop()
    refused_once(status, output, len(refused_sessions), "refused the login of newsletter: 535")
    assert "error: the SMTP server" in output, output
    assert f"0 sent, 0 bounced, 0 failed, {len(PEOPLE)} not attempted, 0 skipped" in output
    # Sending again as it is would be refused the same way: the run says to correct first.
    assert "to retry the failed ones" not in output, output
    assert "until what the server refused is corrected" in output, output
    assert recorder.messages == []
    nobody_touched(config_path)


class RefusingSender(Recorder):
    """A server refusing the envelope sender: every MAIL FROM answered ``reply``."""

    def __init__(self, reply: str) -> None:
        super().__init__()
        self.reply = reply
        self.mail_from = 0

    async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: N802
        self.mail_from += 1
        return self.reply


SEND_AGAIN = "Run the same command again"
CORRECT_FIRST = "until what the server refused is corrected"


@both
@pytest.mark.parametrize("reply, lasts", [
    ("553 5.7.1 Sender address rejected: not owned by user", True),
    (QUOTA, False),
])
def test_a_refused_sender_is_tried_once_whatever_the_workers(site: Path, tmp_path: Path,
                                                             reply: str, lasts: bool) -> None:
    """Asked once for the whole run; a sender the server does not take must be corrected
    before sending again, while a sender over its quota is sent again as it is, later."""
    refusing = RefusingSender(reply)
    with smtp_server(refusing) as port:
        config_path = project(site, tmp_path, port, concurrency=2)
        add_people(load_config(config_path), tmp_path, [f"{a},," for a in PEOPLE])
        status, output = send_with_workers(config_path, 3)
    refused_once(status, output, refusing.mail_from,
                 f"refused the sender newsletter@news.example.org: {reply}")
    assert (CORRECT_FIRST in output) == lasts and (SEND_AGAIN in output) != lasts, output
    nobody_touched(config_path)


@both
@pytest.mark.parametrize("reply", ["554 5.7.1 Service unavailable; client blocked using a DNSBL",
                                   "554 No SMTP service here"])  # 554 itself, no blocklist
def test_a_554_greeting_is_met_once_whatever_the_workers(site: Path, tmp_path: Path,
                                                         reply: str) -> None:
    """A server answering every connection with 554 (no service for this machine, for now):
    ``--workers 3`` with two connections each connects once, not six times, names the
    reply once and nobody as failed one by one, and, as it passes, says to send again."""
    listener = socket.create_server(("127.0.0.1", 0))
    connections: list[object] = []

    def serve() -> None:
        with contextlib.suppress(OSError):  # closed at the end of the test
            while True:
                client, peer = listener.accept()
                connections.append(peer)
                with client:
                    client.settimeout(5)
                    client.sendall(reply.encode() + b"\r\n")
                    with contextlib.suppress(OSError):
                        client.recv(65536)

    threading.Thread(target=serve, daemon=True).start()
    try:
        config_path = project(site, tmp_path, listener.getsockname()[1], concurrency=2)
        add_people(load_config(config_path), tmp_path, [f"{a},," for a in PEOPLE])
        status, output = send_with_workers(config_path, 3)
    finally:
        listener.close()
    refused_once(status, output, len(connections),
                 f"refused the session: {reply}: no service for this machine for now")
    assert SEND_AGAIN in output and CORRECT_FIRST not in output, output
    nobody_touched(config_path)


class QuotaRunsOut(Recorder):
    """A relay whose sending quota runs out mid-run: the first ``quota`` MAIL FROMs are
    taken, every one after them is refused with ``reply`` (the quota by default, a 5xx
    which passes with time).

    So that the refusal reaches one sender while every other one has a message in flight,
    the replies to the last ``held`` messages before the quota ran out wait (each holds a
    different sender, as a sender has one message in flight at most); the one sender left
    free meets the refusal, and the held replies go once its session has ended."""

    def __init__(self, quota: int, held: int, reply: str = QUOTA) -> None:
        super().__init__()
        self.quota = quota
        self.reply = reply
        self.held_from = quota - held
        self.mails = 0
        self.refused = 0
        self.refused_peer: object = None
        self.refused_session_ended = threading.Event()

    async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: N802
        self.mails += 1
        session.number = self.mails
        if self.mails > self.quota:
            self.refused += 1
            if self.refused_peer is None:
                self.refused_peer = session.peer
            return self.reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.held_from < session.number <= self.quota:
            for _ in range(3000):  # at most 30 s
                if self.refused_session_ended.is_set():
                    break
                await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)

    async def handle_QUIT(self, server, session, envelope):  # noqa: N802
        if session.peer == self.refused_peer:
            self.refused_session_ended.set()
        return "221 Bye"


@both
@pytest.mark.parametrize("reply, lasts", [
    (QUOTA, False),
    ("553 5.7.1 Sender address rejected: not owned by user", True),
])
def test_a_sender_refused_by_one_worker_stops_the_other_workers(site: Path, tmp_path: Path,
                                                                reply: str, lasts: bool
                                                                ) -> None:
    """The quota runs out with three worker processes sending (or the server starts
    refusing the sender for good): the one that meets the refusal stops the run for the
    other two, which send nothing more and are not refused in turn (each stopped only at
    its own refusal: three refusals). A quota passes: the run says to send again, not to
    correct something first; a sender refused for good must be corrected first."""
    workers = 3
    relay = QuotaRunsOut(quota=9, held=workers - 1, reply=reply)
    with smtp_server(relay) as port:
        config_path = project(site, tmp_path, port, concurrency=1)
        add_people(load_config(config_path), tmp_path, [f"{a},," for a in PEOPLE])
        status, output = send_with_workers(config_path, workers)
    assert status == 1, output
    assert relay.refused_session_ended.is_set(), output
    assert relay.refused == 1, (relay.refused, output)
    sent = len(relay.messages)  # the quota, but for a MAIL FROM the run may ask first
    assert sent in (9, 8) and len(relay.count()) == sent, output
    # refused at MAIL FROM, before its recipient: that message was not tried either
    assert "failed: " not in output and output.count(reply) == 1, output
    left = len(PEOPLE) - sent
    assert f"{sent} sent, 0 bounced, 0 failed, {left} not attempted, 0 skipped" in output
    assert f"Stopped: {left} message(s) not attempted." in output, output
    assert (CORRECT_FIRST in output) == lasts and (SEND_AGAIN in output) != lasts, output


class RefusedWhileTheOthersWait(Recorder):
    """Four senders: the replies to the first three messages held (until ``release``), the
    fourth sender refused with ``reply`` (for good by default) once the other three wait
    (the run's own check of the sender, the first MAIL FROM, is taken)."""

    REPLY = "553 5.7.1 Sender address rejected: not owned by user"

    def __init__(self, reply: str = REPLY) -> None:
        super().__init__(hold_after=0)
        self.mails = 0
        self.reply = reply

    async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: N802
        self.mails += 1
        if self.mails == 5:
            for _ in range(3000):  # at most 30 s
                if len(self.held) >= 3:
                    break
                await asyncio.sleep(0.01)
            return self.reply
        envelope.mail_from = address
        return "250 OK"


class RefusedAfterOneRefusedMessage(RefusedWhileTheOthersWait):
    """As :class:`RefusedWhileTheOthersWait`, but the first message is refused after DATA
    for its content first: the run has counted a refusal, in its mark, when the sender is
    refused."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.content_refused = False

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if not self.content_refused:
            self.content_refused = True
            return "554 5.7.1 Message content rejected"
        return await super().handle_DATA(server, session, envelope)


def _worker_processes(parent: int) -> list[int]:
    """The PIDs of the worker processes ``parent`` started (not its resource tracker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
            if int(fields[1]) == parent and b"spawn_main" in command:
                found.append(int(stat.parent.name))
    return found


@pytest.mark.parametrize("reply, said, lasts, relay_of", [
    (RefusedWhileTheOthersWait.REPLY, "; check email.from", True, RefusedWhileTheOthersWait),
    (QUOTA, ": a sending quota or rate limit, which passes with time", False,
     RefusedWhileTheOthersWait),
    (QUOTA, ": a sending quota or rate limit, which passes with time", False,
     RefusedAfterOneRefusedMessage),
])
def test_a_refusal_is_said_as_lasting_or_passing_even_when_the_worker_that_met_it_was_killed(
        site: Path, tmp_path: Path, reply: str, said: str, lasts: bool,
        relay_of: type[RefusedWhileTheOthersWait]) -> None:
    """Both worker processes killed after one met a refused sender (the others waiting for
    replies): what they recorded in the state still stops the run for that reason, named,
    and whether it lasts with it: a sender refused for good must be corrected before
    sending again, a sender over its quota is sent again as it is, later, even when a
    message refused earlier in the run (for its content) was counted first."""
    relay = relay_of(reply)
    with smtp_server(relay) as port:
        config_path = project(site, tmp_path, port, concurrency=2)
        config = load_config(config_path)
        add_people(config, tmp_path, [f"{a},," for a in PEOPLE])
        sender = start_send(config_path, "--workers", "2", stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while not any(row[0] for row in state_sql(config, "SELECT stopped FROM send_runs")):
                assert sender.poll() is None, sender.communicate()[0].decode()
                assert time.monotonic() < deadline, "the refusal was never recorded"
                time.sleep(0.02)
            workers = _worker_processes(sender.pid)
            assert len(workers) == 2, workers
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
        finally:
            relay.release.set()
            output = sender.communicate(timeout=120)[0].decode()
    assert sender.returncode == 1, output
    assert output.count("warning: worker") == 2, output
    assert ("error: the server refused the sender newsletter@news.example.org: "
            f"{reply}{said}") in output, output
    assert (CORRECT_FIRST in output) == lasts and (SEND_AGAIN in output) != lasts, output


# -- the marks of runs that did not end ---------------------------------------------------------

class FirstRefusedThenHeld(Recorder):
    """Each connection's first message refused after DATA (so its run counts a refusal, in
    its mark), the ones after it taken and, while ``release`` is not set, their reply held."""

    def __init__(self) -> None:
        super().__init__(hold_after=0)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if not getattr(session, "refused_one", False):
            session.refused_one = True
            return "554 5.7.1 Message content rejected"
        return await super().handle_DATA(server, session, envelope)


def marks(config_path: Path) -> list[str]:
    return sorted(row[0] for row in state_sql(load_config(config_path),
                                              "SELECT issue FROM send_runs"))


def held_send(config_path: Path, relay: FirstRefusedThenHeld, issue: dt.date
              ) -> subprocess.Popen:
    """``newsletter send issue``, a real process, once it counted a refusal and waits for
    the reply to its next message."""
    already = len(relay.held)
    sender = start_send(config_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        issue=issue)
    deadline = time.monotonic() + 30
    while len(relay.held) == already:
        assert sender.poll() is None, sender.communicate()[0].decode()
        assert time.monotonic() < deadline, "the send never reached the server"
        time.sleep(0.01)
    return sender


@both
def test_a_killed_runs_mark_is_cleared_by_the_next_send_and_by_state_prune(
        site: Path, tmp_path: Path) -> None:
    """A run killed (SIGKILL) or stopped at once (Ctrl-C twice) leaves its mark; nothing
    reads it but its own run, but nothing else deleted it either: one per such run, for
    ever. ``state prune`` and the next send of the issue clear the marks of runs no longer
    alive, and leave a live run's alone."""
    relay = FirstRefusedThenHeld()
    with smtp_server(relay) as port:
        config_path = project(site, tmp_path, port)
        add_people(load_config(config_path), tmp_path, [f"{a},," for a in PEOPLE[:6]])
        live = held_send(config_path, relay, NEXT_ISSUE)
        killed = held_send(config_path, relay, ISSUE)
        killed.kill()
        killed.wait()
        assert marks(config_path) == [ISSUE.isoformat(), NEXT_ISSUE.isoformat()]
        pruned = run(tmp_path, "state", "prune")
        assert pruned.exit_code == 0, pruned.output
        assert marks(config_path) == [NEXT_ISSUE.isoformat()], pruned.output
        assert "Cleared the marks of 1 send run(s) that did not end" in pruned.output
        relay.release.set()  # the live run finishes and clears its own
        assert live.wait(timeout=60) == 1
        assert marks(config_path) == []

        relay.release.clear()
        interrupted = held_send(config_path, relay, ISSUE)
        # Ctrl-C twice: the first waits for the message in flight, the second stops at once
        interrupted.send_signal(signal.SIGINT)
        time.sleep(0.5)
        interrupted.send_signal(signal.SIGINT)
        assert interrupted.wait(timeout=30) == 130
        assert marks(config_path) == [ISSUE.isoformat()]
        relay.release.set()
        again = run(tmp_path, "send", ISSUE.isoformat())
    assert again.exit_code == 1 and "1 failed" in again.output, again.output  # the refused
    assert marks(config_path) == []


# -- which refusals of the session pass ------------------------------------------------------------

# Replies to MAIL FROM, in the words of real relays.
SENDER_LIMITS = [  # a sender over its quota or rate: tried again later
    "550 5.7.0 quota exceeded for sender",
    "554 5.7.1 too many messages / rate limit",
    "550 5.4.5 Daily user sending limit exceeded.",
    "554 Throttling failure: Daily message quota exceeded.",
    "554 5.2.2 mailbox full; STOREDRV.Submission.Exception:SubmissionQuotaExceededException",
    # each of the ways a limit is worded, on its own
    "550 5.7.1 Message rejected: sender is rate-limited",
    "550 5.7.1 Too many messages from this sender",
    "554 5.7.0 Sender throttled by policy",
    "550 5.7.1 Hourly limit of messages hit for this account",
    "550 5.7.1 Message limit reached for this sender",
    "550 5.7.1 You have exceeded your message limit",
    "550 5.7.1 Sender temporarily blocked, please try again later",
    "550 5.4.5 Sending suspended for this account for now",
    "550 5.7.28 Our system has detected an unusual rate of unsolicited mail originating from "
    "your IP address",
]
SENDER_REFUSALS = [  # a sender refused, a login required, a message too big: a person acts
    "553 5.7.1 Sender address rejected: not owned by user",
    "550 5.7.1 Sender not allowed: account suspended",
    "530 5.7.0 Authentication required",
    "552 5.3.4 Message size exceeds fixed limit",
    "552 Message size exceeded the limit",
    "552 5.3.4 Message too big; limit exceeded",
    # 554 is "no service for now" only at the greeting: to MAIL FROM, a sender refused
    "554 5.7.1 Sender address rejected: Access denied",
]
# A DNS blocklist naming this machine passes wherever it is met (Postfix's wording).
BLOCKLISTED = ("554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using "
               "zen.spamhaus.org")
BLOCKLISTS = [BLOCKLISTED,  # and each of the ways a blocklist is named, on its own
              "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using "
              "b.barracudacentral.org",
              "550 5.7.1 Connection from 192.0.2.1 rejected by a DNSBL",
              "550 5.7.1 Your IP address 192.0.2.1 is blacklisted",
              "550 5.7.1 Rejected: 192.0.2.1 is listed at zen.spamhaus.org",
              "554 5.7.1 Blocked - see https://www.spamcop.net/bl.shtml?192.0.2.1",
              # plurals: Comcast's wording
              "554 5.7.1 comcast 192.0.2.1 found on one or more DNSBLs, see "
              "http://postmaster.comcast.net/smtp-error-codes.php#BL000001",
              "550 5.7.1 192.0.2.1 is listed on several RBLs"]
# To MAIL FROM a full mailbox is the sender's own (Exchange refuses its submissions): a limit.
SENDERS_MAILBOX = ["552 5.2.2 Sender mailbox over quota"]
# Replies to RCPT TO or after DATA: the sender's limits and blocklists pass as they do to MAIL
# FROM, but a quota may be the recipient's mailbox full, and that is theirs.
MESSAGE_LIMITS = [*SENDER_LIMITS, *BLOCKLISTS,
                  "554 Throttling failure: Maximum sending rate exceeded.",
                  # a mailbox named, but for the sender's sending: each way, on its own
                  "550 5.4.5 Daily sending limit reached for this mailbox",
                  "552 5.2.2 Mailbox has exceeded its send quota",
                  "550 5.7.1 Client host 192.0.2.1 is on our block list (S3150)",
                  "550 5.7.1 Rejected: 192.0.2.1 listed in an RBL"]
RECIPIENT_REFUSALS = [
    "552 5.2.2 The email account that you tried to reach is over quota",
    "552 5.2.2 Quota exceeded (mailbox for user is full)",
    "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException",
    "550 Mailbox over quota",
    "550 5.1.1 No such user",
    "550 5.7.1 Message rejected as spam by Content Filtering",
    "554 5.7.1 Message rejected: a link in the body is listed in dbl.spamhaus.org",
    "554 5.7.1 Service unavailable; Recipient address [example.org] blocked using dbl.example",
    "552 5.3.4 Message size exceeds fixed limit",
    "554 5.7.1 <ada@example.org>: Relay access denied",
    # a recipient's full mailbox, each of the ways it is said on its own
    "552 5.2.2 Quota exceeded",
    "552 Requested mail action aborted: mailbox quota exceeded",
    "552 The recipient's inbox has exceeded its quota",
    "552 User storage quota exceeded",
    "552 Account full: quota exceeded",
    "550 User is over quota",
    # a blocklist naming the message's links or content, each way on its own
    "554 5.7.1 Rejected: URL blocked using multi.uribl.com",
    "554 5.7.1 Rejected: a link in the message is listed in dbl.spamhaus.org",
    "554 5.7.1 Rejected: the message body names a domain listed in dbl.spamhaus.org",
    "550 5.7.1 Message content rejected: a domain in it is on a block list",
]
# Greetings: 554 is "no SMTP service here" for now; 521, a host that takes no mail.
GREETINGS_THAT_PASS = ["554 5.7.1 Service unavailable; client blocked using zen.spamhaus.org",
                       "554 No SMTP service here"]
GREETINGS_THAT_LAST = ["521 5.3.2 This host does not accept mail"]


@pytest.mark.parametrize("reply, at, passes", [
    *((reply, "MAIL FROM", True) for reply in [*SENDER_LIMITS, *BLOCKLISTS, *SENDERS_MAILBOX]),
    *((reply, "MAIL FROM", False) for reply in SENDER_REFUSALS),
    *((reply, at, True) for reply in MESSAGE_LIMITS for at in ("RCPT TO", "DATA")),
    *((reply, at, False) for reply in RECIPIENT_REFUSALS for at in ("RCPT TO", "DATA")),
    *((reply, "greeting", True) for reply in GREETINGS_THAT_PASS),
    *((reply, "greeting", False) for reply in GREETINGS_THAT_LAST),
])
def test_which_refusals_pass_with_time(reply: str, at: str, passes: bool) -> None:
    from newsletter.delivery.smtp import passes_with_time

    code, text = reply.split(" ", 1)
    assert passes_with_time(int(code), text, at=at) == passes
