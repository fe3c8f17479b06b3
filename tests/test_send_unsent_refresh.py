"""An issue none of whose messages was tried yet is sent as rendering it now gives, its email
files written again first, when only the way it is rendered changed since it was published
(SMTP configured after `build --publish`, which adds the "Manage preferences" link; the
theme changed between the schedule's publish and send times). Once a message of it was
tried, or when its own content changed (its issue.json is not what a rebuild gives), the
send is refused as before. Made with the real thing: `newsletter init`, `build --publish`,
`subscribers add` and `send` as processes, aiosmtpd on 127.0.0.1, both state backends."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import PROJECT, SECRET, StateBackend, both, make_config, run, state_sql, write_article
from newsletter.core.config import load_config
from newsletter.schedule.runs import check_due, run_pass
from scheduler_support import FIRE
from sending_support import add_people
from smtp_support import Recorder, parse, parts, smtp_server

pytestmark = both
EMAIL = ("email.mjml", "email.html", "email.txt", "email.eml")


def _cli(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NEWSLETTER_SECRET": SECRET,
           "PYTHONPATH": str(PROJECT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "newsletter", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)


def _ok(folder: Path, *args: str) -> str:
    done = _cli(folder, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def _published(tmp_path: Path, backend: StateBackend) -> tuple[Path, str]:
    """`newsletter init nl`, then `build --publish` with no SMTP configured: the folder and
    the issue's date."""
    _ok(tmp_path, "init", "nl", "--title", "AI Weekly", "--site-url",
        "https://news.example.org/ai/", "--timezone", "UTC", "--topics", "AI")
    folder = tmp_path / "nl"
    if backend.url is not None:
        path = folder / "newsletter.yaml"
        path.write_text(path.read_text("utf-8") + f'state_url: "{backend.url}"\n', "utf-8")
    _ok(folder, "build", "--publish")
    slug, = [p.name for p in (folder / "issues").iterdir() if re.fullmatch(r"[\d-]{10}", p.name)]
    return folder, slug


def _configure_smtp(folder: Path, port: int) -> None:
    """The smtp block init writes commented out, uncommented, for the server on 127.0.0.1."""
    path = folder / "newsletter.yaml"
    lines = path.read_text("utf-8").splitlines()
    start = lines.index("# smtp:")
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("#   ")),
               len(lines))
    lines[start:end] = ["smtp:", '  host: "127.0.0.1"', f"  port: {port}",
                        '  security: "none"']
    path.write_text("\n".join(lines) + "\n", "utf-8")


def _footer(folder: Path, footer: str) -> None:
    path = folder / "newsletter.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["theme"] = {**(data.get("theme") or {}), "footer": footer}
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")


def _files(folder: Path, slug: str) -> dict[str, bytes]:
    return {name: (folder / "issues" / slug / name).read_bytes() for name in EMAIL}


def _tokens_out(text: str) -> str:
    return re.sub(r"token=\S+", "token=T", text)


def test_smtp_configured_after_publishing_sends_the_email_written_again(
        tmp_path: Path, state_backend: StateBackend) -> None:
    folder, slug = _published(tmp_path, state_backend)
    before = _files(folder, slug)
    assert b"Manage preferences" not in before["email.txt"]
    issue_json = (folder / "issues" / slug / "issue.json").read_bytes()
    recorder = Recorder()
    with smtp_server(recorder) as port:
        _configure_smtp(folder, port)
        _ok(folder, "subscribers", "add", "ada@example.org")
        said = _ok(folder, "send", slug)
    names = ", ".join(f"{slug}/{name}" for name in EMAIL)
    line, = [line for line in said.splitlines() if "sent to nobody yet" in line]
    assert f"wrote {names} in {folder / 'issues'} again" in line
    after = _files(folder, slug)
    assert all(after[name] != before[name] for name in EMAIL)
    assert (folder / "issues" / slug / "issue.json").read_bytes() == issue_json  # no correction
    text = after["email.txt"].decode("utf-8")
    assert "Manage preferences" in text
    (address, raw), = recorder.messages
    assert address == "ada@example.org"
    assert _tokens_out(parts(parse(raw))[0]) == _tokens_out(text)
    assert f"Issue {slug}: 1 sent" in said


@pytest.mark.parametrize("tried", ["sent", "in flight"])
def test_once_a_message_was_tried_a_change_is_refused(
        tmp_path: Path, state_backend: StateBackend, tried: str) -> None:
    """The theme changed between publish and send: the first send writes the files again and
    sends. Changed once more after ada was sent it (or after a sender killed with her
    message in flight), the send is refused, the files kept as ada got them."""
    folder, slug = _published(tmp_path, state_backend)
    recorder = Recorder()
    with smtp_server(recorder) as port:
        _configure_smtp(folder, port)
        _ok(folder, "subscribers", "add", "ada@example.org")
        _footer(folder, "Footer chosen after publishing")
        first = _ok(folder, "send", slug)
        assert "sent to nobody yet" in first
        config = load_config(folder / "newsletter.yaml")
        if tried == "in flight":  # the server may or may not have taken it: tried all the same
            state_sql(config, "DELETE FROM deliveries")
            state_sql(config, "INSERT INTO attempts (issue, email, at) VALUES (?, ?, ?)",
                      slug, "ada@example.org", "2026-01-01T00:00:00+00:00")
        kept = _files(folder, slug)
        _ok(folder, "subscribers", "add", "bob@example.org")
        _footer(folder, "Footer changed again")
        refused = _cli(folder, "send", slug)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "its email as published is not what rendering it now gives" in refused.stderr
    assert "sent to nobody yet" not in refused.stdout + refused.stderr
    assert _files(folder, slug) == kept
    assert [address for address, _ in recorder.messages] == ["ada@example.org"]


def test_an_issue_whose_content_changed_is_refused_until_it_is_as_published(
        tmp_path: Path, state_backend: StateBackend) -> None:
    """An article's title edited after publishing makes the rebuilt issue.json another: the
    send is refused, nothing written; with the title put back, it sends."""
    folder, slug = _published(tmp_path, state_backend)
    article, = (folder / "articles").glob("*.md")
    original = article.read_text("utf-8")
    title = re.search(r"^title: (.*)$", original, re.MULTILINE)
    assert title is not None
    before = _files(folder, slug)
    recorder = Recorder()
    with smtp_server(recorder) as port:
        _configure_smtp(folder, port)
        _ok(folder, "subscribers", "add", "ada@example.org")
        article.write_text(original.replace(title.group(0), 'title: "Another title"'), "utf-8")
        refused = _cli(folder, "send", slug)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "its email as published is not what rendering it now gives" in refused.stderr
        assert _files(folder, slug) == before and not recorder.messages
        article.write_text(original, "utf-8")
        said = _ok(folder, "send", slug)
    assert "sent to nobody yet" in said
    assert [address for address, _ in recorder.messages] == ["ada@example.org"]


def test_the_schedule_sends_an_issue_whose_theme_changed_after_it_was_published(
        tmp_path: Path, secret: None, caplog: pytest.LogCaptureFixture) -> None:
    """The issue published (its publish time) before the editor changed the footer: the
    scheduled send writes its email files again, logs it, and sends them."""
    write_article(tmp_path / "articles", "one", quality=80)
    recorder = Recorder()
    with smtp_server(recorder) as port:
        settings = dict(state_dir="state", smtp={"host": "127.0.0.1", "port": port},
                        schedule={"cron": "0 7 * * mon", "catch_up_hours": 24, "send": True})
        config = make_config(tmp_path, **settings)
        slug = FIRE.date().isoformat()
        published = run(tmp_path, "build", "--date", slug, "--publish")
        assert published.exit_code == 0, published.output
        config = make_config(tmp_path, theme={"footer": "Chosen after publishing"}, **settings)
        add_people(config, tmp_path, ["ada@example.org,,"])
        with caplog.at_level(logging.INFO, "newsletter"):
            done = run_pass(config, FIRE + dt.timedelta(seconds=5))
    assert done, [r.getMessage() for r in caplog.records]
    line, = [r.getMessage() for r in caplog.records if "sent to nobody yet" in r.getMessage()]
    assert f"wrote {slug}/email.mjml" in line
    text = (config.output / slug / "email.txt").read_text("utf-8")
    (address, raw), = recorder.messages
    assert "Chosen after publishing" in text
    assert _tokens_out(parts(parse(raw))[0]) == _tokens_out(text)
    assert check_due(config, FIRE + dt.timedelta(minutes=1)).action == "done"


def _security(folder: Path, security: str) -> None:
    path = folder / "newsletter.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["smtp"]["security"] = security
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")


def test_a_send_stopped_before_any_message_leaves_the_issue_untried(
        tmp_path: Path, state_backend: StateBackend) -> None:
    """SMTP configured after publishing, but asking for STARTTLS of a server that has none:
    the send writes the email files again, then stops before any message. Corrected, with
    the footer changed as well meanwhile, the next send is not refused: nobody was tried,
    so it writes them again and sends that email, to each subscriber once."""
    folder, slug = _published(tmp_path, state_backend)
    recorder = Recorder()
    with smtp_server(recorder) as port:
        _configure_smtp(folder, port)
        _security(folder, "starttls")
        _ok(folder, "subscribers", "add", "ada@example.org")
        _ok(folder, "subscribers", "add", "bob@example.org")
        stopped = _cli(folder, "send", slug)
        assert stopped.returncode == 1, stopped.stdout + stopped.stderr
        assert "it offers no STARTTLS" in stopped.stdout
        assert "0 sent, 0 bounced, 0 failed, 2 not attempted" in stopped.stdout
        assert recorder.messages == []
        _security(folder, "none")
        _footer(folder, "Footer chosen after the failed send")
        said = _ok(folder, "send", slug)
    assert "sent to nobody yet" in said, said
    assert f"Issue {slug}: 2 sent, 0 bounced, 0 failed, 0 skipped." in said
    text = (folder / "issues" / slug / "email.txt").read_text("utf-8")
    assert "Footer chosen after the failed send" in text
    assert sorted(address for address, _ in recorder.messages) == [
        "ada@example.org", "bob@example.org"]
    assert all(_tokens_out(parts(parse(raw))[0]) == _tokens_out(text)
               for _, raw in recorder.messages)


# PostgreSQL alone: with SQLite a send holds the issue's send lock, so no other run is alive.
@pytest.mark.parametrize("state_backend", ["postgresql"], indirect=True)
def test_a_live_send_of_the_issue_elsewhere_keeps_its_files(
        tmp_path: Path, state_backend: StateBackend) -> None:
    """PostgreSQL, where sends on several machines share an issue: while a run that
    prepared its recipients with the files as they are is alive (its mark, and the
    advisory lock its connection holds), nothing was tried yet, but it may send them any
    moment: another send with a changed footer is refused, the files kept. Once that run
    is gone (its connection ended: killed, a machine lost), the files are written again."""
    assert state_backend.url is not None
    import psycopg

    from newsletter.delivery.runmarks import RUN_LOCK

    folder, slug = _published(tmp_path, state_backend)
    recorder = Recorder()
    with smtp_server(recorder) as port:
        _configure_smtp(folder, port)
        _ok(folder, "subscribers", "add", "ada@example.org")
        _ok(folder, "send", slug, "--to", "me@example.org")  # migrates the state
        recorder.messages.clear()
        before = _files(folder, slug)
        with psycopg.connect(state_backend.url, autocommit=True) as elsewhere:
            elsewhere.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (RUN_LOCK, "run-x"))
            elsewhere.execute("INSERT INTO send_runs (run, issue) VALUES (%s, %s)",
                              ("run-x", slug))
            _footer(folder, "Footer changed while another machine sends")
            refused = _cli(folder, "send", slug)
            assert refused.returncode == 1, refused.stdout + refused.stderr
            assert "its email as published is not what rendering it now gives" in refused.stderr
            assert _files(folder, slug) == before and recorder.messages == []
        said = _ok(folder, "send", slug)
    assert "sent to nobody yet" in said, said
    assert [address for address, _ in recorder.messages] == ["ada@example.org"]
