"""Benchmark ``newsletter state prune``: the send ledger's size before and after, and the time.

    python benchmarks/bench_prune.py [--issues 200] [--readers 20000] [--older-than 90]
                                     [--engines sqlite postgresql] [--postgres URL]
                                     [--workdir DIR]

Writes a ledger like the one a daily newsletter leaves: ``--issues`` issues, one a day up to
yesterday, each delivered to ``--readers`` readers (1% bounced, with the server's reason),
every row as the sender writes it (address, status, timestamp, run id). Then, each a fresh
process as an operator runs it: ``newsletter state prune --dry-run``, ``newsletter state
prune --older-than N`` (default 90 days: the issues older than that go) and ``newsletter
state prune --vacuum`` (nothing left to prune: the space given back). It reports the ledger's
bytes per delivery, the database's size at each step and each command's time.

SQLite: the state file in ``--workdir``. PostgreSQL: a fresh database on ``--postgres`` (an
admin URL), else ``NEWSLETTER_TEST_POSTGRES``, else a throwaway cluster (durable), as
``bench_send.py`` does; skipped without one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import yaml
from bench_send import fresh_database, postgres_admin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsletter.state.database import Database, open_location  # noqa: E402
from newsletter.state.location import location_from_url  # noqa: E402

LEDGER = ("deliveries", "failures")


def rows(issues: int, readers: int, now: dt.datetime) -> Iterator[tuple[str, ...]]:
    """Every delivery of ``issues`` daily issues, in the ledger's order: the one of k days
    ago sent k and a half days ago (so that --older-than k takes it, whatever the hour)."""
    for number in range(issues):
        start = now - dt.timedelta(days=issues - number, hours=12)
        day = start.date()
        run = uuid.uuid4().hex
        for reader in range(readers):
            email = f"reader{reader:06d}@example.org"
            at = (start + dt.timedelta(seconds=reader // 20)).isoformat(timespec="seconds")
            if reader % 100 == 99:
                yield (day.isoformat(), email, "bounced",
                       f"550 5.1.1 <{email}>: Recipient address rejected: User unknown", at, run)
            else:
                yield day.isoformat(), email, "sent", "", at, run


def fill(db: Database, issues: int, readers: int) -> None:
    now = dt.datetime.now(dt.UTC)
    if db.dialect == "sqlite":
        with db.transaction():
            db.raw.executemany("INSERT INTO deliveries (issue, email, status, detail, at, run) "
                               "VALUES (?, ?, ?, ?, ?, ?)", rows(issues, readers, now))
        db.raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    with db.raw.cursor() as cursor, cursor.copy(
            "COPY deliveries (issue, email, status, detail, at, run) FROM STDIN") as copy:
        for row in rows(issues, readers, now):
            copy.write_row(row)
    db.raw.execute("VACUUM ANALYZE deliveries")


def sizes(db: Database) -> tuple[int, int, int]:
    """(the database's bytes, the ledger's bytes, deliveries)."""
    count = db.raw.execute("SELECT count(*) FROM deliveries").fetchone()[0]
    if db.dialect == "sqlite":
        path = db.location.path
        assert path is not None
        db.raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        ledger = db.raw.execute("SELECT sum(pgsize) FROM dbstat WHERE name IN ('deliveries', "
                                "'deliveries_mailbox', 'failures') AND aggregate = 1"
                                ).fetchone()[0]
        return path.stat().st_size, int(ledger or 0), int(count)
    total = db.raw.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    ledger = db.raw.execute("SELECT " + " + ".join(f"pg_total_relation_size('{t}')"
                                                    for t in LEDGER)).fetchone()[0]
    return int(total), int(ledger), int(count)


def newsletter(config: Path, *args: str) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "newsletter", "--config", str(config), *args],
                          env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"newsletter {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return took, done.stdout


def mb(count: int) -> str:
    return f"{count / (1 << 20):,.1f} MB"  # as newsletter says it: 1 MB = 1,048,576 bytes


def measure(name: str, folder: Path, url: str | None, args: argparse.Namespace) -> None:
    settings = {"title": "Bench", "site_url": "https://news.example.org/", "timezone": "UTC",
                "corpus": "articles", "output": "issues", "topics": ["AI"],
                "state_dir": str(folder / "state"),
                "email": {"from": "Bench <bench@example.org>", "postal_address": "1 Street"}}
    if url:
        settings["state_url"] = url
    (folder / "articles").mkdir(parents=True, exist_ok=True)
    config = folder / "newsletter.yaml"
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    where = location_from_url(url, None) if url else location_from_url(
        str(folder / "state" / "newsletter.sqlite3"), None)
    (folder / "state").mkdir(exist_ok=True)
    start = time.perf_counter()
    with open_location(where) as db:
        fill(db, args.issues, args.readers)
        before = sizes(db)
    written = time.perf_counter() - start
    steps = [("written", written, before)]
    print(f"\n{name}: {args.issues} issues x {args.readers:,} readers = {before[2]:,} "
          f"deliveries, written in {written:.1f} s; the ledger takes "
          f"{before[1] / before[2]:.0f} bytes per delivery")
    for label, extra in (("prune --dry-run", ["--dry-run"]), ("prune", []),
                         ("prune --vacuum", ["--vacuum"])):
        took, out = newsletter(config, "state", "prune", "--older-than",
                               f"{args.older_than}d", *extra)
        with open_location(where) as db:
            steps.append((label, took, sizes(db)))
        print(f"$ newsletter state prune --older-than {args.older_than}d {' '.join(extra)}")
        print("".join(line + "\n" for line in out.splitlines()
                      if not line.startswith("  20")))  # the issues themselves: left out
    print(f"| {name} | seconds | database | ledger | deliveries |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, took, (total, ledger, count) in steps:
        print(f"| {label} | {took:.1f} | {mb(total)} | {mb(ledger)} | {count:,} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--issues", type=int, default=200)
    parser.add_argument("--readers", type=int, default=20000)
    parser.add_argument("--older-than", type=int, default=90, metavar="DAYS")
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"],
                        choices=["sqlite", "postgresql"])
    parser.add_argument("--postgres", metavar="URL", default=None,
                        help="an admin URL of a PostgreSQL server (else a throwaway cluster)")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="newsletter-bench-prune-",
                                     dir=args.workdir) as work:
        if "sqlite" in args.engines:
            measure("SQLite", Path(work) / "sqlite", None, args)
        if "postgresql" in args.engines:
            with postgres_admin(args.postgres) as admin:
                if admin is None:
                    print("\nPostgreSQL: skipped (install postgresql or pass --postgres URL)")
                else:
                    url = fresh_database(admin, "newsletter_bench_prune")
                    measure("PostgreSQL", Path(work) / "postgresql", url, args)


if __name__ == "__main__":
    main()
