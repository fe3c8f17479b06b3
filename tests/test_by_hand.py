"""The lines that tell an operator what to run by hand name what is left to do for the issue
as it stands: the scheduler's missed run and the run it gives up, and `newsletter send`
without a date; and `newsletter serve` on another port than a local site_url names says so
at start. Sends go to aiosmtpd, commands run through the CLI or as real processes; the
scheduler's clock is injected, as in test_schedule_faults."""

from __future__ import annotations

import datetime as dt
import os
import selectors
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT, SECRET, make_config, run, write_article, write_config
from newsletter.core.config import Config
from newsletter.delivery import send as deliver
from newsletter.delivery.smtp import Retry
from newsletter.schedule.failures import by_hand
from newsletter.schedule.runs import check_due
from scheduler_support import FIRE
from sending_support import add_people
from smtp_support import Recorder, free_port, smtp_server

pytestmark = pytest.mark.usefixtures("secret", "in_project")

ISSUE = "2021-02-22"
PEOPLE = ["ada@example.org", "bob@example.org", "cy@example.org"]
LATE = FIRE + dt.timedelta(hours=30)  # past schedule.catch_up_hours (24)
MISSED = (f"missed the run of 2021-02-22 07:00 UTC (issue {ISSUE}) by 30.0 hours, more than "
          "schedule.catch_up_hours (24): not made up; ")
NEEDS = "newsletter send needs the date of a published issue (YYYY-MM-DD)"


def _project(folder: Path, port: int, **schedule: object) -> Config:
    write_article(folder / "articles", "one", quality=80)
    write_article(folder / "articles", "two", quality=60)
    return make_config(folder, state_dir="state", smtp={"host": "127.0.0.1", "port": port},
                       schedule={"cron": "0 7 * * mon", "catch_up_hours": 24, **schedule})


def _without_date(folder: Path) -> str:
    """What `newsletter send` without a date says; it must send nothing (exit status 2)."""
    result = run(folder, "send")
    assert result.exit_code == 2, result.output
    return result.output.strip().splitlines()[-1].removeprefix("Error: ")


def test_what_is_left_by_hand_follows_the_issue_from_not_built_to_sent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One missed run and one `newsletter send` without a date, asked at each step of an
    issue's life: nothing built (the build, publish and send, --strict kept), published (the
    send only, never a build of a published issue), sent to two of three (the rest of the
    send), sent to all (nothing). A run that failed on a sent issue names the publish that
    brings its archive and feeds up to date."""
    monkeypatch.setattr(deliver, "DEFAULT_RETRY", Retry(attempts=2, first_delay=0.01,
                                                        max_total=2))
    recorder = Recorder(temporary={"cy@example.org": 1000})
    with smtp_server(recorder) as port:
        config = _project(tmp_path, port, send=True)
        add_people(config, tmp_path, [f"{address},," for address in PEOPLE])
        assert _without_date(tmp_path) == (
            f"{NEEDS}, and there is no issue in {config.output} yet: build and publish one "
            "with newsletter build --date YYYY-MM-DD --publish, then newsletter send "
            "YYYY-MM-DD")
        assert check_due(config, LATE).message == MISSED + (
            f"make it by hand with `newsletter build --date {ISSUE} --publish`, then "
            f"`newsletter send {ISSUE}`")
        assert check_due(config, LATE, strict=True).message == MISSED + (
            f"make it by hand with `newsletter build --date {ISSUE} --publish --strict`, then "
            f"`newsletter send {ISSUE}`")

        built = run(tmp_path, "build", "--date", ISSUE)
        assert built.exit_code == 0, built.output
        assert _without_date(tmp_path) == (
            f"{NEEDS}, and none is published in {config.output} yet; the latest draft is "
            f"{ISSUE}: publish it with newsletter publish {ISSUE}, then newsletter send "
            f"{ISSUE}")
        published = run(tmp_path, "publish", ISSUE)
        assert published.exit_code == 0, published.output
        assert check_due(config, LATE).message == MISSED + (
            f"send it by hand with `newsletter send {ISSUE}` (issue {ISSUE} is published, not "
            "sent yet)")
        assert _without_date(tmp_path) == (
            f"{NEEDS}; the latest is {ISSUE} (not sent yet): newsletter send {ISSUE}")
        assert recorder.messages == []  # asking sent nothing

        partly = run(tmp_path, "send", ISSUE)
        assert partly.exit_code == 1, partly.output  # cy's server answers 451
        left = "partly sent: 2 sent, 0 bounced, 1 left"
        assert check_due(config, LATE).message == MISSED + (
            f"send the rest by hand with `newsletter send {ISSUE}` (issue {ISSUE} is "
            f"published, {left})")
        assert _without_date(tmp_path) == (
            f"{NEEDS}; the latest is {ISSUE} ({left}): newsletter send {ISSUE}")

        recorder.temporary.clear()
        rest = run(tmp_path, "send", ISSUE)
        assert rest.exit_code == 0, rest.output
        sent = "sent: 3 sent, 0 bounced, none left"
        assert check_due(config, LATE).message == MISSED + (
            f"there is nothing to do by hand: issue {ISSUE} is published and {sent}")
        assert by_hand(config, FIRE, strict=False) == (
            f"bring its archive and feeds up to date by hand with `newsletter publish {ISSUE}` "
            f"(issue {ISSUE} is published and {sent})")
        assert _without_date(tmp_path) == f"{NEEDS}; the latest is {ISSUE} ({sent})"
        write_article(tmp_path / "articles", "next", quality=70,
                      publishedDateTime=dt.datetime(2021, 2, 27, 12, tzinfo=dt.UTC))
        draft = run(tmp_path, "build", "--date", "2021-03-01")
        assert draft.exit_code == 0, draft.output
        assert _without_date(tmp_path) == (
            f"{NEEDS}; the latest is {ISSUE} ({sent}) (the draft 2021-03-01 after it is not "
            "published: newsletter publish 2021-03-01)")

        # A subscriber who joins since is one the send (and the run) would give it to.
        add_people(config, tmp_path, ["dee@example.org,,"])
        assert check_due(config, LATE).message == MISSED + (
            f"send the rest by hand with `newsletter send {ISSUE}` (issue {ISSUE} is "
            "published, partly sent: 3 sent, 0 bounced, 1 left)")
    assert sorted(address for address, _ in recorder.messages) == PEOPLE


def test_a_schedule_that_only_builds_drafts_names_the_build_alone(tmp_path: Path) -> None:
    config = _project(tmp_path, 1, publish=False)
    assert check_due(config, LATE).message == MISSED + (
        f"make it by hand with `newsletter build --date {ISSUE}`")


def test_a_state_that_cannot_be_read_still_names_the_send(tmp_path: Path) -> None:
    """The failure may be the state itself: the line is said all the same, naming the send
    (which resumes: nobody gets the issue twice)."""
    config = _project(tmp_path, 1, send=True)
    published = run(tmp_path, "build", "--date", ISSUE, "--publish")
    assert published.exit_code == 0, published.output
    (tmp_path / "state" / "newsletter.sqlite3").write_bytes(b"not a database, " * 512)
    assert by_hand(config, FIRE, strict=False) == (
        f"send it by hand with `newsletter send {ISSUE}` (issue {ISSUE} is published; those "
        "already sent are not sent again)")


# -- serve: the port site_url names ----------------------------------------------------------

def _serve_start(folder: Path, port: int) -> tuple[str, str]:
    """What `newsletter serve --port PORT` prints at start: its first line on standard
    output, and standard error until it is stopped."""
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "--config", str(folder / "newsletter.yaml"),
         "serve", "--port", str(port), "--no-send"], cwd=folder, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT), "NEWSLETTER_SECRET": SECRET})
    assert process.stdout is not None
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout=30)
        line = process.stdout.readline() if ready else ""
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert line.startswith("Serving "), (line, err)
    return line, err


def test_serve_on_another_port_than_a_local_site_url_says_where_its_links_lead(
        tmp_path: Path) -> None:
    named, served = free_port(), free_port()
    config = write_config(tmp_path, site_url=f"http://127.0.0.1:{named}/ai/")
    line, err = _serve_start(tmp_path, served)
    assert f"at http://127.0.0.1:{served}/ai/" in line
    assert err.splitlines()[0] == (
        f"warning: site_url http://127.0.0.1:{named}/ai/ names port {named}, but this server "
        f"listens on port {served}: the links in its emails and pages (confirmation, "
        f"unsubscribe, preferences) lead to port {named}, not here; serve with --port "
        f"{named}, set site_url: \"http://127.0.0.1:{served}/ai/\" in {config}, or serve "
        f"behind a proxy that maps port {named} to port {served}")


def test_serve_names_at_start_the_readers_of_a_topic_gone_as_check_does(
        tmp_path: Path) -> None:
    """Their preferences page asks them to pick again; whoever starts serve is told the same
    line as `subscribers list`, `send` and `check` tell, the fix included."""
    write_config(tmp_path, topics=["AI", "Robotics"])
    assert run(tmp_path, "subscribers", "add", "ada@example.org", "--topics",
               "Robotics").exit_code == 0
    write_config(tmp_path, topics=["AI", "Robots"])
    checked = run(tmp_path, "check")
    [warning] = [line for line in checked.stderr.splitlines() if "Robotics" in line]
    assert warning.startswith('warning: 1 subscriber(s) chose the topic "Robotics", which '
                              'newsletter.yaml no longer has (renamed "Robots"?)')
    _, err = _serve_start(tmp_path, free_port())
    assert warning in err.splitlines()


@pytest.mark.parametrize("site_url", ["http://localhost/ai/", "https://[::1]:8443/ai/"])
def test_a_local_site_url_without_its_port_is_compared_on_its_default(
        tmp_path: Path, site_url: str) -> None:
    """No port: the scheme's (80 for http). An https one is reached through a proxy that
    speaks TLS: the http site_url to set is named, not a --port serve cannot answer on."""
    served = free_port()
    write_config(tmp_path, site_url=site_url)
    _, err = _serve_start(tmp_path, served)
    warning = err.splitlines()[0]
    if site_url.startswith("http:"):
        assert warning.startswith(f"warning: site_url {site_url} names port 80 (http's "
                                  f"default), but this server listens on port {served}")
        assert "serve with --port 80," in warning
    else:
        assert "names port 8443, but" in warning and "--port" not in warning
        assert f'set site_url: "http://[::1]:{served}/ai/"' in warning


@pytest.mark.parametrize("local", [True, False])
def test_serve_says_nothing_of_a_site_url_it_answers_or_a_proxy_maps(
        tmp_path: Path, local: bool) -> None:
    """The port site_url names, or a public site_url: behind a proxy another port is the
    rule."""
    port = free_port()
    write_config(tmp_path, site_url=f"http://127.0.0.1:{port}/ai/" if local
                 else "https://news.example.org:8443/ai/")
    _, err = _serve_start(tmp_path, port)
    assert "site_url" not in err, err
