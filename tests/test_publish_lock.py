"""Two publishes of one output folder at once, and `publish` without a date."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import PROJECT, reap, run, tree, write_article, write_config
from newsletter.publishing import publishlock
from newsletter.publishing.publishlock import PUBLISH_LOCK
from newsletter.schedule.runs import run_pass
from scheduler_support import FIRE, issue_status, scheduled

# Runs the command, stopping it before it writes the page given (relative to the output
# folder) until the file GATE exists; it creates GATE.reached when it gets there.
PAUSED_AT = (
    "import runpy, sys, time\n"
    "from pathlib import Path\n"
    "from newsletter.publishing import output\n"
    "real, page, gate = output.write_atomic, sys.argv[1], Path(sys.argv[2])\n"
    "def write_atomic(path, data):\n"
    "    if path.as_posix().endswith(page):\n"
    "        Path(str(gate) + '.reached').write_text('here')\n"
    "        while not gate.exists():\n"
    "            time.sleep(0.02)\n"
    "    return real(path, data)\n"
    "output.write_atomic = write_atomic\n"
    "sys.argv = ['newsletter', *sys.argv[3:]]\n"
    "runpy.run_module('newsletter', run_name='__main__')\n"
)


def _three_weeks(folder: Path) -> None:
    for day in (3, 10, 17):
        write_article(folder / "articles", f"story-{day}",
                      publishedDateTime=dt.datetime(2021, 2, day, 12, tzinfo=dt.UTC))
    write_config(folder)


def _waited_for(path: Path, process: subprocess.Popen[str], limit: float = 60) -> None:
    end = time.monotonic() + limit
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.02)


def test_a_publish_while_another_writes_the_folder_waits_and_neither_issue_is_lost(
        tmp_path: Path) -> None:
    """One process publishes 2021-02-15 and is held just before it writes feed.xml (it read
    the published issues already); another publishes 2021-02-22 meanwhile, from another
    terminal. The second waits for the first, saying for whom, then publishes: the feeds,
    the front page and the pages around both issues show both, as two publishes one after
    the other give. Without the lock, the first wrote its feeds and front page without
    2021-02-22 once the second had finished, and deleted the file that names a publish to
    mend: the issue published by the second was dropped for good."""
    _three_weeks(tmp_path)
    assert run(tmp_path, "build", "--date", "2021-02-08", "--publish").exit_code == 0
    assert run(tmp_path, "build", "--date", "2021-02-22").exit_code == 0
    config = str(tmp_path / "newsletter.yaml")
    env = {**os.environ,
           "PYTHONPATH": str(PROJECT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    gate = tmp_path / "gate"
    first = subprocess.Popen(
        [sys.executable, "-c", PAUSED_AT, "issues/feed.xml", str(gate), "--config", config,
         "build", "--date", "2021-02-15", "--publish"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = None
    try:
        _waited_for(Path(f"{gate}.reached"), first)
        second = subprocess.Popen(
            [sys.executable, "-m", "newsletter", "--config", config, "publish", "2021-02-22"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # It says it waits (or, without the lock, finishes before the first goes on).
        said = ""
        end = time.monotonic() + 60
        while "Waiting for PID" not in said and second.poll() is None:
            assert time.monotonic() < end
            said += os.read(second.stderr.fileno(), 4096).decode() if _readable(second) else ""
        gate.write_text("go")
        out, err = second.communicate(timeout=60)
        said += err
        assert second.returncode == 0, said
        assert "Published issue 2021-02-22" in out
        assert first.wait(timeout=60) == 0, first.communicate()
    finally:
        gate.write_text("go")
        reap(first, second)
    output = tmp_path / "issues"
    feed = (output / "feed.xml").read_text("utf-8")
    for slug in ("2021-02-08", "2021-02-15", "2021-02-22"):
        assert f"https://news.example.org/ai/{slug}/" in feed, slug
        assert f"{slug}/index.html" in (output / "index.html").read_text("utf-8"), slug
    assert not (output / ".newsletter-publishing").exists()
    assert (f"Waiting for PID {first.pid} (build of issue 2021-02-15), which is writing "
            f"{output}, to finish (up to 10 s)...") in said
    # Byte for byte what the same publishes one after the other give.
    whole = tmp_path / "whole"
    _three_weeks(whole)
    for date in ("2021-02-08", "2021-02-15", "2021-02-22"):
        assert run(whole, "build", "--date", date, "--publish").exit_code == 0
    assert tree(output) == tree(whole / "issues")


def _readable(process: subprocess.Popen[str]) -> bool:
    import select

    return bool(select.select([process.stderr], [], [], 0.05)[0])


@contextlib.contextmanager
def _held(output: Path, what: str = "4242 (publish of issue 2021-02-15)") -> Iterator[None]:
    """The output folder's lock held, as another process holding it would."""
    output.mkdir(parents=True, exist_ok=True)
    with open(output / PUBLISH_LOCK, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        handle.truncate(0)
        handle.write(f"{what}\n")
        handle.flush()
        yield


def test_a_publish_that_waited_too_long_writes_nothing_and_names_the_holder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The folder stays busy past the wait: publish and build --publish write nothing, exit
    1, and name the process that holds it, what it does and what to do."""
    monkeypatch.setattr(publishlock, "PUBLISH_WAIT", 0.3)
    _three_weeks(tmp_path)
    assert run(tmp_path, "build", "--date", "2021-02-22").exit_code == 0
    output = tmp_path / "issues"
    before = tree(output)
    with _held(output):
        for command in (["publish", "2021-02-22"], ["build", "--date", "2021-02-22",
                                                     "--publish"]):
            refused = run(tmp_path, *command)
            assert refused.exit_code == 1, refused.output
            assert (f"Waiting for PID 4242 (publish of issue 2021-02-15), which is writing "
                    f"{output}, to finish (up to 0 s)...") in refused.stderr
            assert (f"Error: {output} is being written by another process, PID 4242 "
                    "(publish of issue 2021-02-15), and was still after 0 s, so nothing "
                    "was written") in refused.stderr
            assert "run the same command again once it has finished" in refused.stderr
            assert tree(output) == before
    # explain and check read only: no lock, no wait
    with _held(output):
        assert run(tmp_path, "explain", "2021-02-22").exit_code == 0
        assert run(tmp_path, "check").exit_code == 0
    assert run(tmp_path, "publish", "2021-02-22").exit_code == 0


def test_the_scheduler_tries_a_run_again_when_the_folder_was_busy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    """A scheduled run that finds the folder written by a publish by hand for too long fails
    as passing (tried again on its timer, not given up as lasting), having logged for whom
    it waited; the next pass publishes the issue."""
    monkeypatch.setattr(publishlock, "PUBLISH_WAIT", 0.3)
    config = scheduled(tmp_path)
    with caplog.at_level(logging.INFO, "newsletter"), _held(config.output):
        outcome = run_pass(config, FIRE)
    assert not outcome and outcome.lasting is None
    assert "issue 2021-02-22: waiting for PID 4242 (publish of issue 2021-02-15)" in caplog.text
    assert "is being written by another process, PID 4242 (publish" in caplog.text
    assert issue_status(config) is None
    assert run_pass(config, FIRE)
    assert issue_status(config) == "published"


def test_publish_without_a_date_names_the_latest_draft(tmp_path: Path) -> None:
    """As send without a date names the latest published issue: publish names the latest
    draft and its command, or says there is none after the latest published issue, or no
    issue at all; it publishes nothing (exit 2)."""
    _three_weeks(tmp_path)
    output = tmp_path / "issues"
    needs = "newsletter publish needs the date of a built issue (YYYY-MM-DD)"
    none = run(tmp_path, "publish")
    assert none.exit_code == 2
    assert (f"{needs}, and there is no issue in {output} yet: build one with newsletter "
            "build --date YYYY-MM-DD, look at it, then newsletter publish YYYY-MM-DD"
            ) in none.stderr
    assert run(tmp_path, "build", "--date", "2021-02-08").exit_code == 0
    draft = run(tmp_path, "publish")
    assert draft.exit_code == 2
    assert (f"{needs}; the latest draft is 2021-02-08 (built, not published): look at it "
            "(newsletter preview 2021-02-08), then newsletter publish 2021-02-08"
            ) in draft.stderr
    assert run(tmp_path, "publish", "2021-02-08").exit_code == 0
    assert run(tmp_path, "build", "--date", "2021-02-22").exit_code == 0
    later = run(tmp_path, "publish")
    assert ("the latest draft is 2021-02-22 (built, not published; the latest published is "
            "2021-02-08): look at it (newsletter preview 2021-02-22), then newsletter "
            "publish 2021-02-22") in later.stderr
    assert run(tmp_path, "publish", "2021-02-22").exit_code == 0
    done = run(tmp_path, "publish")
    assert done.exit_code == 2
    assert (f"{needs}; {output} has no draft after the latest published issue, 2021-02-22: "
            "build the next with newsletter build --date YYYY-MM-DD") in done.stderr
    assert "(draft)" not in (output / "2021-02-22" / "issue.json").read_text("utf-8")


def test_a_build_that_writes_nothing_leaves_no_folder_and_a_waiter_locks_the_new_file(
        tmp_path: Path) -> None:
    """A build into an output folder that did not exist, which writes nothing (its issue is
    empty), deletes the folder it made for its lock; a process that was waiting for that
    lock then takes it on the lock file made again, never on the deleted one, where it
    would keep out nobody."""
    import threading

    from newsletter.core.errors import NewsletterError
    from newsletter.core.locks import exclusive
    from newsletter.publishing.publishlock import writing_output

    output = tmp_path / "issues"
    path = output / PUBLISH_LOCK
    got: list[int] = []
    waited = threading.Event()

    def second() -> None:
        with exclusive(path, NewsletterError, wait=30, waiting=lambda _: waited.set()):
            got.append(os.stat(path).st_ino)
            with pytest.raises(NewsletterError), exclusive(path, NewsletterError):
                pass  # held: a third is kept out

    with writing_output(output, "build of issue 2021-02-22"):
        waiter = threading.Thread(target=second)
        waiter.start()
        assert waited.wait(30)
    waiter.join(30)
    assert got, "the waiting one never took the lock"
    assert not path.exists() or os.stat(path).st_ino == got[0]
    # The race itself, played out: the file opened by a waiter before its holder deleted
    # it, locked once the holder let go, is not taken as the lock (a third opening the path
    # now would lock another file), and the waiter tries again on the file path names.
    from newsletter.core.locks import _take

    with open(path, "a+", encoding="utf-8") as opened:
        path.unlink()
        assert _take(opened, path) == "gone"
    empty = tmp_path / "other"
    with writing_output(empty, "build of issue 2021-02-22"):
        assert (empty / PUBLISH_LOCK).is_file()
    assert not empty.exists()
