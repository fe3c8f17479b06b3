"""Subscribers an issue has nothing for (none of their topics is in it: "chose no topic it
has") are no recipients of it: they take no slot of ``smtp.rate_per_second`` (one reader
behind thousands of them is sent the issue at once), a send leaves nothing of them to be
sent, and ``state prune`` prunes the issue once old, also from a state where an older
version left a claim per such subscriber. Exactly once holds with them among the readers,
through a kill -9 mid-send. SIGINT to the parent of ``send --workers 2`` alone (a
supervisor's KillMode=process) stops the run promptly, counting only real recipients.
aiosmtpd on 127.0.0.1, real ``newsletter send`` processes, SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import both, run, state_sql, write_config
from newsletter.core.config import Config, load_config
from newsletter.delivery.send import load_published_issue
from newsletter.delivery.senders import WorkerSpec, run_worker
from newsletter.delivery.tokens import read_secret
from sending_support import (
    EMAIL,
    ISSUE,
    TOPICS,
    add_people,
    in_flight_named,
    ledger,
    project,
    start_send,
)
from smtp_support import FAST, Recorder, smtp_server

pytestmark = pytest.mark.usefixtures("secret")  # sends sign their readers' links

# Chips is a topic of the newsletter that no article of the test issues has.
NOTHING = "Chips"
LONG_AGO = "2021-03-01T12:00:00+00:00"


def paced(site: Path, folder: Path, port: int, rate: float, concurrency: int = 1) -> Path:
    """A project sending the shared site at ``rate`` messages a second."""
    return write_config(
        folder, topics=TOPICS, corpus=str(site / "articles"), output=str(site / "issues"),
        state_dir=str(folder / "state"), email=EMAIL,
        smtp={"host": "127.0.0.1", "port": port, "concurrency": concurrency,
              "rate_per_second": rate})


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def claims(config: Config) -> int:
    return state_sql(config, "SELECT count(*) FROM claims WHERE issue = ?",
                     ISSUE.isoformat())[0][0]


def age(config: Config) -> None:
    """Date the issue's ledger long ago, as if it had been sent years back."""
    for table in ("deliveries", "attempts", "failures"):
        state_sql(config, f"UPDATE {table} SET at = ? WHERE issue = ?",  # noqa: S608
                  LONG_AGO, ISSUE.isoformat())


def left_by_an_older_version(config: Config, addresses: list[str]) -> None:
    """The claims rows an older version's send left for subscribers it skipped."""
    for address in addresses:
        state_sql(config, "INSERT INTO claims (issue, email, position) SELECT ?, email, id "
                          "FROM subscribers WHERE email = ?", ISSUE.isoformat(), address)


@both
def test_one_reader_behind_many_skipped_is_sent_at_once(site: Path, tmp_path: Path) -> None:
    """A rate of one message per 20 s: the reader stored after 60 subscribers the issue has
    nothing for gets it at once, where each of them took a slot before (20 minutes)."""
    skipped = [f"s{i:02d}@example.org" for i in range(60)]
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config_path = paced(site, tmp_path, port, rate=0.05)
        config = load_config(config_path)
        add_people(config, tmp_path, [f"{p},,{NOTHING}" for p in skipped]
                   + ["reader@example.org,,AI"])
        sender = start_send(config_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            output = sender.communicate(timeout=60)[0].decode()
        finally:
            sender.kill()
            sender.wait()
    assert sender.returncode == 0, output
    assert f"Issue {ISSUE}: 1 sent, 0 bounced, 0 failed, 60 skipped." in output, output
    assert recorder.count() == Counter({"reader@example.org": 1})
    assert claims(config) == 0  # nobody left "to be sent"


@both
def test_the_senders_pace_only_the_messages_they_send(site: Path, tmp_path: Path) -> None:
    """Claims of subscribers a send need not send to (left by an older version's send, or
    their topics changed since they were claimed) are settled without a slot of the pace."""
    skipped = [f"s{i:02d}@example.org" for i in range(30)]
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = load_config(paced(site, tmp_path, port, rate=0.05))
        add_people(config, tmp_path, [f"{p},,{NOTHING}" for p in skipped]
                   + ["reader@example.org,,AI"])
        left_by_an_older_version(config, [*skipped, "reader@example.org"])
        spec = WorkerSpec(config, load_published_issue(config, ISSUE), "run-1",
                          read_secret(config), None, FAST, frozenset())
        worker = threading.Thread(target=run_worker, args=(spec, lambda line: None),
                                  daemon=True)
        worker.start()
        worker.join(30)  # a slot each: 30 x 20 s
        assert not worker.is_alive(), "the senders took a slot per skipped subscriber"
    assert recorder.count() == Counter({"reader@example.org": 1})
    assert claims(config) == 0


@both
def test_a_send_with_nobody_left_leaves_no_recipient_and_prune_prunes_it(
        site: Path, tmp_path: Path) -> None:
    """Sent to its readers, sent again with nobody left (by hand, or the schedule's pass
    over an issue published already): nothing "still to be sent", no run's mark left
    behind, and a prune of the old issue prunes it."""
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = load_config(project(site, tmp_path, port))
        add_people(config, tmp_path, ["a@example.org,,AI", "b@example.org,,Robotics"]
                   + [f"s{i}@example.org,,{NOTHING}" for i in range(3)])
        for _ in range(2):
            result = run(tmp_path, "send", ISSUE.isoformat())
            assert result.exit_code == 0, result.output
    assert "0 sent, 0 bounced, 0 failed, 5 skipped" in result.output
    assert "3 chose no topic it has" in result.output
    assert claims(config) == 0
    assert state_sql(config, "SELECT run FROM send_runs") == []
    age(config)
    pruned = run(tmp_path, "state", "prune", "--older-than", "30d")
    assert pruned.exit_code == 0, pruned.output
    assert f"  {ISSUE}: 2 sent, 0 bounced, 0 failed;" in pruned.output, pruned.output
    assert "Pruned 1 issue(s)" in pruned.output, pruned.output
    assert "Cleared the marks" not in pruned.output, pruned.output
    assert recorder.count() == Counter({"a@example.org": 1, "b@example.org": 1})


@both
def test_prune_reads_the_claims_an_older_version_left(site: Path, tmp_path: Path) -> None:
    """An older version left a claim per subscriber the issue has nothing for at each send
    of it: they are no recipients still to be sent, nor is one who left since; the issue is
    pruned with them. A real recipient still to be sent keeps it, counted alone."""
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = load_config(project(site, tmp_path, port))
        add_people(config, tmp_path, ["a@example.org,,AI", "gone@example.org,,AI"]
                   + [f"s{i}@example.org,,{NOTHING}" for i in range(3)])
        result = run(tmp_path, "send", ISSUE.isoformat())
        assert result.exit_code == 0, result.output
    left_by_an_older_version(config, [f"s{i}@example.org" for i in range(3)])
    add_people(config, tmp_path, ["late@example.org,,AI"])  # joined after: still to be sent
    left_by_an_older_version(config, ["late@example.org"])
    state_sql(config, "UPDATE subscribers SET status = 'unsubscribed' "
                      "WHERE email = 'gone@example.org'")
    state_sql(config, "DELETE FROM deliveries WHERE email = 'gone@example.org'")
    left_by_an_older_version(config, ["gone@example.org"])
    age(config)

    kept = run(tmp_path, "state", "prune", "--older-than", "30d", "--dry-run")
    assert kept.exit_code == 0, kept.output
    assert (f"kept {ISSUE}: 1 recipient(s) still to be sent: finish it (newsletter send "
            f"{ISSUE})") in kept.output, kept.output

    state_sql(config, "DELETE FROM claims WHERE email = 'late@example.org'")
    dry = run(tmp_path, "state", "prune", "--older-than", "30d", "--dry-run")
    assert (f"  {ISSUE}: 1 sent, 0 bounced, 0 failed, 4 skipped (chose no topic it has, "
            "or left); 1 row(s)") in dry.output, dry.output
    assert claims(config) == 4  # a dry run changes nothing
    pruned = run(tmp_path, "state", "prune", "--older-than", "30d")
    assert pruned.exit_code == 0, pruned.output
    assert "Pruned 1 issue(s)" in pruned.output, pruned.output
    assert claims(config) == 0
    assert state_sql(config, "SELECT issue FROM pruned_issues") == [(ISSUE.isoformat(),)]


@both
def test_killed_mid_send_among_skipped_subscribers_each_reader_gets_it_once(
        site: Path, tmp_path: Path) -> None:
    """kill -9 of the whole send (both worker processes) while the server holds replies;
    the same command run again: each reader has the issue once (twice at most for those it
    names as in flight), the subscribers it has nothing for never."""
    topics = ["AI", NOTHING, "Robotics", NOTHING, "AI;Robotics", f"{NOTHING};Robotics"]
    everyone = {f"k{i:03d}@example.org": topics[i % len(topics)] for i in range(180)}
    readers = {p for p, t in everyone.items() if t != NOTHING}
    recorder = Recorder(hold_after=40)
    with smtp_server(recorder) as port:
        config_path = project(site, tmp_path, port, concurrency=2)
        config = load_config(config_path)
        add_people(config, tmp_path, [f"{p},,{t}" for p, t in everyone.items()])
        said = tmp_path / "sender.log"  # what the killed send said, should it never reach
        with said.open("w") as output:
            sender = start_send(config_path, "--workers", "2", stdout=output,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 30
            while len(recorder.held) < 2 and sender.poll() is None:
                assert time.monotonic() < deadline, (
                    f"the sender never reached the server ({len(recorder.messages)} "
                    f"message(s) taken, {len(recorder.held)} held): {said.read_text()}")
                time.sleep(0.01)
        finally:
            os.killpg(sender.pid, signal.SIGKILL)
            sender.wait()
        recorder.hold_after = None
        recorder.release.set()
        time.sleep(0.1)  # the killed workers' processes are reaped
        resumed = run(tmp_path, "send", ISSUE.isoformat())
    assert resumed.exit_code == 0, resumed.output
    counts = recorder.count()
    assert set(counts) == readers
    assert {p for p, n in counts.items() if n > 1} <= in_flight_named(resumed.output)
    assert max(counts.values()) <= 2
    assert len(ledger(config)) == len(readers)
    assert claims(config) == 0


@both
def test_sigint_to_the_parent_alone_stops_the_workers_and_counts_readers_only(
        site: Path, tmp_path: Path) -> None:
    """``kill -INT`` of the parent of ``send --workers 2`` alone, as a supervisor stopping
    only its main process does: the workers settle their messages and stop, the run says
    what went and counts as not attempted only readers, never the subscribers it skipped;
    the same command sends the rest once each."""
    readers = [f"r{i:02d}@example.org" for i in range(30)]
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config_path = paced(site, tmp_path, port, rate=10)  # Ctrl-C comes mid-run
        add_people(load_config(config_path),  # the skipped stored after the readers
                   tmp_path, [f"{p},,AI" for p in readers]
                   + [f"s{i:03d}@example.org,,{NOTHING}" for i in range(200)])
        sender = start_send(config_path, "--workers", "2", stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 30
            while len(recorder.messages) < 3:
                assert sender.poll() is None, sender.communicate()[0].decode()
                assert time.monotonic() < deadline, "the send never reached the server"
                time.sleep(0.01)
            sender.send_signal(signal.SIGINT)  # the parent alone, not its process group
            output = sender.communicate(timeout=30)[0].decode()
            # no worker outlives it (multiprocessing's resource tracker ends with it)
            deadline = time.monotonic() + 5
            while group_alive(sender.pid):
                assert time.monotonic() < deadline, "a process of the send outlived it"
                time.sleep(0.05)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(sender.pid, signal.SIGKILL)
        went = len(recorder.messages)
        assert sender.returncode == 130, output
        assert "Traceback" not in output, output
        assert (f"Issue {ISSUE}: {went} sent, 0 bounced, 0 failed, {30 - went} not "
                "attempted, 200 skipped.") in output, output
        resumed = run(tmp_path, "send", ISSUE.isoformat())
    assert resumed.exit_code == 0, resumed.output
    assert recorder.count() == Counter({p: 1 for p in readers})


@both
def test_sigint_at_a_low_rate_does_not_wait_for_the_next_slot(site: Path,
                                                              tmp_path: Path) -> None:
    """One message per 50 s: after the first, each worker waits for its slot. SIGINT to the
    parent alone stops them at once, not when their slots come (up to 100 s here)."""
    readers = [f"r{i}@example.org" for i in range(5)]
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config_path = paced(site, tmp_path, port, rate=0.02)
        add_people(load_config(config_path), tmp_path, [f"{p},,AI" for p in readers])
        sender = start_send(config_path, "--workers", "2", stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 30
            while not recorder.messages:
                assert sender.poll() is None, sender.communicate()[0].decode()
                assert time.monotonic() < deadline, "the send never reached the server"
                time.sleep(0.01)
            time.sleep(0.5)  # both workers wait for their slots
            sender.send_signal(signal.SIGINT)
            output = sender.communicate(timeout=20)[0].decode()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(sender.pid, signal.SIGKILL)
    assert sender.returncode == 130, output
    assert f"Issue {ISSUE}: 1 sent, 0 bounced, 0 failed, 4 not attempted" in output, output
