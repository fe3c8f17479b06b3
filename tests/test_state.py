"""The state layer on both backends: the schema and its migrations, the named statements,
transactions, and where the state is (state_url, its password, the errors)."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT, StateBackend, make_config, run, state_of_version
from newsletter.core.errors import ConfigError, NewsletterError
from newsletter.delivery.subscribers import mailbox_key
from newsletter.state.database import location, location_from_url, open_database, schema_version
from newsletter.state.queries import STATEMENTS, catalogue
from newsletter.state.schema import DIALECTS, MIGRATIONS, TABLES, check_catalogue
from newsletter.state.schema import LATEST as SCHEMA_VERSION


def test_the_migrations_are_numbered_and_cover_both_dialects() -> None:
    check_catalogue()
    assert [m.version for m in MIGRATIONS] == list(range(1, SCHEMA_VERSION + 1))


def test_a_new_state_gets_the_whole_schema_on_first_use(state_backend: StateBackend,
                                                        tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with open_database(config) as db:
        assert db.dialect == state_backend.name
        assert schema_version(db) == SCHEMA_VERSION
        for table in TABLES:  # every table exists, empty
            assert db.raw.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
    with open_database(config) as again:  # opening again changes nothing
        assert schema_version(again) == SCHEMA_VERSION


def test_every_named_statement_compiles_on_both_engines(state_backend: StateBackend,
                                                        tmp_path: Path) -> None:
    """A typo or a dialect slip in any statement fails here, not in production."""
    with open_database(make_config(tmp_path)) as db:
        for name, sql in catalogue(db.dialect).items():
            count = sql.count("?") if db.dialect == "sqlite" else sql.count("%s")
            try:
                db.raw.execute(f"EXPLAIN {sql}", (None,) * count)
            except Exception as error:  # noqa: BLE001 - reported with the statement's name
                pytest.fail(f"{name}: {error}")
    assert set(catalogue("sqlite")) == set(STATEMENTS)
    assert set(catalogue("postgresql")) >= set(STATEMENTS)


def test_a_transaction_is_all_or_nothing(state_backend: StateBackend, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with open_database(config) as db:
        with pytest.raises(RuntimeError), db.transaction():
            db.run("subscriber.insert", ("a@example.org", "A", "", "active", "t", "t"))
            with db.transaction():  # nested: joins the outer one
                db.run("subscriber.insert", ("b@example.org", "B", "", "active", "t", "t"))
            raise RuntimeError("stop")
        assert db.run("subscribers.all").fetchall() == []
        with db.transaction():
            db.run("subscriber.insert", ("a@example.org", "A", "", "active", "t", "t"))
    with open_database(config) as other:  # committed: another connection sees it
        assert [tuple(r) for r in other.run("subscribers.all")] == [
            ("a@example.org", "A", "", "active")]


@pytest.mark.parametrize("process", ["new", "running"])
def test_a_state_from_a_newer_version_is_refused(state_backend: StateBackend,
                                                 tmp_path: Path, process: str) -> None:
    """By a process started after the upgrade, and by one that was running already (serve,
    schedule) when a newer version on another machine migrated the state under it."""
    config = make_config(tmp_path)
    with open_database(config) as db:
        if db.dialect == "sqlite":
            db.raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        else:
            db.raw.execute("INSERT INTO newsletter_schema VALUES (%s, 'later')",
                           (SCHEMA_VERSION + 1,))
    from newsletter.state import database as state_db

    if process == "new":
        state_db._MIGRATED.clear()
    with pytest.raises(NewsletterError, match=f"newer version of newsletter .schema "
                                              f"{SCHEMA_VERSION + 1}"):
        open_database(config)


def test_a_sqlite_file_of_the_first_schema_opens_as_it_is(tmp_path: Path) -> None:
    """State files written before migrations had names (user_version 1) keep working."""
    config = make_config(tmp_path)
    path = location(config).path
    assert path is not None
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as old:
        old.executescript(MIGRATIONS[0].sql["sqlite"] + "PRAGMA user_version = 1;")
        old.execute("INSERT INTO subscribers (email, created, updated) "
                    "VALUES ('old@example.org', 't', 't')")
    with open_database(config) as db:
        assert schema_version(db) == SCHEMA_VERSION
        assert db.run("subscriber.get", ("old@example.org",)).fetchone()[0] == "old@example.org"


def test_confirmations_queued_before_mailboxes_were_counted_count_against_theirs(
        state_backend: StateBackend, tmp_path: Path) -> None:
    """Upgrading keeps the day's confirmation limit: the rows already queued get the
    mailbox the signup code would give them."""
    config = make_config(tmp_path)
    emails = ["Ada@example.org", "ADA+news@example.org", "+tag@example.org",
              "a+b+c@example.org", "plain@example.org"]
    with state_of_version(config, 4) as db, db.transaction():
        for email in emails:
            db.raw.execute("INSERT INTO mail_queue (kind, email, created_at, due_at) "
                           f"VALUES ('confirm', '{email}', 't', 't')")
    with open_database(config) as db:
        assert schema_version(db) == SCHEMA_VERSION
        rows = db.raw.execute("SELECT email, mailbox FROM mail_queue ORDER BY id").fetchall()
    assert [tuple(row) for row in rows] == [(email, mailbox_key(email)) for email in emails]
    assert [key for _, key in rows] == ["ada@example.org", "ada@example.org",
                                        "+tag@example.org", "a@example.org",
                                        "plain@example.org"]


def test_many_processes_opening_a_new_postgresql_state_at_once_migrate_it_once(
        postgres_url: str, tmp_path: Path) -> None:
    config = make_config(tmp_path, state_url=postgres_url)
    code = ("import sys; from newsletter.core.config import load_config; "
            "from newsletter.state.database import open_database; "
            "open_database(load_config(__import__('pathlib').Path(sys.argv[1]))).close()")
    processes = [subprocess.Popen([sys.executable, "-c", code, str(config.path)], cwd=PROJECT,
                                  stderr=subprocess.PIPE, text=True) for _ in range(4)]
    errors = [p.communicate(timeout=60)[1] for p in processes]
    assert [p.returncode for p in processes] == [0] * 4, errors
    with open_database(config) as db:
        assert db.raw.execute("SELECT version FROM newsletter_schema ORDER BY version"
                              ).fetchall() == [(m.version,) for m in MIGRATIONS]


# -- where the state is ------------------------------------------------------------------------

def test_without_state_url_the_state_is_the_sqlite_file_in_state_dir(tmp_path: Path) -> None:
    config = make_config(tmp_path, state_dir="var")
    assert location(config).dialect == "sqlite"
    assert location(config).path == tmp_path / "var" / "newsletter.sqlite3"


def test_a_password_in_state_url_is_an_error_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, state_url="postgresql://news:hunter2@db.example.org/news")
    message = str(caught.value)
    assert "state_url: holds a password" in message and "state_password_env" in message
    assert "hunter2" not in message


@pytest.mark.parametrize("url, expected", [
    ("mysql://db.example.org/news", "a postgresql:// URL"),
    ("postgresql://news@db.example.org:5432", "a database name"),
    ("postgresql://news@db.example.org:port/news", "a valid URL"),
])
def test_a_bad_state_url_is_reported(tmp_path: Path, url: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        make_config(tmp_path, state_url=url)


def test_the_password_comes_from_the_variable_state_password_env_names(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = make_config(tmp_path, state_url="postgresql://news@127.0.0.1:1/news",
                         state_password_env="NEWS_DB_PASSWORD")
    monkeypatch.delenv("NEWS_DB_PASSWORD", raising=False)
    with pytest.raises(NewsletterError, match="NEWS_DB_PASSWORD .state_password_env. is not "
                                              "set"):
        open_database(config)
    monkeypatch.setenv("NEWS_DB_PASSWORD", "s3cret")
    with pytest.raises(NewsletterError) as caught:  # nothing listens on port 1
        open_database(config)
    message = str(caught.value)
    assert "postgresql://news@127.0.0.1:1/news: cannot connect" in message
    assert "state_url" in message and "NEWS_DB_PASSWORD" in message
    assert "s3cret" not in message


def test_a_state_named_on_the_command_line(tmp_path: Path) -> None:
    assert location_from_url("postgresql://u@h/db").dialect == "postgresql"
    assert location_from_url(str(tmp_path / "s.sqlite3")).path == tmp_path / "s.sqlite3"
    with pytest.raises(NewsletterError, match="holds a password"):
        location_from_url("postgresql://u:pw@h/db")
    assert DIALECTS == ("sqlite", "postgresql")


def test_the_check_command_reports_a_password_in_state_url(tmp_path: Path) -> None:
    make_config(tmp_path)
    config = tmp_path / "newsletter.yaml"
    config.write_text(config.read_text() + "state_url: postgresql://a:b@h/db\n")
    result = run(tmp_path, "check")
    assert result.exit_code == 1 and "state_url: holds a password" in result.output


# -- newsletter state migrate ------------------------------------------------------------------

def test_state_migrate_brings_an_old_state_up_to_date_and_moves_the_runs_in(
        tmp_path: Path) -> None:
    """A state written before migrations had names (schema 1, runs in a JSON file beside
    it) is brought to the latest schema, and its record of runs moves into the database."""
    import json

    from newsletter.schedule.runs import last_completed, legacy_state_path

    config = make_config(tmp_path, state_dir="state",
                         schedule={"cron": "0 7 * * mon"})
    path = location(config).path
    assert path is not None
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as old:
        old.executescript(MIGRATIONS[0].sql["sqlite"] + "PRAGMA user_version = 1;")
    legacy_state_path(config).write_text(json.dumps(
        {"output": str(config.output), "last_completed": "2021-02-22T07:00:00+00:00"}))
    result = run(tmp_path, "state", "migrate")
    assert result.exit_code == 0, result.output
    assert f"{path}: schema version 1 -> {SCHEMA_VERSION}." in result.output
    assert "record of runs moved into the database" in result.output
    legacy_state_path(config).unlink()  # the database alone now knows the run
    assert last_completed(config) is not None
    assert last_completed(config).isoformat() == "2021-02-22T07:00:00+00:00"
    again = run(tmp_path, "state", "migrate")
    assert f"the schema is up to date (version {SCHEMA_VERSION})" in again.output


def test_state_migrate_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    make_config(tmp_path, state_url=postgres_url)
    result = run(tmp_path, "state", "migrate")
    assert result.exit_code == 0, result.output
    assert f"{postgres_url}: schema version 0 -> {SCHEMA_VERSION}." in result.output


def test_state_copy_refuses_a_password_in_the_url_and_the_same_database(
        tmp_path: Path) -> None:
    make_config(tmp_path)
    result = run(tmp_path, "state", "copy", "--to", "postgresql://a:secret@h/db")
    assert result.exit_code == 1 and "holds a password" in result.output
    assert "secret" not in result.output.replace("secret_env", "")
    same = run(tmp_path, "state", "copy", "--to",
               str(tmp_path / ".newsletter" / "newsletter.sqlite3"))
    assert same.exit_code == 1 and "the same database" in same.output


def test_state_copy_refuses_the_source_spelt_another_way(tmp_path: Path) -> None:
    """The state file named through "..", a symbolic link to its folder or a hard link is
    the source, refused as its plain path is; nothing of it is written."""
    make_config(tmp_path)
    assert run(tmp_path, "subscribers", "add", "a@example.org").exit_code == 0
    state = tmp_path / ".newsletter" / "newsletter.sqlite3"
    (tmp_path / "link").symlink_to(".newsletter")
    os.link(state, tmp_path / "hard.sqlite3")
    before = state.read_bytes(), state.stat().st_mtime_ns
    for spelling in (f"{tmp_path}/.newsletter/../.newsletter/newsletter.sqlite3",
                     f"sqlite://{tmp_path}/link/newsletter.sqlite3",
                     str(tmp_path / "hard.sqlite3")):
        same = run(tmp_path, "state", "copy", "--to", spelling)
        assert same.exit_code == 1, (spelling, same.output)
        assert f"{spelling.removeprefix('sqlite://')}: the source and the target are the " \
               "same database" in same.output
    assert (state.read_bytes(), state.stat().st_mtime_ns) == before
    other = run(tmp_path, "state", "copy", "--to", f"{tmp_path}/link/../other.sqlite3")
    assert other.exit_code == 0, other.output


def test_state_copy_to_another_sqlite_file_verifies_every_row(tmp_path: Path) -> None:
    make_config(tmp_path, topics=["AI", "Robotics"])
    for address in ("a@example.org", "b@example.org"):
        assert run(tmp_path, "subscribers", "add", address, "--topics", "AI").exit_code == 0
    target = tmp_path / "copy.sqlite3"
    result = run(tmp_path, "state", "copy", "--to", str(target))
    assert result.exit_code == 0, result.output
    assert "subscribers: 2 row(s), all verified in the target" in result.output
    with sqlite3.connect(target) as copy:
        assert copy.execute("SELECT email, topics FROM subscribers ORDER BY email"
                            ).fetchall() == [("a@example.org", "AI"), ("b@example.org", "AI")]


def test_state_copy_leaves_the_folder_of_its_target_open(tmp_path: Path) -> None:
    """The target file is private; the folder it lies in is the user's (a home, a backup
    folder, /tmp), and closing it to everybody else would break their other uses of it."""
    (tmp_path / "project").mkdir()
    make_config(tmp_path / "project")
    assert run(tmp_path / "project", "subscribers", "add", "a@example.org").exit_code == 0
    for folder, mode in ((tmp_path / "backups", 0o755), (tmp_path / "shared", 0o1777)):
        folder.mkdir()
        folder.chmod(mode)
        for target in (str(folder / "copy.sqlite3"), f"sqlite://{folder}/other.sqlite3"):
            result = run(tmp_path / "project", "state", "copy", "--to", target)
            assert result.exit_code == 0, result.output
        assert stat.S_IMODE(folder.stat().st_mode) == mode, folder
        assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()
                if p.suffix == ".sqlite3"} == {"copy.sqlite3": 0o600, "other.sqlite3": 0o600}


def test_a_shared_sticky_folder_as_state_dir_stays_open(tmp_path: Path) -> None:
    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    make_config(tmp_path, state_dir=str(shared))
    assert run(tmp_path, "subscribers", "add", "a@example.org").exit_code == 0
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert stat.S_IMODE((shared / "newsletter.sqlite3").stat().st_mode) == 0o600


def test_state_copy_again_never_undoes_what_the_target_recorded_since(tmp_path: Path) -> None:
    """Copied, then the target used (an unsubscribe recorded there): copying the old state
    again would bring the subscriber back; it is refused, and nothing is written."""
    make_config(tmp_path, topics=["AI"])
    for address in ("a@example.org", "b@example.org"):
        assert run(tmp_path, "subscribers", "add", address).exit_code == 0
    target = tmp_path / "copy.sqlite3"
    assert run(tmp_path, "state", "copy", "--to", str(target)).exit_code == 0
    with sqlite3.connect(target) as copy:  # the reader leaves, on the new state
        copy.execute("UPDATE subscribers SET status = 'unsubscribed', updated = "
                     "'9999-01-01T00:00:00+00:00' WHERE email = 'a@example.org'")
    assert run(tmp_path, "subscribers", "add", "c@example.org").exit_code == 0
    again = run(tmp_path, "state", "copy", "--to", str(target))
    assert again.exit_code == 1, again.output
    assert "the target has changed since" in again.output and "a@example.org" in again.output
    with sqlite3.connect(target) as copy:
        assert copy.execute("SELECT email, status FROM subscribers ORDER BY email").fetchall() \
            == [("a@example.org", "unsubscribed"), ("b@example.org", "active")]
