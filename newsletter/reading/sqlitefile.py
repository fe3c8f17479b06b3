"""The corpus cache's SQLite file: a busy file told from a damaged one, free pages given
back, and notes fit to print whatever the damage put in an error message."""

from __future__ import annotations

import sqlite3
import sys

BUSY_WAIT_SECONDS = 60


def is_busy(error: sqlite3.Error) -> bool:
    return getattr(error, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))


def is_corrupt(error: sqlite3.Error) -> bool:
    """Damage worth deleting the file for; a busy or read-only database is not."""
    name = getattr(error, "sqlite_errorname", "")
    return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or (
        not name and isinstance(error, sqlite3.DatabaseError)
        and not isinstance(error, sqlite3.OperationalError))


def give_back_free_pages(connection: sqlite3.Connection) -> None:
    """SQLite keeps the pages of dropped rows in the file (gigabytes for a million articles):
    give them back to the disk, unless another process is using the file right now (then the
    next format change tries again; nothing waits for it)."""
    connection.execute("PRAGMA busy_timeout = 0")
    try:
        connection.execute("VACUUM")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.OperationalError:
        pass
    finally:
        connection.execute(f"PRAGMA busy_timeout = {BUSY_WAIT_SECONDS * 1000}")


def shown(error: BaseException) -> str:
    """An error's message for a note: SQLite quotes bytes of a damaged file in some of its
    messages, which must not reach the terminal as they are."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(error))


def note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)
