"""Every SQL statement the state is read and written with, each under a name.

One place, so that a reviewer sees all the SQL at once and a change of schema is checked
against every statement that touches the table. Statements are written once, with ``?``
placeholders, in the SQL that SQLite and PostgreSQL both read (``ON CONFLICT ... DO
UPDATE``, ``excluded``, ``RETURNING``); where the dialects differ, ``DIALECT_STATEMENTS``
gives each engine its own text under the same name. For PostgreSQL the placeholders become
psycopg's ``%s`` when the catalogue is loaded (:func:`catalogue`).
"""

from __future__ import annotations

import functools

from .schema import DIALECTS, POSTGRESQL, SQLITE

STATEMENTS: dict[str, str] = {
    # -- subscribers ------------------------------------------------------------------------
    "subscriber.get":
        "SELECT email, name, topics, status FROM subscribers WHERE email = ?",
    "subscriber.insert":
        "INSERT INTO subscribers (email, name, topics, status, created, updated) "
        "VALUES (?, ?, ?, ?, ?, ?)",
    "subscriber.update":
        "UPDATE subscribers SET name = ?, topics = ?, status = ?, updated = ? WHERE email = ?",
    "subscriber.set_status":
        "UPDATE subscribers SET status = ?, updated = ? WHERE email = ? AND status != ?",
    "subscriber.delete":
        "DELETE FROM subscribers WHERE email = ?",
    "subscribers.all":
        "SELECT email, name, topics, status FROM subscribers ORDER BY email",
    "subscribers.active":
        "SELECT email, name, topics FROM subscribers WHERE status = 'active' ORDER BY id",
    # -- the send ledger --------------------------------------------------------------------
    "deliveries.addresses":
        "SELECT email FROM deliveries WHERE issue = ?",
    "deliveries.all":
        "SELECT issue, email, status, detail, at FROM deliveries ORDER BY issue, email",
    "delivery.record":
        "INSERT INTO deliveries (issue, email, status, detail, at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (issue, email) DO UPDATE SET status = excluded.status, "
        "detail = excluded.detail, at = excluded.at",
    "attempt.record":
        "INSERT INTO attempts (issue, email, at) VALUES (?, ?, ?) "
        "ON CONFLICT (issue, email) DO UPDATE SET at = excluded.at",
    "attempt.delete":
        "DELETE FROM attempts WHERE issue = ? AND email = ?",
    "attempts.unfinished":  # in flight when a sender stopped: no delivery recorded since
        "SELECT email FROM attempts WHERE issue = ? AND email NOT IN "
        "(SELECT email FROM deliveries WHERE issue = ?) ORDER BY at, email",
}

# The same names, for the engine whose dialect differs.
DIALECT_STATEMENTS: dict[str, dict[str, str]] = {
    SQLITE: {},
    POSTGRESQL: {},
}


def _psycopg(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled). The statements hold
    no ``?`` inside string literals, so the substitution is exact."""
    return sql.replace("%", "%%").replace("?", "%s")


@functools.cache
def catalogue(dialect: str) -> dict[str, str]:
    """Every statement for ``dialect``, ready for its driver."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}")
    merged = {**STATEMENTS, **DIALECT_STATEMENTS[dialect]}
    if dialect == POSTGRESQL:
        return {name: _psycopg(sql) for name, sql in merged.items()}
    return merged
