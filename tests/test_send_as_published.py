"""Every subscriber of an issue gets the email as published: a send (resumed, to an outbox,
or the schedule's) refuses before sending anything while rendering the issue's email now
gives other files than the published ones (a template, the theme or the config changed
since), naming them with the two fixes; ``send --to`` sends its test copy, warning. Made on
the real thing: ``newsletter send`` as a process, killed midway, and aiosmtpd on
127.0.0.1."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import PROJECT, SECRET, make_config, run, write_article
from newsletter.core.config import load_config
from newsletter.delivery import send as deliver
from newsletter.delivery.smtp import Retry
from newsletter.rendering.templating import TEMPLATES
from newsletter.schedule.runs import check_due, run_pass
from scheduler_support import FIRE
from sending_support import (
    ISSUE,
    add_people,
    build_site,
    kill_when_held,
    ledger,
    project,
    start_send,
)
from smtp_support import Recorder, parse, parts, smtp_server

pytestmark = pytest.mark.usefixtures("in_project")

FOOTER = "Changed after publishing: a footer"
EMAIL_FILES = [f"{ISSUE}/email.{kind}" for kind in ("mjml", "html", "txt", "eml")]
FORCE = f"`newsletter build --date {ISSUE} --force` corrects the published issue"


def _send(config_path: Path, *args: str) -> subprocess.CompletedProcess:
    """``newsletter send ISSUE ARGS`` as a process, to its end."""
    env = {**os.environ, "NEWSLETTER_SECRET": SECRET,
           "PYTHONPATH": str(PROJECT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "newsletter", "--config", str(config_path),
                           "send", ISSUE.isoformat(), *args], env=env, capture_output=True,
                          cwd=config_path.parent,
                          text=True, timeout=120)


def _footer(config_path: Path, footer: str) -> None:
    """The editor sets ``theme.footer`` in the configuration."""
    data = yaml.safe_load(config_path.read_text("utf-8"))
    data["theme"] = {"footer": footer}
    config_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _tokens_out(text: str) -> str:
    return re.sub(r"token=\S+", "token=T", text)


def test_a_send_stopped_midway_then_run_after_the_footer_changed_refuses_until_corrected(
        tmp_path):
    """A send killed after two messages (a third in flight), then theme.footer changed:
    running it again sends nobody anything, naming the email files that differ and both
    fixes, as often as it is run. Once `build --date D --force` corrects the published
    issue, the next run sends the others the corrected email, the published one, and those
    sent it before nothing more (the one in flight aside)."""
    (tmp_path / "site").mkdir()
    site = build_site(tmp_path / "site")
    folder = tmp_path / "sender"
    folder.mkdir()
    recorder = Recorder(hold_after=2)
    with smtp_server(recorder) as port:
        path = project(site, folder, port)
        config = load_config(path)
        # Topic choices give each their own edition of the issue: no difference to refuse.
        add_people(config, folder, ["a@example.org,A,AI", "b@example.org,B,Robotics",
                                    "c@example.org,C,", "d@example.org,D,AI",
                                    "e@example.org,E,", "f@example.org,F,Robotics"])
        sender = start_send(path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        kill_when_held(sender, recorder, count=1)
        recorder.release.set()
        first = [address for address, _ in recorder.messages]
        assert len(first) == 3, first  # two sent, the third in flight when killed
        recorded = ledger(config)
        assert len(recorded) == 2

        _footer(path, FOOTER)
        for _ in range(2):  # refused alike every time, before anything is sent
            refused = _send(path)
            assert refused.returncode == 1, refused.stdout + refused.stderr
            said = refused.stdout + refused.stderr
            assert f"{', '.join(EMAIL_FILES)} in {site / 'issues'} differ" in said
            assert "Nothing was sent" in said and "undo the change" in said
            assert FORCE in said and "those already sent are not sent again" in said
            assert [address for address, _ in recorder.messages] == first
            assert ledger(config) == recorded

        corrected = run(folder, "build", "--date", ISSUE.isoformat(), "--force")
        assert corrected.exit_code == 0, corrected.output
        published = (site / "issues" / f"{ISSUE}" / "email.txt").read_text("utf-8")
        assert FOOTER in published
        resumed = _send(path)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    messages = [(address, parts(parse(raw))[0]) for address, raw in recorder.messages]
    assert all(FOOTER not in text for _, text in messages[:3])
    later = messages[3:]
    assert sorted(address for address, _ in later) == sorted(
        {f"{name}@example.org" for name in "abcdef"} - set(first[:2]))
    assert all(FOOTER in text for _, text in later)
    for address, text in later:
        if address in ("c@example.org", "e@example.org"):  # every topic: the whole email
            assert _tokens_out(text) == _tokens_out(published)
    assert len(ledger(config)) == 6


@pytest.fixture
def changed_since(site: Path, tmp_path: Path) -> Path:
    """A project sending the module's published site, whose config's footer changed since."""
    path = project(site, tmp_path)
    add_people(load_config(path), tmp_path, ["ada@example.org,Ada,", "bob@example.org,Bob,AI"])
    _footer(path, FOOTER)
    return path


def test_an_outbox_run_is_refused_alike_and_writes_nothing(changed_since, tmp_path):
    outbox = tmp_path / "outbox"
    result = _send(changed_since, "--outbox", str(outbox))
    assert result.returncode == 1, result.stdout
    said = result.stdout + result.stderr
    assert ", ".join(EMAIL_FILES) in said and FORCE in said
    assert not outbox.exists() or not list(outbox.iterdir())


def test_an_issue_published_without_an_email_file_is_compared_by_those_it_has(site, tmp_path):
    """An issue published by a version that wrote no email.eml is sent while its other email
    files are the ones rendered now, and refused, naming them, once they are not."""
    own = shutil.copytree(site, tmp_path / "site")
    (own / "issues" / f"{ISSUE}" / "email.eml").unlink()
    path = project(own, tmp_path)
    add_people(load_config(path), tmp_path, ["ada@example.org,Ada,"])
    sent = _send(path, "--outbox", str(tmp_path / "outbox"))
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert len(list((tmp_path / "outbox").iterdir())) == 1
    _footer(path, FOOTER)
    refused = _send(path, "--outbox", str(tmp_path / "later"))
    assert refused.returncode == 1
    assert f"{', '.join(EMAIL_FILES[:3])} in {own / 'issues'} differ" in refused.stderr


def test_a_test_copy_goes_out_with_a_warning(changed_since):
    recorder = Recorder()
    with smtp_server(recorder) as port:
        data = yaml.safe_load(changed_since.read_text("utf-8"))
        data["smtp"]["port"] = port
        changed_since.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        result = _send(changed_since, "--to", "me@example.org")
    assert result.returncode == 0, result.stdout + result.stderr
    (address, raw), = recorder.messages
    assert address == "me@example.org" and FOOTER in parts(parse(raw))[0]
    warning, = [line for line in result.stdout.splitlines() if line.startswith("warning:")]
    assert ", ".join(EMAIL_FILES) in warning
    assert "This test copy is rendered as it would be now" in warning
    assert "a send to the subscribers is refused until you undo the change" in warning
    assert FORCE in warning


PEOPLE = ["ada@example.org", "bob@example.org", "cy@example.org"]
WHEN = "2021-02-22 07:00 UTC"  # FIRE, as the log names it


def _lines(caplog) -> list[tuple[str, str]]:
    """The scheduler's log lines, with their level."""
    return [(record.levelname, record.getMessage()) for record in caplog.records]


def _stop(config, files: str, sent: int) -> str:
    """The lines of the schedule's stop for the issue whose email ``files`` differ, ``sent``
    to that many of the three: what `newsletter send` says, with the rest of the send to
    make by hand once it is fixed."""
    return (f"the run of {WHEN} (issue {ISSUE}) failed, and trying it again cannot help until "
            f"this is fixed: issue {ISSUE}: its email as published is not what rendering it "
            "now gives (a template, the theme or the config changed since it was published): "
            f"{files} in {config.output} differ: nothing was sent\n"
            f"fix: undo the change, or correct the published issue first ({FORCE}; the "
            "subscribers not sent it yet then get the corrected email, those already sent are "
            "not sent again)\n"
            f"once fixed, send the rest by hand with `newsletter send {ISSUE}` (issue {ISSUE} is "
            f"published, partly sent: {sent} sent, 0 bounced, {3 - sent} left)")


def test_the_schedule_stops_its_send_until_a_person_corrects_the_issue(
        tmp_path, monkeypatch, secret, caplog):
    """The scheduled run publishes the issue and sends it, but one subscriber's server
    answers 451 all along (the run fails, to be tried again). Meanwhile the editor changes
    the email's text template: the retry sends nothing and fails for a lasting reason,
    naming the files and both fixes in its log, watching the published files and the
    templates. Once
    `build --date D --force` corrects the issue, the next pass sends the one left the
    corrected email."""
    monkeypatch.setattr(deliver, "DEFAULT_RETRY", Retry(attempts=2, first_delay=0.01,
                                                        max_total=2))
    write_article(tmp_path / "articles", "one", quality=80)
    templates = tmp_path / "my-templates"
    templates.mkdir()
    text = templates / "email.txt.j2"
    packaged = (TEMPLATES / "email.txt.j2").read_text("utf-8")
    text.write_text(packaged, encoding="utf-8")
    recorder = Recorder(temporary={"cy@example.org": 1000})
    with smtp_server(recorder) as port:
        config = make_config(tmp_path, state_dir="state", templates="my-templates",
                             schedule={"cron": "0 7 * * mon", "catch_up_hours": 24,
                                       "send": True},
                             smtp={"host": "127.0.0.1", "port": port})
        add_people(config, tmp_path, [f"{address},," for address in PEOPLE])
        first = run_pass(config, FIRE + dt.timedelta(seconds=5))
        assert not first and first.lasting is None  # passing: tried again on the timer
        assert sorted(address for address, _ in recorder.messages) == PEOPLE[:2]

        text.write_text(packaged + "\nA line added after publishing.\n", encoding="utf-8")
        tries = recorder.data_calls["cy@example.org"]
        caplog.clear()
        with caplog.at_level(logging.INFO, "newsletter"):
            stopped = run_pass(config, FIRE + dt.timedelta(minutes=10))
        assert not stopped and stopped.lasting is not None  # waits for a person
        folder = config.output / f"{ISSUE}"
        assert stopped.lasting.cause == (
            f"issue {ISSUE}: its email as published is not what rendering it now gives (a "
            "template, the theme or the config changed since it was published): "
            f"{ISSUE}/email.txt, {ISSUE}/email.eml in {config.output} differ: nothing was "
            "sent")
        assert stopped.lasting.fix.startswith("undo the change, or correct the published "
                                              f"issue first ({FORCE};")
        assert {folder / "email.txt", folder / "email.eml", templates, text} <= set(
            stopped.lasting.inputs)
        assert recorder.data_calls["cy@example.org"] == tries
        # Said once, in the stop, with the fixes and the send to make by hand after them.
        assert _lines(caplog) == [
            ("INFO", f"making up the run of {WHEN} (issue {ISSUE})"),
            ("INFO", f"issue {ISSUE} is already published: sending it"),
            ("INFO", f"sending issue {ISSUE}"),
            ("ERROR", _stop(config, f"{ISSUE}/email.txt, {ISSUE}/email.eml", 2))]
        assert len(recorder.messages) == 2

        corrected = run(tmp_path, "build", "--date", ISSUE.isoformat(), "--force")
        assert corrected.exit_code == 0, corrected.output
        recorder.temporary.clear()
        done = run_pass(config, FIRE + dt.timedelta(minutes=20))
    assert done, "the run after the correction failed"
    (address, raw), = recorder.messages[2:]
    assert address == "cy@example.org"
    assert "A line added after publishing." in parts(parse(raw))[0]
    assert check_due(config, FIRE + dt.timedelta(minutes=21)).action == "done"


def test_the_schedule_says_an_issue_out_whose_theme_changed_is_unlike_its_email_once(
        tmp_path, secret, caplog):
    """An issue published and sent to one subscriber by hand, its run not made yet, then
    theme.footer changed: the pass leaves the issue as it went out and its send stops,
    waiting for a person (one of its messages was tried: the files are not written again).
    The files that differ are named once, in the stop, with the fixes `newsletter send`
    gives, then the send to make by hand: no warning before it naming them again, nor the
    `build --publish` of a run that has its issue still to make."""
    write_article(tmp_path / "articles", "one", quality=80)
    schedule = {"cron": "0 7 * * mon", "catch_up_hours": 24, "send": True}
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = make_config(tmp_path, state_dir="state", schedule=schedule,
                             smtp={"host": "127.0.0.1", "port": port})
        add_people(config, tmp_path, [f"{PEOPLE[0]},,"])
        published = run(tmp_path, "build", "--date", ISSUE.isoformat(), "--publish")
        assert published.exit_code == 0, published.output
        sent = run(tmp_path, "send", ISSUE.isoformat())
        assert sent.exit_code == 0, sent.output
        add_people(config, tmp_path, [f"{address},," for address in PEOPLE])
        config = make_config(tmp_path, state_dir="state", schedule=schedule,
                             smtp={"host": "127.0.0.1", "port": port},
                             theme={"footer": FOOTER})
        with caplog.at_level(logging.INFO, "newsletter"):
            stopped = run_pass(config, FIRE + dt.timedelta(minutes=2))
    assert not stopped and stopped.lasting is not None
    assert [address for address, _ in recorder.messages] == PEOPLE[:1]
    updated, = [message for level, message in _lines(caplog)
                if message.startswith(f"issue {ISSUE} is already published: brought ")]
    assert _lines(caplog) == [
        ("INFO", f"making up the run of {WHEN} (issue {ISSUE})"),
        ("INFO", updated),
        ("INFO", f"issue {ISSUE} is already published: sending it"),
        ("INFO", f"sending issue {ISSUE}"),
        ("ERROR", _stop(config, ", ".join(EMAIL_FILES), 1))]


def test_the_schedule_sends_an_issue_out_whose_page_changed_and_names_the_page_after(
        tmp_path, secret, caplog):
    """Only the page's template changed since the issue went out: its email is the published
    one, so the pass sends it, then says, once, that a rebuild would change the page."""
    write_article(tmp_path / "articles", "one", quality=80)
    templates = tmp_path / "my-templates"
    templates.mkdir()
    schedule = {"cron": "0 7 * * mon", "catch_up_hours": 24, "send": True}
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = make_config(tmp_path, state_dir="state", schedule=schedule,
                             templates="my-templates", smtp={"host": "127.0.0.1", "port": port})
        add_people(config, tmp_path, [f"{address},," for address in PEOPLE])
        published = run(tmp_path, "build", "--date", ISSUE.isoformat(), "--publish")
        assert published.exit_code == 0, published.output
        page = (TEMPLATES / "issue.html.j2").read_text("utf-8")
        assert page.count("{% block main %}") == 1
        (templates / "issue.html.j2").write_text(  # a line the issue's page shows
            page.replace("{% block main %}", "{% block main %}<p>Added since.</p>"), "utf-8")
        with caplog.at_level(logging.INFO, "newsletter"):
            assert run_pass(config, FIRE + dt.timedelta(minutes=2))
    assert sorted(address for address, _ in recorder.messages) == PEOPLE
    lines = _lines(caplog)
    warnings = [line for line in lines if line[0] != "INFO"]
    assert warnings == [
        ("WARNING", f"issue {ISSUE} is already published: it stays as it was, though "
                    f"rebuilding it would change {ISSUE}/index.html: {FORCE} (its email is not "
                    "sent again)")]
    assert lines[-1] == warnings[0]  # after the send, which went out
    assert ("INFO", f"Issue {ISSUE}: 3 sent, 0 bounced, 0 failed, 0 skipped.") in lines


def test_a_template_edited_during_a_send_reaches_none_of_its_messages(
        site: Path, tmp_path: Path) -> None:
    """The editor edits the text template while a long send runs: the later messages of that
    run, of another edition than the first ones (compiled when first needed), are the
    email as it was when the run started, as the first ones; one run sends one version."""
    templates = tmp_path / "my-templates"
    shutil.copytree(TEMPLATES, templates)  # the packaged ones: what the site was published with
    config_path = project(site, tmp_path)
    data = yaml.safe_load(config_path.read_text("utf-8"))
    data["templates"] = str(templates)
    first = [f"a{n}@example.org" for n in range(6)]  # AI only, first in line
    later = [f"r{n}@example.org" for n in range(3)]  # Robotics only, after them
    recorder = Recorder(delay=0.15)
    with smtp_server(recorder) as port:
        data["smtp"]["port"] = port
        config_path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
        add_people(load_config(config_path), tmp_path,
                   [f"{a},,AI" for a in first] + [f"{a},,Robotics" for a in later])
        sender = start_send(config_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while len(recorder.messages) < 2:
            assert sender.poll() is None, sender.communicate()[0].decode()
            assert time.monotonic() < deadline, "the send never reached the server"
            time.sleep(0.01)
        text = templates / "email.txt.j2"
        text.write_text(text.read_text("utf-8") + "\nEdited during the send.\n", "utf-8")
        output = sender.communicate(timeout=120)[0].decode()
    assert sender.returncode == 0, output
    received = {address: parts(parse(raw))[0] for address, raw in recorder.messages}
    assert sorted(received) == sorted(first + later)
    assert [a for a, body in received.items() if "Edited during the send." in body] == []
