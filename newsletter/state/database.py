"""The delivery state: subscribers and the send ledger, in one SQLite file under ``state_dir``.

One file so that "this subscriber exists" and "this subscriber received issue D" change in
the same transactions. WAL mode lets the sender commit a ledger row per message while
``serve`` records unsubscribes and the CLI lists subscribers, without blocking each other.
``synchronous=NORMAL`` keeps each commit cheap: a committed row survives the process being
killed (SIGKILL) at any moment; only a crash of the whole machine can lose the last commits,
which then means a repeated message, never a skipped one.

Every thread opens its own connection (:func:`connect`): sqlite3 connections are not shared
between threads.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from ..core.config import Config
from ..core.errors import NewsletterError

STATE_FILE = "newsletter.sqlite3"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS subscribers (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,          -- normalized: local part as given, domain lowercased
    name TEXT NOT NULL DEFAULT '',
    topics TEXT NOT NULL DEFAULT '',     -- separated by semicolons, '' means every topic
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'unsubscribed')),
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
-- One row per (issue, address) once the SMTP server accepted the message ('sent') or
-- rejected the recipient for good ('bounced'): what makes a resumed send skip it.
CREATE TABLE IF NOT EXISTS deliveries (
    issue TEXT NOT NULL,
    email TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('sent', 'bounced')),
    detail TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL,
    PRIMARY KEY (issue, email)
) WITHOUT ROWID;
-- A message handed to the server and not yet acknowledged: a row left here by a killed
-- sender names a message that may or may not have been delivered.
CREATE TABLE IF NOT EXISTS attempts (
    issue TEXT NOT NULL,
    email TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (issue, email)
) WITHOUT ROWID;
"""


def state_path(config: Config) -> Path:
    return config.state_dir / STATE_FILE


def now() -> str:
    """A UTC timestamp for the records (bookkeeping only; never part of a message)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def connect(config: Config) -> sqlite3.Connection:
    """A new connection to the state file, created (with its folder) on first use.

    The connection is in autocommit mode: callers group writes with ``with transaction(db)``.
    """
    path = state_path(config)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                             check_same_thread=True)
    except (OSError, sqlite3.Error) as error:
        raise NewsletterError(f"{path}: cannot open the state database ({error}); check "
                              "state_dir in the configuration and its permissions") from None
    try:
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise NewsletterError(f"{path}: written by a newer version of newsletter "
                                  f"(schema {version}); upgrade newsletter")
        if version < SCHEMA_VERSION:
            db.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} "
                             f"PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
    except sqlite3.DatabaseError as error:
        db.close()
        raise NewsletterError(f"{path}: not a usable state database ({error}); restore it "
                              "from a backup or move it away") from None
    except BaseException:
        db.close()
        raise
    db.row_factory = sqlite3.Row
    return db


class transaction:  # noqa: N801 - used like a function: ``with transaction(db):``
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on an exception).

    IMMEDIATE takes the write lock up front, so two writers wait for each other (busy
    timeout) instead of failing halfway with "database is locked".
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")
