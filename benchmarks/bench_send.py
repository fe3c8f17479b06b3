"""Benchmark ``newsletter send``: against the floor, and over a slow relay.

    python benchmarks/bench_send.py [--subscribers 5000] [--concurrency 1] [--rounds 2]
                                    [--latency-ms 20] [--connections 1 4 16]
                                    [--skipped 30000] [--skipped-readers 200] [--rate 20]
                                    [--workers 1 2 4] [--postgres URL]

Builds the sample issue 2021-02-22 (from articles/ and newsletter.yaml) into a temporary
project, imports N subscribers, and starts an SMTP sink in a separate process on 127.0.0.1
(so the server does not compete with the sender for the GIL; a minimal one on asyncio, which
costs far less per message than aiosmtpd, so that the sender is what is measured). Then,
alternating, ``rounds`` times each:

* the bare loop: one message rendered beforehand (``sample_message``), sent N times over one
  smtplib connection, nothing else: what any sender must at least spend;
* ``send_issue`` with a fresh state database: MJML once, then per subscriber the message
  from its template, the HMAC token, the attempt and ledger commits, the SMTP transaction.

It prints the best round of each, in messages per second, and the ratio (target: >= 0.7 at
concurrency 1).

Then, against a second sink that waits ``--latency-ms`` before answering each SMTP command
(as a relay across a network does), ``send_issue`` with 1, 4 and 16 connections
(``smtp.concurrency``), ``--per-connection`` subscribers per connection: messages per
second, and each against N x the one-connection rate (target: >= 0.7 up to 16).

Then, at ``--rate`` messages a second (``smtp.rate_per_second``), ``--skipped-readers``
readers stored after ``--skipped`` subscribers the issue has nothing for (their one topic has
no article in it), against the same readers alone: the time to the first delivery and the
whole send, and their ratio (target: <= 1.10; when each skipped subscriber took a slot of
the rate, 30,000 of them at 20 a second held the first reader back 25 minutes).

Last, with the state in PostgreSQL (``--postgres`` names an admin URL, else
``NEWSLETTER_TEST_POSTGRES``, else a throwaway cluster is started as the tests do), ``send
--workers N`` for 1, 2 and 4 worker processes of ``--concurrency-per-worker`` connections,
each against a fresh database, over the latency sink: messages per second, and whether every
subscriber got exactly one message (the sink counts them).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsletter.core.config import load_config  # noqa: E402
from newsletter.delivery.send import load_published_issue, send_issue  # noqa: E402
from newsletter.delivery.subscriber_csv import import_csv  # noqa: E402
from newsletter.publishing.build import build_issue  # noqa: E402
from newsletter.rendering.mail import render_email  # noqa: E402
from newsletter.rendering.message import sample_message  # noqa: E402

ISSUE = dt.date(2021, 2, 22)
SINK = textwrap.dedent("""
    # A minimal SMTP sink on asyncio: it accepts everything and, with a latency, waits that
    # long before each reply, like a relay across a network. Written against the protocol
    # rather than with aiosmtpd, which handles a message line by line in Python: with 16
    # connections that sink, not the sender, would be what is measured.
    import asyncio, sys, time

    LATENCY = float(sys.argv[2]) / 1000  # seconds before each reply

    accepted, recipients = [0], set()
    window = {"first": 0.0, "last": 0.0, "count": 0}  # accepted messages since XRESET

    class Session(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport, self.buffer, self.in_data = transport, b"", False
            self.reply(b"220 sink ready")

        def reply(self, line):
            if LATENCY:
                loop.call_later(LATENCY, self.send, line)
            else:
                self.send(line)

        def send(self, line):
            if not self.transport.is_closing():
                self.transport.write(line + b"\\r\\n")

        def data_received(self, data):
            self.buffer += data
            while True:
                if self.in_data:
                    end = self.buffer.find(b"\\r\\n.\\r\\n")
                    if end < 0:
                        return
                    self.buffer, self.in_data = self.buffer[end + 5:], False
                    accepted[0] += 1
                    moment = time.monotonic()
                    window["first"] = window["first"] or moment
                    window["last"] = moment
                    window["count"] += 1
                    self.reply(b"250 OK: queued")
                    continue
                end = self.buffer.find(b"\\r\\n")
                if end < 0:
                    return
                line, self.buffer = self.buffer[:end], self.buffer[end + 2:]
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    self.reply(b"250 sink")
                elif verb == b"DATA":
                    self.in_data = True
                    self.buffer = b"\\r\\n" + self.buffer  # the terminator may be at once
                    self.reply(b"354 go ahead")
                elif verb == b"XRES":  # XRESET: start a new measuring window
                    window.update(first=0.0, last=0.0, count=0)
                    self.send(b"250 reset")
                elif verb == b"XSTA":  # XSTAT: the window's messages, their span, the first
                    span = window["last"] - window["first"]
                    self.send(f"250 {window['count']} {span:.6f} {window['first']:.6f}"
                              .encode())
                elif verb == b"QUIT":
                    self.send(b"221 bye")
                    self.transport.close()
                    return
                else:  # MAIL, RCPT, RSET, NOOP
                    if verb == b"RCPT":
                        recipients.add(line[8:].strip().lower())
                    self.reply(b"250 OK")

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(Session, "127.0.0.1", int(sys.argv[1])))
    print("ready", flush=True)
    loop.run_until_complete(loop.run_in_executor(None, sys.stdin.read))  # until stdin closes
    server.close()
    print(f"accepted {accepted[0]} distinct {len(recipients)}", flush=True)
""")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def sink(latency_ms: float = 0, totals: dict[str, int] | None = None) -> Iterator[int]:
    """An SMTP sink in its own process; yields its port. ``totals`` gets, when it stops, how
    many messages it accepted and for how many distinct recipients."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", SINK, str(port), str(latency_ms)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        yield port
    finally:
        if process.stdin:
            process.stdin.close()
        last = process.stdout.read() if process.stdout else ""
        process.wait(timeout=10)
        if totals is not None and last.startswith("accepted"):
            words = last.split()
            totals.update(accepted=int(words[1]), distinct=int(words[3]))


def project(folder: Path, port: int, subscribers: int, concurrency: int) -> Path:
    data = yaml.safe_load((ROOT / "newsletter.yaml").read_text("utf-8"))
    data.update(corpus=str(ROOT / "articles"), output=str(folder / "issues"),
                state_dir=str(folder / "state"), schedule=None,
                smtp={"host": "127.0.0.1", "port": port, "concurrency": concurrency})
    data = {k: v for k, v in data.items() if v is not None}
    path = folder / "newsletter.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    config = load_config(path)
    build_issue(config, ISSUE, publish=True)
    people = folder / "people.csv"
    people.write_text("email,name\n" + "".join(
        f"reader{i}@example.org,Reader {i}\n" for i in range(subscribers)), "utf-8")
    import_csv(config, people)
    return path


def bare_loop(config_path: Path, subscribers: int) -> float:
    config = load_config(config_path)
    issue = load_published_issue(config, ISSUE)
    message = sample_message(config, issue, render_email(issue, config))
    started = time.perf_counter()
    smtp = smtplib.SMTP(config.smtp.host, config.smtp.port)
    for i in range(subscribers):
        smtp.sendmail("newsletter@news.example.org", [f"reader{i}@example.org"], message)
    smtp.quit()
    return subscribers / (time.perf_counter() - started)


def sink_command(port: int, command: str) -> str:
    smtp = smtplib.SMTP("127.0.0.1", port)
    try:
        return smtp.docmd(command)[1].decode()
    finally:
        smtp.close()


def newsletter_send(config_path: Path, subscribers: int, workers: int = 1) -> float:
    """messages/s of one send: from the first message the sink accepted to the last (the
    steady rate, without start-up: imports, MJML, worker processes starting)."""
    config = load_config(config_path)
    shutil.rmtree(config.state_dir, ignore_errors=True)
    people = config_path.parent / "people.csv"
    import_csv(config, people)  # a fresh ledger; not timed
    sink_command(config.smtp.port, "XRESET")
    report = send_issue(config, ISSUE, log=lambda line: None, workers=workers)
    count, span, _ = sink_command(config.smtp.port, "XSTAT").split()
    assert len(report.sent) == subscribers == int(count) and report.ok, report.summary()
    return (int(count) - 1) / float(span)


def with_concurrency(config_path: Path, concurrency: int, subscribers: int,
                     state_url: str | None = None, prefix: str = "reader") -> None:
    """Rewrite the benchmark project's smtp.concurrency, state_url and subscriber list."""
    data = yaml.safe_load(config_path.read_text("utf-8"))
    data["smtp"]["concurrency"] = concurrency
    data.pop("state_url", None)
    if state_url:
        data["state_url"] = state_url
    config_path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    (config_path.parent / "people.csv").write_text("email,name\n" + "".join(
        f"{prefix}{i}@example.org,Reader {i}\n" for i in range(subscribers)), "utf-8")


def over_latency(latency_ms: float, connections: list[int], per_connection: int,
                 rounds: int) -> None:
    """messages/s for each number of connections against a sink with a per-command
    latency, and how close each comes to N x the one-connection rate."""
    rates: dict[int, float] = {}
    with sink(latency_ms) as port, tempfile.TemporaryDirectory(
            prefix="newsletter-bench-latency-") as folder:
        config_path = project(Path(folder), port, per_connection, 1)
        for count in connections:
            with_concurrency(config_path, count, per_connection * count)
            rates[count] = max(newsletter_send(config_path, per_connection * count)
                               for _ in range(rounds))
    print_scaling(f"sink latency {latency_ms:g} ms per SMTP command, {per_connection} "
                  f"subscribers per connection, best of {rounds}:", "connections", rates)


def print_scaling(title: str, what: str, rates: dict[int, float]) -> None:
    """A Markdown table: messages/s for each count, and against count x the rate of one."""
    base = rates.get(1) or rates[min(rates)] / min(rates)
    print(f"\n{title}")
    print(f"| {what} | messages/s | ratio to N x one (target >= 0.70) |")
    print("| ---: | ---: | ---: |")
    for count, rate in rates.items():
        print(f"| {count} | {rate:.1f} | {rate / (count * base):.2f} |")


@contextlib.contextmanager
def postgres_admin(url: str | None) -> Iterator[str | None]:
    """An admin URL of a PostgreSQL server: the one given, the tests' one, or a throwaway
    cluster (durable, like a real server); None when there is none."""
    url = url or os.environ.get("NEWSLETTER_TEST_POSTGRES")
    if url:
        yield url
        return
    sys.path.insert(0, str(ROOT / "tests"))
    import pgcluster

    if pgcluster.binaries() is None:
        yield None
        return
    cluster = pgcluster.start(durable=True)
    try:
        yield cluster.url
    finally:
        pgcluster.stop(cluster.folder)


def fresh_database(admin: str, name: str) -> str:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{admin.rsplit('/', 1)[0]}/{name}"


def over_workers(latency_ms: float, workers: list[int], concurrency: int, per_connection: int,
                 rounds: int, admin_url: str | None) -> None:
    """messages/s for each number of worker processes sharing one PostgreSQL state."""
    with postgres_admin(admin_url) as admin:
        if admin is None:
            print("\nworker processes: skipped (no PostgreSQL: install postgresql or pass "
                  "--postgres URL)")
            return
        rates: dict[int, float] = {}
        totals: dict[str, int] = {}
        expected = 0
        with sink(latency_ms, totals) as port, tempfile.TemporaryDirectory(
                prefix="newsletter-bench-workers-") as folder:
            config_path = project(Path(folder), port, 1, concurrency)
            for count in workers:
                best = 0.0
                for round_ in range(rounds):
                    size = per_connection * concurrency * count
                    url = fresh_database(admin, f"newsletter_bench_{count}_{round_}")
                    with_concurrency(config_path, concurrency, size, url,
                                     prefix=f"w{count}r{round_}-reader")
                    best = max(best, newsletter_send(config_path, size, workers=count))
                    expected += size
                rates[count] = best
    print_scaling(f"worker processes sharing PostgreSQL, {concurrency} connection(s) each, sink "
                  f"latency {latency_ms:g} ms, {per_connection} subscribers per connection, "
                  f"best of {rounds}:", "workers", rates)
    once = totals.get("accepted") == totals.get("distinct") == expected
    print(f"exactly once: {'yes' if once else 'NO'} (the sink accepted "
          f"{totals.get('accepted')} messages for {totals.get('distinct')} distinct "
          f"recipients; {expected} subscribers in all)")


def behind_skipped(skipped: int, readers: int, rate: float, rounds: int) -> None:
    """The first delivery and the whole send of ``readers`` at ``rate``, alone and behind
    ``skipped`` subscribers who chose only a topic the issue does not have."""
    timings: dict[int, tuple[float, float]] = {}
    with sink() as port, tempfile.TemporaryDirectory(
            prefix="newsletter-bench-skipped-") as folder:
        config_path = project(Path(folder), port, 0, 1)
        data = yaml.safe_load(config_path.read_text("utf-8"))
        data["topics"].append("Nothing This Week")  # no article has it
        data["smtp"]["rate_per_second"] = rate
        config_path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
        config = load_config(config_path)
        for ahead in (0, skipped):
            best = (float("inf"), float("inf"))
            for _ in range(rounds):
                shutil.rmtree(config.state_dir, ignore_errors=True)
                people = config_path.parent / "people.csv"
                people.write_text("email,name,topics\n" + "".join(
                    f"skipped{i}@example.org,,Nothing This Week\n" for i in range(ahead))
                    + "".join(f"reader{i}@example.org,,AI\n" for i in range(readers)),
                    "utf-8")
                import_csv(config, people)  # not timed
                sink_command(port, "XRESET")
                started = time.monotonic()
                report = send_issue(config, ISSUE, log=lambda line: None)
                ended = time.monotonic()
                count, _, first = sink_command(port, "XSTAT").split()
                assert len(report.sent) == readers == int(count), report.summary()
                assert len(report.skipped) == ahead, report.summary()
                best = min(best, (float(first) - started, ended - started))
            timings[ahead] = best
    alone, behind = timings[0], timings[skipped]
    print(f"\n{readers} reader(s) at {rate:g} messages/s, alone and behind {skipped} "
          f"subscribers the issue has nothing for, best of {rounds}:")
    print("| readers stored after | first delivery (s) | whole send (s) |")
    print("| ---: | ---: | ---: |")
    for ahead, (first, whole) in timings.items():
        print(f"| {ahead} skipped | {first:.2f} | {whole:.2f} |")
    print(f"ratio: whole send behind {skipped} skipped / alone: {behind[1] / alone[1]:.2f} "
          f"(target <= 1.10); the skipped cost {behind[0] - alone[0]:.2f} s before the first "
          f"delivery, against {skipped / rate:.0f} s at a slot each")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--latency-ms", type=float, default=20,
                        help="per-command latency of the second sink; 0 skips that part")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--per-connection", type=int, default=60)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4],
                        help="worker process counts to measure on PostgreSQL; none skips")
    parser.add_argument("--concurrency-per-worker", type=int, default=4)
    parser.add_argument("--skipped", type=int, default=30000,
                        help="subscribers the issue has nothing for, ahead of the readers; "
                             "0 skips that part")
    parser.add_argument("--skipped-readers", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--postgres", metavar="URL", default=None,
                        help="an admin URL (its user may create databases)")
    args = parser.parse_args()
    os.environ.setdefault("NEWSLETTER_SECRET", "benchmark-secret-0123456789abcdef")

    with sink() as port, tempfile.TemporaryDirectory(
            prefix="newsletter-bench-send-") as folder:
        config_path = project(Path(folder), port, args.subscribers, args.concurrency)
        bare, ours = [], []
        for _ in range(args.rounds):
            bare.append(bare_loop(config_path, args.subscribers))
            ours.append(newsletter_send(config_path, args.subscribers))
    best_bare, best_ours = max(bare), max(ours)
    print(f"subscribers: {args.subscribers}, concurrency: {args.concurrency}, "
          f"rounds: {args.rounds} (best of each shown)")
    print(f"bare smtplib loop, one pre-rendered message, one connection: "
          f"{best_bare:8.0f} messages/s  (rounds: {', '.join(f'{r:.0f}' for r in bare)})")
    print(f"newsletter send_issue:                                        "
          f"{best_ours:8.0f} messages/s  (rounds: {', '.join(f'{r:.0f}' for r in ours)})")
    print(f"ratio: {best_ours / best_bare:.2f} (target >= 0.70 at concurrency 1)")
    if args.latency_ms:
        over_latency(args.latency_ms, args.connections, args.per_connection, args.rounds)
    if args.skipped:
        behind_skipped(args.skipped, args.skipped_readers, args.rate, args.rounds)
    if args.workers:
        over_workers(args.latency_ms, args.workers, args.concurrency_per_worker,
                     args.per_connection, args.rounds, args.postgres)


if __name__ == "__main__":
    main()
