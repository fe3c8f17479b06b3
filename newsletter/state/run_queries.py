"""The SQL of the send runs (``send_runs``): the mark a run keeps while it runs, its refusals
in a row and why it stopped, shared by all its senders (``delivery/refusals.py``,
``delivery/runmarks.py``); and what says an issue was tried (``delivery/unsent.py``). Part of
the catalogue of ``queries.py`` (merged into its ``STATEMENTS`` and, for PostgreSQL, its
``DIALECT_STATEMENTS``), with ``?`` placeholders."""

from __future__ import annotations

SEND_RUN_STATEMENTS: dict[str, str] = {
    # -- a send run's mark: written as it prepares the recipients -----------------
    "send_run.begin":  # (run, issue)
    "INSERT INTO send_runs (run, issue) VALUES (?, ?) ON CONFLICT (run) DO NOTHING",
    # -- a send run's refusals in a row, across all its senders ----------------------------
    "send_run.refused":  # (run, issue): one more; the count now, and whether it stopped
    "INSERT INTO send_runs (run, issue, refused_in_a_row) VALUES (?, ?, 1) "
    "ON CONFLICT (run) DO UPDATE SET refused_in_a_row = send_runs.refused_in_a_row + 1 "
    "RETURNING refused_in_a_row, stopped",
    "send_run.limited":  # (run, issue): a sender's limit met, counted in a row as well
    "INSERT INTO send_runs (run, issue, refused_in_a_row, limits_in_a_row) "
    "VALUES (?, ?, 1, 1) ON CONFLICT (run) DO UPDATE SET "
    "refused_in_a_row = send_runs.refused_in_a_row + 1, "
    "limits_in_a_row = send_runs.limits_in_a_row + 1 RETURNING limits_in_a_row, stopped",
    "send_run.accepted":  # a message taken ends the streak (no write when there is none)
    "UPDATE send_runs SET refused_in_a_row = 0, limits_in_a_row = 0 "
    "WHERE run = ? AND refused_in_a_row > 0",
    "send_run.stop":  # refusals in a row: that lasts
    "UPDATE send_runs SET stopped = ?, lasts = 1 WHERE run = ? AND stopped = ''",
    "send_run.halt":  # (run, issue, why, lasts): the server refuses us, every sender stops
    "INSERT INTO send_runs (run, issue, stopped, lasts) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (run) DO UPDATE SET stopped = excluded.stopped, lasts = excluded.lasts "
    "WHERE send_runs.stopped = ''",
    "send_run.stopped":  # why, and whether that lasts until a person acts
    "SELECT stopped, lasts FROM send_runs WHERE run = ?",
    "send_run.end": "DELETE FROM send_runs WHERE run = ?",
    "send_runs.issues": "SELECT DISTINCT issue FROM send_runs ORDER BY issue",
    "send_runs.clear_issue":  # no run of the issue is alive (its send lock says so)
    "DELETE FROM send_runs WHERE issue = ?",
    # -- whether an issue was tried: a message failed (tried, not taken), whatever the run --
    "claims.tried": "SELECT count(*) FROM claims WHERE issue = ? AND failed_run != ''",
}

# A live run's advisory lock (runmarks.py): its class, and the run's id hashed as its object.
_RUN_LOCK_HELD = (
    "EXISTS (SELECT 1 FROM pg_locks l "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = ? "
    "AND l.objid::bigint = (hashtext(r.run)::bigint & 4294967295) "
    "AND l.objsubid = 2 "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))"
)

# PostgreSQL only: a send run is alive while it holds its lock (runmarks.py)
SEND_RUN_POSTGRESQL: dict[str, str] = {
    "send_run.live": "SELECT pg_advisory_lock(?, hashtext(?))",
    "send_runs.clear_dead":  # (lock class)
    "DELETE FROM send_runs r WHERE NOT " + _RUN_LOCK_HELD,
    "send_runs.live_of_issue":  # (issue, lock class): runs of it alive now, on any machine
    "SELECT count(*) FROM send_runs r WHERE r.issue = ? AND " + _RUN_LOCK_HELD,
}
