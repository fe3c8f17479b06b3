"""Retries of a failed run under PostgreSQL leadership, against a real PostgreSQL: only the
active scheduler tries a failed run again (a standby never does, and finds it done when it
takes over), and one that stopped being the active scheduler does not try it again. Skips,
saying why, without PostgreSQL."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
from collections import Counter
from pathlib import Path

import pytest

from conftest import state_sql, write_article, write_config
from newsletter.core.config import Config, load_config
from newsletter.delivery import send as deliver
from newsletter.delivery.smtp import Retry
from newsletter.schedule import job
from newsletter.state.leadership import LeadershipLost
from postgresql_support import end_leadership, start, wait_for
from scheduler_support import ShiftedClock, run_loop
from sending_support import add_people
from smtp_support import Recorder, free_port, smtp_server_on

pytestmark = pytest.mark.usefixtures("secret")

PEOPLE = ["ada@example.org", "bob@example.org", "cy@example.org"]
RETRY_AFTER = dt.timedelta(seconds=3)  # instead of a minute: the real clock runs here


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deliver, "DEFAULT_RETRY", Retry(attempts=2, first_delay=0.01,
                                                        max_total=2))
    monkeypatch.setattr(job, "retry_delay", lambda attempt: RETRY_AFTER)


def _due_an_hour_ago(folder: Path, postgres_url: str, port: int) -> tuple[Path, Config]:
    """A daily run due an hour ago (within catch_up_hours), sending through ``port``."""
    fire = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).replace(minute=0, second=0,
                                                                       microsecond=0)
    write_article(folder / "articles", "story", publishedDateTime=fire - dt.timedelta(days=1))
    path = write_config(folder, state_url=postgres_url, state_dir=str(folder / "state"),
                        schedule={"cron": f"{fire.minute} {fire.hour} * * *",
                                  "catch_up_hours": 3, "send": True},
                        smtp={"host": "127.0.0.1", "port": port})
    config = load_config(path)
    add_people(config, folder, [f"{address},," for address in PEOPLE])
    return path, config


def test_only_the_active_scheduler_retries_and_a_standby_finds_the_run_done(
        tmp_path, postgres_url, monkeypatch, caplog):
    """The active scheduler's run fails (the SMTP server down); a second scheduler stands by
    meanwhile. The server comes back: the active one tries the run again and sends it, each
    subscriber once. The standby never made or retried the run; when it takes over, it finds
    the run done."""
    port = free_port()
    config_path, config = _due_an_hour_ago(tmp_path, postgres_url, port)
    standby_log = tmp_path / "standby.log"
    recorder = Recorder()
    with contextlib.ExitStack() as stack:
        standby = start(config_path, standby_log, "schedule")
        stack.callback(lambda: standby.poll() is None and standby.kill())

        def standby_then_server_up() -> None:
            wait_for(lambda: "standing by" in standby_log.read_text() or
                     standby.poll() is not None, "the standby")
            stack.enter_context(smtp_server_on(recorder, port))

        with caplog.at_level(logging.INFO, "newsletter"):
            passes = run_loop(monkeypatch, config, ShiftedClock(monkeypatch, dt.datetime.now(
                dt.UTC)), after_start=standby_then_server_up, passes_wanted=2, limit=60)
        assert len(passes) == 2, caplog.text
        wait_for(lambda: "nothing to do" in standby_log.read_text() or
                 standby.poll() is not None, "the standby to take over")
        standby.send_signal(signal.SIGTERM)
        assert standby.wait(timeout=60) == 0, standby_log.read_text()
    assert "is unreachable" in caplog.text
    assert "trying again the run of" in caplog.text
    assert recorder.count() == Counter({address: 1 for address in PEOPLE})
    text = standby_log.read_text()
    assert "standing by" in text and "taking over as the active scheduler" in text, text
    assert "is done: nothing to do" in text
    for never in ("failed", "tried again", "trying again", "sending issue"):
        assert never not in text, text
    assert state_sql(config, "SELECT count(*) FROM schedule_runs") == [(1,)]


def test_a_scheduler_that_lost_the_lock_does_not_retry(
        tmp_path, postgres_url, monkeypatch, caplog):
    """The active scheduler's run fails (the SMTP server down) and its retry is planned; then
    its session with PostgreSQL ends (the machine froze, was cut off) and the server comes
    back. When the retry is due, the scheduler stops, saying why, instead of trying the run
    again beside the one that may be active now: nothing is sent or recorded."""
    port = free_port()
    _path, config = _due_an_hour_ago(tmp_path, postgres_url, port)
    recorder = Recorder()
    with contextlib.ExitStack() as stack:
        def lose_the_lock_then_server_up() -> None:
            end_leadership(postgres_url, os.getpid())
            stack.enter_context(smtp_server_on(recorder, port))

        with caplog.at_level(logging.INFO, "newsletter"), pytest.raises(LeadershipLost) as lost:
            run_loop(monkeypatch, config, ShiftedClock(monkeypatch, dt.datetime.now(dt.UTC)),
                   after_start=lose_the_lock_then_server_up, passes_wanted=2, limit=60)
    assert "is tried again at" in caplog.text  # the retry was planned
    assert "trying again the run of" not in caplog.text
    assert "no longer the active scheduler" in str(lost.value)
    assert "It stopped before retry 1 of the run of" in str(lost.value)
    assert recorder.messages == []
    assert state_sql(config, "SELECT count(*) FROM schedule_runs") == [(0,)]
