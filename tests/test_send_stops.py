"""A send that stops before the end says why once and counts what it left: when the SMTP
session itself fails (no STARTTLS where smtp.security asks for it, no AUTH where a username is
set, a refused login, nothing listening), no subscriber is named as failed, since none of
their messages was tried: they are counted as not attempted, and the next run sends each of
them once, as any other. Ctrl-C stops a run once the messages in flight are settled, says what
went, and exits 130; the same command continues. On the plain send, ``--workers N`` and the
schedule's send alike; aiosmtpd on 127.0.0.1, real ``newsletter send`` processes."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from conftest import both, make_config, run, state_sql, write_article
from newsletter.core.config import load_config
from newsletter.delivery import send as deliver
from newsletter.delivery.smtp import Retry
from newsletter.schedule.runs import check_due, run_pass
from scheduler_support import FIRE
from sending_support import ISSUE, add_people, in_flight_named, ledger, project, start_send
from smtp_support import Recorder, free_port, smtp_server

pytestmark = pytest.mark.usefixtures("secret")

PEOPLE = ["ada@example.org", "bob@example.org", "cy@example.org"]
SUMMARY = f"Issue {ISSUE}: 0 sent, 0 bounced, 0 failed, 3 not attempted, 0 skipped."

# How the session fails: the settings that meet it, the server (None: nothing listens), and
# what the one line naming it says (the advice that was there before stays).
NO_STARTTLS = "it offers no STARTTLS: for a server that takes mail without TLS"
NO_LOGIN = "it offers no login (AUTH) here: if it takes mail without one, leave out smtp.username"
REFUSED_LOGIN = "refused the login of newsletter: 535"
UNREACHABLE = "is unreachable or keeps dropping the connection"
LOGIN = {"username": "newsletter", "password_env": "SMTP_PASSWORD"}
FAILURES = {
    "no STARTTLS": ({"security": "starttls"}, "plain", NO_STARTTLS),
    "no AUTH": (LOGIN, "plain", NO_LOGIN),
    "refused login": (LOGIN, "refusing", REFUSED_LOGIN),
    "nothing listens": ({}, None, UNREACHABLE),
}


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused connection is retried with backoff: seconds, not a minute, in a test."""
    monkeypatch.setattr(deliver, "DEFAULT_RETRY", Retry(attempts=2, first_delay=0.01, max_total=2))
    monkeypatch.setenv("SMTP_PASSWORD", "wrong")


def _refuse(server, session, envelope, mechanism, data):  # noqa: ANN001, ANN202
    return AuthResult(success=False, handled=False)  # aiosmtpd answers 535


@contextmanager
def failing_server(kind: str | None) -> Iterator[int]:
    """A port where the session fails: a plain aiosmtpd (no TLS, no login), one refusing
    every login, or nothing at all."""
    port = free_port()
    if kind is None:
        yield port
        return
    options: dict[str, Any] = {}
    if kind == "refusing":
        options = {"auth_required": True, "auth_require_tls": False, "authenticator": _refuse}
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
    assert recorder.messages == []


def set_smtp(config_path: Path, **smtp: object) -> None:
    data = yaml.safe_load(config_path.read_text("utf-8"))
    data["smtp"] = {"host": "127.0.0.1", **smtp}
    config_path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")


def said_once_blaming_nobody(lines: list[str], said: str) -> None:
    """One line names the server's problem (with the setting to change); no subscriber is
    named as failed; the three messages are counted as not attempted, the totals add up."""
    assert [line for line in lines if said in line] == [
        line for line in lines if line.startswith("error: ")
    ], lines
    assert len([line for line in lines if said in line]) == 1, lines
    assert not any(line.startswith("failed: ") or "@example.org" in line for line in lines)
    assert "Stopped: 3 message(s) not attempted." in lines, lines
    assert SUMMARY in lines, lines


def untouched(config_path: Path) -> None:
    """Nothing in the ledger names them: no delivery, nothing in flight, no claim failed."""
    config = load_config(config_path)
    assert ledger(config) == []
    assert state_sql(config, "SELECT email FROM attempts") == []
    assert state_sql(config, "SELECT email FROM claims WHERE failed_run != ''") == []


def sent_once_when_fixed(config_path: Path, folder: Path) -> None:
    """The settings corrected (a plain server, no login): each of them gets the issue once."""
    recorder = Recorder()
    with smtp_server(recorder) as port:
        set_smtp(config_path, port=port, security="none")
        again = run(folder, "send", ISSUE.isoformat())
    assert again.exit_code == 0, again.output
    assert f"Issue {ISSUE}: 3 sent, 0 bounced, 0 failed, 0 skipped." in again.output
    assert not in_flight_named(again.output)
    assert recorder.count() == Counter({address: 1 for address in PEOPLE})


@both
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("failure", FAILURES)
def test_a_session_that_fails_names_the_server_and_blames_no_subscriber(
    site: Path, tmp_path: Path, failure: str
) -> None:
    settings, kind, said = FAILURES[failure]
    with failing_server(kind) as port:
        config_path = project(site, tmp_path, port)
        set_smtp(config_path, port=port, **settings)
        add_people(load_config(config_path), tmp_path, [f"{a},," for a in PEOPLE])
        result = run(tmp_path, "send", ISSUE.isoformat())
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    said_once_blaming_nobody(lines, said)
    untouched(config_path)
    sent_once_when_fixed(config_path, tmp_path)


@both
@pytest.mark.parametrize("failure", ["no STARTTLS", "nothing listens"])
@pytest.mark.parametrize("spread", [("--workers", "2"), ()])
def test_with_workers_or_connections_a_failed_session_blames_no_subscriber(
    site: Path, tmp_path: Path, failure: str, spread: tuple[str, ...]
) -> None:
    """``--workers 2``, or two connections in one process, as a real process: asked once
    for the whole run, or met by each sender, the line is said once, nobody is blamed."""
    settings, kind, said = FAILURES[failure]
    with failing_server(kind) as port:
        config_path = project(site, tmp_path, port, concurrency=1 if spread else 2)
        set_smtp(config_path, port=port, concurrency=1 if spread else 2, **settings)
        add_people(load_config(config_path), tmp_path, [f"{a},," for a in PEOPLE])
        sender = start_send(config_path, *spread, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output = sender.communicate(timeout=120)[0].decode()
    assert sender.returncode == 1, output
    said_once_blaming_nobody(output.splitlines(), said)
    untouched(config_path)
    sent_once_when_fixed(config_path, tmp_path)


@pytest.mark.parametrize("failure", ["no STARTTLS", "nothing listens"])
def test_the_schedules_send_says_the_same(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    """The schedule's send against a server without STARTTLS, or none at all: its log says
    the server's problem once and blames nobody; the run fails counting them not attempted
    (waiting for a person, or tried again on the timer); once the setting is corrected the
    next pass sends each of them once."""
    settings, kind, said = FAILURES[failure]
    write_article(tmp_path / "articles", "one", quality=80)
    schedule = {"cron": "0 7 * * mon", "catch_up_hours": 24, "send": True}
    with failing_server(kind) as port:
        config = make_config(
            tmp_path,
            state_dir="state",
            schedule=schedule,
            smtp={"host": "127.0.0.1", "port": port, **settings},
        )
        add_people(config, tmp_path, [f"{a},," for a in PEOPLE])
        with caplog.at_level(logging.INFO, "newsletter"):
            assert not run_pass(config, FIRE + dt.timedelta(seconds=5))
    lines = [record.getMessage() for record in caplog.records]
    assert not any("@example.org" in line for line in lines), lines
    sent = [
        line
        for line in lines
        if line.startswith(("error: ", "failed: ", "Stopped:", f"Issue {ISSUE}:"))
    ]
    assert sent[0].startswith("error: the SMTP server") and said in sent[0], lines
    assert sent[1:] == ["Stopped: 3 message(s) not attempted.", SUMMARY], lines
    if failure == "nothing listens":  # passes with time: the run is tried again on its timer
        assert any(
            f"sending issue {ISSUE} did not reach every subscriber: {SUMMARY}" in line
            for line in lines
        ), lines
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = make_config(
            tmp_path,
            state_dir="state",
            schedule=schedule,
            smtp={"host": "127.0.0.1", "port": port, "security": "none"},
        )
        assert run_pass(config, FIRE + dt.timedelta(minutes=5))
    assert recorder.count() == Counter({address: 1 for address in PEOPLE})
    assert check_due(config, FIRE + dt.timedelta(minutes=6)).action == "done"


# -- Ctrl-C ------------------------------------------------------------------------------------


@both
@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_stops_after_the_messages_in_flight_and_says_what_went(
    site: Path, tmp_path: Path, workers: int
) -> None:
    """SIGINT to the terminal's foreground group (the send and, with ``--workers``, its
    worker processes) while messages go out: no traceback; every message the server took is
    in the ledger and none is left in flight; the run says how many went and how many were
    not attempted, and how to continue; status 130. The same command sends the rest, each
    once."""
    people = [f"i{n:02d}@example.org" for n in range(30)]
    recorder = Recorder(delay=0.1)  # slow enough for Ctrl-C to come mid-run
    with smtp_server(recorder) as port:
        config_path = project(site, tmp_path, port)
        add_people(load_config(config_path), tmp_path, [f"{p},," for p in people])
        sender = start_send(
            config_path,
            "--workers",
            str(workers),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while len(recorder.messages) < 3:
            assert sender.poll() is None, sender.communicate()[0].decode()
            assert time.monotonic() < deadline, "the send never reached the server"
            time.sleep(0.01)
        os.killpg(sender.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        output = sender.communicate(timeout=60)[0].decode()
        config = load_config(config_path)
        went = len(recorder.messages)
        assert sender.returncode == 130, output
        assert "Traceback" not in output, output
        assert (
            output.count("Interrupted: stopping once the message(s) in flight are settled") == 1
        ), output
        assert (
            f"Issue {ISSUE}: {went} sent, 0 bounced, 0 failed, {30 - went} not "
            "attempted, 0 skipped."
        ) in output, output
        assert went < 30, output
        assert (
            f"Run `newsletter send {ISSUE}` to continue where this run stopped; those "
            "already sent are not sent twice."
        ) in output, output
        assert len(ledger(config)) == went  # settled: what the server took is recorded
        assert state_sql(config, "SELECT email FROM attempts") == []
        resumed = run(tmp_path, "send", ISSUE.isoformat())
    assert resumed.exit_code == 0, resumed.output
    assert not in_flight_named(resumed.output)
    assert f"{30 - went} sent, 0 bounced, 0 failed, {went} skipped" in resumed.output
    assert recorder.count() == Counter({p: 1 for p in people})
