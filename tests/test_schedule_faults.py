"""The scheduler when things go wrong around it: a clock set wrong then put right, a run
stopped halfway, a configuration that can never run, a clock that jumps while the scheduler
waits, a cron edited while it runs. The clock is injected throughout."""

from __future__ import annotations

import datetime as dt
import errno
import logging

import pytest
from test_schedule import FIRE, _scheduled, _status

from conftest import run, write_config
from newsletter.publishing import output
from newsletter.schedule.runs import check_due, run_pass

both = pytest.mark.usefixtures("state_backend")


# -- the record of runs --------------------------------------------------------------------

@both
def test_a_run_made_while_the_clock_was_ahead_does_not_hide_the_real_runs(tmp_path, caplog):
    config = _scheduled(tmp_path)
    ahead = FIRE + dt.timedelta(weeks=522, minutes=5)  # ten years ahead, a Monday 07:05
    assert run_pass(config, ahead)  # nothing to build then, but the run is recorded
    assert check_due(config, ahead).action == "done"
    with caplog.at_level(logging.INFO, "newsletter"):
        assert run_pass(config, FIRE + dt.timedelta(minutes=5))  # the clock put right
    assert _status(config) == "published"
    assert "2021-02-22 built and published" in caplog.text
    assert check_due(config, FIRE + dt.timedelta(minutes=6)).action == "done"


@both
def test_a_run_stopped_after_publishing_the_issue_finishes_the_archive_and_feeds(
        tmp_path, monkeypatch, caplog):
    """The disk fills up (or the process dies) after the issue's files are written and
    before the archive and the feeds: the next pass writes them, then records the run."""
    config = _scheduled(tmp_path)
    real = output.write_atomic

    def disk_full(path, data):
        if path.parent == config.output and path.name in ("index.html", "feed.xml"):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(output, "write_atomic", disk_full)
    assert not run_pass(config, FIRE + dt.timedelta(minutes=5))
    assert _status(config) == "published"
    assert not (config.output / "feed.xml").exists()
    monkeypatch.setattr(output, "write_atomic", real)  # space freed
    with caplog.at_level(logging.INFO, "newsletter"):
        assert run_pass(config, FIRE + dt.timedelta(minutes=20))
    assert "2021-02-22/" in (config.output / "feed.xml").read_text("utf-8")
    assert "2021-02-22/" in (config.output / "index.html").read_text("utf-8")
    assert "brought" in caplog.text and "up to date" in caplog.text
    assert check_due(config, FIRE + dt.timedelta(minutes=21)).action == "done"


# -- configurations the scheduler cannot run: refused by check, naming the key -------------

@pytest.mark.parametrize("settings, message", [
    ({"schedule": {"cron": "0 7 31 2 *"}},
     'schedule.cron: "0 7 31 2 *" never fires: no date has that day in that month'),
    ({"schedule": {"cron": "0 7 * * mon", "catch_up_hours": 100000000000}},
     "schedule.catch_up_hours: expected a number of hours up to 8784 (a year), "
     "got 100000000000"),
    ({"schedule": {"cron": "0 7 * * mon"}, "state_dir": "taken"},
     'state_dir: "taken" exists and is not a folder'),
])
def test_check_refuses_a_schedule_that_cannot_run(tmp_path, settings, message):
    (tmp_path / "taken").write_text("a file, not a folder\n", "utf-8")
    write_config(tmp_path, **settings)
    for command in (["check"], ["schedule", "--once"]):
        result = run(tmp_path, *command)
        assert result.exit_code == 1, result.output
        assert message in result.output
        assert "unexpected" not in result.output and "Traceback" not in result.output


def test_check_accepts_a_schedule_that_fires_rarely(tmp_path):
    write_config(tmp_path, schedule={"cron": "0 7 29 2 mon", "catch_up_hours": 8784})
    result = run(tmp_path, "check")
    assert result.exit_code == 0, result.output
