"""``newsletter state copy`` onto a target that holds rows of its own, and a copy the target
cannot take: nothing of the target is overwritten or lost, and the error says why."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from conftest import StateBackend, make_config, run, target_of, target_sql
from newsletter.state.database import location_from_url, open_location

QUEUE = ("INSERT INTO mail_queue (kind, email, mailbox, created_at, due_at) "
         "VALUES ('confirm', ?, ?, '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')")


def source_sql(tmp_path: Path, sql: str, *params: object) -> None:
    with sqlite3.connect(tmp_path / ".newsletter" / "newsletter.sqlite3") as source:
        source.execute(sql, params)


def copied_once(tmp_path: Path, backend: StateBackend) -> str:
    """A SQLite state (one subscriber, their confirmation queued) copied to a target."""
    make_config(tmp_path, state_url=None)
    assert run(tmp_path, "subscribers", "add", "a@example.org").exit_code == 0
    source_sql(tmp_path, QUEUE, "a@example.org", "a@example.org")
    target = target_of(backend, tmp_path)
    first = run(tmp_path, "state", "copy", "--to", target)
    assert first.exit_code == 0, first.output
    return target


def everything(target: str) -> list[list[tuple[object, ...]]]:
    return [target_sql(target, f"SELECT * FROM {table} ORDER BY 1, 2")  # noqa: S608
            for table in ("subscribers", "mail_queue")]


def test_copy_again_never_overwrites_the_targets_own_queued_emails(
        state_backend: StateBackend, tmp_path: Path) -> None:
    """The target queued an email of its own (a signup there), the source another since:
    both under the next id. Copying by id would replace the target's; it is refused."""
    target = copied_once(tmp_path, state_backend)
    target_sql(target, QUEUE, "t@example.org", "t@example.org")
    source_sql(tmp_path, QUEUE, "s@example.org", "s@example.org")
    before = everything(target)
    again = run(tmp_path, "state", "copy", "--to", target)
    assert again.exit_code == 1, again.output
    message = " ".join(again.output.split())
    assert "mail_queue: the target holds a row of its own under id 2" in message
    assert "t@example.org" in message and "s@example.org" in message
    assert "Nothing was copied; copy only into a database that nothing uses yet" in message
    assert everything(target) == before


def test_copy_again_never_undoes_an_email_the_target_sent(
        state_backend: StateBackend, tmp_path: Path) -> None:
    """The target sent the queued confirmation; copying the source's row, still queued,
    over it would send it again: refused."""
    target = copied_once(tmp_path, state_backend)
    target_sql(target, "UPDATE mail_queue SET status = 'sent', attempts = 1 WHERE id = 1")
    before = everything(target)
    again = run(tmp_path, "state", "copy", "--to", target)
    assert again.exit_code == 1, again.output
    message = " ".join(again.output.split())
    assert "mail_queue: the target has changed since" in message
    assert "the confirm email to 'a@example.org', id 1, is sent there" in message
    assert everything(target) == before
    source_sql(tmp_path, "UPDATE mail_queue SET status = 'sent', attempts = 1 WHERE id = 1")
    assert run(tmp_path, "state", "copy", "--to", target).exit_code == 0  # caught up: fine


def test_a_nul_character_names_the_row_and_how_to_clean_it(
        postgres_url: str, tmp_path: Path) -> None:
    """SQLite text holds a NUL character, PostgreSQL text cannot: the copy says which row and
    column, writes nothing, and the cleaning it proposes lets it through."""
    make_config(tmp_path, state_url=None)
    for address in ("a@example.org", "b@example.org"):
        assert run(tmp_path, "subscribers", "add", address).exit_code == 0
    source_sql(tmp_path, "UPDATE subscribers SET name = ? WHERE email = 'b@example.org'",
               "Ann\x00B")
    result = run(tmp_path, "state", "copy", "--to", postgres_url)
    assert result.exit_code == 1, result.output
    message = " ".join(result.output.split())
    assert ("subscribers: the row {'email': 'b@example.org'} holds a NUL character in name "
            "('Ann\\x00B'), which PostgreSQL text cannot store. Nothing was copied") in message
    assert "clash" not in message
    assert target_sql(postgres_url, "SELECT count(*) FROM subscribers") == [(0,)]
    fix = re.search(r"in SQLite: (UPDATE .*?)\) and copy again", message)
    assert fix is not None, message
    source_sql(tmp_path, fix.group(1))
    again = run(tmp_path, "state", "copy", "--to", postgres_url)
    assert again.exit_code == 0, again.output
    assert target_sql(postgres_url, "SELECT email, name FROM subscribers ORDER BY email") == [
        ("a@example.org", ""), ("b@example.org", "AnnB")]


def test_text_that_is_not_utf8_names_the_row_and_how_to_mend_it(
        state_backend: StateBackend, tmp_path: Path) -> None:
    """SQLite keeps any bytes as text, Python cannot read them back: the copy names the
    table, row and column (in a key column too) instead of the driver's bare message, writes
    nothing, and the UPDATE it proposes lets it through."""
    make_config(tmp_path, state_url=None)
    for address in ("a@example.org", "b@example.org"):
        assert run(tmp_path, "subscribers", "add", address).exit_code == 0
    source_sql(tmp_path, "UPDATE subscribers SET name = CAST(X'416EFF6E' AS TEXT) "
                         "WHERE email = 'b@example.org'")
    source_sql(tmp_path, "UPDATE subscribers SET email = CAST(X'6140FE2E6F7267' AS TEXT) "
                         "WHERE email = 'a@example.org'")
    target = target_of(state_backend, tmp_path)
    fixes = []
    for expected in ("subscribers: the row {'email': 'a@\ufffd.org'} holds text that is not "
                     "valid UTF-8 in email ('a@\ufffd.org'",
                     "subscribers: the row {'email': 'b@example.org'} holds text that is not "
                     "valid UTF-8 in name ('An\ufffdn'"):
        result = run(tmp_path, "state", "copy", "--to", target)
        assert result.exit_code == 1, result.output
        message = " ".join(result.output.split())
        assert f"{tmp_path / '.newsletter' / 'newsletter.sqlite3'}: {expected}" in message
        assert "Nothing was copied" in message and "Could not decode" not in message
        fix = re.search(r"with those bytes replaced: (UPDATE .*?)\) and copy again", message)
        assert fix is not None, message
        fixes.append(fix.group(1))
        source_sql(tmp_path, fix.group(1))
    assert "CAST(X'6140FE2E6F7267' AS TEXT)" in fixes[0]  # the key as it is stored
    assert target_sql(target, "SELECT count(*) FROM subscribers") == [(0,)]
    again = run(tmp_path, "state", "copy", "--to", target)
    assert again.exit_code == 0, again.output
    assert target_sql(target, "SELECT email, name FROM subscribers ORDER BY id") == [
        ("a@\ufffd.org", ""), ("b@example.org", "An\ufffdn")]


def test_a_value_the_target_refuses_is_named_and_nothing_is_copied(
        postgres_url: str, tmp_path: Path) -> None:
    """A value PostgreSQL refuses (text where a number belongs, which SQLite keeps): the
    driver's reason and the table, no talk of clashes, and the tables copied before it
    rolled back too."""
    make_config(tmp_path, state_url=None)
    assert run(tmp_path, "subscribers", "add", "a@example.org").exit_code == 0
    source_sql(tmp_path, QUEUE, "a@example.org", "a@example.org")
    source_sql(tmp_path, "UPDATE mail_queue SET attempts = 'many'")
    result = run(tmp_path, "state", "copy", "--to", postgres_url)
    assert result.exit_code == 1, result.output
    message = " ".join(result.output.split())
    assert "the copy was rolled back, nothing of it was written" in message
    assert "mail_queue: the row {'id': 1}: the copy was rolled back" in message
    assert "many" in message and "clash" not in message
    assert everything(postgres_url) == [[], []]


def test_a_unique_clash_keeps_its_hint(state_backend: StateBackend, tmp_path: Path) -> None:
    """Another subscriber of the target's under the link key of one of the source's."""
    make_config(tmp_path, state_url=None)
    assert run(tmp_path, "subscribers", "add", "a@example.org").exit_code == 0
    target = target_of(state_backend, tmp_path)
    with open_location(location_from_url(target)):
        pass  # the target, at the latest schema
    target_sql(target, "INSERT INTO subscribers (id, email, created, updated, token_key) "
                       "VALUES (7, 't@example.org', 'x', 'x', 'k')")
    source_sql(tmp_path, "UPDATE subscribers SET token_key = 'k'")
    before = everything(target)
    result = run(tmp_path, "state", "copy", "--to", target)
    assert result.exit_code == 1, result.output
    message = " ".join(result.output.split())
    assert ("subscribers: the row {'email': 'a@example.org'}: the copy was rolled back, "
            "nothing of it was written") in message
    assert "token_key" in message
    assert "clash with the source's on a unique key; copy into an empty database" in message
    assert everything(target) == before
