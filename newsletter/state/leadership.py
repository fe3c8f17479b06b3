"""One active process among many: the scheduler of a newsletter with a PostgreSQL state.

A session-level advisory lock, named after the role (``schedule <site_url>``), held on a
connection of its own for as long as the process is active. PostgreSQL releases it when that
connection ends, however the process ends (SIGKILL, a machine lost: once the server notices
the dead connection), so a standby that asks again takes over without any stale-lock
guessing. The holder is named from ``pg_stat_activity`` (host and PID, see
:func:`~newsletter.state.postgresql.application_name`).
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..core.errors import NewsletterError
from .location import Location
from .postgresql import connect_postgresql
from .queries import catalogue
from .schema import POSTGRESQL


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
            self._connection = connect_postgresql(self.where, role="schedule")
        return self._connection

    def try_acquire(self) -> bool:
        """Take the role if nobody holds it; True when this process now holds it."""
        if self.held:
            return True
        row = self._open().execute(self._sql["leader.try"], (self.key,)).fetchone()
        self.held = bool(row[0])
        return self.held

    def holder(self) -> str | None:
        """Who holds the role (its connection's application name), if anybody."""
        row = self._open().execute(self._sql["leader.holder"],
                                   (self.key >> 32, self.key & 0xFFFFFFFF)).fetchone()
        return None if row is None else str(row[0] or "another process")

    def still_held(self) -> bool:
        """Whether this process still holds the role, asked of the server over the lock's
        own connection: if that connection dropped, so did the lock (and it is not opened
        again here, which would only make a connection that holds nothing)."""
        if not self.held or self._connection is None or self._connection.closed:
            self.held = False
            return False
        try:
            row = self._connection.execute(self._sql["leader.held"],
                                           (self.key >> 32, self.key & 0xFFFFFFFF)).fetchone()
        except Exception:  # noqa: BLE001 - whatever broke, the lock is gone with it
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
