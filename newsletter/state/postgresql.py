"""PostgreSQL connections to the state, through psycopg 3 in autocommit mode.

The password comes from the environment variable that ``state_password_env`` names (never
from the config file); connections name their host and PID for ``pg_stat_activity``.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from ..core.errors import NewsletterError
from .location import Location

CONNECT_TIMEOUT = 10  # seconds to reach a PostgreSQL server before saying it is unreachable
# Every transaction here takes milliseconds. A process frozen or cut off inside one (a machine
# lost, SIGSTOP) would hold its row locks for as long as its connection lives, and the other
# senders skip locked rows: the server ends such a session after this long instead.
IDLE_IN_TRANSACTION_MS = 10_000


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

