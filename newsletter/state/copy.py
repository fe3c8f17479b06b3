"""``newsletter state copy``: move a state to another database, typically SQLite to PostgreSQL.

Every table of the schema is copied row by row with every column as stored, so that
nothing an email already sent depends on changes: the unsubscribe token is an HMAC of the
stored address (and the secret, which never lives in the state), the Message-ID a hash of
the address; addresses are copied byte for byte. Subscribers keep their ids (the order of
sending), and PostgreSQL's id sequence is moved past them.

Idempotent: a row already in the target (same key) is updated to the source's values, so
the copy can be run again (after more sends on the old state, say) and converges, as long
as nothing uses the target yet: a target whose subscribers or deliveries changed after the
source's (an unsubscribe, a message sent there) is refused before anything is written. All of
it happens in one transaction on the target, then every source row is read back from the
target and compared: the copy either is verified complete or reports what differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import NewsletterError
from .database import Database, Location, open_location
from .schema import IDENTITY_COLUMNS, POSTGRESQL, TABLES

CHUNK = 1000


@dataclass
class TableCopy:
    table: str
    source_rows: int
    target_rows: int  # after the copy
    extra_in_target: int  # rows the target holds that the source does not (kept)


@dataclass
class CopyReport:
    source: str
    target: str
    tables: list[TableCopy] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"Copied {self.source} to {self.target}:"]
        for t in self.tables:
            extra = f" (and {t.extra_in_target} of its own, kept)" if t.extra_in_target else ""
            out.append(f"  {t.table}: {t.source_rows} row(s), all verified in the target"
                       f"{extra}")
        return out


def _columns(db: Database, table: str) -> list[str]:
    cursor = db.raw.execute(f"SELECT * FROM {table} LIMIT 0")  # noqa: S608 - table from TABLES
    return [d[0] for d in cursor.description]


def _placeholders(db: Database, count: int) -> str:
    mark = "?" if db.dialect != POSTGRESQL else "%s"
    return ", ".join([mark] * count)


def _upsert(db: Database, table: str, columns: list[str], keys: tuple[str, ...]) -> str:
    others = [c for c in columns if c not in keys]
    update = (f"DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in others)}" if others
              else "DO NOTHING")
    return (f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - from the schema
            f"VALUES ({_placeholders(db, len(columns))}) "
            f"ON CONFLICT ({', '.join(keys)}) {update}")


def _rows(db: Database, table: str, columns: list[str], keys: tuple[str, ...]
          ) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in db.raw.execute(
        f"SELECT {', '.join(columns)} FROM {table} "  # noqa: S608 - from the schema
        f"ORDER BY {', '.join(keys)}").fetchall()]


# The rows a reader or a send changes after the fact, and the column stamping the change: a
# target that holds a newer stamp than the source has been used since the source was left
# (an unsubscribe, a message sent), and copying the source over it would undo that.
STAMPED = {"subscribers": "updated", "deliveries": "at"}


def _newer_in_target(dst: Database, table: str, columns: list[str], keys: tuple[str, ...],
                     rows: list[tuple[Any, ...]]) -> tuple[Any, ...] | None:
    """A row of ``table`` whose target copy is newer than the source's, if any."""
    stamp = columns.index(STAMPED[table])
    key_at = [columns.index(k) for k in keys]
    target = {tuple(row[i] for i in key_at): row[stamp]
              for row in _rows(dst, table, columns, keys)}
    for row in rows:
        theirs = target.get(tuple(row[i] for i in key_at))
        if theirs is not None and str(theirs) > str(row[stamp]):
            return row
    return None


def copy_state(source: Location, target: Location, *,
               log: Callable[[str], None] = print) -> CopyReport:
    """Copy every row of ``source`` into ``target`` (both brought to the latest schema)."""
    if str(source) == str(target):
        raise NewsletterError(f"{target}: the source and the target are the same database")
    report = CopyReport(str(source), str(target))
    with open_location(source) as src, open_location(target) as dst:
        columns = {table: _columns(src, table) for table in TABLES}
        if {table: _columns(dst, table) for table in TABLES} != columns:
            raise NewsletterError(f"{target}: its tables differ from those of {source}; both "
                                  "should be at the same schema after migrating")
        data = {table: _rows(src, table, columns[table], keys)
                for table, keys in TABLES.items()}
        for table in STAMPED:
            newer = _newer_in_target(dst, table, columns[table], TABLES[table], data[table])
            if newer is not None:
                raise NewsletterError(
                    f"{target}: {table}: the target has changed since this state was copied "
                    f"to it (the row of {newer[columns[table].index('email')]!r} is newer "
                    "there): it is in use, and copying over it would undo what it recorded "
                    "(an unsubscribe, a message sent). Nothing was copied; copy only into a "
                    "database that nothing uses yet")
        try:
            with dst.transaction():
                for table, keys in TABLES.items():
                    statement = _upsert(dst, table, columns[table], keys)
                    rows = data[table]
                    for start in range(0, len(rows), CHUNK):
                        chunk = rows[start:start + CHUNK]
                        if dst.dialect == POSTGRESQL:
                            with dst.raw.cursor() as cursor:
                                cursor.executemany(statement, chunk)
                        else:
                            dst.raw.executemany(statement, chunk)
                    log(f"  {table}: {len(rows)} row(s) copied")
                if dst.dialect == POSTGRESQL:
                    for table, column in IDENTITY_COLUMNS.items():
                        dst.raw.execute(
                            f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                            f"GREATEST((SELECT max({column}) FROM {table}), 1))")
        except Exception as error:
            if type(error).__module__.split(".")[0] not in ("sqlite3", "psycopg"):
                raise
            reason = " ".join(str(error).split())
            raise NewsletterError(
                f"{target}: the copy was rolled back ({reason}); the target holds rows that "
                "clash with the source's (other subscribers under the same ids?): copy into "
                "an empty database") from None
        for table, keys in TABLES.items():  # verify: every source row, as it is, in the target
            copied = set(_rows(dst, table, columns[table], keys))
            missing = [row for row in data[table] if row not in copied]
            if missing:
                raise NewsletterError(f"{target}: {table}: {len(missing)} row(s) of the source "
                                      f"differ in the target after the copy, e.g. {missing[0]!r}")
            report.tables.append(TableCopy(table, len(data[table]), len(copied),
                                           len(copied) - len(data[table])))
    return report
