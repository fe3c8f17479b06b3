"""A configuration without an ``smtp:`` section (``init`` writes it commented out) names no
mail server: ``send``, a test copy, the scheduler's send and the mail queue refuse to
deliver, saying so and how to fix it, where they once sent through whatever listened on
127.0.0.1:25 without a word; ``send --outbox`` still writes the messages; ``check`` says
what ``send`` will do, with the section or without it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from conftest import run, write_article, write_config
from newsletter.core.config import load_config
from newsletter.core.errors import ConfigError
from newsletter.delivery.mailqueue import QueueSender
from newsletter.schedule import runs
from sending_support import ledger

pytestmark = pytest.mark.usefixtures("secret")  # NEWSLETTER_SECRET: readers' links are signed

ISSUE = "2021-02-22"
REFUSAL = ("newsletter.yaml has no smtp: section, so there is no mail server to send "
           "through. Uncomment the smtp: section `newsletter init` wrote at its end and fill "
           "in your mail server's host, port and security (none, starttls or ssl); this "
           'machine\'s own mail server (what no section meant before) is host: "127.0.0.1", '
           'port: 25, security: "none"')


def _published(folder: Path, **settings: object) -> Path:
    write_config(folder, **settings)
    write_article(folder / "articles", "one", publishedDateTime="2021-02-20T09:00:00Z")
    built = run(folder, "build", "--date", ISSUE, "--publish")
    assert built.exit_code == 0, built.output
    assert run(folder, "subscribers", "add", "ada@example.org").exit_code == 0
    return folder


def test_send_without_an_smtp_section_refuses_and_says_how_to_fix_it(tmp_path: Path) -> None:
    folder = _published(tmp_path)
    for extra in ([], ["--to", "me@example.org"]):
        sent = run(folder, "send", ISSUE, *extra)
        assert sent.exit_code == 1, sent.output
        assert REFUSAL in sent.output and "127.0.0.1:25 is unreachable" not in sent.output
        assert "send --outbox DIR" in sent.output
    assert ledger(load_config(folder / "newsletter.yaml")) == []  # nobody tried, or failed
    written = run(folder, "send", ISSUE, "--outbox", str(tmp_path / "outbox"))
    assert written.exit_code == 0, written.output
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == ["00001-ada@example.org.eml"]


def test_the_schedules_send_and_the_mail_queue_refuse_it_too(tmp_path: Path) -> None:
    folder = _published(tmp_path, schedule={"cron": "0 7 * * mon", "send": True},
                        subscribe={"enabled": True})
    config = load_config(folder / "newsletter.yaml")
    assert config.warnings[-2:] == (
        f"schedule.send: true, but every run would publish its issue and fail to send it: "
        f"{REFUSAL}",
        f"subscribe.enabled: true, but readers who sign up would get no confirmation "
        f"email: {REFUSAL}")
    # The run of the issue published: its send, a configuration error, which the scheduler
    # waits on until the file is fixed.
    fire = dt.datetime.fromisoformat(f"{ISSUE}T07:00:00+00:00")
    with pytest.raises(ConfigError, match="no smtp: section"):
        runs.run_issue(config, fire)
    said: list[str] = []
    sender = QueueSender(config, b"s" * 32, log=said.append, poll=0.01).start()
    sender.thread.join(5)
    assert not sender.thread.is_alive()  # said once, not every few seconds
    assert len(said) == 1 and REFUSAL in said[0], said
    assert said[0].endswith("sends nothing until the configuration is fixed and this "
                            "process restarted")


def test_check_says_what_send_will_do(tmp_path: Path) -> None:
    write_config(tmp_path)
    checked = run(tmp_path, "check")
    assert checked.exit_code == 0, checked.output
    assert (f"Sending: send refuses to deliver (and serve shows no signup form): {REFUSAL}. "
            "`send --outbox DIR` writes the messages as files meanwhile.\n") in checked.stdout
    write_config(tmp_path, smtp={"host": "smtp.example.org", "port": 587,
                                 "security": "starttls", "username": "news",
                                 "password_env": "NEWS_SMTP_PASSWORD"})
    checked = run(tmp_path, "check")
    assert ("Sending: send delivers through the SMTP server smtp.example.org:587 (security: "
            "starttls, logging in as news).\n") in checked.stdout
    assert "no smtp: section" not in checked.output
