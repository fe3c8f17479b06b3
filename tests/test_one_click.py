"""RFC 8058: emails offer one-click unsubscribing only with an https link, and `check` says
what an http site_url costs (no unsubscribe button from mailbox providers) and the fixes:
an https site_url, or ``email.one_click_unsubscribe: false`` for a site that stays on http
(an intranet), which sends without the header and silences the warning, --strict too."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import run, write_config
from newsletter.core.config import load_config
from newsletter.core.errors import ConfigError
from newsletter.core.text import describe
from newsletter.delivery.send import send_issue
from sending_support import ISSUE, TOPICS, add_people
from smtp_support import FAST, Recorder, parse, smtp_server

pytestmark = pytest.mark.usefixtures("secret")  # NEWSLETTER_SECRET: readers' links are signed


def _config(site: Path, folder: Path, site_url: str, port: int = 1,
            **email: Any) -> Path:
    return write_config(
        folder, site_url=site_url, topics=TOPICS, corpus=str(site / "articles"),
        output=str(site / "issues"), state_dir=str(folder / "state"),
        smtp={"host": "127.0.0.1", "port": port},
        email={"from": "AI Weekly <newsletter@news.example.org>",
               "postal_address": "100 Example Street, Springfield",
               "unsubscribe_mailto": "leave@news.example.org", **email})


@pytest.mark.parametrize("choice", [{}, {"one_click_unsubscribe": True},
                                    {"one_click_unsubscribe": False}])
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_one_click_is_offered_only_with_an_https_link_unless_declined(
        site: Path, tmp_path: Path, scheme: str, choice: dict) -> None:
    recorder = Recorder()
    own = shutil.copytree(site, tmp_path / "site")  # published with this config: sent as such
    with smtp_server(recorder) as port:
        config = load_config(_config(own, tmp_path, f"{scheme}://news.example.org/ai/", port,
                                     **choice))
        published = run(tmp_path, "build", "--date", ISSUE.isoformat(), "--force")
        assert published.exit_code == 0, published.output
        add_people(config, tmp_path, ["ada@example.org,Ada,"])
        report = send_issue(config, ISSUE, log=lambda line: None, retry=FAST)
    assert report.sent == ["ada@example.org"]
    (_, raw), = recorder.messages
    message = parse(raw)
    link, mailto = message["List-Unsubscribe"].split(", ")
    assert link.startswith(f"<{scheme}://news.example.org/ai/unsubscribe?token=")
    assert mailto == "<mailto:leave@news.example.org?subject=unsubscribe>"
    offered = scheme == "https" and choice.get("one_click_unsubscribe") is not False
    expected = ["List-Unsubscribe=One-Click"] if offered else None
    assert message.get_all("List-Unsubscribe-Post") == expected
    assert config.email.one_click_unsubscribe is (choice.get("one_click_unsubscribe")
                                                   is not False)


def test_check_warns_of_an_http_site_url_with_the_fix(site: Path, tmp_path: Path) -> None:
    _config(site, tmp_path, "http://news.example.org/ai/")
    result = run(tmp_path, "check")
    assert result.exit_code == 0, result.output
    warning, = [line for line in result.output.splitlines() if "site_url" in line]
    assert "not https" in warning and "unsubscribe button" in warning
    assert "write site_url: https://news.example.org/ai/" in warning
    assert warning.endswith("set email.one_click_unsubscribe: false to send without it")
    assert run(tmp_path, "check", "--strict").exit_code == 1


def test_one_click_wanted_with_an_http_site_url_is_still_warned_of(site: Path,
                                                                   tmp_path: Path) -> None:
    _config(site, tmp_path, "http://news.example.org/ai/", one_click_unsubscribe=True)
    result = run(tmp_path, "check", "--strict")
    assert result.exit_code == 1
    assert "site_url: http://news.example.org/ai/ is not https" in result.output


@pytest.mark.parametrize("site_url", ["http://news.example.org/ai/", "http://localhost:8000/",
                                      "https://news.example.org/ai/"])
def test_one_click_declined_knowingly_is_not_warned_of(site: Path, tmp_path: Path,
                                                        site_url: str) -> None:
    _config(site, tmp_path, site_url, one_click_unsubscribe=False)
    for args in (["check"], ["check", "--strict"], ["--strict", "check"]):
        result = run(tmp_path, *args)
        assert result.exit_code == 0, result.output
        assert "site_url" not in result.output and "one_click" not in result.output
        assert "warning" not in result.output.lower()


@pytest.mark.parametrize("value", ["false", "no", 0, 1, [], {"enabled": False}])
def test_a_one_click_choice_that_is_not_true_or_false_is_an_error(site: Path, tmp_path: Path,
                                                                  value: Any) -> None:
    path = _config(site, tmp_path, "http://news.example.org/ai/", one_click_unsubscribe=value)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.path == str(path)
    error, = caught.value.errors
    assert error.startswith("email.one_click_unsubscribe: expected true or false (false: ")
    # Written in quotes, false is text to YAML: the error says what to write.
    unquoted = (" in quotes, which YAML reads as text: write one_click_unsubscribe: false"
                if value in ("false", "no") else "")
    assert error.endswith(f", got {describe(value)}{unquoted}")
    result = run(tmp_path, "check")
    assert result.exit_code == 1
    assert str(path) in result.output and "email.one_click_unsubscribe" in result.output


@pytest.mark.parametrize("site_url", ["http://192.168.1.10/ai/", "http://10.0.0.5:8080/",
                                      "http://[fd00::5]/", "http://intranet/"])
def test_check_warns_of_an_http_site_url_on_a_private_network(site: Path, tmp_path: Path,
                                                               site_url: str) -> None:
    """Readers of an intranet's site read their mail at a provider too: only this machine
    (loopback, localhost) is a test setup that the warning leaves alone."""
    _config(site, tmp_path, site_url)
    result = run(tmp_path, "check", "--strict")
    assert result.exit_code == 1
    assert f"site_url: {site_url} is not https" in result.output


@pytest.mark.parametrize("site_url", ["http://localhost:8000/", "http://127.0.0.1:8000/ai/",
                                      "http://[::1]/", "http://news.localhost/",
                                      "https://news.example.org/ai/"])
def test_check_is_quiet_about_a_local_or_https_site_url(site: Path, tmp_path: Path,
                                                         site_url: str) -> None:
    _config(site, tmp_path, site_url)
    result = run(tmp_path, "check", "--strict")
    assert result.exit_code == 0, result.output
    assert "site_url" not in result.output
