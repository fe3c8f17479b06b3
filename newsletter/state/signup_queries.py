"""The SQL of the signup form's state: its per-client rate limit (``signup_hits``), the
confirmation and welcome emails' queue (``mail_queue``) and a pending signup's choices. Part
of the catalogue of ``queries.py`` (merged into its ``STATEMENTS``), in the SQL that SQLite
and PostgreSQL both read, with ``?`` placeholders."""

from __future__ import annotations

SIGNUP_STATEMENTS: dict[str, str] = {
    "subscriber.pending_choices":  # a signup again before confirming: its latest choices
        "UPDATE subscribers SET name = ?, topics = ?, updated = ? WHERE email = ? "
        "AND status = 'pending'",
    "signup_hits.count":
        "SELECT count(*) FROM signup_hits WHERE client = ? AND at > ?",
    "signup_hits.insert":
        "INSERT INTO signup_hits (client, at) VALUES (?, ?)",
    "signup_hits.purge":
        "DELETE FROM signup_hits WHERE at <= ?",
    "mail_queue.recent_confirms":  # to any spelling of one mailbox, what a signup queues
        "SELECT count(*), max(created_at) FROM mail_queue WHERE mailbox = ? "
        "AND kind IN ('confirm', 'welcome') AND created_at > ?",
    "mail_queue.insert":
        "INSERT INTO mail_queue (kind, email, mailbox, created_at, due_at) "
        "VALUES (?, ?, ?, ?, ?)",
    "mail_queue.drop_confirms":
        "UPDATE mail_queue SET status = 'dropped' WHERE email = ? AND kind = 'confirm' "
        "AND status = 'queued'",
    "mail_queue.drop_expired":
        "UPDATE mail_queue SET status = 'dropped' WHERE status = 'queued' AND email IN "
        "(SELECT email FROM subscribers WHERE status = 'pending' AND requested_at < ?)",
    "mail_queue.purge":
        "DELETE FROM mail_queue WHERE status != 'queued' AND created_at < ?",
    "mail_queue.next_due":
        "SELECT id, kind, email, attempts FROM mail_queue WHERE status = 'queued' "
        "AND due_at <= ? ORDER BY due_at, id LIMIT 1",
    "mail_queue.waiting":  # not due yet: waiting out a retry delay, or being sent
        "SELECT count(*), min(due_at) FROM mail_queue WHERE status = 'queued' AND due_at > ?",
    "mail_queue.lease":  # taken: pushed ahead so that no other sender takes it meanwhile
        "UPDATE mail_queue SET due_at = ?, attempts = attempts + 1 WHERE id = ? "
        "AND status = 'queued' AND due_at <= ?",
    "mail_queue.retry_at":  # the detail ends "(next try <due_at>)", what retry_now matches
        "UPDATE mail_queue SET due_at = ?, detail = ? WHERE id = ?",
    "mail_queue.retry_now":  # only rows no sender claimed since: a claim moves due_at on
        "UPDATE mail_queue SET due_at = ? WHERE status = 'queued' AND due_at > ? "
        "AND detail LIKE '%(next try ' || due_at || ')'",
    "mail_queue.finish":
        "UPDATE mail_queue SET status = ?, detail = ? WHERE id = ?",
    "mail_queue.all":
        "SELECT kind, email, status FROM mail_queue ORDER BY id",
}
