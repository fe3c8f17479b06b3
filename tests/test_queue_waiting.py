"""The queue of confirmation and welcome emails after an SMTP server was down: what
``send-pending`` says of the emails waiting out their retry delay (how many, and when the
next is tried), once the server is back; ``serve`` started again (the operator fixed smtp)
tries them at once, but never one another sender has claimed meanwhile, and still down
says what waits and that it reads smtp only when it starts."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import SECRET, both, run, state_sql
from newsletter.core.config import Config
from newsletter.delivery.mailqueue import QueueSender, send_pending
from signup_support import Reader, configure
from smtp_support import FAST, Recorder, free_port, smtp_server_on
from web_support import serving

pytestmark = pytest.mark.usefixtures("secret")


@both
def test_send_pending_counts_the_confirmation_waiting_for_its_retry(site: Path,
                                                                    tmp_path: Path) -> None:
    port = free_port()  # nothing listens there: the server is down
    config = configure(site, tmp_path, port)
    with serving(config) as http_port:  # no sender: the queue stays as it is
        assert Reader(http_port).subscribe("ada@example.org")[0] == 200
    report = send_pending(config, log=lambda line: None, retry=FAST)
    assert report.retrying == ["ada@example.org"]
    due = dt.datetime.fromisoformat(state_sql(config, "SELECT due_at FROM mail_queue")[0][0])
    recorder = Recorder()
    with smtp_server_on(recorder, port):  # the server is back; the retry is not due yet
        result = run(tmp_path, "send-pending")
    assert result.exit_code == 0, result.output
    assert (f"Queued emails: 0 sent, 1 to retry later (the next at "
            f"{due.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC), 0 failed, 0 no longer needed."
            in result.output), result.output
    assert queue(config) == [("confirm", "ada@example.org", "queued")]
    assert recorder.count() == {}


def queue(config: Config) -> list[tuple[str, str, str]]:
    return [tuple(row) for row in state_sql(config, "SELECT kind, email, status FROM "
                                                    "mail_queue ORDER BY id")]


def _waiting_confirmation(site: Path, tmp_path: Path) -> tuple[Config, int]:
    """A project whose SMTP server was down when Ada signed up: her confirmation waits."""
    port = free_port()
    config = configure(site, tmp_path, port)
    with serving(config) as http_port:
        assert Reader(http_port).subscribe("ada@example.org")[0] == 200
    assert send_pending(config, log=lambda line: None, retry=FAST).retrying == [
        "ada@example.org"]
    return config, port


def _start_and_stop(config: Config, until: Callable[[list[str]], bool]) -> list[str]:
    """The sender thread `serve` starts, run until ``until(lines)`` (10 s at most)."""
    lines: list[str] = []
    sender = QueueSender(config, SECRET.encode(), log=lines.append, retry=FAST, poll=0.05)
    sender.start()
    try:
        deadline = time.monotonic() + 10
        while not until(lines) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sender.stop()
    return lines


@both
def test_serve_started_again_sends_the_waiting_confirmation_at_once(site: Path,
                                                                    tmp_path: Path) -> None:
    config, port = _waiting_confirmation(site, tmp_path)
    recorder = Recorder()
    with smtp_server_on(recorder, port):  # fixed; the retry is still 2 minutes away
        lines = _start_and_stop(config, lambda lines: any("sent to" in x for x in lines))
        time.sleep(0.3)  # a second pass, if any, sends nothing more
    assert lines[:2] == ["mail queue: trying the 1 email(s) waiting for a retry now",
                         "confirm email sent to ada@example.org"], lines
    assert recorder.count() == {"ada@example.org": 1}
    assert queue(config) == [("confirm", "ada@example.org", "sent")]


@both
def test_serve_started_again_leaves_a_confirmation_another_sender_claimed(
        site: Path, tmp_path: Path) -> None:
    config, port = _waiting_confirmation(site, tmp_path)
    leased = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)  # its retry came, and
    state_sql(config, "UPDATE mail_queue SET due_at = ?, attempts = attempts + 1",  # another
              leased.isoformat(timespec="seconds"))  # sender claimed it, as _claim does
    recorder = Recorder()
    with smtp_server_on(recorder, port):
        lines = _start_and_stop(config, lambda lines: any("retry later" in x for x in lines))
    assert recorder.count() == {}, lines
    assert not any("trying the" in line for line in lines), lines
    assert queue(config) == [("confirm", "ada@example.org", "queued")]


def test_serve_started_with_smtp_still_wrong_says_what_waits_and_to_restart(
        site: Path, tmp_path: Path) -> None:
    config, _ = _waiting_confirmation(site, tmp_path)  # and nothing listens there still
    lines = _start_and_stop(config, lambda lines: any("retry later" in x for x in lines))
    said = [line for line in lines if line.startswith("mail queue: 0 sent, 1 to retry later")]
    assert said and said[0].endswith("This process read the configuration when it started: "
                                     "after a change to smtp, restart it."), lines
