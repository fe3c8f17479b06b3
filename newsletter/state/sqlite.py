"""SQLite connections to the state, and what SQLite's failures mean for the user.

WAL mode lets the sender commit a ledger row per message while ``serve`` records
unsubscribes, without blocking each other; ``synchronous=NORMAL`` keeps each commit cheap (a
committed row survives SIGKILL; only a crash of the whole machine can lose the last
commits, which then means a repeated message, never a skipped one). Transactions are
``BEGIN IMMEDIATE``: two writers wait for each other (busy timeout) instead of failing
halfway with "database is locked". Every failure leaves as a :class:`NewsletterError` that
says what happened (disk full, read-only, locked, not a database) and that nothing changed.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from ..core.errors import NewsletterError, ReadOnlyState
from ..core.private import FOLDER_MODE, private_file, private_folder
from .location import Location

BUSY_TIMEOUT_MS = 10_000


def connect_sqlite(where: Location) -> sqlite3.Connection:
    """A raw connection in autocommit mode, its folder and file private, WAL and foreign
    keys on; the schema is not looked at here."""
    path = where.path
    assert path is not None
    try:
        if where.own_folder:
            private_folder(path.parent, keep_open=where.keep_open)
        else:  # the file is private, the user's folder is theirs
            path.parent.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
        private_file(path)
        raw = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                              check_same_thread=True)
    except (OSError, sqlite3.Error) as error:
        if isinstance(error, OSError) and not os.access(path.parent, os.W_OK):
            raise read_only_error(path, error) from None
        raise NewsletterError(f"{path}: cannot open the state database ({error}); check "
                              "state_dir in the configuration and its permissions") from None
    try:
        raw.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        raw.execute("PRAGMA journal_mode = WAL")
        raw.execute("PRAGMA synchronous = NORMAL")
        raw.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as error:
        raw.close()
        raise database_error(path, error) from None
    except BaseException:
        raw.close()
        raise
    return raw


def read_only_error(path: Path, error: object) -> ReadOnlyState:
    return ReadOnlyState(
        f"{path}: the state folder {path.parent} is read-only for this user ({error}): "
        "nothing changed. Make it writable (SQLite writes beside the database even to read "
        "it), or point state_dir at a writable folder", path)


def _holders(path: Path) -> list[str]:
    """Other processes with the database open (Linux's /proc; [] elsewhere), as
    ``PID 123 (newsletter send 2021-02-22)``."""
    names = {str(path.resolve()), f"{path.resolve()}-wal"}
    found = []
    try:
        pids = [entry for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return []
    for pid in pids:
        if int(pid) == os.getpid():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if not any(os.readlink(f"/proc/{pid}/fd/{fd}") in names for fd in fds):
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        command = " ".join(command.split())
        found.append(f"PID {pid} ({command[:80]})")
    return found


def database_error(path: Path, error: sqlite3.Error) -> NewsletterError:
    """What a failed SQLite statement means for the user, and that nothing was changed (every
    write is a transaction, rolled back when it fails)."""
    name = getattr(error, "sqlite_errorname", "") or ""
    if name == "SQLITE_FULL":
        return NewsletterError(f"{path}: disk full, nothing changed. Free some space on the "
                               f"disk holding {path.parent} and run the command again")
    if name.startswith("SQLITE_READONLY"):
        return read_only_error(path, error)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        holders = _holders(path)
        who = ("; it is open in " + ", ".join(holders)) if holders else (
            "; another newsletter command (send, serve, a subscribers command, the "
            "scheduler) or a sqlite3 shell may hold it")
        return NewsletterError(
            f"{path}: still locked by another writer after {BUSY_TIMEOUT_MS / 1000:g} s{who}: "
            "nothing changed. Run the command again once it has finished")
    if name in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
        return NewsletterError(f"{path}: not a usable state database ({error}); restore it "
                               "from a backup or move it away")
    return NewsletterError(f"{path}: the state database failed ({error}): nothing changed")


def _sqlite_path(raw: sqlite3.Connection) -> Path:
    row = raw.execute("PRAGMA database_list").fetchone()
    return Path(row[2] if row and row[2] else "the state database")


@contextlib.contextmanager
def sqlite_transaction(raw: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, ``ROLLBACK`` on an exception; SQLite errors leave
    as :class:`NewsletterError` saying what happened (disk full, read-only, locked) and that
    nothing changed. SQLite itself ends the transaction on some errors (a full disk among
    them), so ROLLBACK is only sent while one is open: otherwise "cannot rollback - no
    transaction is active" would hide the real error."""
    try:
        raw.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as error:
        raise database_error(_sqlite_path(raw), error) from None
    try:
        yield raw
        raw.execute("COMMIT")
    except BaseException as error:
        if raw.in_transaction:
            raw.execute("ROLLBACK")
        if isinstance(error, sqlite3.Error):
            raise database_error(_sqlite_path(raw), error) from None
        raise


