"""Taking over a paused sender's recipients, against a real PostgreSQL: a sender paused in
the moment between checking that it still holds a recipient and recording its attempt keeps
that recipient, so no other sender sends it too. Skips, saying why, without PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter.core.config import load_config
from newsletter.core.errors import NewsletterError
from newsletter.state import postgresql
from newsletter.state.database import Database, open_database
from postgresql_support import on_postgresql
from sending_support import add_people, project

SLUG = "2021-03-08"
LEASE = 1.0


def take(db: Database, holder: str) -> list[str]:
    """What ``holder`` takes in one batch, as a sender does."""
    with db.transaction():
        db.run("claims.take", (holder, f"{holder}#1", LEASE, SLUG, SLUG, "run", 10))
    return [row[0] for row in db.run("claims.batch", (SLUG, f"{holder}#1")).fetchall()]


@pytest.fixture
def senders(site: Path, tmp_path: Path, postgres_url: str) -> Iterator[tuple[Database, Database]]:
    """Two senders' connections; the first has taken the one recipient."""
    config = load_config(on_postgresql(project(site, tmp_path), postgres_url))
    add_people(config, tmp_path, ["ada@example.org,,"])
    first, second = open_database(config), open_database(config)
    try:
        first.run("claims.fill", (SLUG,))
        assert take(first, "first") == ["ada@example.org"]
        yield first, second
    finally:
        first.close()
        second.close()


def test_a_sender_paused_after_its_check_keeps_the_recipient(
        senders: tuple[Database, Database]) -> None:
    first, second = senders
    with first.transaction():
        held = first.run("claim.held", (SLUG, "ada@example.org", "first", "first#1"))
        assert held.fetchone() is not None
        # Paused here past its lease (a machine frozen, SIGSTOP): its heartbeat stopped too.
        time.sleep(LEASE + 0.5)
        assert take(second, "second") == []  # not sent by a second sender meanwhile
        first.run("attempt.record", (SLUG, "ada@example.org", time.time()))
    # Once the first has recorded its attempt, a sender taking over later names it as in
    # flight (the server may have it) instead of sending it blind.
    time.sleep(LEASE + 0.5)
    assert take(second, "second") == ["ada@example.org"]
    assert second.run("claims.batch", (SLUG, "second#1")).fetchone()[3]


@pytest.fixture
def short_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgresql, "IDLE_IN_TRANSACTION_MS", 1000)


@pytest.mark.usefixtures("short_idle")  # before the senders connect
def test_a_sender_paused_inside_its_transaction_loses_its_session_and_the_recipient(
        senders: tuple[Database, Database]) -> None:
    """Not forever: the server ends a session that stands still inside a transaction, the
    lock goes with it, another sender takes the recipient, and the paused one is told."""
    first, second = senders
    with pytest.raises(NewsletterError, match="PostgreSQL ended this process's session: "
                                              "it stood still inside a transaction for "
                                              "more than 1 s"), first.transaction():
        first.run("claim.held", (SLUG, "ada@example.org", "first", "first#1"))
        time.sleep(LEASE + 1)
        assert take(second, "second") == ["ada@example.org"]
        first.run("attempt.record", (SLUG, "ada@example.org", time.time()))
    assert not second.run("claims.batch", (SLUG, "second#1")).fetchone()[3]
