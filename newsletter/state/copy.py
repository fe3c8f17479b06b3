"""``newsletter state copy``: move a state to another database, typically SQLite to PostgreSQL.

Every table of the schema is copied row by row with every column as stored, so that
nothing an email already sent depends on changes: the unsubscribe token is an HMAC of the
stored address (and the secret, which never lives in the state), the Message-ID a hash of
the address; addresses are copied byte for byte. Subscribers keep their ids (the order of
sending), and PostgreSQL's id sequence is moved past them.

Idempotent: a row already in the target (same key) is updated to the source's values, so
the copy can be run again (after more sends on the old state, say) and converges, as long
as nothing uses the target yet: a target whose subscribers, deliveries or queued emails
changed after the source's (an unsubscribe, a message sent there), or that holds rows of its
own under ids the source's rows have (a signup there, its confirmation email queued), is
refused before anything is written, as is a value the target cannot store (a NUL character
on PostgreSQL). All of it happens in one transaction on the target, which also reads every
source row back and compares it: the copy is either complete and verified, or rolled back
with the reason, and nothing of it is left in the target.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import NewsletterError
from .database import Database, Location, open_location
from .schema import IDENTITY_COLUMNS, POSTGRESQL, SQLITE, TABLES

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


def _source_rows(source: str, src: Database, table: str, columns: list[str],
                 keys: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """The rows of ``table`` in the source; a text value that is not UTF-8 (SQLite stores
    whatever bytes it was given as text, and Python cannot read them back) is named, with
    the UPDATE that mends it, instead of the driver's message without a row."""
    try:
        return _rows(src, table, columns, keys)
    except sqlite3.OperationalError as error:
        if "UTF-8" not in str(error):
            raise
        reason = str(error)
    src.raw.text_factory = bytes  # the same rows as bytes, to find the one
    try:
        rows = _rows(src, table, columns, keys)
    finally:
        src.raw.text_factory = str
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            if isinstance(value, bytes) and not _is_utf8(value):
                key = {k: _text(row[columns.index(k)]) for k in keys}
                where = " AND ".join(f"{k} = {_literal(row[columns.index(k)])}" for k in keys)
                mended = value.decode("utf-8", "replace")
                raise NewsletterError(
                    f"{source}: {table}: the row {key!r} holds text that is not valid UTF-8 "
                    f"in {column} ({mended!r}, the bytes it cannot read shown as \ufffd), "
                    "so it cannot be read for the copy. Nothing was copied; correct it in "
                    "the source (in SQLite, with those bytes replaced: UPDATE "
                    f"{table} SET {column} = {_literal(mended)} WHERE {where}) and copy again")
    # Changed since (another process mended it): what the driver said is all there is.
    raise NewsletterError(f"{source}: {table}: {reason}; nothing was copied. Copy again")


def _is_utf8(value: bytes) -> bool:
    """Whether the bytes are UTF-8: bytes that are not change when decoded with U+FFFD."""
    return value.decode("utf-8", "replace").encode("utf-8") == value


def _text(value: Any) -> Any:
    """A value read as bytes, as the copy reads it (text where it is UTF-8)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


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


# The tables whose rows the target numbers itself (an identity column), and the columns that
# tell one row from another besides that id: a target row under a source row's id that
# differs in them is the target's own (a signup on it, its confirmation email queued), and
# copying by id would replace it.
OWN_ROWS = {"subscribers": ("email",), "mail_queue": ("kind", "email", "created_at")}


def _target_rows_in_the_way(target: str, dst: Database, columns: dict[str, list[str]],
                            data: dict[str, list[tuple[Any, ...]]]) -> None:
    """Refuse a copy that would replace a row the target holds of its own under a source
    row's id, or undo the progress of an email it sent from a copied queue row."""
    for table, what in OWN_ROWS.items():
        names = columns[table]
        ident = names.index(IDENTITY_COLUMNS[table])
        at = [names.index(c) for c in what]
        theirs = {row[ident]: row for row in _rows(dst, table, names, TABLES[table])}
        for row in data[table]:
            there = theirs.get(row[ident])
            if there is None or there == row:
                continue
            ours, own = ([r[i] for i in at] for r in (row, there))
            if ours != own:
                raise NewsletterError(
                    f"{target}: {table}: the target holds a row of its own under id "
                    f"{row[ident]} ({', '.join(what)}: {own!r}; the source's is {ours!r}): "
                    "it has been used, and copying would replace that row. Nothing was "
                    "copied; copy only into a database that nothing uses yet (an empty one)")
            if table == "mail_queue" and _progressed(names, there, row):
                raise NewsletterError(
                    f"{target}: mail_queue: the target has changed since this state was "
                    f"copied to it (the {row[names.index('kind')]} email to "
                    f"{row[names.index('email')]!r}, id {row[ident]}, is "
                    f"{there[names.index('status')]} there after "
                    f"{there[names.index('attempts')]} attempt(s)): it is in use, and copying "
                    "over it would send that email again. Nothing was copied; copy only into "
                    "a database that nothing uses yet")


def _progressed(names: list[str], there: tuple[Any, ...], row: tuple[Any, ...]) -> bool:
    """The target's copy of a queued email went further than the source's."""
    status, attempts = names.index("status"), names.index("attempts")
    return int(there[attempts]) > int(row[attempts]) or (
        row[status] == "queued" and there[status] != "queued")


def _unstorable(target: str, dst: Database, columns: dict[str, list[str]],
                data: dict[str, list[tuple[Any, ...]]]) -> None:
    """Refuse a text value the target cannot store: PostgreSQL text cannot hold a NUL
    character, which SQLite text can."""
    if dst.dialect != POSTGRESQL:
        return
    for table, keys in TABLES.items():
        names = columns[table]
        for row in data[table]:
            for column, value in zip(names, row, strict=True):
                if isinstance(value, str) and "\x00" in value:
                    key = {k: row[names.index(k)] for k in keys}
                    where = " AND ".join(f"{k} = {_literal(v)}" for k, v in key.items())
                    # The cleaned value spelled out: SQLite's replace() stops at a NUL.
                    raise NewsletterError(
                        f"{target}: {table}: the row {key!r} holds a NUL character in "
                        f"{column} ({value!r}), which PostgreSQL text cannot store. Nothing "
                        "was copied; remove it from the source (in SQLite: UPDATE "
                        f"{table} SET {column} = {_literal(value.replace(chr(0), ''))} "
                        f"WHERE {where}) and copy again")


def _literal(value: Any) -> str:
    """``value`` as an SQL literal (a NUL in a key column spelled with char(0), text that is
    not UTF-8 as its bytes)."""
    if isinstance(value, bytes):
        return (_literal(value.decode("utf-8")) if _is_utf8(value)
                else f"CAST(X'{value.hex().upper()}' AS TEXT)")
    if not isinstance(value, str):
        return str(value)
    return " || char(0) || ".join("'" + part.replace("'", "''") + "'"
                                  for part in value.split(chr(0)))


def _rolled_back(target: str, table: str, error: Exception,
                 key: dict[str, Any] | None) -> NewsletterError:
    """What the driver said when the copy of ``table`` failed, and the fix where known."""
    reason = " ".join(str(error).split())
    detail = getattr(getattr(error, "diag", None), "message_detail", None)
    if detail and " ".join(detail.split()) not in reason:
        reason += f": {' '.join(detail.split())}"
    if key is not None:
        table = f"{table}: the row {key!r}"
    clash = type(error).__name__ == "UniqueViolation" or (
        isinstance(error, sqlite3.IntegrityError) and "UNIQUE" in str(error))
    fix = ("the target holds rows that clash with the source's on a unique key; copy into "
           "an empty database" if clash else
           "correct that row in the source so that the target accepts it, and copy again")
    return NewsletterError(f"{target}: {table}: the copy was rolled back, nothing of it was "
                           f"written ({reason}); {fix}")


def copy_state(source: Location, target: Location, *,
               log: Callable[[str], None] = print) -> CopyReport:
    """Copy every row of ``source`` into ``target`` (both brought to the latest schema)."""
    if _same_database(source, target):
        raise NewsletterError(f"{target}: the source and the target are the same database")
    report = CopyReport(str(source), str(target))
    with open_location(source) as src, open_location(target) as dst:
        columns = {table: _columns(src, table) for table in TABLES}
        if {table: _columns(dst, table) for table in TABLES} != columns:
            raise NewsletterError(f"{target}: its tables differ from those of {source}; both "
                                  "should be at the same schema after migrating")
        data = {table: _source_rows(str(source), src, table, columns[table], keys)
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
        _target_rows_in_the_way(str(target), dst, columns, data)
        _unstorable(str(target), dst, columns, data)
        # One transaction, verification included: a copy that fails or differs leaves nothing
        # of it in the target.
        with dst.transaction():
            _write(str(target), dst, columns, data, report, log)
    return report


def _same_database(source: Location, target: Location) -> bool:
    """Whether ``target`` names the source's database, however spelt: a SQLite file reached
    through ``..``, a symbolic link or a hard link is the same file, and copying a state
    onto itself only rewrites it (and would "verify" it against itself)."""
    if str(source) == str(target):
        return True
    if source.dialect != SQLITE or target.dialect != SQLITE or not (source.path and
                                                                    target.path):
        return False
    try:
        return os.path.samefile(source.path, target.path)
    except OSError:  # one of them is not there yet: the same file only if named alike
        return os.path.realpath(source.path) == os.path.realpath(target.path)


def _write(target: str, dst: Database, columns: dict[str, list[str]],
           data: dict[str, list[tuple[Any, ...]]], report: CopyReport,
           log: Callable[[str], None]) -> None:
    """Every source row into the target, then read back and compared; a driver error
    leaves as what went wrong where (inside the transaction, which then rolls back)."""
    table = ""
    try:
        for table, keys in TABLES.items():
            statement = _upsert(dst, table, columns[table], keys)
            rows = data[table]
            for start in range(0, len(rows), CHUNK):
                chunk = rows[start:start + CHUNK]
                dst.raw.execute("SAVEPOINT copy_chunk")
                try:
                    _execute(dst, statement, chunk)
                except Exception as error:
                    if not _refused(error):
                        raise
                    # The driver does not say which row of the chunk it refused: they are
                    # tried again one by one to name it.
                    dst.raw.execute("ROLLBACK TO SAVEPOINT copy_chunk")
                    row = _refused_row(dst, statement, chunk)
                    key = (None if row is None else
                           {k: row[columns[table].index(k)] for k in keys})
                    raise _rolled_back(target, table, error, key) from None
                dst.raw.execute("RELEASE SAVEPOINT copy_chunk")
            log(f"  {table}: {len(rows)} row(s) written")
        if dst.dialect == POSTGRESQL:
            for table, column in IDENTITY_COLUMNS.items():
                dst.raw.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                    f"GREATEST((SELECT max({column}) FROM {table}), 1))")
    except Exception as error:
        if not _refused(error):
            raise
        raise _rolled_back(target, table, error, None) from None
    for table, keys in TABLES.items():  # every source row, as it is, in the target
        copied = set(_rows(dst, table, columns[table], keys))
        missing = [row for row in data[table] if row not in copied]
        if missing:
            raise NewsletterError(
                f"{target}: {table}: {len(missing)} row(s) of the source differ in the "
                f"target after the copy, e.g. {missing[0]!r}; the copy was rolled back, "
                "nothing of it was written")
        report.tables.append(TableCopy(table, len(data[table]), len(copied),
                                       len(copied) - len(data[table])))


def _execute(dst: Database, statement: str, rows: list[tuple[Any, ...]]) -> None:
    if dst.dialect == POSTGRESQL:
        with dst.raw.cursor() as cursor:
            cursor.executemany(statement, rows)
    else:
        dst.raw.executemany(statement, rows)


def _refused(error: Exception) -> bool:
    """A value or key the target refuses; the other errors (a full disk, a lost connection)
    leave through the transaction's own messages."""
    return (type(error).__module__.split(".")[0] in ("sqlite3", "psycopg")
            and bool({"IntegrityError", "DataError"}
                     & {c.__name__ for c in type(error).__mro__}))


def _refused_row(dst: Database, statement: str, rows: list[tuple[Any, ...]]
                 ) -> tuple[Any, ...] | None:
    """The first of ``rows`` the target refuses, each written (and kept) alone in turn."""
    for row in rows:
        dst.raw.execute("SAVEPOINT copy_row")
        try:
            _execute(dst, statement, [row])
        except Exception as error:
            if not _refused(error):
                raise
            dst.raw.execute("ROLLBACK TO SAVEPOINT copy_row")
            return row
        dst.raw.execute("RELEASE SAVEPOINT copy_row")
    return None
