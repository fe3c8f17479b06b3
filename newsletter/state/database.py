"""Connections to the state database, SQLite or PostgreSQL, behind one small interface.

Where the state lives is the config's ``state_url``: absent, it is the SQLite file
``<state_dir>/newsletter.sqlite3``; ``postgresql://user@host:port/db``, a PostgreSQL
database reached through psycopg 3, the password taken from the environment variable that
``state_password_env`` names (never from the config file).

Callers see a :class:`Database`: ``run(name, params)`` executes a statement of the
catalogue (``queries.py``) by name, ``transaction()`` groups writes, ``close()``. Both
engines are used in autocommit mode, so a statement outside ``transaction()`` commits at
once. The schema is brought up to date on first use (``schema.py``).

SQLite: WAL mode lets the sender commit a ledger row per message while ``serve`` records
unsubscribes, without blocking each other; ``synchronous=NORMAL`` keeps each commit cheap (a
committed row survives SIGKILL; only a crash of the whole machine can lose the last
commits, which then means a repeated message, never a skipped one). Transactions are
``BEGIN IMMEDIATE``: two writers wait for each other (busy timeout) instead of failing
halfway with "database is locked".

Every thread opens its own connection: neither driver's connections are shared between
threads here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from ..core.config import Config
from ..core.errors import NewsletterError
from ..core.private import private_file, private_folder
from .queries import catalogue
from .schema import LATEST, MIGRATIONS, POSTGRESQL, SQLITE

STATE_FILE = "newsletter.sqlite3"
BUSY_TIMEOUT_MS = 10_000
CONNECT_TIMEOUT = 10  # seconds to reach a PostgreSQL server before saying it is unreachable
# Every transaction here takes milliseconds. A process frozen or cut off inside one (a machine
# lost, SIGSTOP) would hold its row locks for as long as its connection lives, and the other
# senders skip locked rows: the server ends such a session after this long instead.
IDLE_IN_TRANSACTION_MS = 10_000
# Serialises schema upgrades between processes that open a PostgreSQL database at once.
_SCHEMA_LOCK = 0x6E6C5F736368  # "nl_sch"


def now() -> str:
    """A UTC timestamp for the records (bookkeeping only; never part of a message)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Location:
    """Where a state database is: a SQLite file or a PostgreSQL URL (without password)."""

    dialect: str
    path: Path | None = None  # SQLite
    url: str | None = None  # PostgreSQL
    password_env: str | None = None
    # Folders a private state folder must not close to others (output, corpus, the project)
    keep_open: tuple[Path, ...] = ()

    def __str__(self) -> str:
        return str(self.path) if self.dialect == SQLITE else _without_password(self.url or "")


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}" if user else netloc))


def state_path(config: Config) -> Path:
    return config.state_dir / STATE_FILE


def location(config: Config) -> Location:
    """Where ``config`` keeps its state."""
    if config.state_url:
        return Location(POSTGRESQL, url=config.state_url, password_env=config.state_password_env)
    return Location(SQLITE, path=state_path(config),
                    keep_open=(config.output, config.corpus, config.folder))


def location_from_url(url: str, password_env: str | None = None) -> Location:
    """A state named on the command line (``state copy --to URL``): a postgresql:// URL,
    or a path (or ``sqlite:///path``) for a SQLite file."""
    parts = urlsplit(url)
    if parts.scheme in ("postgresql", "postgres"):
        if parts.password is not None:
            raise NewsletterError(
                f"{_without_password(url)}: the URL holds a password; remove it and put it "
                "in an environment variable named with --password-env (state_password_env "
                "in the configuration)")
        return Location(POSTGRESQL, url=url, password_env=password_env)
    if parts.scheme == "sqlite":
        return Location(SQLITE, path=Path(parts.path))
    if parts.scheme:
        raise NewsletterError(f"{url}: expected a postgresql:// URL or the path of a SQLite "
                              "file")
    return Location(SQLITE, path=Path(url).absolute())


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Database:
    """One connection to the state, SQLite or PostgreSQL; statements by name."""

    def __init__(self, where: Location, raw: Any) -> None:
        self.location = where
        self.dialect = where.dialect
        self.raw = raw  # the driver's connection: sqlite3.Connection or psycopg.Connection
        self._statements = catalogue(self.dialect)
        self._depth = 0

    def sql(self, name: str) -> str:
        try:
            return self._statements[name]
        except KeyError:
            raise KeyError(f"no SQL statement named {name!r} in newsletter/state/queries.py"
                           ) from None

    def run(self, name: str, params: Sequence[Any] = ()) -> Cursor:
        """Execute the statement ``name`` with ``params``; the cursor holds its rows."""
        if self.dialect == SQLITE:
            return self.raw.execute(self.sql(name), tuple(params))
        return self.raw.execute(self.sql(name), tuple(params) or None)

    def run_many(self, name: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(row) for row in rows]
        if not rows:
            return
        if self.dialect == SQLITE:
            self.raw.executemany(self.sql(name), rows)
        else:
            with self.raw.cursor() as cursor:
                cursor.executemany(self.sql(name), rows)

    def execute_script(self, sql: str) -> None:
        """Several statements without parameters (migrations, copies): not in the catalogue
        because they are built from the schema itself."""
        if self.dialect == SQLITE:
            for statement in _split(sql):
                self.raw.execute(statement)
        else:
            self.raw.execute(sql)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Database]:
        """All or nothing; on SQLite the write lock is taken up front (``BEGIN IMMEDIATE``).
        A nested ``transaction()`` joins the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self._depth = 1
        try:
            if self.dialect == SQLITE:
                with sqlite_transaction(self.raw):
                    yield self
            else:
                with self.raw.transaction():
                    yield self
        finally:
            self._depth = 0

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _split(script: str) -> list[str]:
    """A migration's statements one by one (they hold no semicolons in literals)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def open_database(config: Config, *, migrate: bool = True) -> Database:
    """A new connection to ``config``'s state, its schema brought up to date on first use."""
    return open_location(location(config), migrate=migrate)


def open_location(where: Location, *, migrate: bool = True) -> Database:
    if where.dialect == SQLITE:
        return _open_sqlite(where, migrate)
    return _open_postgresql(where, migrate)


# -- SQLite -----------------------------------------------------------------------------------

def _open_sqlite(where: Location, migrate: bool) -> Database:
    path = where.path
    assert path is not None
    try:
        private_folder(path.parent, keep_open=where.keep_open)
        private_file(path)
        raw = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                              check_same_thread=True)
    except (OSError, sqlite3.Error) as error:
        if isinstance(error, OSError) and not os.access(path.parent, os.W_OK):
            raise _read_only(path, error) from None
        raise NewsletterError(f"{path}: cannot open the state database ({error}); check "
                              "state_dir in the configuration and its permissions") from None
    db = Database(where, raw)
    try:
        raw.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        raw.execute("PRAGMA journal_mode = WAL")
        raw.execute("PRAGMA synchronous = NORMAL")
        raw.execute("PRAGMA foreign_keys = ON")
        version = raw.execute("PRAGMA user_version").fetchone()[0]
        _check_not_newer(where, version)
        if migrate and version < LATEST:
            with db.transaction():
                version = raw.execute("PRAGMA user_version").fetchone()[0]
                for migration in MIGRATIONS[version:]:
                    db.execute_script(migration.for_dialect(SQLITE))
                raw.execute(f"PRAGMA user_version = {LATEST}")
    except sqlite3.DatabaseError as error:
        raw.close()
        raise database_error(path, error) from None
    except NewsletterError:
        raw.close()
        raise
    except BaseException:
        raw.close()
        raise
    return db


def _read_only(path: Path, error: object) -> NewsletterError:
    return NewsletterError(
        f"{path}: the state folder {path.parent} is read-only for this user ({error}): "
        "nothing changed. Make it writable (SQLite writes beside the database even to read "
        "it), or point state_dir at a writable folder")


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
        return _read_only(path, error)
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


def _check_not_newer(where: Location, version: int) -> None:
    if version > LATEST:
        raise NewsletterError(f"{where}: written by a newer version of newsletter "
                              f"(schema {version}, this one knows {LATEST}); upgrade newsletter")


# -- PostgreSQL -------------------------------------------------------------------------------

_MIGRATED: set[str] = set()  # URLs whose schema this process has brought up to date


def _password(where: Location) -> str | None:
    name = where.password_env
    if not name:
        return None  # trust, peer, a client certificate or ~/.pgpass
    value = os.environ.get(name)
    if value is None:
        raise NewsletterError(f"the environment variable {name} (state_password_env) is not "
                              f"set: it holds the password for {where}")
    return value


def application_name(role: str = "") -> str:
    """What ``pg_stat_activity`` shows for our connections: host and PID, so that a message
    can name another machine's scheduler."""
    name = f"newsletter {role} {socket.gethostname()} pid {os.getpid()}".replace("  ", " ")
    return name[:63]


def connect_postgresql(where: Location, *, role: str = "") -> Any:
    """A raw psycopg connection in autocommit mode (also for the scheduler's lock)."""
    try:
        import psycopg
    except ImportError:
        raise NewsletterError(
            "state_url names a PostgreSQL database, but psycopg is not installed: "
            "pip install 'psycopg[binary]' (or install newsletter with its postgresql extra)"
        ) from None
    options: dict[str, Any] = {"autocommit": True, "connect_timeout": CONNECT_TIMEOUT,
                               "application_name": application_name(role),
                               "options": f"-c idle_in_transaction_session_timeout="
                                          f"{IDLE_IN_TRANSACTION_MS}"}
    password = _password(where)
    if password is not None:
        options["password"] = password
    try:
        return psycopg.connect(where.url or "", **options)
    except psycopg.Error as error:
        reason = " ".join(str(error).split())
        hint = ("check state_url (host, port, user, database), that the server is running and "
                "reachable from here")
        if where.password_env:
            hint += f", and the password in {where.password_env}"
        raise NewsletterError(f"{where}: cannot connect to the state database ({reason}); "
                              f"{hint}") from None


def _open_postgresql(where: Location, migrate: bool) -> Database:
    import psycopg

    db = Database(where, connect_postgresql(where))
    try:
        if migrate and where.url not in _MIGRATED:
            _migrate_postgresql(db)
            _MIGRATED.add(where.url or "")
    except psycopg.Error as error:
        db.close()
        reason = " ".join(str(error).split())
        raise NewsletterError(f"{where}: cannot prepare the state database ({reason}); the "
                              "user needs the right to create tables in it") from None
    except BaseException:
        db.close()
        raise
    return db


def postgresql_version(db: Database) -> int:
    row = db.raw.execute("SELECT to_regclass('newsletter_schema') IS NOT NULL").fetchone()
    if not row[0]:
        return 0
    return int(db.raw.execute("SELECT coalesce(max(version), 0) FROM newsletter_schema"
                              ).fetchone()[0])


def _migrate_postgresql(db: Database) -> None:
    if postgresql_version(db) == LATEST:
        return
    with db.transaction():
        db.raw.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        db.raw.execute("CREATE TABLE IF NOT EXISTS newsletter_schema ("
                       "version INTEGER PRIMARY KEY, applied TEXT NOT NULL)")
        version = postgresql_version(db)
        _check_not_newer(db.location, version)
        for migration in MIGRATIONS[version:]:
            db.execute_script(migration.for_dialect(POSTGRESQL))
            db.raw.execute("INSERT INTO newsletter_schema (version, applied) VALUES (%s, %s)",
                           (migration.version, now()))


def schema_version(db: Database) -> int:
    if db.dialect == SQLITE:
        return int(db.raw.execute("PRAGMA user_version").fetchone()[0])
    return postgresql_version(db)


def migrate_state(config: Config) -> tuple[Location, int, int]:
    """Bring ``config``'s state to the latest schema: (where, version before, after)."""
    where = location(config)
    with open_location(where, migrate=False) as db:
        before = schema_version(db)
    _MIGRATED.discard(where.url or "")
    with open_location(where) as db:
        return where, before, schema_version(db)
