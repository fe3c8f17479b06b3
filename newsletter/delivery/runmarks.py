"""The mark a send run keeps in the state while it runs (``send_runs``: its refusals in a
row, and why it stopped, shared by all its senders; see ``refusals.py``), and clearing the
marks of runs that are no longer alive.

A run deletes its mark when it ends. One killed (SIGKILL, a machine lost) or interrupted
(Ctrl-C) leaves it behind: nothing reads it but its own run, whose id is new each time, so
a leftover mark changes nothing anyone sees; but nothing would ever delete it, one more row
per such run. So each run clears those of the runs no longer alive before it starts, and so
does ``state prune``:

- With SQLite a run of an issue holds the issue's send lock, a flock the kernel releases
  however the process ends: a run holding it has no mark of that issue but its own, so it
  clears them all. ``state prune`` clears the marks of every issue whose lock it can take,
  holding it meanwhile (a send of that issue starting then is told it is busy).
- With PostgreSQL, where runs on several machines share an issue, each run holds an
  advisory lock named after it, on a connection of its own, taken before any of its senders
  can write its mark; PostgreSQL releases it when that connection ends, however the process
  ends. A mark without its lock is a dead run's (each run and ``state prune`` clear those),
  and looking at the locks takes none.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

from ..core.config import Config
from ..core.locks import exclusive
from ..state.database import open_database
from ..state.schema import POSTGRESQL

RUN_LOCK = 0x6E6C7372  # "nlsr": the first key of the send runs' advisory locks (PostgreSQL)


def send_lock(config: Config, slug: str) -> Path:
    """The lock file one SQLite run of issue ``slug`` holds while it sends."""
    return config.state_dir / f"send-{slug}.lock"


@contextlib.contextmanager
def live_run(config: Config, slug: str) -> Iterator[str]:
    """A new run of issue ``slug``: its id, alive for the ``with`` block; the marks of the
    runs no longer alive are cleared first. With SQLite the caller holds the issue's send
    lock."""
    run = uuid.uuid4().hex
    with open_database(config) as db:
        if db.dialect == POSTGRESQL:
            db.run("send_run.live", (RUN_LOCK, run))  # held until this connection closes
            db.run("send_runs.clear_dead", (RUN_LOCK,))
        else:
            db.run("send_runs.clear_issue", (slug,))
        yield run


class _Busy(Exception):
    """Another process holds the issue's send lock: a run of it is alive."""


def clear_dead_runs(config: Config) -> int:
    """Delete the marks of the send runs that are no longer alive, whichever issue; how many
    (``state prune``)."""
    with open_database(config) as db:
        if db.dialect == POSTGRESQL:
            return db.run("send_runs.clear_dead", (RUN_LOCK,)).rowcount
        cleared = 0
        for (issue,) in db.run("send_runs.issues").fetchall():
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", issue):
                continue  # not an issue's mark, which only a person could have written
            with contextlib.suppress(_Busy), exclusive(send_lock(config, issue), _Busy):
                cleared += db.run("send_runs.clear_issue", (issue,)).rowcount
        return cleared
