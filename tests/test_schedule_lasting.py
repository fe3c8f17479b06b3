"""A scheduled run that fails for a lasting reason (``--strict`` refusing an invalid article,
the SMTP server refusing the login or the sender, a broken template, a file where a folder
should be, a folder the scheduler may not write in) is not tried again on the timer: it is
logged once, with its cause, its fix and the commands that make the run by hand, and tried
again when what it depends on changes. Each failure is made on the real thing (aiosmtpd, the
file system, a non-root user); the clock is injected, as in test_schedule_faults."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import logging
import os
import signal
import socket
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from conftest import make_config, state_sql, write_article
from newsletter.core.config import Config, load_config
from newsletter.core.errors import NewsletterError
from newsletter.delivery import send as deliver
from newsletter.delivery.send import SendReport
from newsletter.delivery.smtp import Retry
from newsletter.rendering.templating import TEMPLATES
from newsletter.schedule.failures import SendFailed, lasting
from newsletter.schedule.runs import check_due, run_pass
from newsletter.state.database import open_database
from scheduler_support import (
    FIRE,
    ShiftedClock,
    issue_status,
    run_loop,
    scheduled,
    writing_where_it_may_not,
)
from sending_support import add_people
from smtp_support import Recorder, free_port

pytestmark = pytest.mark.usefixtures("secret", "in_project")

PEOPLE = ["ada@example.org", "bob@example.org", "cy@example.org"]
BY_HAND = "make it by hand with `newsletter build --date 2021-02-22 --publish"


@pytest.fixture(autouse=True)
def fast_smtp_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deliver, "DEFAULT_RETRY", Retry(attempts=2, first_delay=0.01,
                                                        max_total=2))


def _meanwhile(clock: ShiftedClock, caplog: pytest.LogCaptureFixture,
               seen: list[logging.LogRecord], fix: Callable[[], None]) -> Callable[[], None]:
    """Once the scheduler waits after its failed pass: 40 minutes pass (a run tried again on
    the timer would be due after 1, 2, 5, 10 and 20), the loop looks a few times, what it
    logged by then goes into ``seen``, then ``fix`` corrects the cause."""
    def later() -> None:
        clock.jump(clock() + dt.timedelta(minutes=40))
        time.sleep(4)  # the loop looks every second
        seen.extend(caplog.records)
        fix()

    return lambda: threading.Thread(target=later, daemon=True).start()


def _failures(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records if r.levelno >= logging.ERROR]


def _retried(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records
            if "tried again at" in r.getMessage() or "trying again" in r.getMessage()]


def _saved(config: Config) -> None:
    """The operator saves the configuration file (unchanged: what they fixed is elsewhere)."""
    later = config.path.stat().st_mtime + 2
    os.utime(config.path, (later, later))


def test_a_strict_run_refused_for_an_invalid_article_waits_for_the_article_to_be_fixed(
        tmp_path, monkeypatch, caplog):
    """``schedule --strict`` at Monday's 07:00 with a broken article: the run fails once,
    naming the file and line, the fix and the commands; forty minutes later it has not been
    tried again. The article corrected, the run is made at once."""
    config = scheduled(tmp_path)
    bad = tmp_path / "articles" / "bad.md"
    bad.write_text("---\ntitle: [\n---\nBody.\n", encoding="utf-8")
    clock = ShiftedClock(monkeypatch, FIRE + dt.timedelta(seconds=5))
    seen: list[logging.LogRecord] = []
    fix = _meanwhile(clock, caplog, seen, lambda: write_article(bad.parent, "bad"))
    with caplog.at_level(logging.INFO, "newsletter"):
        passes = run_loop(monkeypatch, config, clock, after_start=fix, passes_wanted=2,
                        limit=30, strict=True)
    assert len(passes) == 2, caplog.text
    (failure,) = _failures(seen)
    assert "the run of 2021-02-22 07:00 UTC (issue 2021-02-22) failed" in failure
    assert "bad.md:3: YAML syntax error" in failure
    assert "fix: correct the files named" in failure
    assert f"{BY_HAND} --strict`" in failure
    assert _retried(seen) == []
    assert f"{bad} changed: trying again the run of 2021-02-22 07:00 UTC" in caplog.text
    assert issue_status(config) == "published"
    assert check_due(config, clock()).action == "done"


def test_a_broken_template_override_waits_for_the_template_to_be_fixed(
        tmp_path, monkeypatch, caplog):
    """A template override with a syntax error on line 2: one failure naming the file and
    line, without a traceback, and no retry on the timer; the template corrected, the run is
    made."""
    write_article(tmp_path / "articles", "one", quality=80)
    overrides = tmp_path / "my-templates"
    overrides.mkdir()
    page = overrides / "issue.html.j2"
    packaged = (TEMPLATES / "issue.html.j2").read_text("utf-8")
    page.write_text("{# an override #}\n{% if %}\n" + packaged, encoding="utf-8")
    config = make_config(tmp_path, state_dir="state", templates="my-templates",
                         schedule={"cron": "0 7 * * mon", "catch_up_hours": 24})
    clock = ShiftedClock(monkeypatch, FIRE + dt.timedelta(seconds=5))
    seen: list[logging.LogRecord] = []
    fix = _meanwhile(clock, caplog, seen, lambda: page.write_text(packaged, encoding="utf-8"))
    with caplog.at_level(logging.INFO, "newsletter"):
        passes = run_loop(monkeypatch, config, clock, after_start=fix, passes_wanted=2, limit=30)
    assert len(passes) == 2, caplog.text
    (failure,) = _failures(seen)
    assert f"{page}:2: TemplateSyntaxError" in failure
    assert "newsletter check" in failure and f"{BY_HAND}`" in failure
    assert "Traceback" not in caplog.text
    assert _retried(seen) == []
    assert f"{page} changed: trying again the run" in caplog.text
    assert issue_status(config) == "published"


def test_a_file_where_the_issue_folder_should_be_waits_for_it_to_be_moved(
        tmp_path, monkeypatch, caplog):
    """A file named like the issue's folder in the output folder: one failure naming it, no
    retry on the timer; the file moved away, the run is made."""
    config = scheduled(tmp_path)
    config.output.mkdir()
    squatter = config.output / "2021-02-22"
    squatter.write_text("not a folder", encoding="utf-8")
    clock = ShiftedClock(monkeypatch, FIRE + dt.timedelta(seconds=5))
    seen: list[logging.LogRecord] = []
    fix = _meanwhile(clock, caplog, seen, lambda: squatter.rename(tmp_path / "moved-away"))
    with caplog.at_level(logging.INFO, "newsletter"):
        passes = run_loop(monkeypatch, config, clock, after_start=fix, passes_wanted=2, limit=30)
    assert len(passes) == 2, caplog.text
    (failure,) = _failures(seen)
    assert f"{squatter}/overrides.yaml" in failure and "Not a directory" in failure
    assert _retried(seen) == []
    assert f"{squatter} changed: trying again the run" in caplog.text
    assert issue_status(config) == "published"


class RefusingSender(Recorder):
    """Takes the first ``take`` messages, then answers MAIL FROM with a permanent 550 (the
    account was suspended) until ``fixed`` is set."""

    def __init__(self, take: int) -> None:
        super().__init__()
        self.take = take
        self.fixed = threading.Event()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        if not self.fixed.is_set() and len(self.messages) >= self.take:
            return "550 5.7.1 Sender not allowed: account suspended"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"


def _sending(folder: Path, port: int, **smtp: str) -> Config:
    write_article(folder / "articles", "one", quality=80)
    config = make_config(folder, state_dir="state",
                         schedule={"cron": "0 7 * * mon", "catch_up_hours": 24, "send": True},
                         smtp={"host": "127.0.0.1", "port": port, **smtp})
    add_people(config, folder, [f"{address},," for address in PEOPLE])
    return config


def test_a_send_refused_midway_for_a_lasting_reason_resumes_once_fixed_and_sends_each_once(
        tmp_path, monkeypatch, caplog):
    """The server takes two messages, then refuses the sender (550) for good: the run fails
    once, saying so, and is not tried again on the timer. Once the account is restored and
    the configuration file saved, the run sends to the third subscriber only."""
    recorder = RefusingSender(take=2)
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = _sending(tmp_path, port)
        clock = ShiftedClock(monkeypatch, FIRE + dt.timedelta(seconds=5))
        seen: list[logging.LogRecord] = []

        def fix() -> None:
            recorder.fixed.set()
            _saved(config)

        with caplog.at_level(logging.INFO, "newsletter"):
            passes = run_loop(monkeypatch, config, clock, passes_wanted=2, limit=30,
                            after_start=_meanwhile(clock, caplog, seen, fix),
                            reload=lambda: load_config(config.path))
    finally:
        controller.stop()
    assert len(passes) == 2, caplog.text
    (failure,) = _failures(seen)
    assert ("the server refused the sender newsletter@news.example.org: 550 5.7.1 Sender not "
            "allowed: account suspended; check email.from") in failure
    assert "subscribers already sent are not sent again" in failure
    # published by the run and sent to two: what is left by hand is the rest of the send
    assert failure.endswith("once fixed, send the rest by hand with `newsletter send "
                            "2021-02-22` (issue 2021-02-22 is published, partly sent: 2 sent, "
                            "0 bounced, 1 left)"), failure
    assert _retried(seen) == []
    assert "which failed (see above), runs now if it is still due" in caplog.text
    assert recorder.count() == Counter({address: 1 for address in PEOPLE})
    assert state_sql(config, "SELECT count(*) FROM deliveries WHERE status = 'sent'") == [(3,)]
    assert check_due(config, clock()).action == "done"


def _failing_once_through(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        recorder: Recorder, server: dict[str, Any], **smtp: str,
) -> tuple[Config, int, str, list[logging.LogRecord]]:
    """The scheduler from just after FIRE until forty minutes later, sending through aiosmtpd
    (``server``: its options) with ``smtp`` settings, where the run fails exactly once: the
    configuration, the server's port, that one failure and every record logged."""
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, **server)
    controller.start()
    try:
        config = _sending(tmp_path, port, **smtp)
        clock = ShiftedClock(monkeypatch, FIRE + dt.timedelta(seconds=5))
        seen: list[logging.LogRecord] = []
        stop = _meanwhile(clock, caplog, seen, lambda: os.kill(os.getpid(), signal.SIGTERM))
        with caplog.at_level(logging.INFO, "newsletter"):
            passes = run_loop(monkeypatch, config, clock, after_start=stop, limit=30)
    finally:
        controller.stop()
    assert len(passes) == 1, caplog.text
    (failure,) = _failures(seen)
    return config, port, failure, seen


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_refused_smtp_login_is_logged_once_and_not_tried_again_on_the_timer(
        tmp_path, monkeypatch, caplog):
    """The server answers 535 to the login: one failure naming the server, the account and
    the reply, and how to fix it; forty minutes later, no retry has knocked at the server."""
    monkeypatch.setenv("SMTP_PASSWORD", "wrong")
    attempts: list[bytes] = []

    def authenticator(server, session, envelope, mechanism, data):  # noqa: ANN001, ANN202
        attempts.append(data.login)
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535

    recorder = Recorder()
    server = {"auth_required": True, "auth_require_tls": False,
              "authenticator": authenticator, "auth_exclude_mechanism": ["LOGIN"]}
    _, port, failure, seen = _failing_once_through(
        tmp_path, monkeypatch, caplog, recorder, server,
        username="newsletter", password_env="SMTP_PASSWORD")
    assert f"the SMTP server 127.0.0.1:{port} refused the login of newsletter: 535" in failure
    assert "check smtp.username and the password variable" in failure
    assert "needs a restart of the scheduler" in failure
    assert _retried(seen) == []
    assert attempts == [b"newsletter"]
    assert recorder.messages == []


def test_a_missing_smtp_password_variable_is_logged_once_with_the_fix(
        tmp_path, monkeypatch, caplog):
    """smtp.password_env names a variable the scheduler's environment lacks: one failure
    naming the variable and the fix, and no retry on the timer (every run would fail alike
    until the scheduler is started with it); no connection reaches the server."""
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    recorder = Recorder()
    _, _, failure, seen = _failing_once_through(
        tmp_path, monkeypatch, caplog, recorder, {},
        username="newsletter", password_env="SMTP_PASSWORD")
    assert "the environment variable SMTP_PASSWORD (smtp.password_env) is not set" in failure
    assert "fix: set SMTP_PASSWORD in the environment the scheduler starts in" in failure
    assert _retried(seen) == []
    assert recorder.messages == []


def test_an_smtp_username_without_its_password_variable_waits_for_the_config(
        tmp_path, monkeypatch, caplog):
    """smtp.username without smtp.password_env: the configuration warns of it, and the run
    fails once naming the key and the fix, with no retry on the timer; no connection reaches
    the server."""
    recorder = Recorder()
    config, _, failure, seen = _failing_once_through(
        tmp_path, monkeypatch, caplog, recorder, {}, username="newsletter")
    assert any(w.startswith("smtp.username: set, but smtp.password_env is not")
               for w in config.warnings)
    assert "smtp.username is set but smtp.password_env is not" in failure
    assert _retried(seen) == []
    assert recorder.messages == []


def test_a_read_only_state_database_is_a_lasting_failure(tmp_path, monkeypatch):
    """SQLite refuses to write (the database opened read-only, as on a read-only mount):
    lasting, with the fix, and tried again once the database or its folder changes."""
    config = make_config(tmp_path, state_dir="state")
    add_people(config, tmp_path, ["ada@example.org,,"])
    real_connect = sqlite3.connect

    def read_only(database, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        kwargs.pop("uri", None)
        return real_connect(f"file:{database}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", read_only)
    with pytest.raises(NewsletterError) as refused:
        add_people(config, tmp_path, ["bob@example.org,,"])
    found = lasting(refused.value, config)
    assert found is not None, refused.value
    assert "is read-only for this user" in found.cause
    database = config.state_dir / "newsletter.sqlite3"
    assert found.inputs == (database, database.parent)
    assert f"write {database} and its folder" in found.fix


@contextlib.contextmanager
def _greeting(reply: bytes) -> Iterator[int]:
    """A server on 127.0.0.1 that answers each connection with ``reply`` and hangs up, as a
    server refusing this machine does; its port. It reads what the client sent first (a TLS
    client's hello) so that hanging up is a plain end of the connection, never a reset."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with contextlib.suppress(OSError):  # closed at the end of the test
            while True:
                client, _ = listener.accept()
                with client:
                    client.settimeout(5)
                    client.sendall(reply)
                    with contextlib.suppress(OSError):
                        client.recv(65536)  # the client's hello, or its hanging up

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def test_a_554_greeting_passes_and_a_521_greeting_lasts(tmp_path, caplog):
    """554 at the greeting ("no SMTP service here", RFC 5321: for this machine, for now: a
    blocklist the server consults, its load) fails the run, which is tried again on the
    timer, as a 421 (busy) is, with a log naming the reply; nobody is sent anything or
    bounced. 521 ("this host does not accept mail", RFC 7504) fails it for good: smtp.host
    names a server that takes no mail, and only a person can change that."""
    with _greeting(b"554 5.7.1 Service unavailable; client blocked using a DNSBL\r\n") as port:
        config = _sending(tmp_path / "blocked", port)
        with caplog.at_level(logging.INFO, "newsletter"):
            outcome = run_pass(config, FIRE + dt.timedelta(minutes=1))
    assert not outcome and outcome.lasting is None, caplog.text
    assert (f"error: the SMTP server 127.0.0.1:{port} refused the session: 554 5.7.1 Service "
            "unavailable; client blocked using a DNSBL: no service for this machine for now "
            "(a blocklist the server consults, or its load), which usually passes; tried "
            "again later") in caplog.text
    assert state_sql(config, "SELECT count(*) FROM deliveries") == [(0,)]
    assert state_sql(config, "SELECT DISTINCT status FROM subscribers") == [("active",)]
    caplog.clear()
    with _greeting(b"521 5.3.2 This host does not accept mail\r\n") as port:
        config = _sending(tmp_path / "refused", port)
        with caplog.at_level(logging.INFO, "newsletter"):
            outcome = run_pass(config, FIRE + dt.timedelta(minutes=1))
    assert not outcome and outcome.lasting is not None, caplog.text
    assert (f"the SMTP server 127.0.0.1:{port} refused the session: 521 5.3.2 This host does "
            "not accept mail; check smtp.host and smtp.port") in outcome.lasting.cause
    caplog.clear()
    with _greeting(b"421 4.3.2 Busy, try later\r\n") as port:
        config = _sending(tmp_path / "busy", port)
        with caplog.at_level(logging.INFO, "newsletter"):
            outcome = run_pass(config, FIRE + dt.timedelta(minutes=1))
    assert not outcome and outcome.lasting is None
    assert (f"error: the SMTP server 127.0.0.1:{port} turned the session away for now, 2 "
            "times (last: 421 4.3.2 Busy, try later): a busy server or one of its services "
            "down; tried again later, and if it lasts, ask the server's operator"
            ) in caplog.text


class QuotaRunsOut(Recorder):
    """Takes the first ``take`` messages, then answers MAIL FROM with the sender's quota run
    out (a 5xx) until ``reset`` is set, as a relay's daily quota does until the next day."""

    def __init__(self, take: int, reply: str) -> None:
        super().__init__()
        self.take = take
        self.reply = reply
        self.reset = threading.Event()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        if not self.reset.is_set() and len(self.messages) >= self.take:
            return self.reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"


@pytest.mark.parametrize("reply", ["550 5.7.0 Quota exceeded for sender",
                                   "554 5.7.1 Too many messages, rate limit reached"])
def test_a_sender_quota_run_out_midway_passes_and_the_retry_sends_each_once(tmp_path, caplog,
                                                                           reply):
    """The relay takes two messages, then refuses the sender for its quota or rate (a 5xx to
    MAIL FROM): the run fails for a reason that passes, and is tried again on the timer
    (not left waiting for a person, as a sender refused for good is). Once the quota is
    reset, the run tried again sends to the third subscriber only: each has it once."""
    relay = QuotaRunsOut(take=2, reply=reply)
    port = free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = _sending(tmp_path, port)
        with caplog.at_level(logging.INFO, "newsletter"):
            outcome = run_pass(config, FIRE + dt.timedelta(minutes=1))
        assert not outcome and outcome.lasting is None, caplog.text
        assert (f"the server refused the sender newsletter@news.example.org: {reply}: a "
                "sending quota or rate limit, which passes with time") in caplog.text
        assert "check email.from" not in caplog.text
        relay.reset.set()
        assert run_pass(config, FIRE + dt.timedelta(minutes=2)), caplog.text
    finally:
        controller.stop()
    assert relay.count() == Counter({address: 1 for address in PEOPLE})
    assert state_sql(config, "SELECT count(*) FROM deliveries WHERE status = 'sent'") == [(3,)]
    assert state_sql(config, "SELECT DISTINCT status FROM subscribers") == [("active",)]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_temporary_login_failure_passes(tmp_path, monkeypatch, caplog):
    """454 to the login (the server's password store did not answer) is a passing failure,
    tried again on the timer, as a 421 greeting is: the password may be taken next time. The
    login was asked for on each try, and the log names the 454."""
    monkeypatch.setenv("SMTP_PASSWORD", "right")
    attempts: list[bytes] = []

    def authenticator(server, session, envelope, mechanism, data):  # noqa: ANN001, ANN202
        attempts.append(data.login)
        return AuthResult(success=False, handled=False,
                          message="454 4.7.0 Temporary authentication failure")

    port = free_port()
    controller = Controller(Recorder(), hostname="127.0.0.1", port=port, auth_required=True,
                            auth_require_tls=False, authenticator=authenticator,
                            auth_exclude_mechanism=["LOGIN"])
    controller.start()
    try:
        config = _sending(tmp_path, port, username="newsletter", password_env="SMTP_PASSWORD")
        with caplog.at_level(logging.INFO, "newsletter"):
            outcome = run_pass(config, FIRE + dt.timedelta(minutes=1))
    finally:
        controller.stop()
    assert not outcome and outcome.lasting is None
    assert attempts == [b"newsletter", b"newsletter"]  # each of the two tries logged in
    assert (f"error: the SMTP server 127.0.0.1:{port} turned the session away for now, 2 "
            "times (last: 454 4.7.0 Temporary authentication failure): a busy server or one "
            "of its services down") in caplog.text


def test_a_tls_handshake_the_server_drops_passes(tmp_path, caplog):
    """A server that hangs up during the TLS handshake (busy, or the network dropped it) is
    tried again on the timer, as any dropped connection: the settings are not at fault. The
    log names the end of the connection in the handshake: an EOF where the handshake expects
    a record, or the end of the TLS session, as the timing of the hang-up decides."""
    with _greeting(b"") as port:
        config = _sending(tmp_path, port, security="ssl")
        with caplog.at_level(logging.INFO, "newsletter"):
            outcome = run_pass(config, FIRE + dt.timedelta(minutes=1))
    assert not outcome and outcome.lasting is None
    dropped = (f"error: the SMTP server 127.0.0.1:{port} is unreachable or keeps dropping "
               "the connection (2 attempts; last: SSL")
    assert any(dropped + ending in caplog.text
               for ending in ("EOFError: ", "ZeroReturnError: ")), caplog.text


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to the user nobody needs root")
def test_an_output_folder_the_scheduler_may_not_write_in_is_a_lasting_failure(tmp_path):
    """As a non-root user, writing the issue into a folder it may not write in fails with
    EACCES (wrapped by the one writer): a lasting failure, whose fix names the user, and
    whose inputs are the folder, so that a chmod or a chown tries the run again."""
    locked, answer = writing_where_it_may_not(scheduled(tmp_path))
    assert "[Errno 13] Permission denied" in answer, answer
    assert f"cannot write in {locked}" in answer
    assert "let the user running the scheduler (nobody) write there" in answer
    assert f"PosixPath('{locked}')" in answer


def test_passing_failures_are_still_tried_again(tmp_path):
    """What goes away by itself is not lasting: a full disk, the database unreachable (a real
    PostgreSQL connection refused), an SMTP server unreachable or deferring messages."""
    config = scheduled(tmp_path)
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", str(config.output))
        except OSError as full:
            raise NewsletterError(f"cannot write in {config.output}: {full}") from full
    except NewsletterError as error:
        assert lasting(error, config) is None
    down = make_config(tmp_path, state_url=f"postgresql://127.0.0.1:{free_port()}/nowhere")
    with pytest.raises(NewsletterError) as unreachable:
        open_database(down).close()
    assert lasting(unreachable.value, down) is None
    deferred = SendReport("2021-02-22", sent=["ada@example.org"], failed=["bob@example.org"])
    assert lasting(SendFailed("sending issue 2021-02-22 failed", deferred), config) is None
    refused = SendReport("2021-02-22", failed=PEOPLE, refused="535 authentication failed")
    found = lasting(SendFailed("sending issue 2021-02-22 failed", refused), config)
    assert found is not None and found.cause == "535 authentication failed"
