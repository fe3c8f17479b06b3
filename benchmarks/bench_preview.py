"""Benchmark the preview over a large corpus: what an idle preview costs, how fast an edit
shows.

    python benchmarks/bench_preview.py --articles 100000 [--idle 20] [--edits 5]

Generates (or reuses, under --workdir) a corpus shaped like bench_build.py's, starts
``newsletter preview`` as a process of its own, opens the draft once (the first reading
fills the corpus cache) and keeps an event stream open, as an editor's page does. Then:

* idle: the CPU time (user + system, from /proc) the server process uses over --idle
  seconds, as a share of one core; and, for comparison, what polling every 0.3 s (the
  preview's former way of watching) would cost: one stat walk of the corpus, timed here,
  divided by 0.3 s;
* edits: --edits times, an article is rewritten (a new headline, a quality that places it,
  a date inside the window) and the draft's plain text is fetched every 20 ms until the new
  headline is in it; the seconds from the write to that answer, and the server's CPU
  seconds meanwhile (the machine is shared: CPU time is what the edit cost, whatever else
  ran).

Targets (100,000 articles): idle < 2% of a core; an edit shows in the draft within 1 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_build import (  # noqa: E402
    ISSUE_DATE,
    article_text,
    write_article,
    write_config,
    write_corpus,
)

REPOSITORY = Path(__file__).resolve().parent.parent
GENERATED = "generated.json"
TICKS = os.sysconf("SC_CLK_TCK")


def generate(folder: Path, count: int) -> Path:
    """The corpus and its config; reused when the last run left one of this size."""
    marker = folder / GENERATED
    if marker.is_file() and json.loads(marker.read_text())["count"] == count:
        shutil.rmtree(folder / "issues", ignore_errors=True)
    else:
        write_corpus(folder, count, marker, {"count": count})
    return write_config(folder)


def edited_text(number: int, round_: int) -> tuple[str, str, str]:
    """(relative path, text, headline) of article ``number`` rewritten to lead the issue."""
    relative, text = article_text(number)
    headline = f"Edited headline {round_} of story {number}"
    inside = dt.datetime.fromisoformat(ISSUE_DATE) - dt.timedelta(days=1)
    text = re.sub(r'(?m)^title: .*$', f'title: "{headline}"', text, count=1)
    text = re.sub(r"(?m)^quality: .*$", "quality: 100000", text, count=1)
    text = re.sub(r"(?m)^publishedDateTime: .*$",
                  f"publishedDateTime: {inside:%Y-%m-%dT%H:%M:%SZ}", text, count=1)
    return relative, text, headline


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def get(port: int, path: str, timeout: float = 600) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def hold_event_stream(port: int, path: str, stop: threading.Event) -> None:
    """An editor's open page: an event stream read until the end of the run."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path)
    response = connection.getresponse()
    while not stop.is_set():
        if not response.fp.readline():
            return


def start_preview(config: Path, poll: bool) -> tuple[subprocess.Popen[str], int]:
    argv = [sys.executable, "-m", "newsletter", "--config", str(config), "preview",
            "--date", ISSUE_DATE, "--port", "0", *(["--poll"] if poll else [])]
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    process = subprocess.Popen(argv, cwd=config.parent, stdout=subprocess.PIPE, text=True,
                               env=environment)
    assert process.stdout is not None
    for line in process.stdout:
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if found:
            return process, int(found.group(1))
    raise SystemExit(f"the preview did not start (exit {process.wait()})")


def stat_walk_seconds(root: Path) -> float:
    """One scandir + stat walk of the corpus: what each poll of the former preview cost."""
    started = time.perf_counter()
    stack = [str(root)]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    entry.stat()
    return time.perf_counter() - started


def measure(config: Path, idle: float, edits: int, poll: bool) -> None:
    root = config.parent / "articles"
    draft = f"/draft/{ISSUE_DATE}/"
    started = time.perf_counter()
    process, port = start_preview(config, poll)
    stop = threading.Event()
    try:
        status, _ = get(port, draft)
        assert status == 200, f"the draft answered {status}"
        print(f"first draft (reads and caches the corpus): {time.perf_counter() - started:.1f} s")
        threading.Thread(target=hold_event_stream, args=(port, draft + "events", stop),
                         daemon=True).start()
        time.sleep(2)  # let the first reading's work settle
        before = cpu_seconds(process.pid)
        time.sleep(idle)
        idle_share = (cpu_seconds(process.pid) - before) / idle
        walk = statistics.median(stat_walk_seconds(root) for _ in range(3))
        polling_share = walk / 0.3
        mode = "polling (--poll)" if poll else "OS notifications"
        print(f"idle, {mode}: {100 * idle_share:.2f}% of a core over {idle:.0f} s "
              f"(target < 2%)")
        print(f"polling every 0.3 s instead: one stat walk takes {walk:.3f} s = "
              f"{100 * min(polling_share, 1):.0f}% of a core; ratio "
              f"{polling_share / max(idle_share, 1e-6):.0f}x")

        latencies, costs = [], []
        for round_ in range(1, edits + 1):
            relative, text, headline = edited_text(round_, round_)
            cpu_before = cpu_seconds(process.pid)
            written = time.perf_counter()
            (root / relative).write_text(text, encoding="utf-8")
            while True:
                status, body = get(port, draft + "email.txt")
                if status == 200 and headline in body:
                    break
                if time.perf_counter() - written > 60:
                    raise SystemExit(f"edit {round_} did not show within 60 s")
                time.sleep(0.02)
            latencies.append(time.perf_counter() - written)
            costs.append(cpu_seconds(process.pid) - cpu_before)
            time.sleep(0.5)
        print(f"edit -> draft, {edits} edits: median {statistics.median(latencies):.2f} s, "
              f"max {max(latencies):.2f} s (target < 1 s); server CPU per edit: median "
              f"{statistics.median(costs):.2f} s")
    finally:
        stop.set()
        process.terminate()
        process.wait(timeout=30)
        for round_ in range(1, edits + 1):
            write_article(root, round_)  # the corpus as generated, for the next run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--idle", type=float, default=20.0, help="Seconds measured idle.")
    parser.add_argument("--edits", type=int, default=5)
    parser.add_argument("--poll", action="store_true", help="Measure the polling fallback.")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/newsletter-bench-preview"))
    options = parser.parse_args()
    workdir = options.workdir.resolve()
    if workdir == REPOSITORY or REPOSITORY in workdir.parents:
        raise SystemExit("--workdir must be outside the repository")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, "
          f"{options.articles} articles")
    config = generate(workdir / str(options.articles), options.articles)
    measure(config, options.idle, options.edits, options.poll)


if __name__ == "__main__":
    main()
