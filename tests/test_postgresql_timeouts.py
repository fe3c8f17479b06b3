"""A PostgreSQL state that stops answering, against a real server: the scheduler's lock is
asked about within a bound (a server stopped with SIGSTOP, a network cut in a namespace of
its own), a standby outlives a dropped connection, and the user's own connection settings win
over our timeouts. Skips, saying why, without PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from conftest import PROJECT, write_config
from newsletter.core.config import load_config
from newsletter.schedule.roles import SchedulerLeadership
from newsletter.state.leadership import LOCK_QUERY_TIMEOUT, Leadership
from newsletter.state.location import Location
from newsletter.state.postgresql import connect_postgresql
from postgresql_support import start, wait_for

ROLE = "schedule https://news.example.org/ai/"


def backend_of(url: str, name: str) -> int:
    """The server process serving the connection named ``name`` (application_name)."""
    with psycopg.connect(url, autocommit=True) as connection:
        rows = connection.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                                  (name,)).fetchall()
    assert len(rows) == 1, rows
    return int(rows[0][0])


def scheduler_name(pid: int) -> str:
    return f"newsletter schedule {socket.gethostname()} pid {pid}"


@contextmanager
def frozen(pid: int) -> Iterator[None]:
    """The server process ``pid`` stopped (SIGSTOP) for the block: its connection is open and
    the kernel still acknowledges what is sent to it, but nothing answers."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        pytest.skip("the PostgreSQL server runs where this test cannot signal it")
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def timed(call, limit: float) -> tuple[object, float]:  # noqa: ANN001
    """``call()``'s result and how long it took; fails (instead of hanging) past ``limit``."""
    out: list[object] = []
    began = time.monotonic()
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    thread.join(limit)
    assert out, f"still waiting after {limit} s"
    return out[0], time.monotonic() - began


def test_the_lock_check_answers_within_its_bound_when_the_server_is_stopped(
        postgres_url: str) -> None:
    where = Location("postgresql", url=postgres_url)
    lock = Leadership(where, ROLE)
    try:
        assert lock.try_acquire() and lock.still_held()
        with frozen(backend_of(postgres_url, scheduler_name(os.getpid()))):
            held, took = timed(lock.still_held, LOCK_QUERY_TIMEOUT + 20)
        assert held is False and took < LOCK_QUERY_TIMEOUT + 3, took
        assert not lock.held
    finally:
        lock.close()


def test_a_scheduler_whose_server_stops_answering_stops_as_no_longer_active(
        tmp_path: Path, postgres_url: str) -> None:
    """Between runs the active scheduler asks every 10 s; the server stopped, it is no longer
    the active one within that and the check's bound, and exits 1 saying so."""
    config_path = write_config(tmp_path, state_url=postgres_url,
                               schedule={"cron": "0 7 * * mon", "catch_up_hours": 1})
    log = tmp_path / "schedule.log"
    process = start(config_path, log, "schedule")
    try:
        wait_for(lambda: "next run: " in log.read_text() or process.poll() is not None,
                 "the active scheduler")
        with frozen(backend_of(postgres_url, scheduler_name(process.pid))):
            began = time.monotonic()
            status = process.wait(timeout=60)
            took = time.monotonic() - began
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    text = log.read_text()
    assert status == 1, text
    assert took < 10 + LOCK_QUERY_TIMEOUT + 5, took
    assert "Error: this scheduler is no longer the active scheduler of " in text, text
    assert "unexpected" not in text and "Traceback" not in text


def test_a_standby_outlives_its_connection_and_takes_over(tmp_path: Path,
                                                          postgres_url: str) -> None:
    """The server ends the standby's session (a restart, an administrator): the standby
    says so, connects again and still takes over when the active one stops."""
    config = load_config(write_config(tmp_path, state_url=postgres_url))
    active = Leadership(Location("postgresql", url=postgres_url), f"schedule {config.site_url}")
    standby = SchedulerLeadership(config)
    stop = threading.Event()
    result: list[object] = []

    def wait() -> None:
        try:
            result.append(standby.acquire(stop, wait=True))
        except Exception as error:  # noqa: BLE001 - what the test reports
            result.append(error)

    thread = threading.Thread(target=wait, daemon=True)
    try:
        assert active.try_acquire()
        thread.start()
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            def standby_session() -> list[tuple[object, ...]]:
                return admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND pid NOT IN "
                    "(SELECT pid FROM pg_locks WHERE locktype = 'advisory')",
                    (scheduler_name(os.getpid()),)).fetchall()

            wait_for(lambda: standby_session() != [], "the standby")
            admin.execute("SELECT pg_terminate_backend(%s)", standby_session()[0])
        time.sleep(3)  # a poll or two on the ended session
        assert not result, result
        active.close()
        thread.join(30)
        assert result == [True], result
    finally:
        stop.set()
        active.close()
        thread.join(30)
        standby.close()


def test_the_users_connection_settings_win_over_ours(postgres_url: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGOPTIONS", raising=False)
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    ours = connect_postgresql(Location("postgresql", url=postgres_url))
    with ours:
        settings = ours.info.get_parameters()
        assert settings["connect_timeout"] == "10" and settings["keepalives_idle"] == "30"
        assert settings["tcp_user_timeout"] == "60000"
        assert ours.execute("SHOW idle_in_transaction_session_timeout").fetchone() == ("10s",)
    url = (f"{postgres_url}?connect_timeout=3&keepalives_idle=7"
           "&options=-c%20idle_in_transaction_session_timeout%3D2500")
    theirs = connect_postgresql(Location("postgresql", url=url), role="schedule",
                                server={"statement_timeout": 5000})
    with theirs:
        settings = theirs.info.get_parameters()
        assert settings["connect_timeout"] == "3" and settings["keepalives_idle"] == "7"
        assert settings["keepalives_count"] == "3"  # not given: ours
        assert theirs.execute("SHOW idle_in_transaction_session_timeout").fetchone() == ("2500ms",)
        assert theirs.execute("SHOW statement_timeout").fetchone() == ("5s",)
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "4")
    monkeypatch.setenv("PGOPTIONS", "-c statement_timeout=1234")
    environment = connect_postgresql(Location("postgresql", url=postgres_url),
                                     server={"statement_timeout": 5000})
    with environment:
        assert environment.info.get_parameters()["connect_timeout"] == "4"
        assert environment.execute("SHOW statement_timeout").fetchone() == ("1234ms",)
        assert environment.execute("SHOW idle_in_transaction_session_timeout"
                                   ).fetchone() == ("10s",)


NETWORK_CUT = """
import subprocess, sys, threading, time
sys.path[:0] = [{tests!r}, {project!r}]
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
import pgcluster
from newsletter.state.leadership import Leadership
from newsletter.state.location import Location
cluster = pgcluster.start(folder={folder!r})
try:
    lock = Leadership(Location("postgresql", url=cluster.url), "schedule x")
    assert lock.try_acquire() and lock.still_held()
    subprocess.run(["ip", "link", "set", "lo", "down"], check=True)  # nothing gets through
    began = time.monotonic()
    answer = []
    asking = threading.Thread(target=lambda: answer.append(lock.still_held()), daemon=True)
    asking.start()
    asking.join(60)  # then on to stopping the server, answered or not
    print("held", *answer or ["nothing"], "took", round(time.monotonic() - began, 1),
          flush=True)
finally:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    pgcluster.stop(cluster.folder)
"""


def test_the_lock_check_answers_within_its_bound_when_the_network_is_cut(
        tmp_path: Path, postgres_server: tuple[str | None, str]) -> None:
    """A real cut, in a network namespace of the test's own (root only): the server and the
    scheduler on its loopback, then the loopback down. No packet, no acknowledgement."""
    from pgcluster import ENV_DIR, binaries

    if binaries() is None or postgres_server[0] is None:
        pytest.skip("needs PostgreSQL's own binaries for a server in a namespace")
    if subprocess.run(["unshare", "--net", "ip", "link", "set", "lo", "up"],
                      capture_output=True, check=False).returncode != 0:
        pytest.skip("cannot make a network namespace here (needs root and unshare, ip)")
    # The server runs as an unprivileged user under root: its folder must be open to it.
    candidates = [Path(os.environ[ENV_DIR]).parent] if os.environ.get(ENV_DIR) else []
    candidates += [Path(tempfile.gettempdir()), tmp_path]
    open_to_all = [c for c in candidates
                   if all(p.stat().st_mode & 0o001 for p in (c, *c.parents))]
    if not open_to_all:
        pytest.skip(f"none of {', '.join(map(str, candidates))} is open to the unprivileged "
                    "user a server started by root runs as")
    folder = open_to_all[0]
    script = NETWORK_CUT.format(tests=str(PROJECT / "tests"), project=str(PROJECT),
                                folder=str(folder))
    result = subprocess.run(["unshare", "--net", sys.executable, "-c", script],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    words = result.stdout.split()
    assert words[:2] == ["held", "False"], result.stdout
    assert float(words[3]) < LOCK_QUERY_TIMEOUT + 3, result.stdout
