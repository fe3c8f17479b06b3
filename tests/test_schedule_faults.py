"""The scheduler when things go wrong around it: a clock set wrong then put right, a run
stopped halfway, a configuration that can never run, a clock that jumps while the scheduler
waits, a cron edited while it runs. The clock is injected throughout."""

from __future__ import annotations

import datetime as dt
import errno
import logging
import re
import signal
import time
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from conftest import both, run, write_article, write_config
from newsletter.core.config import load_config
from newsletter.core.cron import WallClockCron
from newsletter.core.errors import NewsletterError
from newsletter.publishing import output
from newsletter.schedule import loop, roles
from newsletter.schedule.runs import check_due, lock_path, run_pass
from newsletter.web.public import Site
from scheduler_support import (
    FIRE,
    ShiftedClock,
    issue_status,
    run_loop,
    scheduled,
    start_scheduler,
    wait_for_line,
)

# -- the record of runs --------------------------------------------------------------------

@both
def test_a_run_made_while_the_clock_was_ahead_does_not_hide_the_real_runs(tmp_path, caplog):
    config = scheduled(tmp_path)
    ahead = FIRE + dt.timedelta(weeks=522, minutes=5)  # ten years ahead, a Monday 07:05
    assert run_pass(config, ahead)  # nothing to build then, but the run is recorded
    assert check_due(config, ahead).action == "done"
    with caplog.at_level(logging.INFO, "newsletter"):
        assert run_pass(config, FIRE + dt.timedelta(minutes=5))  # the clock put right
    assert issue_status(config) == "published"
    assert "2021-02-22 built and published" in caplog.text
    assert check_due(config, FIRE + dt.timedelta(minutes=6)).action == "done"


@both
def test_a_run_stopped_after_publishing_the_issue_finishes_the_archive_and_feeds(
        tmp_path, monkeypatch, caplog):
    """The disk fills up (or the process dies) after the issue's files are written and
    before the archive and the feeds: the next pass writes them, then records the run."""
    config = scheduled(tmp_path)
    real = output.write_atomic

    def disk_full(path, data):
        if path.parent == config.output and path.name in ("index.html", "feed.xml"):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(output, "write_atomic", disk_full)
    assert not run_pass(config, FIRE + dt.timedelta(minutes=5))
    assert issue_status(config) == "published"
    assert not (config.output / "feed.xml").exists()
    monkeypatch.setattr(output, "write_atomic", real)  # space freed
    with caplog.at_level(logging.INFO, "newsletter"):
        assert run_pass(config, FIRE + dt.timedelta(minutes=20))
    assert "2021-02-22/" in (config.output / "feed.xml").read_text("utf-8")
    assert "2021-02-22/" in (config.output / "index.html").read_text("utf-8")
    assert "brought" in caplog.text and "up to date" in caplog.text
    assert check_due(config, FIRE + dt.timedelta(minutes=21)).action == "done"


@both
def test_a_run_stopped_while_writing_the_issues_email_writes_it_whole_on_the_next_pass(
        tmp_path, monkeypatch):
    """The disk fills up at the issue's email.eml: the issue does not read as published yet
    (its issue.json is written after its email and page), so the next pass makes the run
    again from the start, rather than keep an issue out already without its email."""
    config = scheduled(tmp_path)
    real = output.write_atomic

    def disk_full(path, data):
        if path.name == "email.eml":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(output, "write_atomic", disk_full)
    assert not run_pass(config, FIRE + dt.timedelta(minutes=5))
    assert issue_status(config) != "published"
    monkeypatch.setattr(output, "write_atomic", real)  # space freed
    assert run_pass(config, FIRE + dt.timedelta(minutes=20))
    assert issue_status(config) == "published"
    eml = (config.output / "2021-02-22" / "email.eml").read_text("utf-8")
    assert "Story one" in eml
    assert check_due(config, FIRE + dt.timedelta(minutes=21)).action == "done"


@both
def test_a_run_stopped_before_the_previous_issues_page_has_its_next_link_writes_it(
        tmp_path, monkeypatch, caplog):
    """The disk fills up once the run's issue is written, issue.json saying published, at
    the page of the issue before it (its new "next" link): the next pass writes that page,
    and no other file of the earlier issue, and the archive's page of the year lists it."""
    config = scheduled(tmp_path)
    write_article(config.corpus, "earlier", quality=70,
                  publishedDateTime=dt.datetime(2021, 2, 10, 12, tzinfo=dt.UTC))
    assert run(tmp_path, "build", "--date", "2021-02-15", "--publish").exit_code == 0
    earlier = config.output / "2021-02-15"
    emails = {p.name: p.read_bytes() for p in earlier.glob("email.*")}
    real = output.write_atomic

    def disk_full(path, data):
        if path == (earlier / "index.html").resolve():
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(output, "write_atomic", disk_full)
    assert not run_pass(config, FIRE + dt.timedelta(minutes=5))
    assert issue_status(config) == "published"
    assert "../2021-02-22/" not in (earlier / "index.html").read_text("utf-8")
    year = config.output / "archive" / "2021.html"
    assert "2021-02-22/" not in year.read_text("utf-8")
    monkeypatch.setattr(output, "write_atomic", real)  # space freed
    assert run_pass(config, FIRE + dt.timedelta(minutes=20))
    page = (earlier / "index.html").read_text("utf-8")
    assert '<a href="../2021-02-22/index.html" rel="next">' in page
    assert {p.name: p.read_bytes() for p in earlier.glob("email.*")} == emails
    assert "2021-02-22/" in year.read_text("utf-8")
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
    # days and months named in full: crontab's three letters are offered
    ({"schedule": {"cron": "0 7 * * Monday"}},
     'schedule.cron: "0 7 * * Monday" is not a valid crontab: Invalid weekday name "Monday"; '
     'did you mean "0 7 * * mon"? (crontab names days and months in three letters)'),
    ({"schedule": {"cron": "0 7 1 january,july monday-friday"}},
     'did you mean "0 7 1 jan,jul mon-fri"?'),
    ({"schedule": {"cron": "0 7 * * someday"}},
     'schedule.cron: "0 7 * * someday" is not a valid crontab: Invalid weekday name '
     '"someday"\n'),
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


# -- the long-running scheduler and the wall clock -----------------------------------------

@pytest.mark.parametrize("late, catch_up_hours, logged", [
    (dt.timedelta(minutes=5), 24, "making up the run of 2021-02-22 07:00 UTC"),
    (dt.timedelta(hours=3), 1, "missed the run of 2021-02-22 07:00 UTC (issue 2021-02-22) "
                               "by 3.0 hours"),
])
def test_a_run_due_while_the_machine_slept_is_decided_on_waking(
        tmp_path, monkeypatch, caplog, late, catch_up_hours, logged):
    """Asleep from Sunday to after Monday's 07:00: within the catch-up limit the run is made
    up on waking; beyond it, where APScheduler drops it, the miss is logged as one."""
    config = scheduled(tmp_path, catch_up_hours=catch_up_hours)
    clock = ShiftedClock(monkeypatch, FIRE - dt.timedelta(days=1))
    monkeypatch.setattr(loop, "WAKE_EVERY", 0.0)  # every second: the test's time is short
    with caplog.at_level(logging.INFO, "newsletter"):
        passes = run_loop(monkeypatch, config, clock,
                        after_start=lambda: clock.jump(FIRE + late))
    assert len(passes) == 2, caplog.text
    assert passes[1] - FIRE < late + dt.timedelta(minutes=1)  # at once, not a day later
    assert logged in caplog.text
    assert issue_status(config) == ("published" if late < dt.timedelta(hours=1) else None)


def test_a_cron_edited_while_the_scheduler_runs_loses_no_issue(tmp_path, monkeypatch, caplog):
    """Monday's run fires on the cron the scheduler started with, after the editor moved the
    issue to Tuesdays: it still builds Monday's issue, and the next run is on Tuesday."""
    config = scheduled(tmp_path)  # "0 7 * * mon"
    edited = replace(config, schedule=replace(config.schedule, cron="0 7 * * tue"))
    clock = ShiftedClock(monkeypatch, FIRE - dt.timedelta(seconds=2))
    with caplog.at_level(logging.INFO, "newsletter"):
        passes = run_loop(monkeypatch, config, clock, reload=lambda: edited,
                        after_start=lambda: None)
    assert len(passes) == 2, caplog.text
    assert issue_status(config) == "published"
    assert "schedule.cron changed from '0 7 * * mon' in UTC to '0 7 * * tue'" in caplog.text
    assert "next run: 2021-02-23 07:00 UTC" in caplog.text


def test_an_edited_cron_fires_on_its_new_time_without_waiting_for_the_old_one(
        tmp_path, monkeypatch, caplog):
    """Sunday morning the editor moves the issue from Mondays to Sundays in the file: the
    running scheduler follows the edit at once, and Sunday's issue is built at 07:00 that
    day, not after Monday's run (the old cron's) has read the file."""
    config = scheduled(tmp_path)  # "0 7 * * mon"
    sunday = FIRE - dt.timedelta(days=1)
    clock = ShiftedClock(monkeypatch, sunday - dt.timedelta(seconds=10))

    def edit() -> None:
        text = config.path.read_text("utf-8")
        config.path.write_text(text.replace("0 7 * * mon", "0 7 * * sun"), "utf-8")

    with caplog.at_level(logging.INFO, "newsletter"):
        passes = run_loop(monkeypatch, config, clock, reload=lambda: load_config(config.path),
                        after_start=edit, limit=30)
    assert len(passes) == 2, caplog.text
    assert dt.timedelta(0) <= passes[1] - sunday < dt.timedelta(seconds=30), passes
    assert issue_status(config, "2021-02-21") == "published"
    assert (f"{config.path} was edited: schedule.cron changed from '0 7 * * mon' in UTC to "
            "'0 7 * * sun' in UTC") in caplog.text
    assert "next run: 2021-02-21 07:00 UTC (issue 2021-02-21)" in caplog.text


@pytest.mark.parametrize("fixed_after, catch_up_hours, logged", [
    (dt.timedelta(minutes=10), 24, "making up the run of 2021-02-22 07:00 UTC (issue "
                                   "2021-02-22)"),
    (dt.timedelta(hours=3), 1, "missed the run of 2021-02-22 07:00 UTC (issue 2021-02-22) "
                               "by 3.0 hours"),
])
def test_a_run_due_while_the_file_was_invalid_is_made_up_once_the_file_is_fixed(
        tmp_path, monkeypatch, caplog, fixed_after, catch_up_hours, logged):
    """A typo saved in the file just before Monday's 07:00 fails that run; the file saved
    fixed minutes later, the run is made up at once, without a restart; fixed later than
    catch_up_hours, the miss is logged as one and nothing is built."""
    config = scheduled(tmp_path, catch_up_hours=catch_up_hours)
    good = config.path.read_text("utf-8")
    clock = ShiftedClock(monkeypatch, FIRE - dt.timedelta(seconds=10))

    def break_file() -> None:
        config.path.write_text(good.replace("0 7 * * mon", "61 7 * * mon"), "utf-8")

    class FixAfterTheFailedRun(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("the run failed: the configuration cannot"):
                clock.jump(FIRE + fixed_after)
                config.path.write_text(good, "utf-8")

    fixer = FixAfterTheFailedRun()
    logging.getLogger("newsletter.schedule").addHandler(fixer)
    try:
        with caplog.at_level(logging.INFO, "newsletter"):
            passes = run_loop(monkeypatch, config, clock,
                            reload=lambda: load_config(config.path), after_start=break_file,
                            limit=30)
    finally:
        logging.getLogger("newsletter.schedule").removeHandler(fixer)
    assert "the run failed: the configuration cannot be used" in caplog.text
    assert len(passes) == 2, caplog.text
    assert passes[1] - (FIRE + fixed_after) < dt.timedelta(seconds=30), passes
    assert logged in caplog.text
    if fixed_after < dt.timedelta(hours=catch_up_hours):
        assert issue_status(config) == "published"
        assert check_due(config, clock()).action == "done"
    else:
        assert issue_status(config) is None


def test_a_running_scheduler_follows_edits_of_its_file_and_keeps_its_schedule_when_invalid(
        tmp_path):
    """A real ``newsletter schedule`` process: an edited cron gives the new fire time within
    seconds, far ahead of the old one; an edit that breaks the file is reported with the file,
    the key and what is wrong, and the schedule stays until the file is saved fixed."""
    path = write_config(tmp_path, state_dir="state",
                        schedule={"cron": "0 7 * * mon", "catch_up_hours": 1})
    log = tmp_path / "schedule.log"
    process = start_scheduler(path, log)

    def edit(cron: str) -> None:
        text = path.read_text("utf-8")
        path.write_text(re.sub(r'cron: [^\n]*', f"cron: '{cron}'", text), "utf-8")

    def edit_valid(cron: str) -> str:
        """The file with ``cron``; the next run it gives, as the scheduler logs it."""
        edit(cron)
        upcoming = WallClockCron(cron, ZoneInfo("UTC")).next_fire_time(dt.datetime.now(dt.UTC))
        return f"next run: {upcoming:%Y-%m-%d %H:%M} UTC"

    try:
        wait_for_line(log, "next run: ", process)
        soon, later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=h) for h in (2, 3))
        daily = f"{soon.minute} {soon.hour} * * *"  # in two hours, where Monday may be days away
        expected = edit_valid(daily)
        started = time.monotonic()
        wait_for_line(log, expected, process)
        assert time.monotonic() - started < 15
        wait_for_line(log, "was edited: schedule.cron changed from '0 7 * * mon' in UTC to "
                            f"{daily!r} in UTC", process)
        edit("61 7 * * mon")
        text = wait_for_line(log, "until the file is fixed", process)
        assert f"{path}: 1 problem in the configuration" in text
        assert 'schedule.cron: "61 7 * * mon" is not a valid crontab' in text
        assert f"keeps the schedule it had, {daily!r} in UTC" in text
        fixed = f"{later.minute} {later.hour} * * *"
        text = wait_for_line(log, edit_valid(fixed), process)
        assert f"from {daily!r} in UTC to {fixed!r} in UTC" in text  # the last good one
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0, log.read_text("utf-8")
    assert "Traceback" not in log.read_text("utf-8")


# -- one scheduler per output folder ---------------------------------------------------------

def test_one_scheduler_per_output_folder_whatever_the_state_dir(tmp_path):
    """Two configs naming one output folder with state_dirs of their own: the second
    scheduler is refused. The lock lives in the output folder, which stays readable for a
    web server, and the public site does not serve it."""
    first = scheduled(tmp_path)
    second = replace(first, state_dir=tmp_path / "elsewhere")
    refused = r"another scheduler \(PID \d+\) is already running for the output folder"
    with roles.scheduler_lock(first), pytest.raises(NewsletterError, match=refused), \
            roles.scheduler_lock(second):
        pass
    assert lock_path(first).parent == first.output
    (tmp_path / "made-alike").mkdir()
    assert first.output.stat().st_mode == (tmp_path / "made-alike").stat().st_mode
    statuses: list[str] = []
    site = Site(first, secret=b"s" * 32)
    site({"REQUEST_METHOD": "GET", "PATH_INFO": f"/ai/{lock_path(first).name}"},
         lambda status, headers: statuses.append(status))
    assert statuses == ["404 Not Found"]
