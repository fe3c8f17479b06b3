"""Beyond one machine, against a real PostgreSQL and real processes: many senders of one
issue (worker processes killed at random, runs sharing an issue, a frozen sender's batch taken
over after its lease), the state copied from SQLite, and two schedulers of which one is
killed mid-run. Skips, saying why, without PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import reap, run, state_sql, write_article, write_config
from newsletter.core.config import Config, load_config
from newsletter.delivery.signups import key_of
from newsletter.delivery.tokens import make_token, read_secret
from newsletter.state.schema import TABLES
from newsletter.web.public import Site
from postgresql_support import on_postgresql, people, start, wait_for
from sending_support import ISSUE, add_people, in_flight_named, project
from smtp_support import Recorder, parse, smtp_server, token_of

pytestmark = pytest.mark.usefixtures("secret")  # NEWSLETTER_SECRET: readers' links are signed


def workers_of(pid: int) -> list[int]:
    """The PIDs of the worker processes ``pid`` started (from /proc; not the resource
    tracker that multiprocessing starts beside them)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"spawn_main" in command:
                found.append(int(entry.name))
    return found


def assert_exactly_once(counts: Counter[str], everyone: list[str], named: set[str]) -> None:
    """Everyone got the issue; only the named in-flight ones may have it twice."""
    assert set(counts) == set(everyone), sorted(set(everyone) - set(counts))[:5]
    twice = {address for address, n in counts.items() if n > 1}
    assert twice <= named, sorted(twice - named)
    assert max(counts.values()) <= 2


# -- many senders ------------------------------------------------------------------------------

def test_four_worker_processes_killed_at_random_moments_then_resumed(
        site: Path, tmp_path: Path, postgres_url: str) -> None:
    """Each of the four worker processes of a send is SIGKILLed at its own random moment
    (no choreography); the survivors take over at once, and a resumed run finishes: every
    subscriber exactly once, except the in-flight messages the runs named."""
    everyone = people(400)
    recorder = Recorder(delay=0.002)
    log = tmp_path / "send.log"
    with smtp_server(recorder) as port:
        config_path = on_postgresql(project(site, tmp_path, port, concurrency=2), postgres_url,
                                    lease_seconds=5)
        add_people(load_config(config_path), tmp_path, [f"{p},," for p in everyone])
        sender = start(config_path, log, "send", ISSUE.isoformat(), "--workers", "4")
        wait_for(lambda: len(workers_of(sender.pid)) >= 4 or sender.poll() is not None,
                 "the worker processes")
        workers = workers_of(sender.pid)
        assert len(workers) == 4, log.read_text()
        moments = sorted(random.sample(range(20, 330), 4))
        for moment, worker in zip(moments, random.sample(workers, 4), strict=True):
            wait_for(lambda moment=moment: len(recorder.messages) >= moment
                     or sender.poll() is not None, f"{moment} messages")
            os.kill(worker, signal.SIGKILL)
        sender.wait(timeout=120)
        first = log.read_text()
        assert sender.returncode == 1, first  # its workers were killed: not everybody had it
        assert first.count("was killed by signal 9") == 4, first

        resumed = start(config_path, log, "send", ISSUE.isoformat(), "--workers", "4")
        resumed.wait(timeout=120)
    output = log.read_text()
    assert resumed.returncode == 0, output[len(first):]
    named = in_flight_named(output)
    assert_exactly_once(recorder.count(), everyone, named)
    assert len(named) <= 4 * 2, named  # at most one per connection of each killed worker
    assert len(state_sql(load_config(config_path),
                         "SELECT email FROM deliveries WHERE issue = ?",
                         ISSUE.isoformat())) == 400


def test_two_runs_on_two_machines_share_the_issue(site: Path, tmp_path: Path,
                                                  postgres_url: str) -> None:
    """Two ``send`` runs of one issue at once against one PostgreSQL: both work, nobody gets
    it twice (with SQLite the second would be refused)."""
    everyone = people(240)
    recorder = Recorder(delay=0.003)
    with smtp_server(recorder) as port:
        config_path = on_postgresql(project(site, tmp_path, port, concurrency=2), postgres_url)
        add_people(load_config(config_path), tmp_path, [f"{p},," for p in everyone])
        logs = [tmp_path / "a.log", tmp_path / "b.log"]
        runs = [start(config_path, log, "send", ISSUE.isoformat()) for log in logs]
        for process in runs:
            process.wait(timeout=120)
    outputs = [log.read_text() for log in logs]
    assert [process.returncode for process in runs] == [0, 0], outputs
    assert recorder.count() == Counter({address: 1 for address in everyone})
    sent = [int(out.split("Issue 2021-02-22: ", 1)[1].split(" sent")[0]) for out in outputs]
    assert sum(sent) == 240 and min(sent) > 0, sent  # shared, not one doing it all


def test_a_frozen_senders_batch_is_taken_over_when_its_lease_ends(
        site: Path, tmp_path: Path, postgres_url: str) -> None:
    """A sender that stops answering (SIGSTOP: a machine cut off) keeps its process, so only
    its lease tells the others: after lease_seconds they send its unfinished batch. When it
    wakes (SIGCONT) it sends nothing of what was taken over."""
    everyone = people(60)
    recorder = Recorder(delay=0.01)
    log = tmp_path / "send.log"
    with smtp_server(recorder) as port:
        config_path = on_postgresql(project(site, tmp_path, port), postgres_url,
                                    lease_seconds=3)  # renewed every second: slack when loaded
        add_people(load_config(config_path), tmp_path, [f"{p},," for p in everyone])
        frozen = start(config_path, tmp_path / "frozen.log", "send", ISSUE.isoformat())
        try:
            wait_for(lambda: len(recorder.messages) >= 3, "the first messages")
            frozen.send_signal(signal.SIGSTOP)
            held = len(recorder.messages)
            started = time.monotonic()
            other = start(config_path, log, "send", ISSUE.isoformat())
            other.wait(timeout=60)
            waited = time.monotonic() - started
            frozen.send_signal(signal.SIGCONT)
            frozen.wait(timeout=60)
        finally:
            reap(frozen)
    assert other.returncode == 0, log.read_text()
    frozen_log = (tmp_path / "frozen.log").read_text()
    # Frozen inside a transaction (between checking a recipient and recording its attempt),
    # it kept that recipient locked until the server ended its idle session: it woke to an
    # ended session and sent nothing more.
    ended = "PostgreSQL ended this process's session" in frozen_log
    assert frozen.returncode == 0 or ended, frozen_log
    counts = recorder.count()
    assert set(counts) == set(everyone)
    assert_exactly_once(counts, everyone, in_flight_named(log.read_text()))
    assert held < 60 and waited >= 1.5  # it waited for the frozen sender's lease to end


def test_rate_per_second_holds_for_all_workers_together(site: Path, tmp_path: Path,
                                                        postgres_url: str) -> None:
    recorder = Recorder()
    log = tmp_path / "send.log"
    with smtp_server(recorder) as port:
        config_path = on_postgresql(project(site, tmp_path, port, concurrency=2), postgres_url,
                                    rate_per_second=20)
        add_people(load_config(config_path), tmp_path, [f"{p},," for p in people(30)])
        sender = start(config_path, log, "send", ISSUE.isoformat(), "--workers", "3")
        wait_for(lambda: len(recorder.messages) >= 1, "the first message")
        first = time.monotonic()
        sender.wait(timeout=60)
        last = time.monotonic()
    assert sender.returncode == 0, log.read_text()
    assert len(recorder.messages) == 30
    # 6 connections, one limit: 30 slots 50 ms apart (not 6 x 20 per second)
    assert last - first >= 29 / 20 * 0.9


# -- moving the state ----------------------------------------------------------------------------

def rows(config: Config) -> dict[str, list[tuple]]:
    """Every row of every table of the state, in a stable order."""
    out = {}
    for table, keys in TABLES.items():
        out[table] = sorted(state_sql(config, f"SELECT * FROM {table} "  # noqa: S608
                                              f"ORDER BY {', '.join(keys)}"), key=repr)
    return out


def test_state_copy_keeps_everything_and_a_send_resumes_on_postgresql(
        site: Path, tmp_path: Path, postgres_url: str) -> None:
    everyone = people(150)
    recorder = Recorder(hold_after=50)
    with smtp_server(recorder) as port:
        config_path = project(site, tmp_path, port, concurrency=2)  # SQLite in state_dir
        sqlite = load_config(config_path)
        topics = ["", "AI", "Robotics", "AI;Robotics", "Chips"]
        add_people(sqlite, tmp_path, [f'{p},"Reader, {i}",{topics[i % 5]}'
                                      for i, p in enumerate(everyone)])
        for address in everyone[::7]:  # some left altogether
            assert run(tmp_path, "subscribers", "remove", address).exit_code == 0
        state_sql(sqlite, "UPDATE subscribers SET status = 'unsubscribed' "
                          "WHERE email LIKE '%3@example.org'")
        sender = start(config_path, tmp_path / "first.log", "send", ISSUE.isoformat())
        wait_for(lambda: len(recorder.held) >= 2 or sender.poll() is not None,
                 "the held messages")
        sender.kill()  # mid-send on SQLite: 50 sent, 2 in flight
        sender.wait()
        in_flight = set(recorder.held)
        recorder.hold_after = None
        recorder.release.set()
        before = rows(sqlite)
        assert len(before["deliveries"]) == 50 and len(before["attempts"]) == 2

        copied = run(tmp_path, "state", "copy", "--to", postgres_url)
        assert copied.exit_code == 0, copied.output
        assert "subscribers: " in copied.output and "all verified" in copied.output
        again = run(tmp_path, "state", "copy", "--to", postgres_url)  # idempotent
        assert again.exit_code == 0, again.output
        assert "of its own" not in again.output

        postgres = load_config(on_postgresql(config_path, postgres_url))
        after = rows(postgres)
        assert after == before  # every subscriber, status, topic, ledger row, as stored
        ids = state_sql(postgres, "SELECT max(id) FROM subscribers")[0][0]
        assert run(tmp_path, "subscribers", "add", "new@example.org").exit_code == 0
        assert state_sql(postgres, "SELECT id FROM subscribers WHERE email = ?",
                         "new@example.org")[0][0] > ids  # the id sequence moved past them

        # A link sent from the SQLite days unsubscribes through the PostgreSQL state.
        first_reader = recorder.messages[0][0]
        key = key_of(postgres, first_reader)  # copied with the row
        assert key is not None
        token = make_token(read_secret(postgres), "unsubscribe", key)
        assert token_of_message(recorder, first_reader) == token
        status = one_click(Site(postgres), token)
        assert status.startswith("200")
        assert state_sql(postgres, "SELECT status FROM subscribers WHERE email = ?",
                         first_reader) == [("unsubscribed",)]

        resumed = run(tmp_path, "send", ISSUE.isoformat())
    assert resumed.exit_code == 0, resumed.output
    assert in_flight_named(resumed.output) == in_flight
    counts = recorder.count()
    active = {email for (email,) in state_sql(
        postgres, "SELECT email FROM subscribers WHERE status = 'active' "
                  "AND topics != 'Chips'")} - {"new@example.org"}
    expected = active | {first_reader}  # unsubscribed after having had it
    assert set(counts) - {"new@example.org"} == expected
    assert {a for a, n in counts.items() if n > 1} == in_flight  # nobody else twice
    assert "49 already received" in resumed.output  # the 50 less the one who left since


def token_of_message(recorder: Recorder, address: str) -> str:
    return token_of(parse(dict(recorder.messages)[address]))


def one_click(site: Site, token: str) -> str:
    """POST the RFC 8058 one-click unsubscribe to the WSGI application; its status line."""
    import io

    body = b"List-Unsubscribe=One-Click"
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/ai/unsubscribe",
               "QUERY_STRING": f"token={token}", "CONTENT_LENGTH": str(len(body)),
               "CONTENT_TYPE": "application/x-www-form-urlencoded",
               "wsgi.input": io.BytesIO(body), "SERVER_NAME": "localhost",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http"}
    statuses: list[str] = []
    b"".join(site(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    return statuses[0]


# -- one scheduler among many --------------------------------------------------------------------

def test_two_schedulers_each_issue_once_when_the_active_one_is_killed_mid_run(
        tmp_path: Path, postgres_url: str) -> None:
    """Two ``newsletter schedule`` processes (two machines sharing the state and the output
    folder): one runs, the other stands by. The active one is SIGKILLed in the middle of
    sending; the standby takes over, makes up the run and finishes the send: the issue is
    built once, recorded once, and every subscriber has it once but the named in-flight."""
    now = dt.datetime.now(dt.UTC)
    fire = (now - dt.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    for i in range(3):
        write_article(tmp_path / "articles", f"story-{i}", quality=50 + i,
                      publishedDateTime=fire - dt.timedelta(days=1, hours=i))
    everyone = people(120)
    recorder = Recorder(hold_after=30)
    with smtp_server(recorder) as port:
        config_path = write_config(
            tmp_path, state_url=postgres_url, state_dir=str(tmp_path / "state"),
            schedule={"cron": f"{fire.minute} {fire.hour} * * *", "catch_up_hours": 3,
                      "send": True},
            smtp={"host": "127.0.0.1", "port": port, "concurrency": 2})
        add_people(load_config(config_path), tmp_path, [f"{p},," for p in everyone])
        logs = [tmp_path / "first.log", tmp_path / "second.log"]
        first = start(config_path, logs[0], "schedule")
        wait_for(lambda: len(recorder.held) >= 2 or first.poll() is not None,
                 "the first scheduler to be sending", timeout=90)
        second = start(config_path, logs[1], "schedule")
        try:
            wait_for(lambda: "standing by" in logs[1].read_text() or second.poll() is not None,
                     "the standby", timeout=60)
            first.kill()  # SIGKILL in the middle of the run: 30 sent, 2 in flight
            first.wait()
            in_flight = set(recorder.held)
            recorder.hold_after = None
            recorder.release.set()
            wait_for(lambda: "next run: " in logs[1].read_text() or second.poll() is not None,
                     "the standby to take over and finish", timeout=120)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=60)
            reap(first)
    texts = [log.read_text() for log in logs]
    assert second.returncode == 0, texts[1]
    assert "taking over as the active scheduler" in texts[1]
    assert "newsletter schedule" in texts[1].split("standing by: ", 1)[1].split("\n")[0]
    built = sum(text.count("built and published") for text in texts)
    assert built == 1, texts  # the standby found it published and only sent it
    assert "is already published: sending it" in texts[1]
    assert_exactly_once(recorder.count(), everyone, in_flight)
    assert in_flight_named(texts[1]) == in_flight
    config = load_config(config_path)
    assert state_sql(config, "SELECT count(*) FROM schedule_runs") == [(1,)]
    once = start(config_path, tmp_path / "once.log", "schedule", "--once")
    assert once.wait(timeout=60) == 0  # nothing left to do, and no other scheduler now


def test_schedule_once_beside_an_active_scheduler_does_nothing(tmp_path: Path,
                                                                postgres_url: str) -> None:
    """``schedule --once`` from cron on a second machine: the active scheduler is named and
    nothing runs (with SQLite the same exits 1, naming the first one's PID)."""
    config_path = write_config(tmp_path, state_url=postgres_url,
                               schedule={"cron": "0 7 * * mon", "catch_up_hours": 1})
    logs = [tmp_path / "active.log", tmp_path / "once.log"]
    active = start(config_path, logs[0], "schedule")
    try:
        wait_for(lambda: "next run: " in logs[0].read_text() or active.poll() is not None,
                 "the active scheduler")
        once = start(config_path, logs[1], "schedule", "--once")
        assert once.wait(timeout=60) == 0, logs[1].read_text()
    finally:
        active.send_signal(signal.SIGTERM)
        active.wait(timeout=60)
    text = logs[1].read_text()
    assert "standing by: newsletter schedule" in text and f"pid {active.pid}" in text
    assert "another scheduler is active: nothing to do here" in text
    assert "scheduler for" not in text  # it never became active
    assert active.returncode == 0, logs[0].read_text()
