"""What the scheduler tests share: a project to schedule, the scheduler run for real.

``scheduled`` makes a project with a weekly schedule and two articles in the window of the
issue ``FIRE`` (Monday 2021-02-22 07:00 UTC) makes; ``issue_status`` reads an issue's
status from its folder. ``ShiftedClock`` is the wall clock APScheduler and the scheduler
see, moved at will; ``run_loop`` runs the long-running scheduler in the test until it
has made its passes. ``start_scheduler`` runs ``newsletter schedule`` as a real process and
``wait_for_line`` waits for a line of its log. ``writing_where_it_may_not`` writes an issue,
as an unprivileged user (``as_nobody``), into a folder it may only read.

A module of its own, not a test module, so that the schedule, fault, retry, lasting-failure
and leadership tests share them whatever order pytest collects them in.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import apscheduler.executors.base
import apscheduler.schedulers.base
import pytest

from conftest import PROJECT, make_config, write_article
from newsletter.core.config import Config
from newsletter.core.errors import NewsletterError
from newsletter.publishing.output import write_files
from newsletter.schedule import job, loop
from newsletter.schedule.failures import lasting

FIRE = dt.datetime(2021, 2, 22, 7, tzinfo=dt.UTC)  # Monday: the issue 2021-02-22


def scheduled(folder: Path, **schedule) -> Config:
    """A project with two articles in the window of the issue dated 2021-02-22."""
    write_article(folder / "articles", "one", quality=80)
    write_article(folder / "articles", "two", quality=60)
    return make_config(folder, state_dir="state",
                       schedule={"cron": "0 7 * * mon", "catch_up_hours": 24, **schedule})


def issue_status(config, slug: str = "2021-02-22") -> str | None:
    path = config.output / slug / "issue.json"
    return json.loads(path.read_text("utf-8"))["status"] if path.is_file() else None


class ShiftedClock:
    """The wall clock as APScheduler and the scheduler see it: the real one moved by an
    offset that a test changes at will, as a resume from suspend or a clock jump does, while
    the monotonic clock APScheduler sleeps on knows nothing of it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, start: dt.datetime) -> None:
        self.jump(start)
        clock = self

        class Shifted(dt.datetime):
            @classmethod
            def now(cls, tz=None):  # what APScheduler calls for the time (its only use)
                return dt.datetime.now(tz) + clock.offset

        for module in (apscheduler.schedulers.base, apscheduler.executors.base):
            monkeypatch.setattr(module, "datetime", Shifted)

    def jump(self, to: dt.datetime) -> None:
        self.offset = to - dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset


@contextlib.contextmanager
def sigterm_ignored_around() -> Iterator[None]:
    """The scheduler installs its own handler and puts this one back: a SIGTERM arriving
    just after it stopped must not end the test run."""
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_loop(monkeypatch, config, clock: ShiftedClock, *, after_start: Callable[[], None],
           reload=None, passes_wanted: int = 2, limit: float = 20.0,
           strict: bool = False) -> list[dt.datetime]:
    """Run the long-running scheduler, as the service does, until it has made
    ``passes_wanted`` passes (the one at start included) or for ``limit`` seconds; the
    moments of its passes. ``after_start`` runs once APScheduler waits for the next run."""
    passes: list[dt.datetime] = []
    real_pass, real_announce = loop.run_pass, job.IssueJob.announce

    def counted(config, now, **kwargs):
        ok = real_pass(config, now, **kwargs)
        passes.append(now)
        if len(passes) >= passes_wanted:
            os.kill(os.getpid(), signal.SIGTERM)
        return ok

    def announce(issue_job):
        real_announce(issue_job)
        if len(passes) == 1:  # the call right after APScheduler started
            after_start()

    monkeypatch.setattr(loop, "run_pass", counted)  # the pass at start
    monkeypatch.setattr(job, "run_pass", counted)  # the passes of the job
    monkeypatch.setattr(job.IssueJob, "announce", announce)
    timeout = threading.Timer(limit, os.kill, (os.getpid(), signal.SIGTERM))
    with sigterm_ignored_around():
        timeout.start()
        try:
            assert loop.run_scheduler(config, reload=reload, clock=clock, strict=strict) == 0
        finally:
            timeout.cancel()
    return passes


def start_scheduler(path: Path, log: Path) -> subprocess.Popen:
    """A real ``newsletter schedule`` process for the config at ``path``, its output in ``log``."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "newsletter", "--config", str(path), "schedule"],
            stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT,
            env={**os.environ, "PYTHONPATH": str(PROJECT)})


def wait_for_line(log: Path, text: str, process: subprocess.Popen, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while text not in log.read_text("utf-8"):
        assert process.poll() is None, log.read_text("utf-8")
        assert time.monotonic() < deadline, f"no {text!r} in:\n{log.read_text('utf-8')}"
        time.sleep(0.05)
    return log.read_text("utf-8")


def as_nobody(work: Callable[[], str], uid: int = 65534) -> str:
    """``work`` run in a child process as the unprivileged user ``nobody`` (or ``uid``, which
    may have no name): what it returns, or why it raised."""
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child process
        try:
            os.close(read)
            os.setgid(uid)
            os.setuid(uid)
            try:
                answer = work()
            except BaseException as error:  # noqa: BLE001 - reported to the parent
                answer = f"raised {type(error).__name__}: {error}"
            os.write(write, answer.encode("utf-8"))
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = pipe.read().decode("utf-8")
    os.waitpid(child, 0)
    return answer


def writing_where_it_may_not(config: Config, uid: int = 65534) -> tuple[Path, str]:
    """An issue's page written by the one writer, as the unprivileged ``uid``, into an output
    folder it may only read: the folder, and the ``repr`` of the lasting failure the error is
    (else "passing: ..." or "written")."""
    home = Path(tempfile.mkdtemp(prefix="newsletter-eacces-"))  # nobody cannot reach tmp_path
    try:
        home.chmod(0o755)
        locked = home / "issues"
        locked.mkdir(mode=0o555)

        def write() -> str:
            try:
                write_files(locked, {"2021-02-22/index.html": b"<p>issue</p>"})
            except NewsletterError as error:
                failure = lasting(error, config)
                return repr(failure) if failure else f"passing: {error}"
            return "written"

        return locked, as_nobody(write, uid)
    finally:
        shutil.rmtree(home)
