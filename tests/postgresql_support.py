"""What the tests against a real PostgreSQL and real processes share.

``on_postgresql`` moves a sending project's state into a PostgreSQL database (and sets its
SMTP settings); ``start`` runs ``newsletter ARGS`` as a real process, with the secret and
this checkout's code, its output in a log; ``wait_for`` polls until a condition holds;
``people`` makes a list of addresses; ``end_leadership`` ends the database session of a
scheduler, as the server does to a machine that froze or vanished.

A module of its own, not a test module, so that the many-sender, leadership, takeover and
timeout tests share one way of running against PostgreSQL whatever order pytest collects
them in. The server itself comes from the ``postgres_server`` fixture in conftest.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

from conftest import PROJECT, SECRET


def on_postgresql(config_path: Path, url: str, **smtp: object) -> Path:
    """The config at ``config_path`` with its state in PostgreSQL (and SMTP settings)."""
    data = yaml.safe_load(config_path.read_text("utf-8"))
    data["state_url"] = url
    data["smtp"].update(smtp)
    config_path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    return config_path


def environment() -> dict[str, str]:
    return {**os.environ, "NEWSLETTER_SECRET": SECRET,
            "PYTHONPATH": str(PROJECT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def start(config_path: Path, log: Path, *args: str) -> subprocess.Popen:
    """``newsletter ARGS`` as a real process, its output in ``log``."""
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "newsletter", "--config",
                                 str(config_path), *args], env=environment(), cwd=PROJECT,
                                stdout=out, stderr=subprocess.STDOUT)


def wait_for(condition, what: str, timeout: float = 60) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def people(count: int, prefix: str = "p") -> list[str]:
    return [f"{prefix}{i:04d}@example.org" for i in range(count)]


def end_leadership(url: str, pid: int) -> None:
    """What the server does to the session of a machine that froze or vanished (once TCP
    keepalives give up on it): ends it, and the advisory lock goes with it."""
    import psycopg  # only the PostgreSQL tests need it installed

    name = f"newsletter schedule {socket.gethostname()} pid {pid}"
    with psycopg.connect(url, autocommit=True) as connection:
        ended = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s", (name,)).fetchall()
    assert ended == [(True,)], ended
