"""The queue of confirmation and welcome emails after an SMTP server was down: what
``send-pending`` says of the emails waiting out their retry delay (how many, and when the
next is tried), once the server is back."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from pathlib import Path

import pytest

from conftest import SECRET, run
from newsletter.delivery.mailqueue import QueueSender, send_pending
from newsletter.state.database import state_path
from signup_support import Reader, configure, queue
from smtp_support import FAST, Recorder, free_port, smtp_server_on
from web_support import serving

pytestmark = pytest.mark.usefixtures("secret")


def test_send_pending_counts_the_confirmation_waiting_for_its_retry(site: Path,
                                                                    tmp_path: Path) -> None:
    port = free_port()  # nothing listens there: the server is down
    config = configure(site, tmp_path, port)
    with serving(config) as http_port:  # no sender: the queue stays as it is
        assert Reader(http_port).subscribe("ada@example.org")[0] == 200
    report = send_pending(config, log=lambda line: None, retry=FAST)
    assert report.retrying == ["ada@example.org"]
    with sqlite3.connect(state_path(config)) as db:
        due = dt.datetime.fromisoformat(db.execute("SELECT due_at FROM mail_queue").fetchone()[0])
    recorder = Recorder()
    with smtp_server_on(recorder, port):  # the server is back; the retry is not due yet
        result = run(tmp_path, "send-pending")
    assert result.exit_code == 0, result.output
    assert (f"Queued emails: 0 sent, 1 to retry later (the next at "
            f"{due.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC), 0 failed, 0 no longer needed."
            in result.output), result.output
    assert queue(config) == [("confirm", "ada@example.org", "queued")]
    assert recorder.count() == {}


def test_serve_started_again_says_what_waits_and_that_it_reads_smtp_at_start(
        site: Path, tmp_path: Path) -> None:
    port = free_port()
    config = configure(site, tmp_path, port)
    with serving(config) as http_port:
        assert Reader(http_port).subscribe("ada@example.org")[0] == 200
    send_pending(config, log=lambda line: None, retry=FAST)  # the server was down
    lines: list[str] = []
    sender = QueueSender(config, SECRET.encode(), log=lines.append, retry=FAST, poll=0.05)
    with smtp_server_on(Recorder(), port):
        sender.start()  # what `serve` starts
        try:
            deadline = time.monotonic() + 10
            while not lines and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            sender.stop()
    assert lines and lines[0].startswith("mail queue: 0 sent, 1 to retry later (the next at ")
    assert lines[0].endswith("This process read the configuration when it started: after a "
                             "change to smtp, restart it."), lines
