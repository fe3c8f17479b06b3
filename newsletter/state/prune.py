"""Pruning the send ledger (``newsletter state prune``): the per-address rows of old,
finished issues go, one row per issue stays, and that row keeps the issue from ever being
sent again.

The ledger grows by about 200 bytes per message (a ``deliveries`` row and its index entry):
about 4 GB after 1,000 daily issues to 20,000 readers, never read again once an issue is
sent. What it is there for is exactly once: a resumed or repeated ``send`` skips whoever has
a row. Removing an issue's rows would make a repeated send deliver it to everyone again, so
pruning records the issue in ``pruned_issues`` (its counts, its first delivery and last
activity, when it was pruned), and a send of an issue recorded there is refused
(:func:`refuse_pruned`, called by the send in the transaction that prepares its recipients).

An issue is pruned only when it is finished and old:

* nothing in flight: no ``claims`` of recipients still to be sent (failed ones included: a
  later run would send them) and no ``attempts`` (a message a killed sender may or may not
  have delivered, which the next run names and sends again). The claim of a subscriber who
  is no longer active, or whom the issue has nothing for (none of their topics is in it, as
  the caller tells: :data:`NothingFor`), is no recipient: a send does not send to them,
  and the prune removes it with the rest (older versions left one per such subscriber at
  each send of the issue);
* at least one delivery (an issue nobody received has nothing to prune, and recording it
  would forbid its first real send);
* its last ledger activity older than the cutoff (default 90 days, :data:`DEFAULT_DAYS`).

Pruning and a send's preparation of the same issue take turns: on SQLite both are write
transactions (one at a time), on PostgreSQL both take an advisory lock of the issue (the
send's shared, so that many senders of one issue still prepare at once). A send waiting on
a prune then sees the issue pruned; a prune waiting on a send sees its claims and keeps it.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import NewsletterError
from .database import Database, Location, open_location
from .schema import POSTGRESQL, SQLITE

# Sends are finished within hours, a failed run is retried within days (by the scheduler
# within schedule.catch_up_hours, by hand when someone looks); questions about who got an
# issue (a reader, a complaint, a bounce) come within weeks. Three months keeps every issue
# one might still act on in full, and bounds the ledger at 90 days of sends.
DEFAULT_DAYS = 90
MIN_DAYS = 1  # never an issue sent today: a sender elsewhere may still be reading it back
PRUNE_LOCK = 0x6E6C7072  # "nlpr": the first key of the issues' advisory locks (PostgreSQL)

Log = Callable[[str], None]
# For an issue's date, the test telling that the issue has nothing for a subscriber of these
# stored topics (None: the issue is not known here, and each claim of an active subscriber
# counts as a recipient still to be sent).
NothingFor = Callable[[str], Callable[[str], bool] | None]


@dataclass(frozen=True)
class PrunedIssue:
    """What is left of an issue whose ledger was pruned."""

    issue: str
    sent: int
    bounced: int
    failed: int
    first_at: str
    last_at: str
    pruned_at: str


class IssuePruned(NewsletterError):
    """A send of an issue whose ledger was pruned: who received it is no longer recorded, so
    it is never sent again."""

    def __init__(self, record: PrunedIssue) -> None:
        self.record = record
        slug = record.issue
        super().__init__(
            f"issue {slug} was sent and its send ledger pruned on {record.pruned_at[:10]} "
            f"({record.sent:,} sent, {record.bounced:,} bounced, the last on "
            f"{record.last_at[:10]}): who received it is no longer recorded, so it is not "
            f"sent again. A test copy still goes: newsletter send {slug} --to ADDRESS")


def pruned_issue(db: Database, slug: str) -> PrunedIssue | None:
    row = db.run("pruned.get", (slug,)).fetchone()
    if row is None:
        return None
    sent, bounced, failed, first_at, last_at, pruned_at = row
    return PrunedIssue(slug, int(sent), int(bounced), int(failed), first_at, last_at,
                       pruned_at)


def refuse_pruned(db: Database, slug: str) -> None:
    """Raise :class:`IssuePruned` when ``slug`` was pruned; inside the transaction that
    prepares a send, so that a prune of the issue cannot slip in between (module docstring)."""
    if db.dialect == POSTGRESQL:
        db.run("issue.lock_to_send", (PRUNE_LOCK, slug))
    record = pruned_issue(db, slug)
    if record is not None:
        raise IssuePruned(record)


# -- what the ledger holds ----------------------------------------------------------------------

@dataclass
class IssueLedger:
    """One issue's rows in the ledger."""

    issue: str
    sent: int = 0
    bounced: int = 0
    failed: int = 0  # subscribers whose message could not be built (``failures``)
    attempts: int = 0
    claims: int = 0  # recipients still to be sent
    settled: int = 0  # claims of subscribers the issue has nothing for, or who left
    paced: bool = False
    first_at: str = ""
    last_at: str = ""  # the newest delivery, failure or attempt

    @property
    def rows(self) -> int:
        """The ledger rows pruning it removes (its settled claims go too, said apart)."""
        return self.sent + self.bounced + self.failed + int(self.paced)

    def unfinished(self) -> str | None:
        """Why it is kept whatever its age (None: it is finished)."""
        if self.claims or self.attempts:
            parts = ([f"{self.claims} recipient(s) still to be sent"] if self.claims else []) \
                + ([f"{self.attempts} message(s) in flight"] if self.attempts else [])
            return (f"{', '.join(parts)}: finish it (newsletter send {self.issue}), or let "
                    "its running send finish")
        if not self.sent + self.bounced:
            return "nothing delivered"
        return None

    def kept_because(self, cutoff: str) -> str | None:
        """Why it is not pruned now (None: it is)."""
        if self.last_at >= cutoff:
            return f"last activity {self.last_at[:10]}"
        return self.unfinished()


def _merge(issues: dict[str, IssueLedger], slug: str) -> IssueLedger:
    return issues.setdefault(slug, IssueLedger(slug))


def _count_claims(entry: IssueLedger, rows: Iterable[Sequence[Any]],
                  nothing_for: Callable[[str], bool] | None) -> None:
    """``(topics, count)`` rows of the issue's claims into ``entry``: recipients, or not
    (topics NULL: the subscriber is no longer active)."""
    for topics, count in rows:
        if topics is None or (nothing_for is not None and nothing_for(topics)):
            entry.settled += int(count)
        else:
            entry.claims += int(count)


def ledger_issues(db: Database, nothing_for: NothingFor | None = None) -> list[IssueLedger]:
    """Every issue with rows in the ledger, in date order: one grouped read per table."""
    issues: dict[str, IssueLedger] = {}
    for slug, sent, bounced, first, last in db.run("ledger.deliveries_by_issue"):
        entry = _merge(issues, slug)
        entry.sent, entry.bounced, entry.first_at = int(sent), int(bounced), first
        entry.last_at = max(entry.last_at, last)
    for slug, count, last in db.run("ledger.failures_by_issue"):
        entry = _merge(issues, slug)
        entry.failed, entry.last_at = int(count), max(entry.last_at, last)
    for slug, count, last in db.run("ledger.attempts_by_issue"):
        entry = _merge(issues, slug)
        entry.attempts, entry.last_at = int(count), max(entry.last_at, last)
    by_issue: dict[str, list[tuple[str | None, int]]] = {}
    for slug, topics, count in db.run("ledger.claims_by_issue"):
        by_issue.setdefault(slug, []).append((topics, count))
    for slug, rows in by_issue.items():
        _count_claims(_merge(issues, slug), rows, nothing_for and nothing_for(slug))
    for (slug,) in db.run("ledger.paced_issues"):
        _merge(issues, slug).paced = True
    return sorted(issues.values(), key=lambda entry: entry.issue)


def _issue_now(db: Database, slug: str, nothing_for: NothingFor | None) -> IssueLedger:
    """One issue's ledger read again, inside the pruning transaction."""
    row = db.run("ledger.issue", (slug,) * 10).fetchone()
    sent, bounced, failed, attempts = (int(v) for v in row[:4])
    entry = IssueLedger(slug, sent, bounced, failed, attempts, paced=bool(row[7]),
                        first_at=row[5] or "", last_at=row[6] or "")
    _count_claims(entry, db.run("ledger.claims_of_issue", (slug,)).fetchall(),
                  nothing_for and nothing_for(slug))
    return entry


# -- pruning -----------------------------------------------------------------------------------

@dataclass
class PruneReport:
    where: str
    dialect: str
    days: int
    cutoff: str
    dry_run: bool
    pruned: list[IssueLedger] = field(default_factory=list)
    kept: list[tuple[IssueLedger, str]] = field(default_factory=list)  # in flight, nothing sent
    recent: list[IssueLedger] = field(default_factory=list)
    ledger_rows: int = 0  # deliveries and failures before
    ledger_bytes: int | None = None  # their tables and indexes before (None: unknown)
    freed_bytes: int | None = None  # SQLite: pages the prune freed inside the file
    file_bytes: tuple[int, int] | None = None  # SQLite with --vacuum: the file before, after
    vacuumed: bool = False

    @property
    def rows(self) -> int:
        return sum(entry.rows for entry in self.pruned)

    def estimate(self, rows: int) -> int | None:
        """The bytes ``rows`` ledger rows take, at the ledger's average."""
        if self.ledger_bytes is None or not self.ledger_rows:
            return None
        return self.ledger_bytes * rows // self.ledger_rows

    def lines(self) -> list[str]:
        verb = "Would prune" if self.dry_run else "Pruned"
        out = [f"{self.where}: the send ledger of issues whose last activity is older than "
               f"{self.days} days (before {self.cutoff[:10]}):"]
        for entry in self.pruned:
            size = self.estimate(entry.rows)
            out.append(f"  {entry.issue}: {entry.sent:,} sent, {entry.bounced:,} bounced, "
                       f"{entry.failed:,} failed"
                       + (f", {entry.settled:,} skipped (chose no topic it has, or left)"
                          if entry.settled else "")
                       + f"; {entry.rows:,} row(s)"
                       + (f", about {_size(size)}" if size is not None else ""))
        for entry, why in self.kept:
            out.append(f"  kept {entry.issue}: {why}")
        if self.recent:
            out.append(f"  kept {len(self.recent)} issue(s) with activity in the last "
                       f"{self.days} days ({self.recent[0].issue} to {self.recent[-1].issue})")
        if not self.pruned:
            out.append("Nothing to prune." + (" (dry run)" if self.dry_run else ""))
            return out + (self._space_lines() if self.vacuumed else [])
        size = self.estimate(self.rows)
        total = f"{verb} {len(self.pruned)} issue(s), {self.rows:,} row(s)" + (
            f", about {_size(size)} of the ledger's {_size(self.ledger_bytes)}"
            if size is not None and self.ledger_bytes is not None else "")
        if self.dry_run:
            out.append(total + ". Dry run: nothing changed; run it without --dry-run to "
                       "prune. Those issues can then never be sent again.")
            return out
        out.append(total + ". They are recorded as sent and are never sent again.")
        out.extend(self._space_lines())
        return out

    def _space_lines(self) -> list[str]:
        if self.dialect == SQLITE and self.file_bytes is not None:
            before, after = self.file_bytes
            return [f"VACUUM: the file went from {_size(before)} to {_size(after)}."]
        if self.dialect == SQLITE:
            freed = _size(self.freed_bytes or 0)
            return [f"{freed} is now free inside the database file, used again by new rows; "
                    "the file itself shrinks only with VACUUM: newsletter state prune "
                    "--vacuum (it needs free disk as large as the file, and blocks every write "
                    "while it runs: not during a send)."]
        if self.vacuumed:
            return ["VACUUM: the space is free for new rows (the files keep their size; "
                    "VACUUM FULL deliveries returns it to the system, locking the table)."]
        return ["PostgreSQL's autovacuum makes the space free for new rows (or: newsletter "
                "state prune --vacuum); VACUUM FULL deliveries returns it to the system, "
                "locking the table while it runs."]


def _size(count: int | None) -> str:
    if count is None:
        return "an unknown size"
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def _ledger_bytes(db: Database) -> int | None:
    try:
        value = db.run("ledger.bytes").fetchone()[0]
    except sqlite3.OperationalError:  # a SQLite built without the dbstat table
        return None
    return None if value is None else int(value)


def _free_bytes(db: Database) -> int:
    pages = db.raw.execute("PRAGMA freelist_count").fetchone()[0]
    return int(pages) * int(db.raw.execute("PRAGMA page_size").fetchone()[0])


def prune_ledger(where: Location, *, days: int = DEFAULT_DAYS, now: dt.datetime,
                 dry_run: bool = False, vacuum: bool = False, log: Log = print,
                 nothing_for: NothingFor | None = None) -> PruneReport:
    """Prune the ledger of every finished issue whose last activity is older than ``days``
    before ``now`` (module docstring); ``dry_run`` changes nothing. ``nothing_for`` tells
    the claims of subscribers an issue has nothing for, which are no recipients."""
    if days < MIN_DAYS:
        raise NewsletterError(f"--older-than {days}d: at least {MIN_DAYS}d (an issue sent "
                              "today may still be read back by its send)")
    cutoff = (now - dt.timedelta(days=days)).astimezone(dt.UTC).isoformat(timespec="seconds")
    report = PruneReport(str(where), where.dialect, days, cutoff, dry_run)
    with open_location(where) as db:
        issues = ledger_issues(db, nothing_for)
        report.ledger_rows = sum(entry.sent + entry.bounced + entry.failed for entry in issues)
        report.ledger_bytes = _ledger_bytes(db)
        for entry in issues:
            why = entry.unfinished()
            if why is not None:
                report.kept.append((entry, why))
            elif entry.last_at >= cutoff:
                report.recent.append(entry)
            else:
                report.pruned.append(entry)
        if dry_run:
            return report
        free_before = _free_bytes(db) if db.dialect == SQLITE else 0
        report.pruned = [done for entry in report.pruned
                         if (done := _prune_issue(db, entry.issue, cutoff, now, log,
                                                  nothing_for))]
        if db.dialect == SQLITE:
            report.freed_bytes = _free_bytes(db) - free_before
        if vacuum:  # also after an earlier prune that did not
            report.file_bytes = _vacuum(db, log)
            report.vacuumed = True
    return report


def _prune_issue(db: Database, slug: str, cutoff: str, now: dt.datetime, log: Log,
                 nothing_for: NothingFor | None) -> IssueLedger | None:
    """Prune one issue in a transaction of its own, its rows read again inside it: a send
    that started since keeps it (None)."""
    with db.transaction():
        if db.dialect == POSTGRESQL:
            db.run("issue.lock_to_prune", (PRUNE_LOCK, slug))
        entry = _issue_now(db, slug, nothing_for)
        why = entry.kept_because(cutoff)
        if why is not None:
            log(f"  kept {slug}: {why} (changed since it was looked at)")
            return None
        db.run("pruned.record", (slug, entry.sent, entry.bounced, entry.failed,
                                 entry.first_at, entry.last_at,
                                 now.astimezone(dt.UTC).isoformat(timespec="seconds")))
        for statement in ("pruned.deliveries", "pruned.failures", "pruned.pace",
                          "pruned.claims"):  # claims: none of a recipient (kept_because)
            db.run(statement, (slug,))
    return entry


def _vacuum(db: Database, log: Log) -> tuple[int, int] | None:
    """SQLite: rewrite the file without its free pages (its size before and after).
    PostgreSQL: VACUUM the ledger's tables (their space free for new rows)."""
    if db.dialect == POSTGRESQL:
        log("VACUUM (ANALYZE) deliveries, failures, send_pace ...")
        db.raw.execute("VACUUM (ANALYZE) deliveries, failures, send_pace")
        return None
    path = db.location.path
    assert path is not None
    before = path.stat().st_size
    log(f"VACUUM {path} ...")
    db.raw.execute("VACUUM")
    db.raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return before, path.stat().st_size
