"""The commands the scheduler and the commands name to run by hand carry ``--config PATH``
when the configuration in use is not the one they would find from the current folder (a
scheduler started by systemd with --config, its log read and its lines run elsewhere), and
are the short ones otherwise. The scheduler's lines in-process, the send's as a process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT, SECRET, make_config, write_article
from newsletter.core.folders import newsletter_command
from newsletter.schedule.failures import by_hand
from scheduler_support import FIRE

pytestmark = pytest.mark.usefixtures("secret")


def _project(folder: Path):
    write_article(folder / "articles", "one", quality=80)
    return make_config(folder, state_dir="state",
                       schedule={"cron": "0 7 * * mon", "catch_up_hours": 24, "send": True})


def test_the_schedulers_lines_name_the_config_when_run_from_elsewhere(tmp_path, monkeypatch):
    project = tmp_path / "srv x"  # a space, quoted for the shell
    config = _project(project)
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    named = f"newsletter --config '{project / 'newsletter.yaml'}'"
    assert by_hand(config, FIRE, strict=False) == (
        f"make it by hand with `{named} build --date 2021-02-22 --publish`, then "
        f"`{named} send 2021-02-22`")
    monkeypatch.chdir(project)
    assert by_hand(config, FIRE, strict=False) == (
        "make it by hand with `newsletter build --date 2021-02-22 --publish`, then "
        "`newsletter send 2021-02-22`")


def test_send_names_the_config_it_was_given_in_its_commands(tmp_path):
    config = _project(tmp_path / "news")
    env = {**os.environ, "NEWSLETTER_SECRET": SECRET, "PYTHONPATH": str(PROJECT)}
    env.pop("NEWSLETTER_CONFIG", None)

    def send(cwd: Path) -> str:
        done = subprocess.run([sys.executable, "-m", "newsletter", "--config",
                               str(config.path), "send", "2021-02-22"], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 1, done.stdout + done.stderr
        return done.stderr

    assert (f"build and publish it first: newsletter --config {config.path} build --date "
            "2021-02-22 --publish") in send(tmp_path)
    assert ("build and publish it first: newsletter build --date 2021-02-22 --publish"
            in send(config.path.parent))


def test_a_config_found_under_another_name_for_it_is_the_one_found(tmp_path, monkeypatch):
    """The same file reached through a symbolic link is the one the command finds."""
    config = _project(tmp_path / "news")
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "news")
    monkeypatch.chdir(link)
    assert newsletter_command(config.path, "send D") == "newsletter send D"
