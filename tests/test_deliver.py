"""Sending, against a real SMTP server (aiosmtpd) on 127.0.0.1: every subscriber exactly once,
with their own unsubscribe link and only their topics; retries, bounces, a sender killed
mid-run and resumed; test copies and the outbox."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import re
import signal
import subprocess
import time
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from hypothesis import given
from hypothesis import strategies as st

from conftest import SECRET, both, run, write_config
from newsletter.core.config import Config, load_config
from newsletter.core.errors import NewsletterError
from newsletter.core.models import Issue
from newsletter.delivery.editions import sections_for
from newsletter.delivery.send import load_published_issue, send_issue
from newsletter.delivery.signups import key_of
from newsletter.delivery.smtp import Retry
from newsletter.delivery.subscribers import list_subscribers
from newsletter.delivery.tokens import check_token, legacy_unsubscribe_token, read_secret
from newsletter.rendering.mail import (
    PREFERENCES_PLACEHOLDER,
    UNSUBSCRIBE_PLACEHOLDER,
    RenderedEmail,
    render_email,
)
from newsletter.rendering.message import build_template
from sending_support import (
    DRAFT,
    EMAIL,
    ISSUE,
    NEXT_ISSUE,
    TOPICS,
    add_people,
    configured,
    in_flight_named,
    kill_when_held,
    ledger,
    project,
    start_send,
)
from smtp_support import (
    FAST,
    Recorder,
    free_port,
    key_in,
    parse,
    parts,
    smtp_server,
    smtp_server_on,
    token_of,
)

pytestmark = pytest.mark.usefixtures("secret")  # sends sign their readers' links


def preferences_token_of(message: EmailMessage) -> str:
    match = re.search(r"/preferences\?token=([A-Za-z0-9_.-]+)", parts(message)[0])
    assert match, "no preferences link in the text part"
    return match.group(1)


# -- the acceptance tests -----------------------------------------------------------------------

@both
def test_500_subscribers_each_get_the_issue_once_with_their_own_link(site: Path,
                                                                      tmp_path: Path) -> None:
    rows = []
    for i in range(500):
        topics = "Robotics" if i % 10 == 0 else "Chips" if i % 50 == 7 else ""
        name = "Zoë, the \"Great\"" if i % 7 == 0 else f"Reader {i}"
        rows.append(f'reader{i}@Example.ORG,"{name.replace(chr(34), chr(34) * 2)}",{topics}')
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = configured(site, tmp_path, port, concurrency=4)
        add_people(config, tmp_path, rows)
        started = dt.datetime.now(dt.UTC).replace(microsecond=0)
        report = send_issue(config, ISSUE, log=lambda line: None, retry=FAST)
        ended = dt.datetime.now(dt.UTC)
        again = send_issue(config, ISSUE, log=lambda line: None, retry=FAST)

    chips = {f"reader{i}@example.org" for i in range(500) if i % 50 == 7}
    expected = {f"reader{i}@example.org" for i in range(500)} - chips
    assert recorder.count() == Counter({address: 1 for address in expected})
    assert sorted(report.sent) == sorted(expected) and report.ok
    assert sorted(report.skipped) == sorted(chips)  # chose only a topic this issue lacks
    assert not report.bounced and not report.failed and not report.in_flight_unknown
    assert again.sent == [] and len(again.skipped) == 500  # run again: nothing is resent
    assert len(ledger(config)) == len(expected)

    issue = load_published_issue(config, ISSUE)
    secret = read_secret(config)
    whole = render_email(issue, config)
    robotics = render_email(
        dataclasses.replace(issue, sections=sections_for(issue, ["robotics"])), config)
    message_ids = set()
    for address, message in recorder.parsed().items():
        number = int(address.removeprefix("reader").split("@")[0])
        token = token_of(message)
        preferences = preferences_token_of(message)
        assert key_in(secret, token) == key_of(config, address) is not None
        assert key_in(secret, preferences, "preferences") == key_of(config, address)
        assert address.encode() not in token.encode() + preferences.encode()
        url = f"https://news.example.org/ai/unsubscribe?token={token}"
        assert message["List-Unsubscribe"] == f"<{url}>, <mailto:leave@news.example.org" \
                                              "?subject=unsubscribe>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["From"] == "AI Weekly <newsletter@news.example.org>"
        assert message["Reply-To"] == "editor@news.example.org"
        assert message["To"].addresses[0].addr_spec == address
        assert message["To"].addresses[0].display_name == (
            'Zoë, the "Great"' if number % 7 == 0 else f"Reader {number}")
        assert message["Subject"] == "AI Weekly: February 22, 2021"
        # dated when it left, not with the issue's time (years ago here; days ahead for an
        # issue published early): spam filters count a Date in the past or future against it
        assert started <= message["Date"].datetime <= ended
        assert message["Date"].datetime.utcoffset() == dt.timedelta(0)
        assert message["List-Id"] == "AI Weekly <ai.news.example.org>"
        assert re.fullmatch(r"<2021-02-22\.[0-9a-f]{16}@news\.example\.org>",
                            message["Message-ID"])
        message_ids.add(message["Message-ID"])
        assert message.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain",
                                                                          "text/html"]
        text, html = parts(message)
        rendered = robotics if number % 10 == 0 else whole
        # exact: the rendered parts with this subscriber's token, nothing else changed
        assert text == rendered.text.replace(UNSUBSCRIBE_PLACEHOLDER, token).replace(
            PREFERENCES_PLACEHOLDER, preferences)
        assert html == rendered.html.replace(UNSUBSCRIBE_PLACEHOLDER, token).replace(
            PREFERENCES_PLACEHOLDER, preferences)
        assert url in text and url.replace("&", "&amp;") in html
        assert ("AI story 0" in text) == (number % 10 != 0)  # topic filtering
        assert "Robot Zoë 0" in text
    assert len(message_ids) == len(expected)
    raw = recorder.messages[0][1]
    assert all(byte < 128 for byte in raw)  # 7-bit: any server takes it
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998  # SMTP's limit
    # only List-Unsubscribe is left unfolded (a URL cannot be shortened by folding)
    assert [line[:17] for line in lines if len(line) > 78] == [b"List-Unsubscribe:"]


@both
def test_451_twice_then_accepted_is_delivered_once(site: Path, tmp_path: Path) -> None:
    recorder = Recorder(temporary={"slow@example.org": 2})
    with smtp_server(recorder) as port:
        config = configured(site, tmp_path, port)
        add_people(config, tmp_path, ["slow@example.org,Slow,", "fast@example.org,Fast,"])
        lines: list[str] = []
        report = send_issue(config, ISSUE, log=lines.append, retry=FAST)
    assert recorder.count() == Counter({"slow@example.org": 1, "fast@example.org": 1})
    assert recorder.data_calls["slow@example.org"] == 3
    assert sorted(report.sent) == ["fast@example.org", "slow@example.org"] and report.ok
    # Nothing failed: the run ends on its summary, with no advice to send again.
    assert lines[-1] == f"Issue {ISSUE}: 2 sent, 0 bounced, 0 failed, 0 skipped.", lines


@both
def test_550_recipient_is_bounced_not_retried_not_delivered(site: Path, tmp_path: Path) -> None:
    recorder = Recorder(reject={"gone@example.org"})
    lines: list[str] = []
    with smtp_server(recorder) as port:
        config = configured(site, tmp_path, port)
        add_people(config, tmp_path, ["gone@example.org,,", "here@example.org,,"])
        report = send_issue(config, ISSUE, log=lines.append, retry=FAST)
        again = send_issue(config, ISSUE, log=lines.append, retry=FAST)
    assert report.bounced == ["gone@example.org"] and report.sent == ["here@example.org"]
    assert recorder.rcpt_calls["gone@example.org"] == 1  # not retried, not even next run
    assert recorder.count() == Counter({"here@example.org": 1})
    assert ("2021-02-22", "gone@example.org", "bounced") in ledger(config)
    # bounced: out of every send until they sign up again
    assert again.sent == [] and again.skipped == ["here@example.org"]
    statuses = {s.email: s.status for s in list_subscribers(config)}
    assert statuses == {"gone@example.org": "bounced", "here@example.org": "active"}
    assert any("bounced: gone@example.org: 550" in line for line in lines)


@both
def test_a_connection_dropped_before_the_reply_is_retried_and_named(site: Path,
                                                                    tmp_path: Path) -> None:
    recorder = Recorder(drop={"cut@example.org": 1})
    lines: list[str] = []
    with smtp_server(recorder) as port:
        config = configured(site, tmp_path, port)
        add_people(config, tmp_path, ["cut@example.org,,", "next@example.org,,"])
        report = send_issue(config, ISSUE, log=lines.append, retry=FAST)
    assert sorted(report.sent) == ["cut@example.org", "next@example.org"] and report.ok
    # SMTP cannot tell whether the server kept a message whose reply never came: this one
    # it had, so the address has it twice, and the run says so
    assert recorder.count() == Counter({"cut@example.org": 2, "next@example.org": 1})
    assert any(line.startswith("warning: cut@example.org: the connection dropped")
               for line in lines)


@both
def test_a_4xx_that_never_ends_fails_and_the_next_run_retries(site: Path,
                                                               tmp_path: Path) -> None:
    recorder = Recorder(temporary={"busy@example.org": 5})
    with smtp_server(recorder) as port:
        config = configured(site, tmp_path, port)
        add_people(config, tmp_path, ["busy@example.org,,", "ok@example.org,,"])
        report = send_issue(config, ISSUE, log=lambda line: None,
                            retry=Retry(attempts=3, first_delay=0.01, max_total=5))
        assert report.failed == ["busy@example.org"] and not report.ok
        assert recorder.data_calls["busy@example.org"] == 3
        again = send_issue(config, ISSUE, log=lambda line: None, retry=FAST)
    assert again.sent == ["busy@example.org"]
    assert recorder.count() == Counter({"busy@example.org": 1, "ok@example.org": 1})


@both
def test_an_unreachable_server_stops_the_run_and_exits_1(site: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import newsletter.delivery.send as deliver

    monkeypatch.setattr(deliver, "DEFAULT_RETRY",
                        Retry(attempts=3, first_delay=0.01, max_total=1))
    port = free_port()
    config = configured(site, tmp_path, port)  # nothing listens there
    people = [f"p{i}@example.org" for i in range(5)]
    add_people(config, tmp_path, [f"{p},," for p in people])
    result = run(tmp_path, "send", ISSUE.isoformat())
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    # No message reached a server: the run says what is wrong once, with the settings to
    # check, blames no subscriber, and counts every message as not attempted.
    assert not [line for line in lines if line.startswith("failed: ")], result.output
    stop, = [line for line in lines if line.startswith("error: ")]
    assert "unreachable" in stop and "check smtp.host, smtp.port" in stop, stop
    assert "Stopped: 5 message(s) not attempted." in lines
    assert f"Issue {ISSUE}: 0 sent, 0 bounced, 0 failed, 5 not attempted, 0 skipped." in lines
    assert lines[-1] == ("Run the same command again to send those not attempted; those "
                         "already sent are not sent twice."), lines
    assert ledger(config) == []
    recorder = Recorder()  # the server up at last: each of them sent it once, as any other
    with smtp_server_on(recorder, port):
        again = run(tmp_path, "send", ISSUE.isoformat())
    assert again.exit_code == 0, again.output
    assert f"Issue {ISSUE}: 5 sent, 0 bounced, 0 failed, 0 skipped." in again.output
    assert "in flight" not in again.output
    assert recorder.count() == Counter({p: 1 for p in people})


@both
def test_killed_mid_run_then_resumed_delivers_exactly_once(site: Path, tmp_path: Path) -> None:
    """SIGKILL while both connections wait for the server's reply to DATA: the resumed run
    names exactly those two addresses (they may get it twice); everybody else gets it once."""
    people = [f"k{i:03d}@example.org" for i in range(200)]
    recorder = Recorder(hold_after=60)
    with smtp_server(recorder) as port:
        config_path = project(site, tmp_path, port, concurrency=2)
        add_people(load_config(config_path), tmp_path, [f"{p},," for p in people])
        sender = start_send(config_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        kill_when_held(sender, recorder)
        in_flight = sorted(recorder.held)
        recorder.hold_after = None
        recorder.release.set()
        before = recorder.count()  # 60 acknowledged and the 2 held, once each
        assert len(before) == 62 and set(before.values()) == {1}

        resumed = run(tmp_path, "send", ISSUE.isoformat())
    assert resumed.exit_code == 0, resumed.output
    assert sorted(in_flight_named(resumed.output)) == in_flight
    counts = recorder.count()
    assert set(counts) == set(people)
    assert {p for p, n in counts.items() if n != 1} == set(in_flight)  # sent again
    assert all(n == 2 for p, n in counts.items() if p in in_flight)
    assert "140 sent, 0 bounced, 0 failed, 60 skipped" in resumed.output


@both
def test_test_copy_is_marked_and_not_recorded(site: Path, tmp_path: Path) -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = configured(site, tmp_path, port)
        add_people(config, tmp_path, ["me@example.org,Me,Robotics"])
        result = run(tmp_path, "send", ISSUE.isoformat(), "--to", "Editor <Me@Example.org>")
        assert result.exit_code == 0, result.output
        assert ledger(config) == []
        report = send_issue(config, ISSUE, log=lambda line: None, retry=FAST)
    assert report.sent == ["me@example.org"]  # the test copy did not count
    (test_copy, real) = [parse(raw) for _, raw in recorder.messages]
    assert test_copy["Subject"] == "[TEST] AI Weekly: February 22, 2021"
    for message in (test_copy, real):  # dated when sent, not February 2021
        assert abs(dt.datetime.now(dt.UTC) - message["Date"].datetime) < dt.timedelta(minutes=5)
    assert test_copy["To"] == "Editor <Me@example.org>"
    assert "AI story 0" in parts(test_copy)[0]  # the whole issue
    assert real["Subject"] == "AI Weekly: February 22, 2021"


@both
def test_outbox_writes_the_exact_messages_and_connects_to_nothing(site: Path,
                                                                 tmp_path: Path) -> None:
    config = configured(site, tmp_path, free_port())  # nothing listens: nothing may connect
    add_people(config, tmp_path, ["a@example.org,A,", "b@example.org,B,Robotics"])
    result = run(tmp_path, "send", ISSUE.isoformat(), "--outbox", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "out").iterdir())
    assert [f.name for f in files] == ["00001-a@example.org.eml", "00002-b@example.org.eml"]
    first = parse(files[0].read_bytes())
    assert key_in(read_secret(config), token_of(first)) == key_of(config, "a@example.org")
    assert "AI story 0" not in parts(parse(files[1].read_bytes()))[0]
    assert ledger(config) == []
    again = run(tmp_path, "send", ISSUE.isoformat(), "--outbox", str(tmp_path / "out"))
    assert [f.read_bytes() for f in files] == [f.read_bytes() for f in sorted(
        (tmp_path / "out").iterdir())]  # deterministic
    assert again.exit_code == 0
    copy = run(tmp_path, "send", ISSUE.isoformat(), "--to", "me@example.org",
               "--outbox", str(tmp_path / "copy"))  # a test copy there is dated as the issue
    assert copy.exit_code == 0, copy.output
    written = parse((tmp_path / "copy" / "test-me@example.org.eml").read_bytes())
    assert written["Date"].datetime.date() == ISSUE


def test_a_draft_or_missing_issue_is_refused(site: Path, tmp_path: Path) -> None:
    project(site, tmp_path)
    draft = run(tmp_path, "send", DRAFT.isoformat(), "--outbox", str(tmp_path / "out"))
    assert draft.exit_code == 1 and "draft" in draft.output and "publish" in draft.output
    missing = run(tmp_path, "send", "2020-01-06")
    assert missing.exit_code == 1 and "no issue dated 2020-01-06" in missing.output
    assert not (tmp_path / "out").exists()


def test_a_missing_secret_names_the_variable(site: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSLETTER_SECRET")
    project(site, tmp_path)
    result = run(tmp_path, "send", ISSUE.isoformat(), "--outbox", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "environment variable NEWSLETTER_SECRET is not set" in result.output


# -- the token ------------------------------------------------------------------------------------

def verify_token(secret: bytes, token: object) -> str | None:
    checked = check_token(secret, token, "unsubscribe")
    return checked.address if checked else None


def test_an_earlier_versions_token_cannot_be_forged_or_moved() -> None:
    secret = SECRET.encode()
    token = legacy_unsubscribe_token(secret, "ada@example.org")
    assert verify_token(secret, token) == "ada@example.org"
    version, address, mac = token.split(".")
    other = legacy_unsubscribe_token(secret, "eve@example.org").split(".")[1]
    assert verify_token(secret, f"{version}.{other}.{mac}") is None  # moved to another address
    assert verify_token(b"another-secret-0123456789", token) is None
    assert verify_token(secret, f"2.{address}.{mac}") is None
    for bad in ("", "1..", "1.@@.@@", token + ".x", token[:-1], None, 42, "x" * 5000):
        assert verify_token(secret, bad) is None


@given(st.emails(), st.binary(min_size=16, max_size=64))
def test_earlier_tokens_round_trip_and_are_url_safe(address: str, key: bytes) -> None:
    token = legacy_unsubscribe_token(key, address)
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", token)
    assert verify_token(key, token) == address
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert verify_token(key, flipped) is None


# -- more of the sending rules --------------------------------------------------------------------

def renders_of(module: object, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """Spies on ``module.render_email``: the sections of each edition it renders."""
    calls: list[tuple[str, ...]] = []
    real = module.render_email  # type: ignore[attr-defined]

    def counting(issue, config):  # noqa: ANN001, ANN202 - a spy
        calls.append(tuple(s.topic for s in issue.sections))
        return real(issue, config)

    monkeypatch.setattr(module, "render_email", counting)
    return calls


def test_mjml_is_compiled_once_per_set_of_sections(site: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import newsletter.delivery.send as deliver

    calls = renders_of(deliver, monkeypatch)
    config = configured(site, tmp_path)
    add_people(config, tmp_path, [f"p{i}@example.org,,{t}" for i, t in enumerate(
        ["", "AI", "Robotics", "AI;Robotics", "robotics;chips", "", "Chips"] * 20)])
    report = send_issue(config, ISSUE, log=lambda line: None, outbox=tmp_path / "out")
    assert len(report.sent) == 120 and len(report.skipped) == 20
    # "AI;Robotics" is the whole issue, like no topics; "robotics;chips" is Robotics
    assert sorted(calls) == [("AI",), ("AI", "Robotics"), ("Robotics",)]


def test_mjml_is_compiled_once_per_set_of_sections_when_sending(
        site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import newsletter.delivery.send as deliver
    import newsletter.delivery.senders as senders

    calls = renders_of(deliver, monkeypatch)  # as the run starts: each edition it foresees
    late = renders_of(senders, monkeypatch)  # while its senders send: none of those again
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = configured(site, tmp_path, port, concurrency=3)
        add_people(config, tmp_path, [f"p{i}@example.org,,{t}" for i, t in enumerate(
            ["", "AI", "Robotics", "AI;Robotics", "robotics;chips", "", "Chips"] * 4)])
        report = send_issue(config, ISSUE, log=lambda line: None, retry=FAST)
    assert len(report.sent) == 24 and len(report.skipped) == 4 and report.ok
    assert len(recorder.messages) == 24
    assert sorted(calls) == [("AI",), ("AI", "Robotics"), ("Robotics",)] and late == []


class TimedRecorder(Recorder):
    """A Recorder that notes when each message's DATA reaches the server."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[float] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.arrivals.append(time.monotonic())
        return await super().handle_DATA(server, session, envelope)


@both
def test_rate_per_second_paces_the_connections(site: Path, tmp_path: Path) -> None:
    recorder = TimedRecorder()
    with smtp_server(recorder) as port:
        config = load_config(write_config(
            tmp_path, topics=TOPICS, corpus=str(site / "articles"),
            output=str(site / "issues"), state_dir=str(tmp_path / "state"), email=EMAIL,
            smtp={"host": "127.0.0.1", "port": port, "concurrency": 3,
                  "rate_per_second": 20}))
        add_people(config, tmp_path, [f"p{i}@example.org,," for i in range(12)])
        started = time.monotonic()
        report = send_issue(config, ISSUE, log=lambda line: None, retry=FAST)
    assert len(report.sent) == 12 and len(recorder.arrivals) == 12
    # 12 slots 50 ms apart, whatever the connections: the last message cannot reach the
    # server before 11 intervals have passed (unpaced, all 12 arrive within about 0.1 s)
    assert max(recorder.arrivals) - started >= 11 / 20 * 0.95


def test_a_second_sender_of_the_same_issue_is_refused(site: Path, tmp_path: Path) -> None:
    import fcntl

    config = configured(site, tmp_path, free_port())
    add_people(config, tmp_path, ["a@example.org,,"])
    with open(config.state_dir / "send-2021-02-22.lock", "a+b") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with pytest.raises(NewsletterError, match="being sent by another process"):
            send_issue(config, ISSUE, log=lambda line: None, retry=FAST)
    assert ledger(config) == []


def test_send_exits_1_when_anything_failed(site: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import newsletter.delivery.send as deliver

    monkeypatch.setattr(deliver, "DEFAULT_RETRY", Retry(attempts=3, first_delay=0.01))
    recorder = Recorder(temporary={"a@example.org": 3})  # 451 to each of its 3 tries
    with smtp_server(recorder) as port:
        add_people(configured(site, tmp_path, port), tmp_path, ["a@example.org,,"])
        result = run(tmp_path, "send", ISSUE.isoformat())
    assert result.exit_code == 1
    assert "failed: a@example.org: 451 4.3.0 Try again later" in result.output
    assert "0 sent, 0 bounced, 1 failed, 0 skipped" in result.output


@both
def test_worker_processes_share_one_send(site: Path, tmp_path: Path) -> None:
    """``--workers 3``: three sender processes (two connections each) on one issue, each
    subscriber once; with SQLite too, where they share the one run's lock."""
    people = [f"w{i:03d}@example.org" for i in range(90)]
    recorder = Recorder(delay=0.002)
    with smtp_server(recorder) as port:
        config_path = project(site, tmp_path, port, concurrency=2)
        add_people(load_config(config_path), tmp_path, [f"{p},," for p in people])
        sender = start_send(config_path, "--workers", "3", stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
        output = sender.communicate(timeout=120)[0].decode()
    assert sender.returncode == 0, output
    assert "over 3 worker process(es) x 2 connection(s)" in output
    assert "90 sent, 0 bounced, 0 failed, 0 skipped" in output
    assert recorder.count() == Counter({p: 1 for p in people})
    assert len(ledger(load_config(config_path))) == 90

@both
def test_killed_at_a_random_moment_then_resumed(site: Path, tmp_path: Path) -> None:
    """No choreography: SIGKILL after a random number of accepted messages."""
    people = [f"r{i:03d}@example.org" for i in range(150)]
    recorder = Recorder(delay=0.001)
    with smtp_server(recorder) as port:
        config_path = project(site, tmp_path, port, concurrency=3)
        add_people(load_config(config_path), tmp_path, [f"{p},," for p in people])
        sender = start_send(config_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
        target = random.randrange(5, 100)
        deadline = time.monotonic() + 30
        while len(recorder.messages) < target and time.monotonic() < deadline:
            time.sleep(0.001)
        sender.send_signal(signal.SIGKILL)
        sender.wait()
        time.sleep(0.05)
        resumed = run(tmp_path, "send", ISSUE.isoformat())
    assert resumed.exit_code == 0, resumed.output
    named = in_flight_named(resumed.output)
    counts = recorder.count()
    assert set(counts) == set(people), f"killed after {target}"
    assert {p for p, n in counts.items() if n > 1} <= named, f"killed after {target}"
    assert max(counts.values()) <= 2 and len(named) <= 3  # at most one per connection


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cryptography, when installed)."""
    pytest.importorskip("cryptography", reason="cryptography makes the test certificate")
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    cert, private = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return cert, private


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_and_login(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                       security: str) -> None:
    import ssl

    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts our test certificate
    monkeypatch.setenv("SMTP_PASSWORD", "right")

    def authenticator(server, session, envelope, mechanism, data):  # noqa: ANN001, ANN202
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"newsletter", b"right")
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    recorder = Recorder()
    port = free_port()
    tls = ({"tls_context": context, "require_starttls": True} if security == "starttls"
           else {"ssl_context": context, "auth_require_tls": False})  # TLS, unbeknown to it
    controller = Controller(recorder, hostname="127.0.0.1", port=port, auth_required=True,
                            authenticator=authenticator, auth_exclude_mechanism=["LOGIN"],
                            **tls)
    controller.start()
    try:
        config = load_config(write_config(
            tmp_path, topics=TOPICS, corpus=str(site / "articles"),
            output=str(site / "issues"), state_dir=str(tmp_path / "state"), email=EMAIL,
            smtp={"host": "127.0.0.1", "port": port, "security": security,
                  "username": "newsletter", "password_env": "SMTP_PASSWORD"}))
        add_people(config, tmp_path, ["a@example.org,,", "b@example.org,,"])
        lines: list[str] = []
        report = send_issue(config, ISSUE, log=lines.append, retry=FAST)
        assert sorted(report.sent) == ["a@example.org", "b@example.org"], lines

        monkeypatch.setenv("SMTP_PASSWORD", "wrong")
        lines.clear()
        report = send_issue(config, NEXT_ISSUE, log=lines.append, retry=FAST)
        # refused before any message was given to it: nobody's message failed
        assert report.failed == [], lines
        assert sorted(report.not_attempted) == ["a@example.org", "b@example.org"]
        assert any("refused the login of newsletter" in line for line in lines), lines
    finally:
        controller.stop()
    assert len(recorder.messages) == 2


@pytest.mark.parametrize("settings, advice", [
    ({"security": "starttls"}, "it offers no STARTTLS: for a server that takes mail without "
     "TLS (a relay on this machine, a test server) write smtp.security: none"),
    ({"security": "none", "username": "newsletter", "password_env": "SMTP_PASSWORD"},
     "it offers no login (AUTH) here: if it takes mail without one, leave out smtp.username"),
])
def test_a_server_lacking_what_the_settings_ask_is_named_with_the_setting_to_change(
        site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: dict,
        advice: str) -> None:
    """A plain server (no TLS, no login): smtplib says "STARTTLS extension not supported by
    server."; the run names the setting that fixes it, and sends nothing."""
    monkeypatch.setenv("SMTP_PASSWORD", "secret")
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = load_config(write_config(
            tmp_path, topics=TOPICS, corpus=str(site / "articles"),
            output=str(site / "issues"), state_dir=str(tmp_path / "state"), email=EMAIL,
            smtp={"host": "127.0.0.1", "port": port, **settings}))
        add_people(config, tmp_path, ["a@example.org,,", "b@example.org,,"])
        lines: list[str] = []
        report = send_issue(config, ISSUE, log=lines.append, retry=FAST)
    assert report.sent == [] and recorder.messages == []
    assert report.refused is not None and advice in report.refused, lines
    assert any(advice in line for line in lines), lines


@pytest.fixture(scope="module")
def issue_and_config(site: Path, tmp_path_factory: pytest.TempPathFactory
                     ) -> tuple[Issue, Config]:
    config = configured(site, tmp_path_factory.mktemp("qp"))
    return load_published_issue(config, ISSUE), config


_TEXT = st.text(st.characters(blacklist_characters="\r", blacklist_categories=("Cs",)),
                max_size=300)


@given(pieces=st.lists(_TEXT, min_size=1, max_size=4), token=st.from_regex(
    r"1\.[A-Za-z0-9_-]{1,200}\.[A-Za-z0-9_-]{43}", fullmatch=True))
def test_the_token_substitution_is_exact_for_any_text(
        issue_and_config: tuple[Issue, Config], pieces: list[str], token: str) -> None:
    """Whatever the rendered parts hold (long lines, trailing spaces, non-ASCII, '=' or
    '.' at line starts), the decoded parts are the rendered ones with the token in place."""
    issue, config = issue_and_config
    text = UNSUBSCRIBE_PLACEHOLDER.join(pieces)
    html = f"<p>{UNSUBSCRIBE_PLACEHOLDER}</p>" + text
    slots = {part: (tuple(whole.split(UNSUBSCRIBE_PLACEHOLDER)),
                    ("unsubscribe",) * whole.count(UNSUBSCRIBE_PLACEHOLDER))
             for part, whole in (("text", text), ("html", html))}
    rendered = RenderedEmail("Subject", "", "", html, text, slots)
    raw = build_template(config, issue, rendered).render("a@example.org", "", token)
    assert all(len(line) <= 998 for line in raw.split(b"\r\n")) and max(raw) < 128
    decoded_text, decoded_html = parts(parse(raw))
    expected_text = text.replace(UNSUBSCRIBE_PLACEHOLDER, token)
    expected_html = html.replace(UNSUBSCRIBE_PLACEHOLDER, token)
    assert decoded_text == expected_text + ("" if expected_text.endswith("\n") else "\n")
    assert decoded_html == expected_html + ("" if expected_html.endswith("\n") else "\n")
