"""Ctrl-C to the scheduler while its run sends: the first asks for a stop once the run in
progress has ended; the second says what it still waits for and how to stop at once; the
third stops at once, and the next send names the message that was in flight and sends it
again. A real ``newsletter schedule`` process, aiosmtpd holding its reply to the message."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time

from conftest import PROJECT, SECRET, make_config, reap, write_article
from sending_support import add_people
from smtp_support import Recorder, smtp_server

AGAIN = ("received SIGINT again: still waiting for the run in progress to end (its send goes "
         "on until every subscriber left is tried); SIGINT (Ctrl-C) or SIGTERM once more "
         "stops at once")


def _wait_for(log, text: str, process: subprocess.Popen, count: int = 1) -> None:
    deadline = time.monotonic() + 30
    while log.read_text("utf-8").count(text) < count:
        assert process.poll() is None, log.read_text("utf-8")
        assert time.monotonic() < deadline, log.read_text("utf-8")
        time.sleep(0.05)


def test_a_third_ctrl_c_stops_a_long_send_at_once(tmp_path):
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)  # in the window of today's
    write_article(tmp_path / "articles", "one", quality=80, publishedDateTime=yesterday)
    recorder = Recorder(hold_after=0)
    with smtp_server(recorder) as port:
        config = make_config(tmp_path, state_dir="state",
                             schedule={"cron": "* * * * *", "catch_up_hours": 1,
                                       "send": True},
                             smtp={"host": "127.0.0.1", "port": port})
        add_people(config, tmp_path, ["ada@example.org,,", "bob@example.org,,"])
        log = tmp_path / "schedule.log"
        env = {**os.environ, "NEWSLETTER_SECRET": SECRET, "PYTHONPATH": str(PROJECT)}
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "newsletter", "--config", str(config.path),
                 "schedule"], stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, env=env)
        try:
            _wait_for(log, "Sending issue", process)
            deadline = time.monotonic() + 30
            while not recorder.messages:  # the first message is held at the server
                assert time.monotonic() < deadline, log.read_text("utf-8")
                time.sleep(0.05)
            process.send_signal(signal.SIGINT)
            _wait_for(log, "received SIGINT: stopping", process)
            process.send_signal(signal.SIGINT)
            _wait_for(log, AGAIN, process)
            assert process.poll() is None  # still waiting for the send
            process.send_signal(signal.SIGINT)
            process.wait(timeout=20)
        finally:
            reap(process)
        said = log.read_text("utf-8")
        assert process.returncode == 128 + signal.SIGINT, said
        assert "received SIGINT a third time: stopping at once" in said
        assert "Traceback" not in said
        recorder.release.set()
