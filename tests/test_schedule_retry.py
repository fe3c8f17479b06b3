"""A scheduled run that fails for a passing reason (the SMTP server down or refusing some
messages) is tried again by the running scheduler with a growing delay, while within
schedule.catch_up_hours of its fire time, and each subscriber gets the issue once. The
clock is injected, as in test_schedule_faults."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
from collections import Counter
from pathlib import Path

import pytest

from conftest import make_config, state_sql, write_article
from newsletter.core.config import Config
from newsletter.delivery import send as deliver
from newsletter.delivery.smtp import Retry
from newsletter.schedule.runs import check_due
from scheduler_support import FIRE, ShiftedClock, issue_status, run_loop
from sending_support import add_people
from smtp_support import Recorder, free_port, smtp_server, smtp_server_on

pytestmark = pytest.mark.usefixtures("secret", "in_project")

PEOPLE = ["ada@example.org", "bob@example.org", "cy@example.org"]
TRIED_AGAIN = re.compile(r"is tried again at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC")


def _sending(folder: Path, port: int, catch_up_hours: float) -> Config:
    """Monday's issue, published and sent to three subscribers through 127.0.0.1:``port``."""
    write_article(folder / "articles", "one", quality=80)
    write_article(folder / "articles", "two", quality=60)
    config = make_config(folder, state_dir="state",
                         schedule={"cron": "0 7 * * mon", "catch_up_hours": catch_up_hours,
                                   "send": True},
                         smtp={"host": "127.0.0.1", "port": port})
    add_people(config, folder, [f"{address},," for address in PEOPLE])
    return config


class OnRetryPlanned(logging.Handler):
    """Moves the clock to the time each retry is planned for, as the minutes pass, and calls
    ``then`` first (the cause of the failure goes away meanwhile)."""

    def __init__(self, clock: ShiftedClock, then=lambda: None) -> None:  # noqa: ANN001
        super().__init__()
        self.clock, self.then, self.planned = clock, then, []

    def emit(self, record: logging.LogRecord) -> None:
        found = TRIED_AGAIN.search(record.getMessage())
        if found:
            at = dt.datetime.fromisoformat(found.group(1) + "+00:00")
            self.planned.append(at)
            self.then()
            self.clock.jump(at + dt.timedelta(seconds=1))


@contextlib.contextmanager
def _watching(handler: logging.Handler):  # noqa: ANN202
    logger = logging.getLogger("newsletter.schedule")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def _delivered(config: Config) -> list[tuple[str, str]]:
    return [tuple(row) for row in state_sql(  # type: ignore[misc]
        config, "SELECT email, status FROM deliveries ORDER BY email")]


@pytest.fixture(autouse=True)
def fast_smtp_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deliver, "DEFAULT_RETRY", Retry(attempts=2, first_delay=0.01,
                                                        max_total=2))


def test_a_run_failed_while_the_smtp_server_was_down_is_retried_and_sends_once(
        tmp_path, monkeypatch, caplog):
    """Nothing listens on the SMTP port at Monday's 07:00: the run publishes the issue and
    fails to send it. The server is up a minute later, when the run is tried again: every
    subscriber gets the issue once, and the run is recorded as done."""
    port = free_port()
    config = _sending(tmp_path, port, catch_up_hours=24)
    clock = ShiftedClock(monkeypatch, FIRE - dt.timedelta(seconds=2))
    recorder = Recorder()
    with contextlib.ExitStack() as servers:
        started: list[int] = []

        def start_server() -> None:
            if not started:
                started.append(servers.enter_context(smtp_server_on(recorder, port)))

        planned = OnRetryPlanned(clock, start_server)
        with _watching(planned), caplog.at_level(logging.INFO, "newsletter"):
            passes = run_loop(monkeypatch, config, clock, after_start=lambda: None,
                            passes_wanted=3, limit=30)
    assert "is unreachable" in caplog.text
    assert len(passes) == 3, caplog.text
    assert planned.planned == [passes[1].replace(microsecond=0) + dt.timedelta(minutes=1)]
    assert "trying again the run of 2021-02-22 07:00 UTC (retry 1)" in caplog.text
    assert recorder.count() == Counter({address: 1 for address in PEOPLE})
    assert issue_status(config) == "published"
    assert check_due(config, clock()).action == "done"


def test_a_run_failed_halfway_through_the_send_resumes_it_and_sends_each_once(
        tmp_path, monkeypatch, caplog):
    """The server defers one subscriber's message past the retries of the send (451): the
    others get the issue, the run fails; tried again, it sends to that one only."""
    recorder = Recorder(temporary={"bob@example.org": 2})
    with smtp_server(recorder) as port:
        config = _sending(tmp_path, port, catch_up_hours=24)
        clock = ShiftedClock(monkeypatch, FIRE - dt.timedelta(seconds=2))
        with _watching(OnRetryPlanned(clock)), caplog.at_level(logging.INFO, "newsletter"):
            passes = run_loop(monkeypatch, config, clock, after_start=lambda: None,
                            passes_wanted=3, limit=30)
    assert len(passes) == 3, caplog.text
    assert "failed: bob@example.org" in caplog.text
    assert recorder.count() == Counter({address: 1 for address in PEOPLE})
    assert _delivered(config) == [(address, "sent") for address in PEOPLE]
    assert check_due(config, clock()).action == "done"


def test_a_run_that_keeps_failing_is_given_up_at_the_catch_up_limit(
        tmp_path, monkeypatch, caplog):
    """The server stays down: the run is tried again after 1, 2, 5, 10 and 20 minutes, last
    a minute before schedule.catch_up_hours (an hour) after its fire time, then given up,
    naming what is left to do by hand: the run published the issue, so only its send."""
    config = _sending(tmp_path, free_port(), catch_up_hours=1)
    clock = ShiftedClock(monkeypatch, FIRE - dt.timedelta(seconds=2))
    planned = OnRetryPlanned(clock)
    with _watching(planned), caplog.at_level(logging.INFO, "newsletter"):
        passes = run_loop(monkeypatch, config, clock, after_start=lambda: None,
                        passes_wanted=8, limit=60)
    assert len(passes) == 8, caplog.text
    waits = [(b - a).total_seconds() / 60 for a, b in zip(passes[1:-1], passes[2:], strict=True)]
    assert [round(wait) for wait in waits] == [1, 2, 5, 10, 20, 21], waits
    assert planned.planned[-1] == FIRE + dt.timedelta(minutes=59)
    assert passes[-1] - FIRE < dt.timedelta(hours=1)
    assert caplog.text.count("trying again the run of 2021-02-22 07:00 UTC") == 6
    assert ("the run of 2021-02-22 07:00 UTC (issue 2021-02-22) is not tried again: "
            "schedule.catch_up_hours (1) after its fire time is past; once the cause is "
            "fixed, send it by hand with `newsletter send 2021-02-22` (issue 2021-02-22 is "
            "published, not sent yet)") in caplog.text  # published by the run: no build
    assert "newsletter build --date 2021-02-22" not in caplog.text, caplog.text
    # the send's "run the same command again" is not the scheduler's: it tries again itself
    assert "Run the same command again" not in caplog.text, caplog.text
    assert all(status != "sent" for _, status in _delivered(config))
