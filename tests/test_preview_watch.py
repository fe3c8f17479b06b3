"""The preview's guards and defaults over real HTTP and real processes: the Host allow-list
on every address, the draft opened first, the explain table's order, and the watcher (OS
notifications, polling, file-by-file updates that must equal a full reading)."""

from __future__ import annotations

import datetime as dt
import http.client
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import PROJECT, run, sample_site, write_article, write_config
from newsletter.core.config import load_config
from newsletter.core.errors import NewsletterError
from newsletter.core.timing import next_issue_date
from newsletter.reading.corpus import read_corpus
from newsletter.web.preview import DraftCache, PreviewServer, list_drafts, render_draft
from newsletter.web.preview.listing import issue_holding
from newsletter.web.preview.tracking import CorpusTracker
from newsletter.web.preview.watch import Watched, on_network_mount, relevance
from newsletter.web.routing import host_name

DATE = dt.date(2021, 2, 22)
SLUG = DATE.isoformat()


def request(port: int, path: str, host: str | None) -> int:
    """Status of a GET sent to 127.0.0.1 with ``host`` as the Host header (None: none)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_host=True)
        if host is not None:
            connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _project(folder: Path) -> Path:
    config = write_config(folder, topics=["AI"])
    write_article(folder / "articles", "alpha", title="Alpha Robots Learn To Walk", quality=90)
    return config


# -- the Host allow-list -------------------------------------------------------------------

@pytest.mark.parametrize("bind", ["127.0.0.1", "0.0.0.0"])
def test_foreign_host_headers_are_refused_on_every_address(tmp_path, bind):
    server = PreviewServer(_project(tmp_path), host=bind, port=0, default_date=DATE,
                           allow_hosts=["editor.example.org"]).start()
    port = server.httpd.server_address[1]
    try:
        for host in ["evil.example", f"evil.example:{port}", "127.0.0.1.evil.example",
                     "localhost.evil.example", "editor.example.org.evil.example", "", None]:
            assert request(port, f"/draft/{SLUG}/", host) == 403, host
            assert request(port, f"/draft/{SLUG}/events", host) == 403, host
        for host in ["localhost", f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}",
                     "editor.example.org", f"EDITOR.example.org:{port}"]:
            assert request(port, f"/draft/{SLUG}/email.txt", host) == 200, host
    finally:
        server.close()


def test_the_bound_address_is_a_name_the_server_answers_to(tmp_path):
    server = PreviewServer(_project(tmp_path), host="127.0.0.2", port=0,
                           default_date=DATE).start()
    port = server.httpd.server_address[1]
    try:
        connection = http.client.HTTPConnection("127.0.0.2", port, timeout=10)
        connection.request("GET", "/")  # Host: 127.0.0.2:<port>
        assert connection.getresponse().status == 200
        connection.close()
    finally:
        server.close()


def test_host_names_are_read_without_their_port():
    assert host_name("Example.ORG:8000") == "example.org"
    assert host_name("[::1]:8000") == "::1"
    assert host_name("::1") == "::1"
    assert host_name("[::1") == ""


def test_the_command_keeps_the_host_check_on_all_addresses_and_says_so(tmp_path):
    config = _project(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "--config", str(config), "preview", "--date",
         SLUG, "--host", "0.0.0.0", "--port", "0", "--allow-host", "editor.example.org"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT)})
    try:
        assert process.stdout is not None and process.stderr is not None
        warning = process.stderr.readline()
        assert "warning: serving on 0.0.0.0" in warning
        assert "Host check stays on" in warning and "editor.example.org" in warning
        port = 0
        for line in process.stdout:
            found = re.search(r":(\d+)/$", line.strip())
            if found:
                port = int(found.group(1))
                break
        assert port
        assert request(port, f"/draft/{SLUG}/", "attacker.example") == 403
        assert request(port, f"/draft/{SLUG}/", "editor.example.org") == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


# -- the draft opened first -----------------------------------------------------------------

def test_the_sample_opens_its_latest_draft_with_articles_not_the_empty_next_one(tmp_path):
    sample_site(tmp_path)
    config = load_config(tmp_path / "newsletter.yaml")
    now = dt.datetime(2026, 11, 30, 16, tzinfo=dt.UTC)  # Monday, after the 07:00 EST run
    cache = DraftCache(config.path)
    listing = list_drafts(config, now, cache.draft)

    upcoming = next_issue_date(config, now)
    assert upcoming == dt.date(2026, 12, 7)
    newest = max(a.published for a in read_corpus(config.corpus).articles)
    assert listing.default == issue_holding(config, newest) == dt.date(2021, 3, 8)
    assert not cache.draft(listing.default).empty_reason
    # and the issue after the latest published one, the next an editor would make
    assert [(d.date, d.note) for d in listing.others] == [(upcoming, "nothing in it"),
                                                          (dt.date(2021, 3, 1), "")]
    assert listing.published == (dt.date(2021, 2, 22), dt.date(2021, 2, 15))


def test_an_issue_published_before_its_run_is_no_draft(tmp_path):
    """Published by hand on the morning of its scheduled run (or without a schedule, today's
    issue published): the next scheduled issue is the one after it, and the published one is
    listed as published only."""
    config_path = _project(tmp_path)
    config = load_config(config_path)
    today = dt.date(2021, 2, 22)
    assert run(tmp_path, "build", today.isoformat(), "--publish").exit_code == 0
    listing = list_drafts(config, dt.datetime(2021, 2, 22, 9, tzinfo=dt.UTC),
                          DraftCache(config_path).draft)
    assert today not in [d.date for d in listing.drafts]
    assert listing.published == (today,)
    assert dt.date(2021, 2, 23) in [d.date for d in listing.drafts]


def test_a_started_issue_folder_is_listed_and_a_fixed_date_wins(tmp_path):
    config_path = _project(tmp_path)
    (tmp_path / "issues" / "2021-01-04").mkdir(parents=True)
    (tmp_path / "issues" / "2021-01-04" / "overrides.yaml").write_text("intro: Hello\n")
    config = load_config(config_path)
    cache = DraftCache(config_path)
    now = dt.datetime(2021, 3, 10, tzinfo=dt.UTC)  # no schedule: the next issue is today
    listing = list_drafts(config, now, cache.draft)
    holding = dt.date(2021, 2, 18)  # a daily issue (no schedule) holds alpha (17 February)
    assert listing.default == holding
    assert {d.date: d.note for d in listing.drafts} == {
        dt.date(2021, 3, 10): "nothing in it", holding: "",
        dt.date(2021, 1, 4): "nothing in it"}
    fixed = list_drafts(config, now, cache.draft, fixed=dt.date(2021, 1, 4))
    assert fixed.default == dt.date(2021, 1, 4)


def test_the_command_prints_the_draft_it_opens_and_the_others(tmp_path):
    sample_site(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "--config", str(tmp_path / "newsletter.yaml"),
         "preview", "--port", "0"], cwd=tmp_path, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT)})
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
    finally:
        process.terminate()
        process.wait(timeout=10)
    config = load_config(tmp_path / "newsletter.yaml")
    upcoming = next_issue_date(config, dt.datetime.now(dt.UTC)).isoformat()
    assert lines[1].startswith("Issue 2021-0") and f"/draft/{lines[1][6:16]}/" in lines[1]
    assert f"also: {upcoming} (nothing in it): http://127.0.0.1:" in lines[2]


# -- what the tables show --------------------------------------------------------------------

def test_the_explain_table_follows_the_config_topic_order(tmp_path):
    config_path = write_config(tmp_path, topics=["Zebras", "Apes", "Moles"])
    articles = tmp_path / "articles"
    write_article(articles, "a-ape", topics=["Apes"], quality=90)
    write_article(articles, "b-mole", topics=["Moles"], quality=80)
    write_article(articles, "c-zebra", topics=["Zebras"], quality=10)
    server = PreviewServer(config_path, port=0, default_date=DATE).start()
    try:
        status = request(server.httpd.server_address[1], f"/draft/{SLUG}/explain",
                         "localhost")
        assert status == 200
        connection = http.client.HTTPConnection("127.0.0.1", server.httpd.server_address[1])
        connection.request("GET", f"/draft/{SLUG}/explain")
        table = connection.getresponse().read().decode()
        connection.close()
    finally:
        server.close()
    ids = re.findall(r"<code>([a-z-]+)</code>", table)
    assert ids == ["c-zebra", "a-ape", "b-mole"]


def test_explain_shows_times_with_their_zone(tmp_path):
    sample_site(tmp_path)
    text = run(tmp_path, "explain", "--date", "2021-02-22").output
    assert re.search(r"quality \d+, 2021-02-1\d \d\d:\d\d EST$", text, re.MULTILINE), text


# -- watching ----------------------------------------------------------------------------------

def test_polling_sees_edits_too(tmp_path):
    config = _project(tmp_path)
    # Polling compares modification times in whole seconds: the edit must be a later one.
    os.utime(tmp_path / "articles" / "alpha.md", (time.time() - 60, time.time() - 60))
    server = PreviewServer(config, port=0, default_date=DATE, poll=True).start()
    try:
        assert server.watcher.polling
        before = server.cache.version
        write_article(tmp_path / "articles", "alpha", title="Alpha Robots Learn To Run",
                      quality=90)
        assert server.cache.wait_for_change(before, 5) != before
        text = server.cache.draft(DATE).files["email.txt"].decode()
        assert "Alpha Robots Learn To Run" in text
    finally:
        server.close()


def test_an_edit_made_while_watching_starts_again_is_not_missed(monkeypatch, tmp_path):
    """When a folder appears (here the output folder, with an overrides file), watching
    starts again on the new folders. An edit made before the new watch is in place raises
    no notification: the new watch's first report must say that anything may have changed.
    The new watch is made slow to start here, so the edit always falls in that gap."""
    import newsletter.web.preview.watch as watch

    original = watch.watchfiles.watch
    calls = []

    def slow_second_watch(*args, **kwargs):
        calls.append(args)
        if len(calls) > 1:
            time.sleep(1.0)
        return original(*args, **kwargs)

    monkeypatch.setattr(watch.watchfiles, "watch", slow_second_watch)
    server = PreviewServer(_project(tmp_path), port=0, default_date=DATE).start()
    try:
        staged = tmp_path / "staging" / SLUG / "overrides.yaml"
        staged.parent.mkdir(parents=True)
        staged.write_text("pin: [\n", "utf-8")
        before = server.cache.version
        (tmp_path / "staging").rename(tmp_path / "issues")  # folder and file at once
        overrides = tmp_path / "issues" / SLUG / "overrides.yaml"
        appeared = server.cache.wait_for_change(before, 5)
        assert appeared != before
        with pytest.raises(NewsletterError, match="YAML syntax error"):
            server.cache.draft(DATE)
        overrides.unlink()  # while the new watch is still being set up
        assert server.cache.wait_for_change(appeared, 5) != appeared
        assert len(calls) == 2
        server.cache.draft(DATE)  # the overrides are gone: it renders
    finally:
        server.close()


def test_network_mounts_are_polled(monkeypatch, tmp_path):
    import newsletter.web.preview.watch as watch

    monkeypatch.setattr(watch, "_mounts", lambda: [(str(tmp_path / "nfs"), "nfs4"),
                                                    ("/", "ext4")])
    assert on_network_mount([tmp_path / "nfs" / "articles"])
    assert not on_network_mount([tmp_path / "nfsother", tmp_path / "local"])
    assert not on_network_mount([Path("/")])


def test_only_files_that_make_a_draft_wake_it(tmp_path):
    output, state = tmp_path / "issues", tmp_path / ".newsletter"
    relevant = relevance(Watched((tmp_path,), (), output, state))
    change = None
    assert relevant(change, str(tmp_path / "articles" / "a.md"))
    assert relevant(change, str(output / SLUG / "overrides.yaml"))
    assert relevant(change, str(output / SLUG / "issue.json"))
    assert not relevant(change, str(output / SLUG / "email.html"))
    assert not relevant(change, str(output / "feed.xml"))
    assert not relevant(change, str(state / "state.sqlite3"))
    assert not relevant(change, str(tmp_path / "articles" / ".a.md.swp"))
    assert not relevant(change, str(tmp_path / "articles" / "a.md~"))
    # a folder of template overrides kept in the output folder counts whole
    overrides = relevance(Watched((tmp_path,), (), output, state, output / "templates"))
    assert overrides(change, str(output / "templates" / "email.txt.j2"))
    assert not overrides(change, str(output / SLUG / "email.html"))


def test_an_idle_preview_does_no_work(tmp_path):
    """No polling: the watcher thread sleeps in the OS between its twice-a-second look at
    the config file, so the process uses next to no CPU."""
    config = _project(tmp_path)
    server = PreviewServer(config, port=0, default_date=DATE).start()
    try:
        assert not server.watcher.polling
        server.cache.draft(DATE)
        before = time.process_time()
        time.sleep(2)
        assert time.process_time() - before < 0.2  # generous: a shared, noisy machine
    finally:
        server.close()


def test_files_read_one_by_one_give_what_a_full_reading_gives(tmp_path):
    """Random edits, additions, removals and broken files, patched into the cached reading
    after each batch: every draft equals one rendered from a fresh reading."""
    config_path = _project(tmp_path)
    articles = tmp_path / "articles"
    rng = random.Random(7)
    for index in range(30):
        day = rng.randint(10, 25)
        write_article(articles / rng.choice(["", "sub"]), f"story-{index}",
                      quality=rng.randint(0, 100),
                      publishedDateTime=dt.datetime(2021, 2, day, 12, tzinfo=dt.UTC))
    cache = DraftCache(config_path)
    cache.draft(DATE)
    for _round in range(6):
        changed: list[Path] = []
        for _ in range(rng.randint(1, 5)):
            index = rng.randrange(40)
            folder = articles / rng.choice(["", "sub"])
            path = folder / f"story-{index}.md"
            action = rng.choice(["edit", "edit", "remove", "break"])
            if action == "remove":
                path.unlink(missing_ok=True)
            elif action == "break":
                folder.mkdir(exist_ok=True)
                path.write_text("---\ntitle: [unclosed\n---\n", "utf-8")
            else:
                write_article(folder, f"story-{index}", quality=rng.randint(0, 100),
                              title=f"Story {index} take {_round}",
                              publishedDateTime=dt.datetime(2021, 2, rng.randint(10, 25), 9,
                                                            tzinfo=dt.UTC))
            changed.append(path)
        cache.changed({str(p) for p in changed})
        patched = cache.draft(DATE)
        fresh = render_draft(load_config(config_path), DATE)
        assert patched.selection == fresh.selection
        assert patched.files == fresh.files
        assert patched.problems == fresh.problems


def test_the_tracker_reads_everything_again_when_a_patch_cannot_be_sure(tmp_path):
    _project(tmp_path)
    articles = tmp_path / "articles"
    write_article(articles, "twin", suffix=".txt")
    write_article(articles / "folder", "inside")
    tracker = CorpusTracker(articles)
    assert tracker.patchable(["alpha.md", "notes.pdf", ".hidden.md"]) == ["alpha.md"]
    assert tracker.patchable(["twin.md"]) is None  # twin.txt has the id already
    assert tracker.patchable(["folder"]) is None  # a folder: what it holds is not listed
    (articles / "folder" / "inside.md").unlink()
    (articles / "folder").rmdir()
    assert tracker.patchable(["folder"]) is None  # a folder gone


def test_the_preview_runs_on_the_sites_hardened_server(tmp_path):
    """A malformed request line gets 400, as from ``serve``: the same server under both."""
    import socket

    server = PreviewServer(_project(tmp_path), port=0, default_date=DATE).start()
    try:
        with socket.create_connection(server.httpd.server_address[:2], timeout=10) as sock:
            sock.sendall(b"GARBAGE\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.0 400")
    finally:
        server.close()
