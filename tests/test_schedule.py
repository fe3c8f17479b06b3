"""The schedule: fire times across DST, catch-up over an injected clock, one scheduler per
output folder, clean stops. Real processes where the behaviour is about processes."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import newsletter.delivery.send
from conftest import PROJECT, both, make_config, reap, run, write_config
from newsletter.core.cron import WallClockCron, apscheduler_crontab
from newsletter.core.timing import next_issue_date
from newsletter.publishing import build as build_module
from newsletter.schedule.job import WallClockTrigger
from newsletter.schedule.runs import check_due, last_completed, lock_path, missed_run, run_pass
from scheduler_support import FIRE, issue_status, scheduled

pytestmark = pytest.mark.usefixtures("in_project")

UTC = dt.UTC
YEAR = (dt.datetime(2026, 1, 1), dt.datetime(2027, 1, 1))  # both DST changes, either zone


def _year(zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    return YEAR[0].replace(tzinfo=zone), YEAR[1].replace(tzinfo=zone)


# -- fire times ------------------------------------------------------------------------------

@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Berlin"])
@pytest.mark.parametrize("cron, weekday, hour, minute", [
    ("0 7 * * mon", 0, 7, 0),
    ("0 7 * * 1", 0, 7, 0),  # crontab's 1 is Monday (APScheduler's own 1 is Tuesday)
    ("30 2 * * sun", 6, 2, 30),  # missing on spring-forward day, twice on fall-back (Berlin)
    ("0 0 * * sun", 6, 0, 0),  # midnight: APScheduler's own trigger skips days after DST
    ("30 1 * * 0", 6, 1, 30),  # 01:30 exists twice in New York on fall-back day
])
def test_weekly_fire_times_through_a_year_of_dst(zone, cron, weekday, hour, minute):
    """Every week exactly once, on its weekday, at its local time; the one exception is a
    time that does not exist that day, which fires when the clock has jumped past it."""
    tz = ZoneInfo(zone)
    times = WallClockCron(cron, tz).fire_times(*_year(tz))
    assert len(times) in (52, 53)
    dates = [t.date() for t in times]
    steps = [later - earlier for earlier, later in itertools.pairwise(dates)]
    assert set(steps) == {dt.timedelta(days=7)}  # no week skipped or doubled
    assert all(a < b for a, b in itertools.pairwise(times))  # and in order
    assert {d.weekday() for d in dates} == {weekday}
    gaps = []
    for fire in times:
        local = fire.astimezone(tz)
        if (local.hour, local.minute) != (hour, minute):
            gaps.append(local)
            wall = dt.datetime.combine(local.date(), dt.time(hour, minute), tzinfo=tz)
            # It does not exist: converting through UTC does not give it back.
            assert wall.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != \
                wall.replace(tzinfo=None)
            assert local.hour == hour + 1 and local.minute == minute
    assert len(gaps) <= 1


@pytest.mark.parametrize("zone, day", [("America/New_York", dt.date(2026, 11, 1)),
                                       ("Europe/Berlin", dt.date(2026, 10, 25))])
def test_an_hour_that_happens_twice_fires_once_at_its_first_occurrence(zone, day):
    tz = ZoneInfo(zone)
    clock = "1" if zone == "America/New_York" else "2"
    cron = WallClockCron(f"30 {clock} * * *", tz)
    start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    times = cron.fire_times(start, start + dt.timedelta(days=1))
    assert len(times) == 1
    assert times[0].utcoffset() == dt.datetime.combine(day, dt.time(0), tzinfo=tz).utcoffset()


def test_apscheduler_drives_our_trigger_without_repeating_a_fire_time():
    """The chain APScheduler follows (previous fire time -> next) through Berlin's fall-back
    night: its own CronTrigger returns 02:30 again and again there."""
    tz = ZoneInfo("Europe/Berlin")
    trigger = WallClockTrigger(WallClockCron("30 2 * * sun", tz))
    fire = trigger.get_next_fire_time(None, dt.datetime(2026, 10, 1, tzinfo=tz))
    chain = [fire]
    for _ in range(6):
        fire = trigger.get_next_fire_time(fire, fire)
        chain.append(fire)
    assert [f.date().isoformat() for f in chain] == [
        "2026-10-04", "2026-10-11", "2026-10-18", "2026-10-25", "2026-11-01", "2026-11-08",
        "2026-11-15"]


@pytest.mark.parametrize("cron, expected", [
    ("0 7 * * 1", "0 7 * * mon"),
    ("0 7 * * 0", "0 7 * * sun"),
    ("0 7 * * 7", "0 7 * * sun"),
    ("0 7 * * 1-5", "0 7 * * mon,tue,wed,thu,fri"),
    ("0 7 * * mon", "0 7 * * mon"),
    ("0 7 * * *", "0 7 * * *"),
])
def test_numeric_weekdays_mean_what_crontab_means(cron, expected):
    assert apscheduler_crontab(cron) == expected


@pytest.mark.parametrize("cron, year, month, days", [
    ("0 7 1 * mon", 2026, 3, [1, 2, 9, 16, 23, 30]),  # the 1st (a Sunday) and every Monday
    ("0 7 13 * fri", 2026, 4, [3, 10, 13, 17, 24]),
    ("0 7 31 2 mon", 2026, 2, [2, 9, 16, 23]),  # no February 31: the Mondays alone
    ("0 7 */10 * mon", 2026, 5, [11]),  # a field starting with *: both must match
])
def test_day_of_month_and_weekday_fire_as_crontab_says(cron, year, month, days):
    """Both restricted: either one matching fires, as crontab does."""
    tz = ZoneInfo("Europe/Berlin")
    start = dt.datetime(year, month, 1, tzinfo=tz)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    assert WallClockCron(cron, tz).fire_times(start, end) == [
        dt.datetime(year, month, day, 7, tzinfo=tz) for day in days]


def test_latest_fire_time_and_next_issue_date(tmp_path):
    config = make_config(tmp_path, timezone="America/New_York",
                         schedule={"cron": "0 7 * * mon"})
    tz = config.timezone
    cron = WallClockCron("0 7 * * mon", tz)
    thursday = dt.datetime(2026, 11, 26, 12, tzinfo=tz)
    assert cron.latest_fire_time(thursday) == dt.datetime(2026, 11, 23, 7, tzinfo=tz)
    monday_seven = dt.datetime(2026, 11, 23, 7, tzinfo=tz)
    assert cron.latest_fire_time(monday_seven) == monday_seven
    assert next_issue_date(config, thursday) == dt.date(2026, 11, 30)
    assert next_issue_date(config, monday_seven) == dt.date(2026, 11, 23)
    unscheduled = make_config(tmp_path, timezone="America/New_York")
    assert next_issue_date(unscheduled, thursday) == dt.date(2026, 11, 26)


# -- catch-up with an injected clock -------------------------------------------------------

@pytest.fixture
def builds(monkeypatch) -> list[dt.date]:
    """Every build_issue call the scheduler makes, by issue date."""
    calls: list[dt.date] = []
    real = build_module.build_issue

    def counting(config, issue_date, **kwargs):
        calls.append(issue_date)
        return real(config, issue_date, **kwargs)

    monkeypatch.setattr(build_module, "build_issue", counting)
    return calls


@both
def test_a_miss_within_the_limit_is_made_up_once(tmp_path, builds, caplog):
    config = scheduled(tmp_path)
    now = FIRE + dt.timedelta(hours=5)  # the machine was down at 07:00
    assert missed_run(config, now) == FIRE
    with caplog.at_level(logging.INFO, "newsletter"):
        assert run_pass(config, now)
    assert builds == [dt.date(2021, 2, 22)]
    assert issue_status(config) == "published"
    assert "2021-02-22 built and published: 1 topic, 1 article, " in caplog.text
    assert missed_run(config, now) is None
    assert check_due(config, now + dt.timedelta(hours=1)).action == "done"


@both
def test_twice_in_a_row_builds_once(tmp_path, builds, caplog):
    config = scheduled(tmp_path, publish=False)  # a draft: only the record of runs says "done"
    now = FIRE + dt.timedelta(minutes=1)
    with caplog.at_level(logging.INFO, "newsletter"):
        assert run_pass(config, now)
        assert run_pass(config, now + dt.timedelta(seconds=30))
    assert builds == [dt.date(2021, 2, 22)]
    assert issue_status(config) == "draft"
    assert "is done: nothing to do" in caplog.text
    assert last_completed(config) == FIRE


def test_a_miss_beyond_the_limit_is_only_logged(tmp_path, builds, caplog):
    config = scheduled(tmp_path)
    now = FIRE + dt.timedelta(hours=30)
    assert missed_run(config, now) is None
    with caplog.at_level(logging.INFO, "newsletter"):
        assert run_pass(config, now)
    assert builds == []
    assert not (config.output / "2021-02-22").exists()
    assert "missed the run of 2021-02-22 07:00 UTC" in caplog.text
    assert "catch_up_hours (24)" in caplog.text
    assert "newsletter build --date 2021-02-22 --publish" in caplog.text


@both
def test_an_issue_already_published_does_nothing_and_succeeds(tmp_path, builds, caplog):
    config = scheduled(tmp_path)
    assert run(tmp_path, "build", "--date", "2021-02-22", "--publish").exit_code == 0
    before = (config.output / "2021-02-22" / "issue.json").stat().st_mtime_ns
    with caplog.at_level(logging.INFO, "newsletter"):
        assert run_pass(config, FIRE + dt.timedelta(minutes=2))
    assert builds == []
    assert "already published: nothing to do" in caplog.text
    assert (config.output / "2021-02-22" / "issue.json").stat().st_mtime_ns == before


@both
def test_a_run_finishing_an_issue_out_already_leaves_its_email_as_sent(tmp_path, builds, caplog):
    """The run's issue is published (by hand, say) and the theme changed since: the pass
    that makes the run brings the archive up to date and leaves the issue's files as they
    went out, saying how to correct it."""
    config = scheduled(tmp_path)
    assert run(tmp_path, "build", "--date", "2021-02-22", "--publish").exit_code == 0
    folder = config.output / "2021-02-22"
    names = ("email.mjml", "email.html", "email.txt", "email.eml", "index.html", "issue.json")
    kept = {name: (folder / name).read_bytes() for name in names}
    config = make_config(tmp_path, state_dir="state", theme={"footer": "A footer added since"},
                         schedule={"cron": "0 7 * * mon", "catch_up_hours": 24})
    with caplog.at_level(logging.INFO, "newsletter"):
        assert run_pass(config, FIRE + dt.timedelta(minutes=2))
    assert builds == []
    assert {name: (folder / name).read_bytes() for name in names} == kept
    assert "A footer added since" in (config.output / "index.html").read_text("utf-8")
    assert ("issue 2021-02-22 is already published: it stays as it was, though rebuilding "
            "it would change 2021-02-22/email.mjml, ") in caplog.text
    assert ("`newsletter build --date 2021-02-22 --force` corrects the published issue"
            ) in caplog.text
    assert check_due(config, FIRE + dt.timedelta(minutes=3)).action == "done"


@both
def test_a_run_finishing_an_issue_out_already_stands_with_an_email_template_broken_since(
        tmp_path, caplog):
    """The issue's email is not rendered again, so a copy of its template broken since
    fails nothing: the run is recorded, and the log says why a rebuild cannot be compared."""
    config = scheduled(tmp_path)
    assert run(tmp_path, "build", "--date", "2021-02-22", "--publish").exit_code == 0
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "email.mjml.j2").write_text("{{ issue.nonexistent.x }}\n")
    config = make_config(tmp_path, state_dir="state", templates="templates",
                         schedule={"cron": "0 7 * * mon", "catch_up_hours": 24})
    with caplog.at_level(logging.INFO, "newsletter"):
        assert run_pass(config, FIRE + dt.timedelta(minutes=2))
    assert ("issue 2021-02-22 is already published: it stays as it was; whether a rebuild "
            "would change it is not known, as rendering it fails (") in caplog.text
    assert check_due(config, FIRE + dt.timedelta(minutes=3)).action == "done"


@both
def test_a_failed_run_is_logged_with_its_reason_and_not_recorded(tmp_path, builds, caplog):
    config = scheduled(tmp_path)
    overrides = config.output / "2021-02-22" / "overrides.yaml"
    overrides.parent.mkdir(parents=True)
    overrides.write_text("pin: [no-such-article]\n", "utf-8")
    with caplog.at_level(logging.INFO, "newsletter"):
        assert not run_pass(config, FIRE + dt.timedelta(minutes=1))
    assert "the run of 2021-02-22 07:00 UTC (issue 2021-02-22) failed" in caplog.text
    assert "no-such-article" in caplog.text
    assert f"fix: correct {overrides} as said above" in caplog.text  # lasting: not timed
    assert missed_run(config, FIRE + dt.timedelta(minutes=2)) == FIRE  # retried next start
    overrides.write_text("pin: [one]\n", "utf-8")
    assert run_pass(config, FIRE + dt.timedelta(minutes=2))
    assert issue_status(config) == "published"


@both
def test_nothing_to_build_is_logged_and_counts_as_done(tmp_path, caplog):
    config = make_config(tmp_path, state_dir="state", schedule={"cron": "0 7 * * mon"})
    with caplog.at_level(logging.INFO, "newsletter"):
        assert run_pass(config, FIRE + dt.timedelta(minutes=1))
    assert "nothing to build" in caplog.text
    assert check_due(config, FIRE + dt.timedelta(minutes=2)).action == "done"


class _FakeDelivery:
    """Stands in for newsletter.delivery.send.send_issue: records calls, fails when told to (the
    real delivery is tested against a real SMTP server in test_deliver.py)."""

    def __init__(self, monkeypatch) -> None:
        self.sent: list[dt.date] = []
        self.fail = False
        monkeypatch.setattr(newsletter.delivery.send, "send_issue", self.send_issue)

    def send_issue(self, config, issue_date, *, log=print, advise=True):
        assert not advise  # the scheduler says itself what to run by hand
        self.sent.append(issue_date)
        log("sending through the fake")
        ok = not self.fail
        return types.SimpleNamespace(ok=ok, refused=None,  # failing as an unreachable server
                                     summary=lambda: f"Issue {issue_date}: ok={ok}.")


@both
def test_send_calls_delivery_after_publishing_and_a_failed_send_is_retried(
        tmp_path, monkeypatch, caplog):
    config = scheduled(tmp_path, send=True)
    delivery = _FakeDelivery(monkeypatch)
    delivery.fail = True
    with caplog.at_level(logging.INFO, "newsletter"):
        assert not run_pass(config, FIRE)
        assert issue_status(config) == "published"
        assert "sending through the fake" in caplog.text
        assert "sending issue 2021-02-22 did not reach every subscriber" in caplog.text
        delivery.fail = False
        assert run_pass(config, FIRE + dt.timedelta(minutes=5))  # published: only sent
        assert run_pass(config, FIRE + dt.timedelta(minutes=6))  # done
    assert delivery.sent == [dt.date(2021, 2, 22)] * 2
    assert "already published: sending it" in caplog.text


def test_no_schedule_is_a_clear_error(project):
    result = run(project, "schedule", "--once")
    assert result.exit_code == 1
    assert "schedule.cron" in result.output


def test_once_exits_non_zero_when_the_run_failed(tmp_path):
    # Every minute: the latest fire time is now, so its issue (today) is due.
    write_config(tmp_path, state_dir="state", schedule={"cron": "* * * * *"})
    today = dt.datetime.now(UTC).date().isoformat()
    broken = tmp_path / "issues" / today / "overrides.yaml"
    broken.parent.mkdir(parents=True)
    broken.write_text("pin: [missing]\n", "utf-8")
    result = run(tmp_path, "schedule", "--once")
    assert result.exit_code == 1, result.output
    assert "the run failed" in result.output
    broken.unlink()
    result = run(tmp_path, "schedule", "--once")
    assert result.exit_code == 0, result.output


def test_sigterm_during_a_run_lets_it_finish_then_stops(tmp_path, monkeypatch):
    """The signal arrives mid-run (here, the catch-up run at start): the run completes and
    is recorded, then the scheduler exits 0 without waiting for the next fire time."""
    from newsletter.schedule import loop, runs

    config = scheduled(tmp_path)
    real_run = runs.run_issue
    events: list[str] = []

    def slow_run(config, fire_time, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)  # the handler has run by now; the run must go on regardless
        real_run(config, fire_time, **kwargs)
        events.append("finished")

    monkeypatch.setattr(runs, "run_issue", slow_run)
    before = signal.getsignal(signal.SIGTERM)
    status = loop.run_scheduler(config, clock=lambda: FIRE + dt.timedelta(minutes=1))
    assert status == 0
    assert events == ["finished"]
    assert issue_status(config) == "published"
    assert check_due(config, FIRE + dt.timedelta(minutes=2)).action == "done"
    assert signal.getsignal(signal.SIGTERM) is before  # handlers restored


# -- real processes ------------------------------------------------------------------------

def _start(config_path: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    return subprocess.Popen(
        [sys.executable, "-m", "newsletter", "--config", str(config_path), "schedule", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=PROJECT)


def _wait_for_lock(lock: Path, pid: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if lock.is_file() and lock.read_text().strip() == str(pid):
            time.sleep(0.3)  # past the catch-up pass, into the waiting loop
            return
        if process.poll() is not None:
            pytest.fail(f"the scheduler exited early: {process.communicate()}")
        time.sleep(0.05)
    pytest.fail("the scheduler never took its lock")


@pytest.fixture
def scheduled_project(tmp_path) -> Path:
    path = write_config(tmp_path, state_dir="state",
                        schedule={"cron": "0 7 * * mon", "catch_up_hours": 1})
    return path


def test_one_scheduler_per_output_folder_and_sigterm_stops_it_cleanly(scheduled_project):
    config = make_config(scheduled_project.parent, state_dir="state",
                         schedule={"cron": "0 7 * * mon", "catch_up_hours": 1})
    lock = lock_path(config)
    first = _start(scheduled_project)
    try:
        _wait_for_lock(lock, first.pid, first)
        second = _start(scheduled_project)
        _out, err = second.communicate(timeout=20)
        assert second.returncode == 1
        assert f"another scheduler (PID {first.pid}) is already running" in err
        assert str(config.output) in err
        once = _start(scheduled_project, "--once")  # cron's --once must not run beside it
        once.communicate(timeout=20)
        assert once.returncode == 1

        first.send_signal(signal.SIGTERM)
        _out, err = first.communicate(timeout=20)
        assert first.returncode == 0, err
        assert "received SIGTERM" in err and "stopped" in err
        assert "next run: " in err  # it logged its plan, with timestamps
    finally:
        reap(first)
    # The lock went with the process: another scheduler runs.
    after = _start(scheduled_project, "--once")
    _out, err = after.communicate(timeout=20)
    assert after.returncode == 0, err


def test_ctrl_c_stops_cleanly(scheduled_project):
    config = make_config(scheduled_project.parent, state_dir="state",
                         schedule={"cron": "0 7 * * mon", "catch_up_hours": 1})
    process = _start(scheduled_project)
    try:
        _wait_for_lock(lock_path(config), process.pid, process)
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=20)
    finally:
        reap(process)
    assert process.returncode == 0, err
    assert "received SIGINT" in err and "Traceback" not in err


def test_a_dead_schedulers_lock_is_taken_over(scheduled_project):
    config = make_config(scheduled_project.parent, state_dir="state",
                         schedule={"cron": "0 7 * * mon", "catch_up_hours": 1})
    first = _start(scheduled_project)
    try:
        _wait_for_lock(lock_path(config), first.pid, first)
    finally:
        first.kill()  # SIGKILL: no clean-up at all, the lock file stays behind
        first.wait()
    assert lock_path(config).read_text().strip() == str(first.pid)
    after = _start(scheduled_project, "--once")
    _out, err = after.communicate(timeout=20)
    assert after.returncode == 0, err
    assert lock_path(config).read_text().strip() == str(after.pid)
