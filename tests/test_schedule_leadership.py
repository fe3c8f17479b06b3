"""A scheduler that stops being the active one in the middle of a run, against a real
PostgreSQL: it stops before its next step instead of finishing a run that the scheduler now
active makes too. Skips, saying why, without PostgreSQL."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
from collections import Counter
from pathlib import Path

import pytest

from conftest import state_sql, write_article, write_config
from newsletter.core.config import load_config
from newsletter.publishing import build
from newsletter.schedule import loop
from newsletter.state.leadership import LeadershipLost
from postgresql_support import end_leadership, people, start, wait_for
from sending_support import add_people
from smtp_support import Recorder, parts, smtp_server

pytestmark = pytest.mark.usefixtures("secret")


def issue_page(folder: Path, slug: str) -> str:
    return (folder / "issues" / slug / "index.html").read_text("utf-8")


def test_a_scheduler_frozen_mid_run_leaves_the_run_to_the_one_that_took_over(
        tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """The active scheduler freezes after rendering the issue and before writing it (a
    machine paused, cut off); PostgreSQL ends its session, the standby takes over, reads the
    corpus as it is by then (an article's title was corrected meanwhile) and waits for the
    output folder, which the frozen one still holds. The frozen one wakes: it stops before
    writing and lets go of the folder; the standby builds, publishes and sends the issue, so
    the published page stays the one the subscribers were sent, and the frozen one neither
    sends nor records."""
    now = dt.datetime.now(dt.UTC)
    fire = (now - dt.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    published = fire - dt.timedelta(days=1)
    write_article(tmp_path / "articles", "story", publishedDateTime=published,
                  title="Chips ship late")
    everyone = people(20)
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config_path = write_config(
            tmp_path, state_url=postgres_url, state_dir=str(tmp_path / "state"),
            schedule={"cron": f"{fire.minute} {fire.hour} * * *", "catch_up_hours": 3,
                      "send": True},
            smtp={"host": "127.0.0.1", "port": port})
        config = load_config(config_path)
        add_people(config, tmp_path, [f"{p},," for p in everyone])
        real_render = build.render_issue_files
        successor = tmp_path / "successor.log"
        standbys = []

        def rendered_then_frozen(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            result = real_render(*args, **kwargs)
            write_article(tmp_path / "articles", "story", publishedDateTime=published,
                          title="Chips ship on time, after all")
            end_leadership(postgres_url, os.getpid())
            standbys.append(start(config_path, successor, "schedule", "--once"))
            wait_for(lambda: f"waiting for PID {os.getpid()}" in successor.read_text(),
                     "the standby to wait for the output folder", timeout=120)
            return result

        monkeypatch.setattr(build, "render_issue_files", rendered_then_frozen)
        lost: LeadershipLost | None = None
        with caplog.at_level(logging.INFO, "newsletter"):
            try:
                loop.run_scheduler(config, once=True, clock=lambda: now)
            except LeadershipLost as error:
                lost = error
        assert standbys and standbys[0].wait(timeout=120) == 0, successor.read_text()
    text = successor.read_text()
    assert "built and published" in text, text
    page = issue_page(tmp_path, fire.date().isoformat())
    assert "Chips ship on time, after all" in page  # not overwritten by the frozen one
    assert "Chips ship late" not in page
    assert recorder.count() == Counter({address: 1 for address in everyone})
    assert all("on time, after all" in parts(message)[1]
               for message in recorder.parsed().values())
    assert "built and published" not in caplog.text
    assert "sending issue" not in caplog.text
    assert lost is not None, caplog.text
    message = str(lost)
    assert "no longer the active scheduler" in message and "before writing" in message
    assert state_sql(config, "SELECT count(*) FROM schedule_runs") == [(1,)]


def test_an_active_scheduler_whose_session_ended_between_runs_stops_and_says_why(
        tmp_path: Path, postgres_url: str) -> None:
    """Two ``newsletter schedule`` processes, waiting for Monday: the active one's session
    ends; the standby takes over, and the former one exits 1 within seconds, saying that it
    is no longer the active scheduler (not that a run failed) and how it comes back."""
    config_path = write_config(tmp_path, state_url=postgres_url,
                               schedule={"cron": "0 7 * * mon", "catch_up_hours": 1})
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    first = start(config_path, logs[0], "schedule")
    second = None
    try:
        wait_for(lambda: "next run: " in logs[0].read_text() or first.poll() is not None,
                 "the active scheduler")
        second = start(config_path, logs[1], "schedule")
        wait_for(lambda: "standing by" in logs[1].read_text() or second.poll() is not None,
                 "the standby")
        end_leadership(postgres_url, first.pid)
        assert first.wait(timeout=60) == 1, logs[0].read_text()
        wait_for(lambda: "next run: " in logs[1].read_text() or second.poll() is not None,
                 "the standby to take over")
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
    text = logs[0].read_text()
    assert "Error: this scheduler is no longer the active scheduler of " in text, text
    assert "It stopped before its next run" in text and "make it a standby" in text
    assert "the run failed" not in text and "Traceback" not in text
    assert "taking over as the active scheduler" in logs[1].read_text()
    assert second is not None and second.returncode == 0, logs[1].read_text()
