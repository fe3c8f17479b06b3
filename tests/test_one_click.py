"""RFC 8058: emails offer one-click unsubscribing only with an https link, and `check` says
what an http site_url costs (no unsubscribe button from mailbox providers) and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import test_deliver
from test_deliver import FAST, ISSUE, TOPICS, Recorder, add_people, parse, smtp_server

from conftest import run, write_config
from newsletter.core.config import load_config
from newsletter.delivery.send import send_issue

# Fixtures shared with test_deliver.py (pytest finds them by name here).
secret = test_deliver.secret
site = test_deliver.site


def _config(site: Path, folder: Path, site_url: str, port: int = 1) -> Path:
    return write_config(
        folder, site_url=site_url, topics=TOPICS, corpus=str(site / "articles"),
        output=str(site / "issues"), state_dir=str(folder / "state"),
        smtp={"host": "127.0.0.1", "port": port},
        email={"from": "AI Weekly <newsletter@news.example.org>",
               "postal_address": "100 Example Street, Springfield",
               "unsubscribe_mailto": "leave@news.example.org"})


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_one_click_is_offered_only_with_an_https_link(site: Path, tmp_path: Path,
                                                      scheme: str) -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = load_config(_config(site, tmp_path, f"{scheme}://news.example.org/ai/", port))
        add_people(config, tmp_path, ["ada@example.org,Ada,"])
        report = send_issue(config, ISSUE, log=lambda line: None, retry=FAST)
    assert report.sent == ["ada@example.org"]
    (_, raw), = recorder.messages
    message = parse(raw)
    link, mailto = message["List-Unsubscribe"].split(", ")
    assert link.startswith(f"<{scheme}://news.example.org/ai/unsubscribe?token=")
    assert mailto == "<mailto:leave@news.example.org?subject=unsubscribe>"
    expected = ["List-Unsubscribe=One-Click"] if scheme == "https" else None
    assert message.get_all("List-Unsubscribe-Post") == expected


def test_check_warns_of_an_http_site_url_with_the_fix(site: Path, tmp_path: Path) -> None:
    _config(site, tmp_path, "http://news.example.org/ai/")
    result = run(tmp_path, "check")
    assert result.exit_code == 0, result.output
    warning, = [line for line in result.output.splitlines() if "site_url" in line]
    assert "not https" in warning and "unsubscribe button" in warning
    assert warning.endswith("write site_url: https://news.example.org/ai/")
    assert run(tmp_path, "check", "--strict").exit_code == 1


@pytest.mark.parametrize("site_url", ["http://localhost:8000/", "http://127.0.0.1:8000/ai/",
                                      "http://[::1]/", "http://news.localhost/",
                                      "https://news.example.org/ai/"])
def test_check_is_quiet_about_a_local_or_https_site_url(site: Path, tmp_path: Path,
                                                         site_url: str) -> None:
    _config(site, tmp_path, site_url)
    result = run(tmp_path, "check", "--strict")
    assert result.exit_code == 0, result.output
    assert "site_url" not in result.output
