"""``newsletter state prune``: the send ledger of old, finished issues goes, and an issue
pruned is never sent to anyone again; an issue in flight is kept; ``--dry-run`` changes
nothing; ``state copy`` carries the record; a state of the previous schema gains it. Real
sends through aiosmtpd on 127.0.0.1, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest

from conftest import StateBackend, both, run, state_of_version, state_sql, write_config
from newsletter.core.config import Config, load_config
from newsletter.delivery.send import send_issue
from newsletter.delivery.signups import unsubscribe
from newsletter.delivery.subscribers import list_subscribers
from newsletter.delivery.tokens import read_secret
from newsletter.state.database import location, location_from_url, open_database, open_location
from newsletter.state.prune import (
    IssuePruned,
    PruneReport,
    prune_ledger,
    pruned_issue,
    refuse_pruned,
)
from newsletter.state.schema import MIGRATIONS
from sending_support import (
    ISSUE,
    NEXT_ISSUE,
    add_people,
    configured,
    kill_when_held,
    project,
    start_send,
)
from smtp_support import FAST, Recorder, key_in, parse, smtp_server, token_of

pytestmark = pytest.mark.usefixtures("secret")  # NEWSLETTER_SECRET: readers' links are signed

LONG_AGO = "2021-03-01T12:00:00+00:00"
FIRST = "2021-02-22T07:00:00+00:00"
# The schema a state had before its ledger could be pruned (pruned_issues came with the next).
BEFORE_PRUNING = next(m.version for m in MIGRATIONS if "pruned" in m.what) - 1
TODAY = dt.datetime.now(dt.UTC).date().isoformat()
LEDGER_TABLES = ("deliveries", "attempts", "claims", "failures", "send_pace", "pruned_issues")


def age(config: Config, issue: dt.date = ISSUE) -> None:
    """Date the issue's ledger rows long ago, as if it had been sent years back."""
    for table in ("deliveries", "attempts", "failures"):
        state_sql(config, f"UPDATE {table} SET at = ? WHERE issue = ?", LONG_AGO,
                  issue.isoformat())


def rows(config: Config, table: str, issue: dt.date = ISSUE) -> int:
    return state_sql(config, f"SELECT count(*) FROM {table} WHERE issue = ?",
                     issue.isoformat())[0][0]


def dump(config: Config) -> dict[str, list[tuple]]:
    return {table: sorted(map(tuple, state_sql(config, f"SELECT * FROM {table}")))
            for table in LEDGER_TABLES}


def sent_and_aged(site: Path, folder: Path, port: int, people: list[str]) -> Config:
    """Both issues sent to ``people``, the first of them long ago."""
    config = configured(site, folder, port, concurrency=2)
    add_people(config, folder, [f"{p},," for p in people])
    for issue in (ISSUE, NEXT_ISSUE):
        result = run(folder, "send", issue.isoformat())
        assert result.exit_code == 0, result.output
    age(config)
    return config


@both
def test_a_pruned_issue_is_sent_to_nobody_again(site: Path, tmp_path: Path) -> None:
    people = [f"p{i:02d}@example.org" for i in range(30)]
    recorder = Recorder(reject={people[0]})
    with smtp_server(recorder) as port:
        config = sent_and_aged(site, tmp_path, port, people)
        assert rows(config, "deliveries") == 30 and rows(config, "deliveries", NEXT_ISSUE) == 29

        result = run(tmp_path, "state", "prune")
        assert result.exit_code == 0, result.output
        assert "  2021-02-22: 29 sent, 1 bounced, 0 failed; 30 row(s)" in result.output
        assert "kept 1 issue(s) with activity in the last 90 days (2021-03-01 to " \
               "2021-03-01)" in result.output
        assert "Pruned 1 issue(s), 30 row(s)" in result.output
        assert "never sent again" in result.output
        assert rows(config, "deliveries") == rows(config, "send_pace") == 0
        assert rows(config, "deliveries", NEXT_ISSUE) == 29  # recent: kept in full
        assert state_sql(config, "SELECT issue, sent, bounced, failed, last_at "
                                 "FROM pruned_issues") == [("2021-02-22", 29, 1, 0, LONG_AGO)]

        # Everybody, a newcomer too, would be "without a delivery" now: the send refuses.
        assert run(tmp_path, "subscribers", "add", "new@example.org").exit_code == 0
        before = len(recorder.messages)
        again = run(tmp_path, "send", ISSUE.isoformat())
        assert again.exit_code == 1, again.output
        assert (f"issue 2021-02-22 was sent and its send ledger pruned on {TODAY} (29 sent, "
                "1 bounced, the last on 2021-03-01)") in again.output
        outbox = run(tmp_path, "send", ISSUE.isoformat(), "--outbox", str(tmp_path / "out"))
        assert outbox.exit_code == 1 and "pruned on" in outbox.output
        with pytest.raises(IssuePruned):
            send_issue(config, ISSUE, log=lambda line: None)
        assert len(recorder.messages) == before  # not one message
        assert not (tmp_path / "out").exists()

        # What does not need the ledger keeps working: a test copy, the next issue's send
        # (nothing left to send), the bounce recorded on the subscriber.
        copy = run(tmp_path, "send", ISSUE.isoformat(), "--to", "me@example.org")
        assert copy.exit_code == 0, copy.output
        assert len(recorder.messages) == before + 1
        nxt = run(tmp_path, "send", NEXT_ISSUE.isoformat())
        assert nxt.exit_code == 0 and "1 sent, 0 bounced, 0 failed, 29 skipped" in nxt.output
        statuses = {person.email: person.status for person in list_subscribers(config)}
        assert statuses[people[0]] == "bounced" and statuses[people[1]] == "active"
        # The unsubscribe link in an email of the pruned issue still unsubscribes.
        message = next(parse(raw) for address, raw in recorder.messages
                       if address == people[1] and "February 22" in parse(raw)["Subject"])
        key = key_in(read_secret(config), token_of(message))
        assert key is not None
        unsubscribe(config, dt.datetime.now(dt.UTC), key=key)
        statuses = {person.email: person.status for person in list_subscribers(config)}
        assert statuses[people[1]] == "unsubscribed"

        twice = run(tmp_path, "state", "prune")  # nothing more to prune
        assert twice.exit_code == 0 and "Nothing to prune." in twice.output


@both
def test_dry_run_names_what_would_go_and_changes_nothing(site: Path, tmp_path: Path) -> None:
    people = [f"d{i:02d}@example.org" for i in range(12)]
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = sent_and_aged(site, tmp_path, port, people)
    before = dump(config)
    result = run(tmp_path, "state", "prune", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "  2021-02-22: 12 sent, 0 bounced, 0 failed; 12 row(s)" in result.output
    assert "Would prune 1 issue(s), 12 row(s)" in result.output
    assert "Dry run: nothing changed" in result.output
    assert dump(config) == before
    # older than a century: nothing is that old
    none = run(tmp_path, "state", "prune", "--older-than", "36500d")
    assert none.exit_code == 0 and "Nothing to prune." in none.output
    assert dump(config) == before


@both
def test_an_issue_in_flight_is_kept_until_its_send_finishes(site: Path, tmp_path: Path) -> None:
    """A sender killed while two messages await the server's reply leaves attempts and
    claims: however old, the issue is kept; resumed and finished, it is pruned, and then
    nobody gets it again."""
    people = [f"k{i:02d}@example.org" for i in range(40)]
    recorder = Recorder(hold_after=10)
    with smtp_server(recorder) as port:
        config_path = project(site, tmp_path, port, concurrency=2)
        config = load_config(config_path)
        add_people(config, tmp_path, [f"{p},," for p in people])
        sender = start_send(config_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        kill_when_held(sender, recorder)
        recorder.hold_after = None
        recorder.release.set()
        age(config)
        in_flight, pending = rows(config, "attempts"), rows(config, "claims")
        assert in_flight == 2 and pending == 30, (in_flight, pending)
        before = dump(config)

        kept = run(tmp_path, "state", "prune")
        assert kept.exit_code == 0, kept.output
        assert (f"  kept 2021-02-22: {pending} recipient(s) still to be sent, 2 message(s) in "
                "flight: finish it (newsletter send 2021-02-22)") in kept.output
        assert "Nothing to prune." in kept.output
        assert dump(config) == before

        resumed = run(tmp_path, "send", ISSUE.isoformat())
        assert resumed.exit_code == 0, resumed.output
        assert rows(config, "attempts") == rows(config, "claims") == 0
        assert "Pruned 0" not in run(tmp_path, "state", "prune").output  # still recent
        assert rows(config, "deliveries") == 40
        age(config)
        pruned = run(tmp_path, "state", "prune")
        assert "Pruned 1 issue(s)" in pruned.output, pruned.output
        delivered = len(recorder.messages)
        again = run(tmp_path, "send", ISSUE.isoformat())
    assert again.exit_code == 1 and "pruned on" in again.output
    assert len(recorder.messages) == delivered


@both
def test_an_old_issue_with_a_recipient_left_is_kept_and_still_reaches_them(
        site: Path, tmp_path: Path) -> None:
    """A send long ago that the server kept deferring for one reader (451 until the retries
    ran out) left that reader to be sent, with no message in flight: the issue is kept, in
    full while the next issue's ledger is pruned, and the send run once the server takes
    mail again reaches that reader, and only them."""
    people = [f"r{i:02d}@example.org" for i in range(6)]
    recorder = Recorder(temporary={people[3]: 1000})
    with smtp_server(recorder) as port:
        config = configured(site, tmp_path, port)
        add_people(config, tmp_path, [f"{p},," for p in people])
        first = send_issue(config, ISSUE, log=lambda line: None, retry=FAST)
        assert first.failed == [people[3]] and len(first.sent) == 5
        recorder.temporary.clear()
        assert len(send_issue(config, NEXT_ISSUE, log=lambda line: None).sent) == 6
        age(config)
        state_sql(config, "INSERT INTO failures (issue, email, reason, subscriber_updated, at) "
                          "VALUES (?, ?, ?, ?, ?)", NEXT_ISSUE.isoformat(), "gone@example.org",
                  "the message cannot be built", LONG_AGO, LONG_AGO)
        age(config, NEXT_ISSUE)  # sent in full long ago: pruned, the other issue's rows kept
        assert rows(config, "claims") == 1 and rows(config, "attempts") == 0

        kept = run(tmp_path, "state", "prune")
        assert kept.exit_code == 0, kept.output
        assert ("  kept 2021-02-22: 1 recipient(s) still to be sent: finish it (newsletter "
                "send 2021-02-22)") in kept.output, kept.output
        assert "  2021-03-01: 6 sent, 0 bounced, 1 failed; 7 row(s)" in kept.output
        assert "Pruned 1 issue(s), 7 row(s)" in kept.output, kept.output
        assert rows(config, "deliveries") == 5 and rows(config, "deliveries", NEXT_ISSUE) == 0
        assert rows(config, "failures", NEXT_ISSUE) == 0
        assert "kept 2021-03-01" not in run(tmp_path, "state", "prune").output
        assert state_sql(config, "SELECT issue FROM pruned_issues") == [("2021-03-01",)]

        before = len(recorder.messages)
        again = run(tmp_path, "send", ISSUE.isoformat())
    assert again.exit_code == 0, again.output
    assert [address for address, _ in recorder.messages[before:]] == [people[3]]


@both
def test_an_issue_nobody_received_is_not_recorded_and_its_first_send_goes(
        site: Path, tmp_path: Path) -> None:
    """An issue whose only trace is a reader whose message could not be built, removed
    since: nothing was delivered, so nothing is pruned, and recording it would forbid the
    issue's first real send."""
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = configured(site, tmp_path, port)
        state_sql(config, "INSERT INTO failures (issue, email, reason, subscriber_updated, at) "
                          "VALUES (?, ?, ?, ?, ?)", ISSUE.isoformat(), "gone@example.org",
                  "the message cannot be built", LONG_AGO, LONG_AGO)
        kept = run(tmp_path, "state", "prune")
        assert kept.exit_code == 0, kept.output
        assert "  kept 2021-02-22: nothing delivered" in kept.output, kept.output
        assert rows(config, "pruned_issues") == 0
        add_people(config, tmp_path, ["ada@example.org,,"])
        sent = run(tmp_path, "send", ISSUE.isoformat())
    assert sent.exit_code == 0, sent.output
    assert [address for address, _ in recorder.messages] == ["ada@example.org"]


@pytest.mark.parametrize("target", ["sqlite", "postgresql"])
def test_state_copy_carries_the_pruned_record(site: Path, tmp_path: Path, target: str,
                                              request: pytest.FixtureRequest) -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = sent_and_aged(site, tmp_path, port, ["a@example.org", "b@example.org"])
    assert run(tmp_path, "state", "prune").exit_code == 0
    url = (str(tmp_path / "copy.sqlite3") if target == "sqlite"
           else request.getfixturevalue("postgres_url"))
    copied = run(tmp_path, "state", "copy", "--to", url)
    assert copied.exit_code == 0, copied.output
    assert "pruned_issues: 1 row(s), all verified in the target" in copied.output
    with open_database(config) as source, open_location(location_from_url(url, None)) as db:
        assert pruned_issue(db, "2021-02-22") == pruned_issue(source, "2021-02-22")
        assert pruned_issue(db, "2021-02-22") is not None
        assert db.run("deliveries.addresses", ("2021-02-22",)).fetchall() == []


def test_the_pruned_record_refuses_a_send_on_a_copied_state(site: Path, tmp_path: Path) -> None:
    """Moved to a new state, the issue is still never sent again."""
    recorder = Recorder()
    with smtp_server(recorder) as port:
        sent_and_aged(site, tmp_path, port, ["a@example.org"])
        assert run(tmp_path, "state", "prune").exit_code == 0
        moved = tmp_path / "moved"
        moved.mkdir()
        assert run(tmp_path, "state", "copy", "--to",
                   str(moved / "state" / "newsletter.sqlite3")).exit_code == 0
        configured(site, moved, port)
        delivered = len(recorder.messages)
        again = run(moved, "send", ISSUE.isoformat())
    assert again.exit_code == 1 and "pruned on" in again.output
    assert len(recorder.messages) == delivered


@both
def test_a_state_of_the_previous_schema_gains_the_record_and_prunes(
        state_backend: StateBackend, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    with state_of_version(config, BEFORE_PRUNING) as db, db.transaction():
        for i in range(3):  # the first delivered a week before the others
            db.run("delivery.record", ("2021-02-22", f"m{i}@example.org", "sent", "",
                                       FIRST if i == 0 else LONG_AGO))
        db.run("delivery.record", ("2021-03-01", "m0@example.org", "sent", "",
                                   dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))
    with open_database(config) as db:  # migrated on opening
        assert db.raw.execute("SELECT count(*) FROM pruned_issues").fetchone()[0] == 0
        assert db.raw.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 4
    report = prune_ledger(location(config), now=dt.datetime.now(dt.UTC), log=lambda _: None)
    assert [entry.issue for entry in report.pruned] == ["2021-02-22"]
    assert [entry.issue for entry in report.recent] == ["2021-03-01"]
    with open_database(config) as db:
        record = pruned_issue(db, "2021-02-22")
        assert record is not None and (record.sent, record.bounced) == (3, 0)
        assert (record.first_at, record.last_at) == (FIRST, LONG_AGO)
        assert db.raw.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 1


def test_older_than_must_be_days_and_at_least_one(tmp_path: Path) -> None:
    write_config(tmp_path)
    bad = run(tmp_path, "state", "prune", "--older-than", "3 weeks")
    assert bad.exit_code == 2 and "'3 weeks' is not a number of days" in bad.output
    zero = run(tmp_path, "state", "prune", "--older-than", "0d")
    assert zero.exit_code == 1 and "--older-than 0d: at least 1d" in zero.output


@both
def test_the_schedule_counts_a_pruned_issue_as_sent(site: Path, tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """A run of the schedule that finds its issue pruned (sent by hand long ago, say) has
    nothing to send: it says so and is recorded, instead of failing at every start."""
    import logging

    from newsletter.schedule.runs import is_done, run_issue

    recorder = Recorder()
    with smtp_server(recorder) as port:
        sent_and_aged(site, tmp_path, port, ["a@example.org"])
        assert run(tmp_path, "state", "prune").exit_code == 0
        path = project(site, tmp_path, port)
        text = path.read_text("utf-8") + "schedule: {cron: '0 7 * * mon', send: true}\n"
        path.write_text(text, "utf-8")
        config = load_config(path)
        fire = dt.datetime(2021, 2, 22, 7, tzinfo=dt.UTC)
        delivered = len(recorder.messages)
        with caplog.at_level(logging.INFO, "newsletter"):
            run_issue(config, fire)
    assert "issue 2021-02-22 was sent and its send ledger pruned on" in caplog.text
    assert is_done(config, fire, fire + dt.timedelta(minutes=1))
    assert len(recorder.messages) == delivered


def test_a_send_preparing_during_a_prune_waits_and_refuses(postgres_url: str,
                                                          tmp_path: Path) -> None:
    """PostgreSQL: a send preparing the issue while a prune of it is not yet committed waits
    for the prune (an advisory lock of the issue), then sees the issue pruned, rather than
    reading the ledger the prune is deleting."""
    import threading
    import time

    from newsletter.state.prune import PRUNE_LOCK, refuse_pruned

    config = load_config(write_config(tmp_path, state_url=postgres_url))
    outcome: list[BaseException | None] = []

    def prepare() -> None:
        with open_database(config) as db:
            try:
                with db.transaction():
                    refuse_pruned(db, "2021-02-22")
            except IssuePruned as error:
                outcome.append(error)
            else:
                outcome.append(None)

    with open_database(config) as pruning, pruning.transaction():
        pruning.run("issue.lock_to_prune", (PRUNE_LOCK, "2021-02-22"))
        pruning.run("pruned.record", ("2021-02-22", 3, 0, 0, LONG_AGO, LONG_AGO, LONG_AGO))
        sender = threading.Thread(target=prepare)
        sender.start()
        time.sleep(0.5)
        assert outcome == []  # waiting for the prune
    sender.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], IssuePruned)


def prune_during_a_send(config: Config, statement: str, params: tuple
                        ) -> tuple[PruneReport, list[str]]:
    """A prune started while a send of 2021-02-22 has checked the issue and run
    ``statement``, not yet committed: the prune waits for it (PostgreSQL's lock of the
    issue), then reads the issue again. Its report, and what it said."""
    import threading
    import time

    from newsletter.state.prune import refuse_pruned

    said: list[str] = []
    reports: list[PruneReport] = []

    def prune() -> None:
        reports.append(prune_ledger(location(config), now=dt.datetime.now(dt.UTC),
                                    log=said.append))

    with open_database(config) as sending:
        with sending.transaction():
            refuse_pruned(sending, "2021-02-22")
            sending.run(statement, params)
            pruning = threading.Thread(target=prune)
            pruning.start()
            time.sleep(1)
            assert reports == []  # waiting for the send
        pruning.join(30)
    assert len(reports) == 1, said
    return reports[0], said


@pytest.mark.parametrize("state_backend", ["postgresql"], indirect=True)
def test_a_send_preparing_before_a_prune_keeps_its_issue(state_backend: StateBackend,
                                                         site: Path, tmp_path: Path) -> None:
    """PostgreSQL: a send that is preparing an old issue (a newcomer to send it to) when a
    prune looks at the ledger is not seen by that look; the prune waits for the send's
    preparation, reads the issue again and keeps it, and the newcomer gets the issue, the
    others not again."""
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = sent_and_aged(site, tmp_path, port, ["a@example.org", "b@example.org"])
        assert run(tmp_path, "subscribers", "add", "new@example.org").exit_code == 0
        # what a send does first, not yet committed
        report, said = prune_during_a_send(config, "claims.fill", (ISSUE.isoformat(),))
        assert report.pruned == [], said
        assert any(line.startswith("  kept 2021-02-22: 1 recipient(s) still to be sent")
                   and "(changed since it was looked at)" in line for line in said), said
        assert rows(config, "deliveries") == 2 and rows(config, "pruned_issues") == 0
        before = len(recorder.messages)
        sent = run(tmp_path, "send", ISSUE.isoformat())
    assert sent.exit_code == 0, sent.output
    assert [address for address, _ in recorder.messages[before:]] == ["new@example.org"]


@both
def test_vacuum_gives_the_space_back(state_backend: StateBackend, tmp_path: Path) -> None:
    """--vacuum after the prune: SQLite rewrites the file, which shrinks; PostgreSQL
    VACUUMs the ledger's tables. Each says what it did."""
    config = load_config(write_config(tmp_path))
    state_sql(config, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                      "WHERE i < 5000) INSERT INTO deliveries (issue, email, status, at) "
                      "SELECT '2021-02-22', 'reader' || i || '@example.org', 'sent', ? FROM n",
              LONG_AGO)
    path = config.state_dir / "newsletter.sqlite3"
    before = path.stat().st_size if state_backend.name == "sqlite" else 0
    result = run(tmp_path, "state", "prune", "--vacuum")
    assert result.exit_code == 0, result.output
    assert "Pruned 1 issue(s), 5,000 row(s)" in result.output, result.output
    if state_backend.name == "sqlite":
        assert f"VACUUM {path} ..." in result.output
        assert "VACUUM: the file went from " in result.output, result.output
        assert path.stat().st_size < before / 2, (before, path.stat().st_size)
    else:
        assert "VACUUM (ANALYZE) deliveries, failures, send_pace ..." in result.output
        assert "VACUUM: the space is free for new rows" in result.output, result.output


def test_the_cutoff_is_exactly_the_days_given(tmp_path: Path) -> None:
    """An issue whose last activity is a second older than ``--older-than`` days is pruned;
    one exactly that old, or a second younger, is kept. ``--older-than 1d``, the shortest
    allowed, prunes yesterday's issue and keeps today's."""
    config = load_config(write_config(tmp_path))
    now = dt.datetime(2021, 6, 1, 12, tzinfo=dt.UTC)  # 90 days before: 2021-03-03 12:00
    for issue, at in (("2021-03-01", "2021-03-03T11:59:59+00:00"),
                      ("2021-03-02", "2021-03-03T12:00:00+00:00"),
                      ("2021-03-03", "2021-03-03T12:00:01+00:00")):
        state_sql(config, "INSERT INTO deliveries (issue, email, status, at) "
                          "VALUES (?, 'a@example.org', 'sent', ?)", issue, at)
    report = prune_ledger(location(config), now=now, log=lambda _: None)
    assert [entry.issue for entry in report.pruned] == ["2021-03-01"]
    assert [entry.issue for entry in report.recent] == ["2021-03-02", "2021-03-03"]

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    config = load_config(write_config(fresh))
    stamp = dt.datetime.now(dt.UTC)
    for issue, hours in (("2021-05-01", 25), ("2021-05-02", 23)):
        state_sql(config, "INSERT INTO deliveries (issue, email, status, at) "
                          "VALUES (?, 'a@example.org', 'sent', ?)", issue,
                  (stamp - dt.timedelta(hours=hours)).isoformat(timespec="seconds"))
    day = run(fresh, "state", "prune", "--older-than", "1d")
    assert day.exit_code == 0, day.output
    assert "  2021-05-01: 1 sent, 0 bounced, 0 failed; 1 row(s)" in day.output, day.output
    assert "Pruned 1 issue(s), 1 row(s)" in day.output
    assert "kept 1 issue(s) with activity in the last 1 days (2021-05-02 to 2021-05-02)" \
        in day.output


@pytest.mark.parametrize("state_backend", ["postgresql"], indirect=True)
def test_an_issue_delivered_to_while_the_prune_looked_is_kept(state_backend: StateBackend,
                                                              tmp_path: Path) -> None:
    """PostgreSQL: a send of an old issue that records a delivery while a prune is looking
    at the ledger (its claims already done) makes the issue recent again: the prune, which
    waited for it, reads the issue again and keeps it, rows and all."""
    config = load_config(write_config(tmp_path))
    state_sql(config, "INSERT INTO deliveries (issue, email, status, at) "
                      "VALUES ('2021-02-22', 'a@example.org', 'sent', ?)", LONG_AGO)
    report, said = prune_during_a_send(config, "delivery.record", (
        "2021-02-22", "new@example.org", "sent", "",
        dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))
    assert report.pruned == [], said
    assert any(line.startswith(f"  kept 2021-02-22: last activity {TODAY}")
               and "(changed since it was looked at)" in line for line in said), said
    assert rows(config, "deliveries") == 2 and rows(config, "pruned_issues") == 0


def test_what_counts_as_delivered_and_as_activity(tmp_path: Path) -> None:
    """An issue every reader of which bounced was delivered (the server answered for each):
    pruned, its pace row (a send with a rate) with it. A subscriber's message that could not
    be built yesterday is activity: the issue is recent. A message in flight from a sender
    of before claims (an attempt alone) keeps the issue however old."""
    config = load_config(write_config(tmp_path))
    yesterday = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat(timespec="seconds")
    state_sql(config, "INSERT INTO deliveries (issue, email, status, at) VALUES "
                      "('2021-01-04', 'a@example.org', 'bounced', ?), "
                      "('2021-01-11', 'a@example.org', 'sent', ?), "
                      "('2021-01-18', 'a@example.org', 'sent', ?)", LONG_AGO, LONG_AGO, LONG_AGO)
    state_sql(config, "INSERT INTO failures (issue, email, reason, subscriber_updated, at) "
                      "VALUES ('2021-01-11', 'b@example.org', 'cannot be built', ?, ?)",
              yesterday, yesterday)
    state_sql(config, "INSERT INTO attempts (issue, email, at) "
                      "VALUES ('2021-01-18', 'b@example.org', ?)", LONG_AGO)
    state_sql(config, "INSERT INTO send_pace (issue, next_slot) VALUES ('2021-01-04', 0)")
    for dry_run in (True, False):
        report = prune_ledger(location(config), now=dt.datetime.now(dt.UTC), dry_run=dry_run,
                              log=lambda _: None)
        assert [(entry.issue, entry.rows) for entry in report.pruned] == [("2021-01-04", 2)]
        assert [entry.issue for entry in report.recent] == ["2021-01-11"]
        assert [(entry.issue, why) for entry, why in report.kept] == [
            ("2021-01-18", "1 message(s) in flight: finish it (newsletter send 2021-01-18), "
                           "or let its running send finish")]
    with open_database(config) as db:
        record = pruned_issue(db, "2021-01-04")
    assert record is not None and (record.sent, record.bounced) == (0, 1)
    assert state_sql(config, "SELECT issue FROM send_pace") == []


def test_the_size_told_is_the_ledgers_share_of_the_rows_pruned(tmp_path: Path) -> None:
    """The size said to be freed is the ledger's size times the share of its rows pruned
    (delivered, bounced and failed rows alike): the whole ledger when every row goes, about
    half of it when half of them do."""
    config = load_config(write_config(tmp_path))
    state_sql(config, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                      "WHERE i < 400) INSERT INTO deliveries (issue, email, status, at) "
                      "SELECT CASE WHEN i % 2 THEN '2021-02-22' ELSE '2021-03-01' END, "
                      "'reader' || i || '@example.org', CASE WHEN i % 4 < 2 THEN 'sent' "
                      "ELSE 'bounced' END, ? FROM n", LONG_AGO)
    report = prune_ledger(location(config), now=dt.datetime.now(dt.UTC), dry_run=True,
                          log=lambda _: None)
    assert report.ledger_rows == 400 and report.ledger_bytes
    assert report.estimate(400) == report.ledger_bytes
    assert report.estimate(200) == report.ledger_bytes // 2
    whole = run(tmp_path, "state", "prune", "--dry-run")
    import re

    told = re.search(r"Would prune 2 issue\(s\), 400 row\(s\), about (.+?) of the ledger's "
                     r"(.+?)\. Dry run", whole.output)
    assert told is not None and told[1] == told[2], whole.output


def test_vacuum_runs_after_an_earlier_prune_and_the_refusal_names_the_last_delivery(
        tmp_path: Path) -> None:
    """``--vacuum`` with nothing left to prune (an earlier prune did not vacuum) still gives
    the space back and says so. A send of the pruned issue names its last delivery, not its
    first."""
    config = load_config(write_config(tmp_path))
    state_sql(config, "INSERT INTO deliveries (issue, email, status, at) VALUES "
                      "('2021-02-22', 'a@example.org', 'sent', ?), "
                      "('2021-02-22', 'b@example.org', 'sent', ?)", FIRST, LONG_AGO)
    assert run(tmp_path, "state", "prune").exit_code == 0
    path = config.state_dir / "newsletter.sqlite3"
    later = run(tmp_path, "state", "prune", "--vacuum")
    assert later.exit_code == 0, later.output
    assert "Nothing to prune." in later.output
    assert f"VACUUM {path} ..." in later.output and "VACUUM: the file went from " in \
        later.output, later.output
    with open_database(config) as db, pytest.raises(IssuePruned) as refused:
        refuse_pruned(db, "2021-02-22")
    assert "(2 sent, 0 bounced, the last on 2021-03-01)" in str(refused.value), refused.value
