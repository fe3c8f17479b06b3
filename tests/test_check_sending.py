"""What ``newsletter check`` says of sending beyond the configuration's own checks: a From
address whose domain no mail comes from (what ``init`` writes for a site on 127.0.0.1), and
a secret or SMTP password that the shell check runs in lacks (``send`` refuses without it).
Warnings: check passes (exit 0), as it must where the secrets are not, such as CI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SECRET, run, write_config
from newsletter.cli import cli

WARNED_FROM = "warning: email.from: "


def test_init_for_a_local_site_then_check_warns_of_the_senders_domain(tmp_path: Path
                                                                      ) -> None:
    made = CliRunner().invoke(cli, ["init", str(tmp_path), "--title", "Garden Notes",
                                    "--site-url", "http://127.0.0.1:8131/garden/",
                                    "--timezone", "Europe/Berlin", "--topics", "Plants;Tools"],
                              env={"NEWSLETTER_TODAY": "2026-12-02"})
    assert made.exit_code == 0, made.output
    checked = run(tmp_path, "check")
    assert checked.exit_code == 0, checked.output
    assert ("warning: email.from: Garden Notes <newsletter@127.0.0.1> (set in newsletter.yaml "
            "as `newsletter init` writes it, from site_url's host): 127.0.0.1 is an IP "
            "address, not a mail domain, so receiving servers refuse the emails or file them "
            "as spam. Write the address you send from, under email: from: "
            '"Garden Notes <newsletter@example.org>"'
            in checked.output), checked.output


@pytest.mark.parametrize(("site_url", "sender", "why"), [
    ("http://localhost:8080/", None, "News <newsletter@localhost> (not set in newsletter.yaml, "
     "so made from site_url's host): localhost is this machine's own name, not a mail domain"),
    ("http://devbox:8080/", None, "News <newsletter@devbox> (not set in newsletter.yaml, so "
     "made from site_url's host): devbox is a single name, not a mail domain (it has no dot)"),
    ("https://news.example.org/", "news@10.0.0.7",
     "news@10.0.0.7: 10.0.0.7 is an IP address, not a mail domain"),
    ("http://localhost:8080/", "news@news.example.org", None),
    ("https://news.example.org/", None, None),
])
def test_check_names_a_from_address_without_a_mail_domain(
        tmp_path: Path, site_url: str, sender: str | None, why: str | None) -> None:
    email = {"postal_address": "1 Main St"} | ({"from": sender} if sender else {})
    write_config(tmp_path, title="News", site_url=site_url, email=email)
    checked = run(tmp_path, "check")
    assert checked.exit_code == 0, checked.output
    if why is None:
        assert WARNED_FROM not in checked.output, checked.output
    else:
        assert f"{WARNED_FROM}{why}" in checked.output, checked.output


SMTP = {"host": "127.0.0.1", "port": 2525, "username": "news",
        "password_env": "GARDEN_SMTP_PASSWORD"}


def test_check_warns_of_the_smtp_password_missing_from_this_shell(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)
    monkeypatch.delenv("GARDEN_SMTP_PASSWORD", raising=False)
    write_config(tmp_path, smtp=SMTP)
    checked = run(tmp_path, "check")
    assert checked.exit_code == 0, checked.output
    assert ("warning: the environment variable GARDEN_SMTP_PASSWORD (smtp.password_env) is "
            "not set" in checked.output), checked.output
    assert "send and serve refuse to start" in checked.output
    assert run(tmp_path, "check", "--strict").exit_code == 0  # not the configuration's fault
    monkeypatch.setenv("GARDEN_SMTP_PASSWORD", "hunter2")
    assert "GARDEN_SMTP_PASSWORD" not in run(tmp_path, "check").output


def test_check_warns_of_the_secret_missing_from_this_shell(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSLETTER_SECRET", raising=False)
    write_config(tmp_path, smtp={"host": "127.0.0.1", "port": 2525})  # signups on: serve signs
    checked = run(tmp_path, "check")
    assert checked.exit_code == 0, checked.output
    assert ("warning: the environment variable NEWSLETTER_SECRET is not set: it holds the "
            "secret that signs unsubscribe links (secret_env in the configuration names it)"
            in checked.output), checked.output
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)
    assert "NEWSLETTER_SECRET" not in run(tmp_path, "check").output
    monkeypatch.delenv("NEWSLETTER_SECRET")
    write_config(tmp_path)  # nothing sent nor served with signups: nothing to say
    assert "NEWSLETTER_SECRET" not in run(tmp_path, "check").output
