"""Benchmark ``newsletter send`` against the floor: a bare smtplib loop (issue 5).

    python benchmarks/bench_send.py [--subscribers 5000] [--concurrency 1] [--rounds 2]

Builds the sample issue 2021-02-22 (from articles/ and newsletter.yaml) into a temporary
project, imports N subscribers, and starts an aiosmtpd sink in a separate process on
127.0.0.1 (so the server does not compete with the sender for the GIL). Then, alternating,
``rounds`` times each:

* the bare loop: one message rendered beforehand (``sample_message``), sent N times over one
  smtplib connection, nothing else: what any sender must at least spend;
* ``send_issue`` with a fresh state database: MJML once, then per subscriber the message
  from its template, the HMAC token, the attempt and ledger commits, the SMTP transaction.

It prints the best round of each, in messages per second, and the ratio (target: >= 0.7 at
concurrency 1).
"""

from __future__ import annotations

import argparse
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
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsletter.core.config import load_config  # noqa: E402
from newsletter.delivery.send import load_published_issue, send_issue  # noqa: E402
from newsletter.delivery.subscribers import import_csv  # noqa: E402
from newsletter.publishing.build import build_issue  # noqa: E402
from newsletter.rendering.mail import render_email  # noqa: E402
from newsletter.rendering.message import sample_message  # noqa: E402

ISSUE = dt.date(2021, 2, 22)
SINK = textwrap.dedent("""
    import sys, time
    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
    controller.stop()
""")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


def newsletter_send(config_path: Path, subscribers: int) -> float:
    config = load_config(config_path)
    shutil.rmtree(config.state_dir, ignore_errors=True)
    people = config_path.parent / "people.csv"
    import_csv(config, people)  # a fresh ledger; not timed
    started = time.perf_counter()
    report = send_issue(config, ISSUE, log=lambda line: None)
    elapsed = time.perf_counter() - started
    assert len(report.sent) == subscribers and report.ok, report.summary()
    return subscribers / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("NEWSLETTER_SECRET", "benchmark-secret-0123456789abcdef")

    port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(port)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None and sink.stdout.readline().strip() == "ready"
        with tempfile.TemporaryDirectory(prefix="newsletter-bench-send-") as folder:
            config_path = project(Path(folder), port, args.subscribers, args.concurrency)
            bare, ours = [], []
            for _ in range(args.rounds):
                bare.append(bare_loop(config_path, args.subscribers))
                ours.append(newsletter_send(config_path, args.subscribers))
    finally:
        if sink.stdin:
            sink.stdin.close()
        sink.wait(timeout=10)
    best_bare, best_ours = max(bare), max(ours)
    print(f"subscribers: {args.subscribers}, concurrency: {args.concurrency}, "
          f"rounds: {args.rounds} (best of each shown)")
    print(f"bare smtplib loop, one pre-rendered message, one connection: "
          f"{best_bare:8.0f} messages/s  (rounds: {', '.join(f'{r:.0f}' for r in bare)})")
    print(f"newsletter send_issue:                                        "
          f"{best_ours:8.0f} messages/s  (rounds: {', '.join(f'{r:.0f}' for r in ours)})")
    print(f"ratio: {best_ours / best_bare:.2f} (target >= 0.70 at concurrency 1)")


if __name__ == "__main__":
    main()
