"""The benchmarks still run: each at a tiny size, so a change cannot break them unseen.

The figures themselves are measured by hand (benchmarks/README.md), never asserted here:
these machines are shared and noisy.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import PROJECT, decoy_environment


def run_benchmark(scratch: Path, *args: str) -> str:
    """The benchmark's output; the processes it starts run this checkout's code, whatever
    else is on PYTHONPATH (a decoy package there stops them)."""
    result = subprocess.run([sys.executable, *args], cwd=PROJECT, capture_output=True,
                            text=True, timeout=300, env=decoy_environment(scratch))
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_bench_send_runs(tmp_path: Path) -> None:
    out = run_benchmark(tmp_path, "benchmarks/bench_send.py", "--subscribers", "40",
                        "--rounds", "1", "--latency-ms", "5", "--connections", "1", "2",
                        "--per-connection", "4", "--workers", "1", "2",
                        "--concurrency-per-worker", "2")
    assert "ratio:" in out and "messages/s" in out
    assert "| 2 | " in out  # the table over the slow relay
    assert "exactly once: yes" in out or "worker processes: skipped" in out


def test_bench_build_runs(tmp_path: Path) -> None:
    out = run_benchmark(tmp_path, "benchmarks/bench_build.py", "--articles", "300",
                        "--skip-slow-baselines", "--repeat", "1", "--workdir", str(tmp_path))
    assert "cold build" in out and "explain --json" in out and "| met |" in out
    assert "| check with a topic no article has <= 1.25 x check, all cached |" in out


def test_bench_preview_runs(tmp_path: Path) -> None:
    out = run_benchmark(tmp_path, "benchmarks/bench_preview.py", "--articles", "200", "--idle", "1",
                        "--edits", "1", "--workdir", str(tmp_path))
    assert "% of a core" in out and "edit -> draft" in out and "ratio" in out


def test_bench_build_runs_on_real_text(tmp_path: Path) -> None:
    out = run_benchmark(tmp_path, "benchmarks/bench_build.py", "--articles", "300",
                        "--skip-slow-baselines", "--workdir", str(tmp_path),
                        "--texts", "articles", "--window-articles", "60", "--builds-only")
    assert "warm, same_story on" in out and "select, same_story off" in out
    assert "similar-text rule: CPU it adds to selection <= 10% of a warm build" in out
    assert "check" not in out  # --builds-only: neither the steps nor their targets


def test_bench_same_story_runs(tmp_path: Path) -> None:
    out = run_benchmark(tmp_path, "benchmarks/bench_same_story.py", "--thresholds", "0.35")
    assert "sample-2021-03-08: 25 candidates" in out
    assert "| 0.35 (default) |" in out and "By corpus" in out
    assert "| reader A | " in out and "| reader B | " in out  # the readers' agreement


def test_bench_archive_runs(tmp_path: Path) -> None:
    out = run_benchmark(tmp_path, "benchmarks/bench_archive.py", "--issues", "2", "12",
                        "--repeat", "1", "--workdir", str(tmp_path))
    assert "| 12 | " in out and "ratio: publish after 12 issues / after 2:" in out


def test_bench_prune_runs(tmp_path: Path) -> None:
    out = run_benchmark(tmp_path, "benchmarks/bench_prune.py", "--issues", "6", "--readers", "50",
                        "--older-than", "3", "--workdir", str(tmp_path))
    assert "| SQLite | seconds | database | ledger | deliveries |" in out
    assert "| prune | " in out and "Pruned 4 issue(s), 200 row(s)" in out
    assert "| PostgreSQL | " in out or "PostgreSQL: skipped" in out
