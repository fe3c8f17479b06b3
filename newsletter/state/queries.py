"""Every SQL statement the state is read and written with, each under a name.

One place, so that a reviewer sees all the SQL at once and a change of schema is checked
against every statement that touches the table (those of the signup form's rate limit and
mail queue are in ``signup_queries.py``, those of the send runs in ``run_queries.py``,
merged in here). Statements are written once, with ``?`` placeholders, in the SQL that
SQLite and PostgreSQL both read (``ON CONFLICT ... DO UPDATE``, ``excluded``,
``RETURNING``); where the dialects differ, ``DIALECT_STATEMENTS`` gives each engine its own
text under the same name. For PostgreSQL the placeholders become
psycopg's ``%s`` when the catalogue is loaded (:func:`catalogue`).

``{now}`` stands for the database's clock in seconds since 1970: leases and the send pace
are compared against one clock, the server's, whichever machine a sender runs on.
"""

from __future__ import annotations

import functools

from .run_queries import SEND_RUN_POSTGRESQL, SEND_RUN_STATEMENTS
from .schema import DIALECTS, POSTGRESQL, SQLITE
from .signup_queries import SIGNUP_STATEMENTS

# A mailbox is one subscriber (schema.py, version 6): the spellings of an address equal once
# lower-cased. For an issue, the spelling ``s`` of a mailbox is sent it unless another is
# ahead of it: first one in flight for the issue (an attempt: what may have arrived is sent
# again to the same address, never to another spelling), then an active one, the oldest
# stored first; an inactive spelling is never sent, but one in flight still holds the others
# back. ``{issue}`` is the issue's SQL (a placeholder or a column).
_RANK = ("CASE WHEN EXISTS (SELECT 1 FROM attempts a WHERE a.issue = {issue} AND a.email = "
         "{who}.email) THEN 0 WHEN {who}.status = 'active' THEN 1 ELSE 2 END")
_AHEAD = ("EXISTS (SELECT 1 FROM subscribers o WHERE lower(o.email) = lower(s.email) "
          "AND o.id != s.id AND (" + _RANK.replace("{who}", "o") + ", o.id) < ("
          + _RANK.replace("{who}", "s") + ", s.id))")
# ... and no spelling of it has a ledger row for the issue (removed spellings' rows count).
_DELIVERED = ("EXISTS (SELECT 1 FROM deliveries d WHERE d.issue = {issue} "
              "AND lower(d.email) = lower(s.email))")


def _sent_to_mailbox(issue: str) -> str:
    """The condition that the subscriber ``s`` is not sent the issue: its mailbox has it
    already, or another spelling of it is ahead."""
    return f"({_DELIVERED} OR {_AHEAD})".replace("{issue}", issue)


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
    "subscriber.of_mailbox":  # the one of any spelling: active first, else the one given
        "SELECT email, name, topics, status, source, confirmed_at FROM subscribers "
        "WHERE lower(email) = lower(?) ORDER BY CASE WHEN status = 'active' THEN 0 ELSE 1 "
        "END, CASE WHEN email = ? THEN 0 ELSE 1 END, id LIMIT 1",
    "subscribers.case_spellings":  # several spellings of one mailbox, stored before v6
        "SELECT email, status FROM subscribers WHERE lower(email) IN (SELECT lower(email) "
        "FROM subscribers WHERE duplicate != 0) ORDER BY lower(email), id",
    "subscriber.delete":
        "DELETE FROM subscribers WHERE email = ?",
    "subscribers.all":  # in byte order on both engines, whatever the server's locale
        "SELECT email, name, topics, status FROM subscribers ORDER BY email{bytes}",
    "subscribers.active":
        "SELECT email, name, topics FROM subscribers WHERE status = 'active' ORDER BY id",
    "subscribers.active_stamped":
        "SELECT email, name, topics, updated FROM subscribers WHERE status = 'active' "
        "ORDER BY id",
    "subscriber.record":  # with the consent record
        "SELECT email, name, topics, status, source, confirmed_at FROM subscribers "
        "WHERE email = ?",
    "subscriber.insert_from":
        "INSERT INTO subscribers (email, name, topics, status, source, created, updated) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
    "subscriber.merge":  # add or import: a signup it settles no longer awaits confirmation;
        # one it leaves pending keeps its request (its confirmation email, link and expiry)
        "UPDATE subscribers SET name = ?, topics = ?, status = ?, requested_at = CASE WHEN "
        "? = 'pending' THEN requested_at ELSE NULL END, updated = ? WHERE email = ?",
    "subscribers.listed":  # all but the pending signups that expired unconfirmed
        "SELECT email, name, topics, status, source, confirmed_at FROM subscribers "
        "WHERE NOT (status = 'pending' AND requested_at < ?) ORDER BY email",
    "subscribers.chosen_topics":  # each choice of topics someone sent issues may hold
        "SELECT DISTINCT topics FROM subscribers WHERE status IN ('active', 'pending') "
        "AND topics <> ''",
    "subscribers.active_keys":  # with the key their links name
        "SELECT email, name, topics, token_key FROM subscribers WHERE status = 'active' "
        "ORDER BY id",
    "subscriber.for_send":  # right before a message goes out: still wanted, and how? Every
        # spelling of the mailbox is read, and on PostgreSQL locked until the attempt is
        # recorded: two senders given two spellings of it (runs that started apart) take
        # turns, and the second sees the first's attempt (mailbox.has_issue).
        "SELECT email, name, topics, status, token_key FROM subscribers "
        "WHERE lower(email) = lower(?) ORDER BY id{hold}",
    "mailbox.has_issue":  # another spelling of the mailbox was sent the issue, or has it in
        # flight while this one has not (then this one is what is sent again): not sent it
        "SELECT 1 FROM deliveries WHERE issue = ? AND lower(email) = lower(?) AND email != ? "
        "UNION ALL SELECT 1 FROM attempts WHERE issue = ? AND lower(email) = lower(?) "
        "AND email != ? AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.issue = ? "
        "AND a.email = ?)",
    "subscriber.status_topics":  # right before a message goes out: still wanted?
        "SELECT name, topics, status FROM subscribers WHERE email = ?",
    "subscriber.by_key":
        "SELECT email, name, topics, status, source, confirmed_at, requested_at "
        "FROM subscribers WHERE token_key = ?",
    "subscriber.key":
        "SELECT token_key FROM subscribers WHERE email = ?",
    "subscriber.signup_state":
        "SELECT status, requested_at, token_key FROM subscribers WHERE email = ?",
    "subscriber.insert_pending":  # nothing when a signup of the mailbox, in any spelling,
        # committed since this one looked (PostgreSQL makes it wait on the unique index)
        "INSERT INTO subscribers (email, name, topics, status, source, requested_at, "
        "token_key, created, updated) VALUES (?, ?, ?, 'pending', 'form', ?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
    "subscriber.make_pending":  # an address that left or bounced signs up again
        "UPDATE subscribers SET name = ?, topics = ?, status = 'pending', requested_at = ?, "
        "updated = ? WHERE email = ?",
    "subscriber.confirm":
        "UPDATE subscribers SET status = 'active', confirmed_at = ?, requested_at = NULL, "
        "updated = ? WHERE token_key = ?",
    # What a reader does through one spelling's link is done to the mailbox: every spelling.
    "subscriber.save_preferences":
        "UPDATE subscribers SET name = ?, topics = ?, updated = ? WHERE lower(email) = "
        "(SELECT lower(email) FROM subscribers WHERE token_key = ?)",
    "subscriber.unsubscribe_by_key":  # the key of a spelling removed since: its mailbox
        "UPDATE subscribers SET status = 'unsubscribed', requested_at = NULL, updated = ? "
        "WHERE lower(email) IN (SELECT lower(email) FROM subscribers WHERE token_key = ? "
        "UNION ALL SELECT mailbox FROM retired_keys WHERE token_key = ?) "
        "AND status != 'unsubscribed'",
    "subscriber.of_retired_key":  # the mailbox of a removed spelling's key: active first
        "SELECT email, name, topics, status, source, confirmed_at FROM subscribers "
        "WHERE lower(email) = (SELECT mailbox FROM retired_keys WHERE token_key = ?) "
        "ORDER BY CASE WHEN status = 'active' THEN 0 ELSE 1 END, id LIMIT 1",
    "retired_key.keep":  # a spelling about to be removed while others of its mailbox stay
        "INSERT INTO retired_keys (token_key, mailbox) SELECT token_key, lower(email) "
        "FROM subscribers s WHERE email = ? AND EXISTS (SELECT 1 FROM subscribers o "
        "WHERE lower(o.email) = lower(s.email) AND o.email != s.email)",
    "retired_keys.forget":  # after a removal: the mailbox's last spelling is gone
        "DELETE FROM retired_keys WHERE mailbox = lower(?) AND NOT EXISTS "
        "(SELECT 1 FROM subscribers WHERE lower(email) = lower(?))",
    "subscriber.unsubscribe_by_email":
        "UPDATE subscribers SET status = 'unsubscribed', requested_at = NULL, updated = ? "
        "WHERE lower(email) = lower(?) AND status != 'unsubscribed'",
    "subscriber.bounced":  # the server refused the mailbox: every spelling of it
        "UPDATE subscribers SET status = 'bounced', updated = ? "
        "WHERE lower(email) = lower(?) AND status = 'active'",
    "subscribers.purge_expired":  # signed up, never confirmed anything: the row goes
        "DELETE FROM subscribers WHERE status = 'pending' AND requested_at < ? "
        "AND source = 'form' AND confirmed_at IS NULL",
    "subscribers.expire_pending":  # had been a subscriber before: stays out
        "UPDATE subscribers SET status = 'unsubscribed', requested_at = NULL "
        "WHERE status = 'pending' AND requested_at < ?",
    **SIGNUP_STATEMENTS,  # the signup rate limit and the mail queue: signup_queries.py
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
    "attempts.orphaned":  # ... and no live sender holds its recipient
        "SELECT a.email FROM attempts a WHERE a.issue = ? AND NOT EXISTS "
        "(SELECT 1 FROM deliveries d WHERE d.issue = a.issue AND d.email = a.email) "
        "AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.issue = a.issue AND c.email = a.email "
        "AND c.lease_until >= {now}) ORDER BY a.at, a.email",
    "deliveries.of_run":
        "SELECT email, status FROM deliveries WHERE issue = ? AND run = ? ORDER BY at, email",
    "delivery.record_run":
        "INSERT INTO deliveries (issue, email, status, detail, at, run) "
        "VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (issue, email) DO UPDATE SET status = excluded.status, "
        "detail = excluded.detail, at = excluded.at, run = excluded.run",
    # -- pruning the ledger (prune.py): what each issue holds, and the issues pruned --------
    "ledger.deliveries_by_issue":
        "SELECT issue, sum(CASE WHEN status = 'sent' THEN 1 ELSE 0 END), "
        "sum(CASE WHEN status = 'sent' THEN 0 ELSE 1 END), min(at), max(at) "
        "FROM deliveries GROUP BY issue",
    "ledger.failures_by_issue":
        "SELECT issue, count(*), max(at) FROM failures GROUP BY issue",
    "ledger.attempts_by_issue":
        "SELECT issue, count(*), max(at) FROM attempts GROUP BY issue",
    "ledger.claims_by_issue":  # the topics of those still active (else NULL), counted
        "SELECT c.issue, s.topics, count(*) FROM claims c LEFT JOIN subscribers s "
        "ON s.email = c.email AND s.status = 'active' GROUP BY c.issue, s.topics",
    "ledger.claims_of_issue":  # the same for one issue, inside the pruning transaction
        "SELECT s.topics, count(*) FROM claims c LEFT JOIN subscribers s "
        "ON s.email = c.email AND s.status = 'active' WHERE c.issue = ? GROUP BY s.topics",
    "ledger.paced_issues":
        "SELECT issue FROM send_pace",
    "ledger.issue":  # the same for one issue, inside the transaction that prunes it
        "SELECT (SELECT count(*) FROM deliveries WHERE issue = ? AND status = 'sent'), "
        "(SELECT count(*) FROM deliveries WHERE issue = ? AND status != 'sent'), "
        "(SELECT count(*) FROM failures WHERE issue = ?), "
        "(SELECT count(*) FROM attempts WHERE issue = ?), "
        "(SELECT count(*) FROM claims WHERE issue = ?), "
        "(SELECT min(at) FROM deliveries WHERE issue = ?), "
        "(SELECT max(at) FROM (SELECT at FROM deliveries WHERE issue = ? UNION ALL "
        "SELECT at FROM failures WHERE issue = ? UNION ALL "
        "SELECT at FROM attempts WHERE issue = ?) AS activity), "
        "(SELECT count(*) FROM send_pace WHERE issue = ?)",
    "ledger.bytes":  # the ledger's tables and indexes on disk (SQLite: its dbstat table)
        "SELECT sum(pgsize) FROM dbstat WHERE name IN ('deliveries', 'deliveries_mailbox', "
        "'failures') AND aggregate = 1",
    "pruned.get":
        "SELECT sent, bounced, failed, first_at, last_at, pruned_at FROM pruned_issues "
        "WHERE issue = ?",
    "pruned.record":  # rows of an issue pruned before (brought back by a copy): kept as was
        "INSERT INTO pruned_issues (issue, sent, bounced, failed, first_at, last_at, "
        "pruned_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (issue) DO NOTHING",
    "pruned.deliveries":
        "DELETE FROM deliveries WHERE issue = ?",
    "pruned.failures":
        "DELETE FROM failures WHERE issue = ?",
    "pruned.pace":
        "DELETE FROM send_pace WHERE issue = ?",
    "pruned.claims":  # those of subscribers it has nothing for, or who left (prune.py)
        "DELETE FROM claims WHERE issue = ?",
    # -- subscribers whose message could not be built ---------------------------------------
    "failures.of_issue":
        "SELECT email, subscriber_updated, reason FROM failures WHERE issue = ?",
    "failure.record":  # with the subscriber's stamp now: kept until the row changes
        "INSERT INTO failures (issue, email, reason, subscriber_updated, at) "
        "SELECT ?, email, ?, updated, ? FROM subscribers WHERE email = ? "
        "ON CONFLICT (issue, email) DO UPDATE SET reason = excluded.reason, "
        "subscriber_updated = excluded.subscriber_updated, at = excluded.at",
    # -- senders sharing an issue: claims with leases ---------------------------------------
    "claims.fill":  # every active subscriber whose mailbox it goes to becomes a recipient
        "INSERT INTO claims (issue, email, position) SELECT i.issue, s.email, s.id "
        "FROM (SELECT CAST(? AS TEXT) AS issue) i, subscribers s WHERE s.status = 'active' "
        "AND NOT " + _sent_to_mailbox("i.issue") + " ON CONFLICT (issue, email) DO NOTHING",
    "claims.prune":  # recipients done meanwhile, no longer subscribed, or another spelling's
        "DELETE FROM claims WHERE issue = ? AND NOT EXISTS (SELECT 1 FROM subscribers s "
        "WHERE s.email = claims.email AND s.status = 'active' AND NOT "
        + _sent_to_mailbox("claims.issue") + ")",
    "claims.of_issue":
        "SELECT email FROM claims WHERE issue = ?",
    "claims.take":  # the next free (or expired) recipients, in order, for one batch
        "UPDATE claims SET worker = ?, batch = ?, lease_until = {now} + ? "
        "WHERE issue = ? AND email IN (SELECT c.email FROM claims c "
        "JOIN subscribers s ON s.email = c.email AND s.status = 'active' "
        "WHERE c.issue = ? AND c.lease_until < {now} AND c.failed_run != ? "
        "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.issue = c.issue "
        "AND d.email = c.email) ORDER BY c.position LIMIT ?{lock})",
    "claims.batch":  # what was taken: who, and whether a sender had it in flight before
        "SELECT c.email, s.name, s.topics, EXISTS (SELECT 1 FROM attempts a "
        "WHERE a.issue = c.issue AND a.email = c.email) "
        "FROM claims c JOIN subscribers s ON s.email = c.email "
        "WHERE c.issue = ? AND c.batch = ? ORDER BY c.position",
    "claims.outstanding":  # recipients left for this run, and when the first lease ends
        "SELECT count(*), min(c.lease_until) - {now} FROM claims c "
        "JOIN subscribers s ON s.email = c.email AND s.status = 'active' "
        "WHERE c.issue = ? AND c.failed_run != ? AND NOT EXISTS (SELECT 1 FROM deliveries d "
        "WHERE d.issue = c.issue AND d.email = c.email)",
    "claims.pending":  # their addresses (a run stopped by a fatal error reports them)
        "SELECT c.email FROM claims c "
        "JOIN subscribers s ON s.email = c.email AND s.status = 'active' "
        "WHERE c.issue = ? AND c.failed_run != ? AND NOT EXISTS (SELECT 1 FROM deliveries d "
        "WHERE d.issue = c.issue AND d.email = c.email) ORDER BY c.position",
    "claims.holders":  # the senders holding live leases
        "SELECT DISTINCT worker FROM claims WHERE issue = ? AND worker != '' "
        "AND lease_until >= {now}",
    "claims.renew":
        "UPDATE claims SET lease_until = {now} + ? WHERE issue = ? AND worker = ?",
    "claims.release":  # a sender's unfinished recipients, free for the others at once
        "UPDATE claims SET worker = '', batch = '', lease_until = 0 "
        "WHERE issue = ? AND worker = ?",
    "claims.release_all":
        "UPDATE claims SET worker = '', batch = '', lease_until = 0 WHERE issue = ?",
    # Still this sender's: no other took it over after its lease ran out. On PostgreSQL the
    # row stays locked until the attempt is recorded: the others' takes skip locked rows, so
    # a sender paused between this check and its commit cannot lose the recipient to another
    # that sends it too (the check alone would be stale by then).
    "claim.held":
        "SELECT 1 FROM claims WHERE issue = ? AND email = ? AND worker = ? AND batch = ?"
        "{hold}",
    "claim.done":
        "DELETE FROM claims WHERE issue = ? AND email = ?",
    "claim.failed":
        "UPDATE claims SET worker = '', batch = '', lease_until = 0, failed_run = ? "
        "WHERE issue = ? AND email = ?",
    "claim.last":  # (issue, issue, email): tried after the others by the next runs
        "UPDATE claims SET position = (SELECT max(position) + 1 FROM claims WHERE issue = ?) "
        "WHERE issue = ? AND email = ?",
    "claims.failed_in_run":
        "SELECT email FROM claims WHERE issue = ? AND failed_run = ? ORDER BY position",
    "pace.take":  # (issue, interval x3): the moment this message may go, and the clock now
        "INSERT INTO send_pace (issue, next_slot) VALUES (?, {now} + ?) "
        "ON CONFLICT (issue) DO UPDATE SET next_slot = "
        "{greatest}(send_pace.next_slot, {now}) + ? RETURNING next_slot - ?, {now}",
    **SEND_RUN_STATEMENTS,  # a send run's mark, its refusals in a row: run_queries.py
    # -- the schedule's runs ----------------------------------------------------------------
    "runs.last":
        "SELECT max(fire_time) FROM schedule_runs WHERE newsletter = ?",
    "run.done":
        "SELECT 1 FROM schedule_runs WHERE newsletter = ? AND fire_time = ?",
    "run.record":
        "INSERT INTO schedule_runs (newsletter, fire_time, issue, completed) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (newsletter, fire_time) DO NOTHING",
    "runs.all":
        "SELECT newsletter, fire_time, issue, completed FROM schedule_runs "
        "ORDER BY newsletter, fire_time",
}

# The same names, for the engine whose dialect differs.
DIALECT_STATEMENTS: dict[str, dict[str, str]] = {
    SQLITE: {},
    POSTGRESQL: {
        # PostgreSQL only: a prune and a send's preparation of the same issue take turns
        # (SQLite's write lock does it there); many sends of one issue prepare at once.
        "issue.lock_to_prune": "SELECT pg_advisory_xact_lock(?, hashtext(?))",
        "issue.lock_to_send": "SELECT pg_advisory_xact_lock_shared(?, hashtext(?))",
        "ledger.bytes":
            "SELECT pg_total_relation_size('deliveries') + pg_total_relation_size('failures')",
        **SEND_RUN_POSTGRESQL,  # a send run is alive while it holds its lock
        # PostgreSQL only: one scheduler among many (leadership.py)
        "leader.try": "SELECT pg_try_advisory_lock(?)",
        "leader.holder":
            "SELECT a.application_name FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = ? "
            "AND l.objid::bigint = ? AND l.objsubid = 1 "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        "leader.held":
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND pid = pg_backend_pid() AND classid::bigint = ? AND objid::bigint = ? "
            "AND objsubid = 1)",
    },
}


# Text the statements above leave to each dialect.
_MACROS: dict[str, dict[str, str]] = {
    SQLITE: {"now": "((julianday('now') - 2440587.5) * 86400.0)", "lock": "", "hold": "",
             "greatest": "max", "bytes": ""},
    # clock_timestamp, not now(): the moment of the statement, not of its transaction
    POSTGRESQL: {"now": "EXTRACT(EPOCH FROM clock_timestamp())::double precision",
                 "lock": " FOR UPDATE OF c SKIP LOCKED", "hold": " FOR UPDATE",
                 "greatest": "GREATEST",
                 "bytes": ' COLLATE "C"'},
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
    merged = {name: sql.format(**_MACROS[dialect]) if "{" in sql else sql
              for name, sql in {**STATEMENTS, **DIALECT_STATEMENTS[dialect]}.items()}
    if dialect == POSTGRESQL:
        return {name: _psycopg(sql) for name, sql in merged.items()}
    return merged
