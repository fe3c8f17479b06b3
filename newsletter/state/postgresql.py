"""PostgreSQL connections to the state, through psycopg 3 in autocommit mode.

The password comes from the environment variable that ``state_password_env`` names (never
from the config file); connections name their host and PID for ``pg_stat_activity``.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from typing import Any

from ..core.errors import NewsletterError, UnsetVariable
from .location import Location

CONNECT_TIMEOUT = 10  # seconds to reach a PostgreSQL server before saying it is unreachable
# Every transaction here takes milliseconds. A process frozen or cut off inside one (a machine
# lost, SIGSTOP) would hold its row locks for as long as its connection lives, and the other
# senders skip locked rows: the server ends such a session after this long instead.
IDLE_IN_TRANSACTION_MS = 10_000
# A server cut off from us (a network split, a machine lost) answers nothing, and without
# these a read waits for the kernel's own TCP timeouts: minutes to hours. An idle connection
# is probed after 30 s and given up after 3 probes 10 s apart; data the server has not
# acknowledged for a minute ends the connection (Linux; libpq ignores what it cannot use).
CLIENT_TIMEOUTS: dict[str, int] = {"keepalives": 1, "keepalives_idle": 30,
                                   "keepalives_interval": 10, "keepalives_count": 3,
                                   "tcp_user_timeout": 60_000}
# libpq's environment variables for the settings above: a value there is the user's too.
_ENVIRONMENT = {"connect_timeout": "PGCONNECT_TIMEOUT", "options": "PGOPTIONS"}


def _password(where: Location) -> str | None:
    name = where.password_env
    if not name:
        return None  # trust, peer, a client certificate or ~/.pgpass
    value = os.environ.get(name)
    if value is None:
        raise UnsetVariable(f"the environment variable {name} (state_password_env) is not "
                            f"set: it holds the password for {where}. Set it where newsletter "
                            f"runs (export {name}=...)", name)
    return value


def application_name(role: str = "") -> str:
    """What ``pg_stat_activity`` shows for our connections: host and PID, so that a message
    can name another machine's scheduler."""
    name = f"newsletter {role} {socket.gethostname()} pid {os.getpid()}".replace("  ", " ")
    return name[:63]


def _given(url: str) -> dict[str, str]:
    """The connection settings ``state_url`` spells out (none when it does not parse: then
    connecting says what is wrong with it)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        return {key: str(value) for key, value in conninfo_to_dict(url).items()}
    except Exception:  # noqa: BLE001 - psycopg.connect reports the same URL properly
        return {}


def connection_settings(url: str, *, role: str = "",
                        timeouts: dict[str, int] | None = None,
                        server: dict[str, int] | None = None) -> dict[str, Any]:
    """What :func:`connect_postgresql` adds to ``url``: our timeouts (``timeouts`` over
    :data:`CLIENT_TIMEOUTS`) and server settings (``server``, in milliseconds, over the
    idle-in-transaction limit), each only where neither the URL nor libpq's environment
    variable gives one: a setting the user chose wins."""
    given = _given(url)

    def theirs(key: str) -> str | None:
        return given.get(key) or os.environ.get(_ENVIRONMENT.get(key, "")) or None

    settings: dict[str, Any] = {"autocommit": True, "application_name": application_name(role)}
    if theirs("connect_timeout") is None:
        settings["connect_timeout"] = CONNECT_TIMEOUT
    for key, value in {**CLIENT_TIMEOUTS, **(timeouts or {})}.items():
        if theirs(key) is None:
            settings[key] = value
    # Server settings travel as -c options, ours first: a later -c of the same name, the
    # user's own, is the one the server keeps.
    ours = {"idle_in_transaction_session_timeout": IDLE_IN_TRANSACTION_MS, **(server or {})}
    settings["options"] = " ".join([*(f"-c {name}={value}" for name, value in ours.items()),
                                    *([theirs("options") or ""])]).strip()
    return settings


def connect_postgresql(where: Location, *, role: str = "",
                       timeouts: dict[str, int] | None = None,
                       server: dict[str, int] | None = None) -> Any:
    """A raw psycopg connection in autocommit mode (also for the scheduler's lock), with the
    timeouts of :func:`connection_settings`."""
    try:
        import psycopg
    except ImportError:
        raise NewsletterError(
            "state_url names a PostgreSQL database, but psycopg is not installed: "
            "pip install 'psycopg[binary]' (or install newsletter with its postgresql extra)"
        ) from None
    options = connection_settings(where.url or "", role=role, timeouts=timeouts,
                                  server=server)
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


@contextlib.contextmanager
def postgresql_transaction(raw: Any) -> Iterator[None]:
    """``BEGIN`` ... ``COMMIT``; a session the server ended for standing still inside it
    leaves as a :class:`NewsletterError` that says so."""
    import psycopg

    try:
        with raw.transaction():
            yield
    except psycopg.errors.IdleInTransactionSessionTimeout:
        raise NewsletterError(
            f"PostgreSQL ended this process's session: it stood still inside a transaction "
            f"for more than {IDLE_IN_TRANSACTION_MS // 1000} s (a paused machine or process), "
            "so nothing of that transaction was recorded and other senders take over what it "
            "held; run the command again if anything is left") from None
