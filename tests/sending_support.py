"""A published site to send, the projects that send it, and ``newsletter send`` as a process.

``build_site`` publishes two issues (``ISSUE``, ``NEXT_ISSUE``, topics AI and Robotics of
``TOPICS``) and leaves a draft (``DRAFT``), as a user would with ``newsletter build``; the
``site`` fixture in conftest.py builds it once per test module. ``project`` and
``configured`` give a test its own config sending that site through an SMTP port, with its
own state; ``add_people`` imports subscribers, ``ledger`` reads what was recorded as sent.
``start_send`` runs ``newsletter send`` as a real process (to be killed), ``kill_when_held``
kills it while the server holds its replies, and ``in_flight_named`` reads which addresses
a resumed run names as perhaps sent twice.

A module of its own, not a test module, so that the delivery, signup, serve, schedule and
state tests share one way of making a sending project, whatever order pytest collects them
in. The SMTP server they send to is in smtp_support.py.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import PROJECT, SECRET, run, state_sql, write_article, write_config
from newsletter.core.config import Config, load_config
from newsletter.delivery.subscriber_csv import import_csv
from smtp_support import Recorder

ISSUE = dt.date(2021, 2, 22)
NEXT_ISSUE = dt.date(2021, 3, 1)
DRAFT = dt.date(2021, 3, 8)
TOPICS = ["AI", "Robotics", "Chips"]  # Chips: configured, but no article has it
# The email settings the site is published with and sent with (an SMTP server too, which
# puts a link to the preferences page in the email): a send refuses an issue whose published
# email is not the one it would send.
EMAIL = {"from": "AI Weekly <newsletter@news.example.org>",
         "reply_to": "editor@news.example.org",
         "postal_address": "100 Example Street, Springfield",
         "unsubscribe_mailto": "leave@news.example.org"}


def build_site(folder: Path) -> Path:
    """Two published issues (2021-02-22 and 2021-03-01, topics AI and Robotics) and a draft
    (2021-03-08), built with ``newsletter build --publish`` like a user would."""
    # As the projects sending it say: an issue is sent only as it was published.
    write_config(folder, topics=TOPICS, email=EMAIL, smtp={"host": "127.0.0.1", "port": 1})
    articles = folder / "articles"
    for day, date in (("17", ISSUE), ("25", NEXT_ISSUE), ("03", DRAFT)):
        month = 3 if day == "03" else 2
        when = dt.datetime(2021, month, int(day), 12, tzinfo=dt.UTC)
        for i in range(3):
            write_article(articles, f"{date}-ai-{i}", topics=["AI"], publishedDateTime=when,
                          title=f"AI story {i} of {date}")
        for i in range(2):
            write_article(articles, f"{date}-robot-{i}", topics=["Robotics"],
                          publishedDateTime=when, title=f"Robot Zoë {i} — of {date}")
    for date in (ISSUE, NEXT_ISSUE):
        result = run(folder, "build", "--date", date.isoformat(), "--publish")
        assert result.exit_code == 0, result.output
    result = run(folder, "build", "--date", DRAFT.isoformat())
    assert result.exit_code == 0, result.output
    return folder


def project(site: Path, folder: Path, port: int = 1, concurrency: int = 1) -> Path:
    """A config in ``folder`` for the shared site, its own state and the given SMTP port."""
    return write_config(
        folder, topics=TOPICS, corpus=str(site / "articles"), output=str(site / "issues"),
        state_dir=str(folder / "state"),
        smtp={"host": "127.0.0.1", "port": port, "concurrency": concurrency}, email=EMAIL)


def configured(site: Path, folder: Path, port: int = 1, concurrency: int = 1) -> Config:
    return load_config(project(site, folder, port, concurrency))


def add_people(config: Config, folder: Path, rows: list[str]) -> None:
    csv = folder / "people.csv"
    csv.write_text("email,name,topics\n" + "\n".join(rows) + "\n", encoding="utf-8")
    report = import_csv(config, csv)
    assert not report.problems, report.problems


def ledger(config: Config) -> list[tuple[str, str, str]]:
    return [tuple(row) for row in state_sql(  # type: ignore[misc]
        config, "SELECT issue, email, status FROM deliveries ORDER BY email")]


def in_flight_named(output: str) -> set[str]:
    """Every address a run named as in flight when an earlier sender stopped."""
    named: set[str] = set()
    for line in output.splitlines():
        if "in flight" in line and "sent again: " in line:
            named |= set(line.split("sent again: ", 1)[1].split(", "))
    return named


def start_send(config_path: Path, *args: str, issue: dt.date = ISSUE,
               **streams) -> subprocess.Popen:
    """``newsletter send`` for the test issue (or ``issue``), as a real process (to be
    killed)."""
    env = {**os.environ, "NEWSLETTER_SECRET": SECRET,
           "PYTHONPATH": str(PROJECT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "newsletter", "--config", str(config_path),
                             "send", issue.isoformat(), *args], env=env,
                            cwd=config_path.parent, **streams)


def kill_when_held(sender: subprocess.Popen, recorder: Recorder, count: int = 2) -> None:
    """SIGKILL ``sender`` once ``count`` messages wait for the server's reply to DATA."""
    try:
        deadline = time.monotonic() + 30
        while len(recorder.held) < count and sender.poll() is None:
            assert time.monotonic() < deadline, "the sender never reached the server"
            time.sleep(0.01)
        assert sender.poll() is None, sender.communicate()[0].decode()
    finally:
        sender.send_signal(signal.SIGKILL)
        sender.wait()
