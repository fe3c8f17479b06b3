"""One active process among many: the scheduler of a newsletter with a PostgreSQL state.

A session-level advisory lock, named after the role (``schedule <site_url>``), held on a
connection of its own for as long as the process is active. PostgreSQL releases it when that
connection ends, however the process ends (SIGKILL, a machine lost: once the server notices
the dead connection), so a standby that asks again takes over without any stale-lock
guessing. The holder is named from ``pg_stat_activity`` (host and PID, see
:func:`~newsletter.state.postgresql.application_name`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from ..core.errors import NewsletterError
from .location import Location
from .postgresql import connect_postgresql
from .queries import catalogue
from .schema import POSTGRESQL

# How long one question about the lock may take. Each is answered in milliseconds by a server
# that is there; one that is stopped or cut off never answers, and the scheduler asking must
# neither keep writing as if still active nor ignore SIGTERM meanwhile: past this bound the
# connection is cut, which ends the session, and the lock with it, as far as this process
# is concerned. The server gets the same bound for the statement, and the kernel for the
# data it sends (tcp_user_timeout: a real split answers nothing, not even TCP's ACKs).
LOCK_QUERY_TIMEOUT = 5.0
_LOCK_TIMEOUTS = {"tcp_user_timeout": int(LOCK_QUERY_TIMEOUT * 1000)}
_LOCK_SERVER = {"statement_timeout": int(LOCK_QUERY_TIMEOUT * 1000)}


def _sever(connection: Any) -> None:
    """End ``connection``'s socket under a thread blocked reading it: the read sees the end
    of the stream at once (closing the descriptor would not wake it)."""
    with contextlib.suppress(OSError), socket.socket(fileno=os.dup(connection.fileno())) as sock:
        sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def _bounded(connection: Any, seconds: float) -> Iterator[None]:
    """Cut ``connection`` if the block takes longer than ``seconds``: the statement waiting
    in it then fails (as it would if the server had gone) instead of waiting for ever."""
    guard = threading.Lock()
    done = False

    def expire() -> None:
        with guard:
            if not done:  # else the descriptor may already belong to another socket
                _sever(connection)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with guard:
            done = True
        timer.cancel()


def lock_key(role: str) -> int:
    """A stable 63-bit key for ``role`` (advisory locks are numbered)."""
    return int.from_bytes(hashlib.sha256(role.encode("utf-8")).digest()[:8], "big") >> 1


class LeadershipLost(NewsletterError):
    """This process is no longer the one active process of its role: another may be."""


class Leadership:
    def __init__(self, where: Location, role: str) -> None:
        self.where = where
        self.role = role
        self.key = lock_key(role)
        self._sql = catalogue(POSTGRESQL)
        self._connection: Any = None
        self.held = False

    def _open(self) -> Any:
        if self._connection is None or self._connection.closed:
            self._connection = connect_postgresql(self.where, role="schedule",
                                                  timeouts=_LOCK_TIMEOUTS, server=_LOCK_SERVER)
        return self._connection

    def _ask(self, connection: Any, name: str, params: Sequence[Any]) -> Any:
        """One question about the lock, answered within :data:`LOCK_QUERY_TIMEOUT`: the
        row, or :class:`NewsletterError` (the connection then closed: the next question
        opens a new one) when the server did not answer."""
        import psycopg

        try:
            with _bounded(connection, LOCK_QUERY_TIMEOUT):
                return connection.execute(self._sql[name], tuple(params)).fetchone()
        except psycopg.Error as error:
            self.close()
            reason = " ".join(str(error).split())
            raise NewsletterError(f"{self.where}: no answer from the state database about the "
                                  f"scheduler's lock ({reason}; it is given "
                                  f"{LOCK_QUERY_TIMEOUT:g} s); check that the server is running "
                                  "and reachable from here") from None

    def try_acquire(self) -> bool:
        """Take the role if nobody holds it; True when this process now holds it."""
        if self.held:
            return True
        row = self._ask(self._open(), "leader.try", (self.key,))
        self.held = bool(row[0])
        return self.held

    def holder(self) -> str | None:
        """Who holds the role (its connection's application name), if anybody."""
        row = self._ask(self._open(), "leader.holder", (self.key >> 32, self.key & 0xFFFFFFFF))
        return None if row is None else str(row[0] or "another process")

    def still_held(self) -> bool:
        """Whether this process still holds the role, asked of the server over the lock's
        own connection: if that connection dropped, so did the lock (and it is not opened
        again here, which would only make a connection that holds nothing)."""
        if not self.held or self._connection is None or self._connection.closed:
            self.held = False
            return False
        try:
            row = self._ask(self._connection, "leader.held",
                            (self.key >> 32, self.key & 0xFFFFFFFF))
        except NewsletterError:  # no answer in time: the lock is gone as far as we know
            row = None
        if not (row and row[0]):
            self.close()
            return False
        return True

    def close(self) -> None:
        connection, self._connection = self._connection, None
        self.held = False
        if connection is not None and not connection.closed:
            connection.close()  # ending the session releases the lock
