"""Connections to the state database, SQLite or PostgreSQL, behind one small interface.

Where the state lives is the config's ``state_url`` (``location.py``): absent, it is the
SQLite file ``<state_dir>/newsletter.sqlite3`` (``sqlite.py``); ``postgresql://...``, a
PostgreSQL database reached through psycopg 3 (``postgresql.py``).

Callers see a :class:`Database`: ``run(name, params)`` executes a statement of the
catalogue (``queries.py``) by name, ``transaction()`` groups writes, ``close()``. Both
engines are used in autocommit mode, so a statement outside ``transaction()`` commits at
once. The schema is brought up to date on first use (``schema.py``).

Every thread opens its own connection: neither driver's connections are shared between
threads here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

from ..core.config import Config
from ..core.errors import NewsletterError
from .location import Location, location, location_from_url, state_path
from .postgresql import application_name, connect_postgresql, postgresql_transaction
from .queries import catalogue
from .schema import LATEST, MIGRATIONS, POSTGRESQL, SQLITE
from .sqlite import connect_sqlite, database_error, sqlite_transaction

# The names callers have always imported from here, wherever they now live.
__all__ = ["Cursor", "Database", "Location", "application_name", "connect_postgresql",
           "database_error", "location", "location_from_url", "migrate_state", "now",
           "open_database", "open_location", "postgresql_version", "schema_version",
           "sqlite_transaction", "state_path"]

# Serialises schema upgrades between processes that open a PostgreSQL database at once.
_SCHEMA_LOCK = 0x6E6C5F736368  # "nl_sch"


def now() -> str:
    """A UTC timestamp for the records (bookkeeping only; never part of a message)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


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
                with postgresql_transaction(self.raw):
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


def _open_sqlite(where: Location, migrate: bool) -> Database:
    raw = connect_sqlite(where)
    db = Database(where, raw)
    try:
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
        assert where.path is not None
        raise database_error(where.path, error) from None
    except BaseException:
        raw.close()
        raise
    return db


def _check_not_newer(where: Location, version: int) -> None:
    if version > LATEST:
        raise NewsletterError(f"{where}: written by a newer version of newsletter "
                              f"(schema {version}, this one knows {LATEST}); upgrade newsletter")


# -- PostgreSQL -------------------------------------------------------------------------------

_MIGRATED: set[str] = set()  # URLs whose schema this process has brought up to date


def _open_postgresql(where: Location, migrate: bool) -> Database:
    import psycopg

    db = Database(where, connect_postgresql(where))
    try:
        if migrate and where.url not in _MIGRATED:
            _migrate_postgresql(db)
            _MIGRATED.add(where.url or "")
        elif migrate:
            # Brought up to date once, but a newer version of newsletter on another machine
            # may have migrated it further since (an upgrade rolling through the machines):
            # a process that runs for weeks (serve, schedule) must then stop, as it would
            # on start, instead of writing rows the new schema does not expect.
            _check_not_newer(where, int(db.raw.execute(
                "SELECT coalesce(max(version), 0) FROM newsletter_schema").fetchone()[0]))
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


def state_exists(where: Location) -> bool:
    """Whether the state at ``where`` was created: its SQLite file exists, its PostgreSQL
    database holds the schema. A command that only looks at the state (``check``) looks
    first, so as to create none."""
    if where.dialect == SQLITE:
        return where.path is not None and where.path.exists()
    with open_location(where, migrate=False) as db:
        return postgresql_version(db) > 0


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
