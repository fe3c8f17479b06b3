"""The one schema of the state, as numbered migrations for SQLite and PostgreSQL.

A database records the highest migration applied to it (SQLite: ``PRAGMA user_version``,
which older versions of newsletter already read; PostgreSQL: the ``newsletter_schema``
table); opening it applies the missing ones in order, in one transaction, so every process
sees either the old schema or the new one. A database newer than this code is refused.

Migrations are append-only: a released one is never edited, a change is a new one. Each
gives its SQL once when both engines read it alike, or once per engine where their dialects
differ (identity columns, ``WITHOUT ROWID``, floating-point types).
"""

from __future__ import annotations

from dataclasses import dataclass

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
DIALECTS = (SQLITE, POSTGRESQL)


@dataclass(frozen=True)
class Migration:
    version: int
    what: str  # one line, shown by ``newsletter state migrate``
    sql: dict[str, str]  # dialect -> statements, separated by semicolons

    def for_dialect(self, dialect: str) -> str:
        return self.sql[dialect]


def _both(sql: str) -> dict[str, str]:
    return {SQLITE: sql, POSTGRESQL: sql}


_V1_DELIVERIES = """
-- One row per (issue, address) once the SMTP server accepted the message ('sent') or
-- rejected the recipient for good ('bounced'): what makes a resumed send skip it.
CREATE TABLE IF NOT EXISTS deliveries (
    issue TEXT NOT NULL,
    email TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('sent', 'bounced')),
    detail TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL,
    PRIMARY KEY (issue, email)
){rowid};
-- A message handed to the server and not yet acknowledged: a row left here by a killed
-- sender names a message that may or may not have been delivered.
CREATE TABLE IF NOT EXISTS attempts (
    issue TEXT NOT NULL,
    email TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (issue, email)
){rowid};
"""

_V1_SUBSCRIBERS = """
CREATE TABLE IF NOT EXISTS subscribers (
    id {id},
    email TEXT NOT NULL UNIQUE,          -- normalized: local part as given, domain lowercased
    name TEXT NOT NULL DEFAULT '',
    topics TEXT NOT NULL DEFAULT '',     -- separated by semicolons, '' means every topic
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'unsubscribed')),
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
"""

_V2_FAILURES = """
-- A subscriber whose message could not be built (an address no header can carry), with the
-- subscriber row's "updated" stamp then: not tried again for the issue until the row changes.
CREATE TABLE IF NOT EXISTS failures (
    issue TEXT NOT NULL,
    email TEXT NOT NULL,
    reason TEXT NOT NULL,
    subscriber_updated TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (issue, email)
){rowid};
"""
# Version 4: readers sign up themselves. Subscribers gain the statuses pending (signed up,
# not confirmed) and bounced, and the consent record: how they joined (source) and when
# they confirmed; rows from before are imports with no confirmation time. token_key, random,
# names a subscriber in the links of their emails instead of their address. mail_queue holds
# the confirmation and welcome emails the web pages ask for; signup_hits counts signup
# requests per client (an HMAC of its address) for the rate limit.
_V4_QUEUE = """
CREATE TABLE mail_queue (
    id {id},
    kind TEXT NOT NULL CHECK (kind IN ('confirm', 'welcome')),
    email TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'sent', 'failed', 'dropped')),
    created_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX mail_queue_due ON mail_queue (status, due_at);
CREATE INDEX mail_queue_email ON mail_queue (email, kind, created_at);
CREATE TABLE signup_hits (
    client TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX signup_hits_client ON signup_hits (client, at);
"""
_V4_SQLITE = """
CREATE TABLE subscribers_v4 (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    topics TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'active'
        CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced')),
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    -- in the order PostgreSQL's ALTER TABLE ... ADD COLUMN gives (state copy compares them)
    source TEXT NOT NULL DEFAULT 'import' CHECK (source IN ('form', 'import', 'cli')),
    confirmed_at TEXT,
    requested_at TEXT,
    token_key TEXT NOT NULL UNIQUE DEFAULT (lower(hex(randomblob(16))))
);
INSERT INTO subscribers_v4 (id, email, name, topics, status, created, updated)
    SELECT id, email, name, topics, status, created, updated FROM subscribers;
DROP TABLE subscribers;
ALTER TABLE subscribers_v4 RENAME TO subscribers;
""" + _V4_QUEUE.format(id="INTEGER PRIMARY KEY")
_V4_POSTGRESQL = """
ALTER TABLE subscribers DROP CONSTRAINT IF EXISTS subscribers_status_check;
ALTER TABLE subscribers ADD CONSTRAINT subscribers_status_check
    CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced'));
ALTER TABLE subscribers ADD COLUMN source TEXT NOT NULL DEFAULT 'import'
    CHECK (source IN ('form', 'import', 'cli'));
ALTER TABLE subscribers ADD COLUMN confirmed_at TEXT;
ALTER TABLE subscribers ADD COLUMN requested_at TEXT;
ALTER TABLE subscribers ADD COLUMN token_key TEXT NOT NULL
    DEFAULT md5(random()::text || clock_timestamp()::text);
CREATE UNIQUE INDEX subscribers_token_key ON subscribers (token_key);
""" + _V4_QUEUE.format(id="BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")

_V3_SENDERS_AND_RUNS = """
-- Which send run recorded a delivery: a run's report is read back from the ledger, so it is
-- complete even when one of its worker processes was killed.
ALTER TABLE deliveries ADD COLUMN run TEXT NOT NULL DEFAULT '';
-- The recipients of an issue still to be sent, and who is sending them. A sender claims a
-- batch by setting its lease; a lease not renewed in time (the sender died) makes the batch
-- free again. A row goes when its recipient is done.
CREATE TABLE IF NOT EXISTS claims (
    issue TEXT NOT NULL,
    email TEXT NOT NULL,
    position BIGINT NOT NULL,                  -- the subscriber's id: the order of sending
    worker TEXT NOT NULL DEFAULT '',           -- the sender process holding it ('' = free)
    batch TEXT NOT NULL DEFAULT '',            -- the claim it came with
    lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,  -- seconds since 1970, database clock
    failed_run TEXT NOT NULL DEFAULT '',       -- the run it failed in: not retried by that run
    PRIMARY KEY (issue, email)
);
CREATE INDEX IF NOT EXISTS claims_by_position ON claims (issue, position);
CREATE INDEX IF NOT EXISTS claims_by_worker ON claims (issue, worker);
-- rate_per_second across every sender of an issue: the next free moment for a message.
CREATE TABLE IF NOT EXISTS send_pace (
    issue TEXT PRIMARY KEY,
    next_slot DOUBLE PRECISION NOT NULL
);
-- The schedule's runs, once each succeeded (what makes a run never happen twice).
CREATE TABLE IF NOT EXISTS schedule_runs (
    newsletter TEXT NOT NULL,                  -- the newsletter's site_url
    fire_time TEXT NOT NULL,                   -- UTC, ISO 8601
    issue TEXT NOT NULL,
    completed TEXT NOT NULL,
    PRIMARY KEY (newsletter, fire_time)
);
"""

# Version 5: the confirmation limits count a mailbox, not a spelling of it. mail_queue.mailbox
# holds the address with its domain and local part in lower case and a "+tag" cut off (the
# key newsletter.delivery.subscribers.mailbox_key computes: addresses are ASCII, so lower()
# is casefolding); the rows already queued get it here, so the day's count carries over.
_V5_MAILBOX = """
ALTER TABLE mail_queue ADD COLUMN mailbox TEXT NOT NULL DEFAULT '';
UPDATE mail_queue SET mailbox = lower(CASE
    WHEN {find}(email, '+') > 1 AND {find}(email, '+') < {find}(email, '@')
    THEN substr(email, 1, {find}(email, '+') - 1) || substr(email, {find}(email, '@'))
    ELSE email END);
CREATE INDEX mail_queue_mailbox ON mail_queue (mailbox, kind, created_at);
"""

# Version 6: a mailbox is one subscriber, whatever the case of its address. Two addresses equal
# once lower-cased (addresses are ASCII: lower() is casefolding; a "+tag" still counts, as a
# reader picks one to file the mail apart) can no longer be stored twice: the unique index on
# (lower(email), duplicate) refuses the second. Databases that hold some already keep every
# spelling (their links were mailed; a reader may use any): each but the first stored gets
# its own id in ``duplicate``, which keeps it apart in the index, and a send gives the
# mailbox each issue once (queries.py: claims.fill). The ledger is searched the same way, so
# that what one spelling was sent (or had in flight) counts for all.
_V6_ONE_SUBSCRIBER_PER_MAILBOX = """
ALTER TABLE subscribers ADD COLUMN duplicate BIGINT NOT NULL DEFAULT 0;
UPDATE subscribers SET duplicate = id
    WHERE id NOT IN (SELECT min(id) FROM subscribers GROUP BY lower(email));
CREATE UNIQUE INDEX subscribers_mailbox ON subscribers (lower(email), duplicate);
CREATE INDEX deliveries_mailbox ON deliveries (issue, lower(email));
CREATE INDEX attempts_mailbox ON attempts (issue, lower(email));
"""

# Version 7: the link key of a spelling removed while other spellings of its mailbox stay
# (databases from before version 6 hold several). The emails that spelling was sent carry
# links naming the key, and a reader who follows one must stop getting mail: the key stays
# here, with the mailbox (lower(email)), until the mailbox's last spelling is removed.
_V7_RETIRED_KEYS = """
CREATE TABLE retired_keys (
    token_key TEXT PRIMARY KEY,
    mailbox TEXT NOT NULL
){rowid};
CREATE INDEX retired_keys_mailbox ON retired_keys (mailbox);
"""

# Version 8: the send ledger is pruned (``newsletter state prune``, prune.py). An issue whose
# per-address rows (deliveries, failures, its send_pace) were removed keeps one row here: it
# was sent, to whom is no longer known, so it is never sent again; with its counts for the
# record. first_at and last_at: its first delivery and its last ledger activity.
_V8_PRUNED_ISSUES = """
CREATE TABLE pruned_issues (
    issue TEXT PRIMARY KEY,
    sent BIGINT NOT NULL,
    bounced BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    first_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    pruned_at TEXT NOT NULL
);
"""

# Version 9: the refusals in a row of one send run, counted across all its senders (every
# connection of every worker process): a server refusing every message stops the run after
# as many refusals as with one sender. The row lives while its run does.
_V9_SEND_RUNS = """
CREATE TABLE send_runs (
    run TEXT PRIMARY KEY,
    issue TEXT NOT NULL,
    refused_in_a_row INTEGER NOT NULL DEFAULT 0,
    stopped TEXT NOT NULL DEFAULT ''           -- why the run stopped, '' while it goes on
){rowid};
"""

# Version 10: whether a send run's stop lasts until a person acts (a refused login, refusals
# in a row) or passes with time (a sender's quota, a blocklist): the run reads it back even
# when the worker process that met the refusal was lost before it could say. Rows written
# before it (and by an older version) read as lasting, as they did.
_V10_SEND_RUN_LASTS = """
ALTER TABLE send_runs ADD COLUMN lasts INTEGER NOT NULL DEFAULT 1;
"""

# Version 11: the refusals saying a sender's limit (or a blocklist) met at RCPT TO or after
# DATA since the last message the server took, by any sender of the run: the first may be
# one recipient's own, a second before a message is taken stops the run (refusals.py).
_V11_SEND_RUN_LIMITS = """
ALTER TABLE send_runs ADD COLUMN limits_in_a_row INTEGER NOT NULL DEFAULT 0;
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "subscribers, the send ledger and in-flight attempts", {
        SQLITE: _V1_SUBSCRIBERS.format(id="INTEGER PRIMARY KEY")
        + _V1_DELIVERIES.format(rowid=" WITHOUT ROWID"),
        POSTGRESQL: _V1_SUBSCRIBERS.format(id="BIGINT GENERATED BY DEFAULT AS IDENTITY "
                                              "PRIMARY KEY")
        + _V1_DELIVERIES.format(rowid=""),
    }),
    Migration(2, "subscribers whose message could not be built, per issue", {
        SQLITE: _V2_FAILURES.format(rowid=" WITHOUT ROWID"),
        POSTGRESQL: _V2_FAILURES.format(rowid=""),
    }),
    Migration(3, "senders sharing an issue (claims with leases, a shared pace), the "
                 "schedule's runs", _both(_V3_SENDERS_AND_RUNS)),
    Migration(4, "readers sign up: pending and bounced, the consent record, link keys, "
                 "the mail queue and the signup rate limit",
              {SQLITE: _V4_SQLITE, POSTGRESQL: _V4_POSTGRESQL}),
    Migration(5, "the confirmation limits count a mailbox: case and a +tag aside",
              {SQLITE: _V5_MAILBOX.format(find="instr"),
               POSTGRESQL: _V5_MAILBOX.format(find="strpos")}),
    Migration(6, "a mailbox is one subscriber: addresses equal up to case are one",
              _both(_V6_ONE_SUBSCRIBER_PER_MAILBOX)),
    Migration(7, "the links of a spelling removed from its mailbox still unsubscribe it",
              {SQLITE: _V7_RETIRED_KEYS.format(rowid=" WITHOUT ROWID"),
               POSTGRESQL: _V7_RETIRED_KEYS.format(rowid="")}),
    Migration(8, "issues whose send ledger was pruned: never sent again",
              _both(_V8_PRUNED_ISSUES)),
    Migration(9, "the refusals in a row of a send run, shared by all its senders",
              {SQLITE: _V9_SEND_RUNS.format(rowid=" WITHOUT ROWID"),
               POSTGRESQL: _V9_SEND_RUNS.format(rowid="")}),
    Migration(10, "whether a send run's stop lasts or passes with time",
              _both(_V10_SEND_RUN_LASTS)),
    Migration(11, "a sender's limit met at RCPT TO or after DATA, confirmed by the next one",
              _both(_V11_SEND_RUN_LIMITS)),
)

LATEST = MIGRATIONS[-1].version

# The tables ``newsletter state copy`` carries over, parents first, each with the columns
# that identify a row (what an idempotent copy matches on). Every column is copied as it
# is stored: addresses byte for byte, because the unsubscribe tokens of earlier versions are
# HMACs of the stored address, and token_key, which the links of newer emails name.
TABLES: dict[str, tuple[str, ...]] = {
    "subscribers": ("email",),
    "deliveries": ("issue", "email"),
    "attempts": ("issue", "email"),
    "failures": ("issue", "email"),
    "claims": ("issue", "email"),
    "send_pace": ("issue",),
    "schedule_runs": ("newsletter", "fire_time"),
    "mail_queue": ("id",),
    "signup_hits": ("client", "at"),
    "retired_keys": ("token_key",),
    "pruned_issues": ("issue",),
}
# Identity columns whose sequence must move past the copied values on PostgreSQL.
IDENTITY_COLUMNS: dict[str, str] = {"subscribers": "id", "mail_queue": "id"}


def check_catalogue() -> None:
    """The migrations are numbered 1, 2, 3... and each names every dialect (a test runs it)."""
    for expected, migration in enumerate(MIGRATIONS, 1):
        if migration.version != expected:
            raise AssertionError(f"migration {migration.version} is out of order")
        missing = set(DIALECTS) - set(migration.sql)
        if missing:
            raise AssertionError(f"migration {migration.version} lacks {sorted(missing)}")
