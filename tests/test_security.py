"""Attacks on the running tool, each through the product's own doors: ``newsletter serve``
as a real process over HTTP, ``send`` against a real SMTP server, the command line as a user
types it. Each test reproduces one way a hostile or unlucky input used to stop a run or leak
something."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import email.header
import email.utils
import json
import os
import re
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import assume, given
from hypothesis import strategies as st

from conftest import PROJECT, SECRET, run, write_article, write_config
from newsletter.cli import cli
from newsletter.core import headers
from newsletter.core.config import load_config
from newsletter.core.errors import NewsletterError
from newsletter.core.site_url import MAX_SITE_URL
from newsletter.delivery.send import load_published_issue, send_issue
from newsletter.rendering.mail import RenderedEmail, render_notice
from newsletter.rendering.message import build_template, notice_message
from sending_support import ISSUE, add_people, build_site, project
from smtp_support import Recorder, parse, smtp_server

pytestmark = pytest.mark.usefixtures("secret")  # NEWSLETTER_SECRET: readers' links are signed

DRAFT_SLUG = "2021-03-08"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = build_site(tmp_path_factory.mktemp("site"))
    # An editor's private notes beside a published issue and a draft.
    for slug in ("2021-02-22", DRAFT_SLUG):
        (folder / "issues" / slug / "overrides.yaml").write_text(
            "intro: |\n  PRIVATE editor note\n", "utf-8")
    return folder


def _env() -> dict[str, str]:
    return {**os.environ, "NEWSLETTER_SECRET": SECRET,
            "PYTHONPATH": str(PROJECT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


@contextlib.contextmanager
def serving(config_path: Path, log: Path, *options: str) -> Iterator[tuple[int, int]]:
    """``newsletter serve --port 0 OPTIONS`` as a real process: (port, pid); its stderr
    goes to ``log``."""
    with open(log, "wb") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "newsletter", "--config", str(config_path), "serve",
             "--port", "0", *options], env=_env(), stdout=subprocess.PIPE, stderr=errors)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, (line, log.read_text())
        yield int(match.group(1)), process.pid
    finally:
        process.terminate()
        process.wait(10)


def raw_request(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Send ``data`` as is and read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(data)
        chunks = []
        while True:
            try:
                chunk = connection.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def get(port: int, path: str) -> tuple[int, bytes, bytes]:
    """(status, headers without Date, body) of ``GET path``."""
    answer = raw_request(port, f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    headers = b"\r\n".join(line for line in head.split(b"\r\n")[1:]
                           if not line.lower().startswith(b"date:"))
    return status, headers, body


# -- 1. serve answers only what readers need --------------------------------------------------

READER_PATHS = ["/ai/", "/ai/index.html", "/ai/feed.xml", "/ai/atom.xml", "/ai/feed.json",
                "/ai/topics/ai.xml", "/ai/topics/robotics.xml",
                "/ai/2021-02-22/", "/ai/2021-02-22/index.html", "/ai/2021-03-01/"]
PRIVATE_PATHS = [
    f"/ai/{DRAFT_SLUG}/", f"/ai/{DRAFT_SLUG}/index.html", f"/ai/{DRAFT_SLUG}/email.html",
    f"/ai/{DRAFT_SLUG}/issue.json", f"/ai/{DRAFT_SLUG}/overrides.yaml",
    "/ai/2021-02-22/issue.json", "/ai/2021-02-22/email.eml", "/ai/2021-02-22/email.mjml",
    "/ai/2021-02-22/email.txt", "/ai/2021-02-22/overrides.yaml", "/ai/stray.txt",
    "/ai/topics/", "/ai/topics/notes.txt", "/ai/2021-02-22/extra.html",
]


def test_serve_answers_only_what_readers_need(site: Path, tmp_path: Path) -> None:
    (site / "issues" / "stray.txt").write_text("stray", "utf-8")
    (site / "issues" / "topics" / "notes.txt").write_text("notes", "utf-8")
    (site / "issues" / "2021-02-22" / "extra.html").write_text("extra", "utf-8")
    with serving(project(site, tmp_path), tmp_path / "serve.log") as (port, _):
        for path in READER_PATHS:
            status, _, body = get(port, path)
            assert status == 200, path
            relative = path.removeprefix("/ai/") + ("index.html" if path.endswith("/") else "")
            assert body == (site / "issues" / relative).read_bytes(), path
        missing = get(port, "/ai/no-such-file.html")
        assert missing[0] == 404
        for path in PRIVATE_PATHS:
            assert (site / "issues" / path.removeprefix("/ai/")).exists(), path
            assert get(port, path) == missing, path  # the same answer as a missing file
        # Every link of the archive and of a published issue leads to a page that answers.
        for page in ("/ai/", "/ai/2021-02-22/"):
            for href in re.findall(rb'href="([^"#:]+)"', get(port, page)[2]):
                target = (page + href.decode()) if not href.startswith(b"/") else href.decode()
                target = os.path.normpath(target) + ("/" if href.endswith(b"/") else "")
                assert get(port, target)[0] == 200, (page, href)


# -- 2. mail header injection from the config and overrides.yaml ------------------------------

ENCODED_BCC = "=?utf-8?b?SGVsbG8NCkJjYzogdmljdGltQGV2aWwuZXhhbXBsZQ==?="  # Hello\r\nBcc: ...


def _config_with(site: Path, folder: Path, port: int = 1, **email: str) -> Path:
    path = project(site, folder, port)
    data = yaml.safe_load(path.read_text("utf-8"))
    for key, value in email.items():
        if key == "title":
            data["title"] = value
        else:
            data["email"][key] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    return path


def _published_with(site: Path, folder: Path, port: int, **email: str) -> Path:
    """A copy of the site with its issue published again with these values: an issue is
    sent only as it was published."""
    path = _config_with(shutil.copytree(site, folder / "site"), folder, port, **email)
    result = run(folder, "build", "--date", ISSUE.isoformat(), "--force")
    assert result.exit_code == 0, result.output
    return path


@pytest.mark.parametrize(("key", "value"), [
    ("subject", ENCODED_BCC),
    ("subject", "Hello\r\nBcc: victim@evil.example"),
    ("subject", "Hello\x0bthere"),
    ("title", "AI Weekly\r\nBcc: victim@evil.example"),
    ("title", "=?utf-8?q?AI=0D=0ABcc=3A_victim=40evil.example?="),
    ("from", "AI Weekly <newsletter@news.example.org>\r\nBcc: victim@evil.example"),
    ("from", "=?utf-8?q?x=0D=0ABcc=3A_victim=40evil.example?= <newsletter@news.example.org>"),
    ("reply_to", "editor@news.example.org\nBcc: victim@evil.example"),
    ("unsubscribe_mailto", "leave@news.example.org\r\nBcc: victim@evil.example"),
])
def test_header_values_with_line_breaks_or_encoded_words_are_refused(
        site: Path, tmp_path: Path, key: str, value: str) -> None:
    _config_with(site, tmp_path, **{key: value})
    result = run(tmp_path, "check")
    assert result.exit_code == 1, result.output
    name = key if key == "title" else f"email.{key}"
    assert f"{name}:" in result.output


def test_an_encoded_subject_in_overrides_is_refused(site: Path, tmp_path: Path) -> None:
    write_config(tmp_path)
    write_article(tmp_path / "articles", "one")
    (tmp_path / "issues" / "2021-02-22").mkdir(parents=True)
    (tmp_path / "issues" / "2021-02-22" / "overrides.yaml").write_text(
        f'subject: "{ENCODED_BCC}"\n', "utf-8")
    result = run(tmp_path, "build", "--date", "2021-02-22")
    assert result.exit_code == 1
    assert "overrides.yaml" in result.output and "subject:" in result.output
    assert "encoded" in result.output


def display_name(raw: bytes, header: str) -> str:
    """A header's display name as RFC 2047 reads it: whitespace between adjacent encoded
    words is ignored (Python's address parser keeps it as a space)."""
    value = email.message_from_bytes(raw)[header]  # undecoded, unfolded by the parser
    name = email.utils.parseaddr(" ".join(value.split()))[0]
    return str(email.header.make_header(email.header.decode_header(name)))


def _received_headers(raw: bytes) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return [line.split(":", 1)[0].lower() for line in head.split("\r\n")
            if line and not line[0].isspace()]


def test_no_config_value_adds_a_header_line(site: Path, tmp_path: Path) -> None:
    """Unusual but legitimate values (non-ASCII, quotes, long) reach the server as the
    headers they are, never as more lines."""
    recorder = Recorder()
    title = 'Zoë\'s "AI" Weekly: ' + "long " * 20
    with smtp_server(recorder) as port:
        _published_with(site, tmp_path, port, title=title,
                        subject="Spécial {title} — {date} " + "x" * 90,
                        **{"from": '"' + title.replace('"', '\\"')
                           + '" <newsletter@news.example.org>',
                           "reply_to": "Édith <editor@news.example.org>"})
        csv_path = tmp_path / "people.csv"
        csv_path.write_text('email,name\nada@example.org,"Ada ""Countess"" Lovelace, Zoë"\n',
                            "utf-8")
        assert run(tmp_path, "subscribers", "import", str(csv_path)).exit_code == 0
        result = run(tmp_path, "send", ISSUE.isoformat())
        assert result.exit_code == 0, result.output
    ((address, raw),) = recorder.messages
    names = _received_headers(raw)
    assert "bcc" not in names
    for once in ("from", "to", "subject", "reply-to", "list-id", "message-id"):
        assert names.count(once) == 1, (once, names)
    message = parse(raw)
    assert display_name(raw, "From") == title.strip()
    assert display_name(raw, "To") == 'Ada "Countess" Lovelace, Zoë'
    assert display_name(raw, "Reply-To") == "Édith"
    assert message["Subject"].startswith(f"Spécial {title.strip()} — February 22, 2021 xxx")


def _header_lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


@pytest.mark.parametrize("run_of", ["x", "é"])
def test_a_word_longer_than_a_header_line_is_split_and_reads_back_whole(
        site: Path, tmp_path: Path, run_of: str) -> None:
    """RFC 5322 allows 998 characters a line, and folding only happens at spaces: an
    unbroken run longer than that in the title or subject still gives lines within the limit,
    and every header decodes back to exactly the text."""
    recorder = Recorder()
    title = "AI " + run_of * 1200 + " Weekly"
    runs = run_of * 1200 + " " + "y" * 2000  # two in a row: the space between them stays
    subject = "{title}: {date} " + runs + " end"
    with smtp_server(recorder) as port:
        _published_with(site, tmp_path, port, title=title, subject=subject,
                        **{"from": f"{title} <newsletter@news.example.org>"})
        add_people(load_config(tmp_path / "newsletter.yaml"), tmp_path,
                   ["ada@example.org,Ada " + "z" * 190 + ","])
        result = run(tmp_path, "send", ISSUE.isoformat())
        assert result.exit_code == 0, result.output
    ((_, raw),) = recorder.messages
    config = load_config(tmp_path / "newsletter.yaml")
    notice = notice_message(config, "ada@example.org", render_notice(
        config, "confirm", "ada@example.org", confirm_url="https://news.example.org/ai/c"),
        date=dt.datetime(2021, 3, 1, tzinfo=dt.UTC), message_id="<n@news.example.org>")
    for message in (raw, notice):
        assert max(len(line) for line in _header_lines(message)) <= 998
        assert max(message) < 128
    sent = parse(raw)
    # {title} is the published issue's title: the one of the config when it was published
    assert sent["Subject"] == f"{title}: February 22, 2021 {runs} end"
    assert display_name(raw, "From") == title
    assert display_name(raw, "List-Id") == title
    assert display_name(raw, "To") == "Ada " + "z" * 190
    assert parse(notice)["Subject"] == f"Confirm your subscription to {title}"


def test_the_longest_site_url_and_mailto_still_fit_their_header_lines(site: Path,
                                                                        tmp_path: Path) -> None:
    path = _config_with(site, tmp_path, unsubscribe_mailto="u" * 64 + "@" + "d" * 185 + ".org")
    long_site = "https://news.example.org/" + "a" * 774 + "/"
    config = dataclasses.replace(load_config(path), site_url=long_site)
    assert len(config.site_url) == MAX_SITE_URL
    issue = load_published_issue(config, ISSUE)
    rendered = RenderedEmail("Subject", "", "", "<p>x</p>", "x", {})
    raw = build_template(config, issue, rendered).render("a@example.org", "", "u." + "k" * 54)
    assert max(len(line) for line in _header_lines(raw)) <= 998
    assert parse(raw)["List-Unsubscribe"] == (
        f"<{long_site}unsubscribe?token=u.{'k' * 54}>, "
        f"<mailto:{'u' * 64}@{'d' * 185}.org?subject=unsubscribe>")


_WORDS = st.lists(st.one_of(st.integers(900, 2100).map("x".__mul__),
                            st.text("aé\"(,", max_size=40)), min_size=1, max_size=5)


@given(words=_WORDS)
def test_any_subject_or_display_name_fits_its_lines_and_reads_back(words: list[str]) -> None:
    """Long words, runs of them, quotes, commas, non-ASCII: within 998 characters a line,
    and exactly the text once decoded."""
    text = " ".join(words).strip()
    assume(text and headers.header_problem(text) is None)
    raw = (headers.unstructured("Subject", text)
           + headers.address("To", text, "ada@example.org")
           + headers.angle("List-Id", text, "ai.news.example.org") + b"\r\n")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    expected = headers.one_line(text)
    assert parse(raw)["Subject"] == expected
    assert display_name(raw, "To") == expected and display_name(raw, "List-Id") == expected


@pytest.mark.parametrize("field", ["subject", "title", "sender"])
def test_headers_are_built_so_that_no_value_adds_a_line(site: Path, tmp_path: Path,
                                                        field: str) -> None:
    """Below the validation: even a value that got past it stays inside its header."""
    recorder = Recorder()
    hostile = [ENCODED_BCC, "Hello\r\nBcc: victim@evil.example", "Hi\nBcc: v@evil.example"]
    if field == "sender":
        hostile = [f"{value} <newsletter@news.example.org>" for value in hostile]
    sent: list[str] = []
    with smtp_server(recorder) as port:
        config = load_config(project(site, tmp_path, port))
        for value in hostile:
            if field == "title":
                changed = dataclasses.replace(config, title=value)
            else:
                changed = dataclasses.replace(config, email=dataclasses.replace(
                    config.email, **{field: value}))
            try:
                send_issue(changed, ISSUE, to="ada@example.org", log=lambda line: None)
                sent.append(value)
            except NewsletterError:  # refusing is fine too (Pythons whose parseaddr is
                pass  # strict, as Debian's 3.11, refuse a sender with a line break in it)
    assert len(recorder.messages) == len(sent) and (sent or field == "sender")
    for (_, raw), value in zip(recorder.messages, sent, strict=True):
        names = _received_headers(raw)
        assert "bcc" not in names, raw[:2000]
        assert names.count("subject") == 1 and names.count("list-id") == 1
        message = parse(raw)
        if field == "subject":
            assert message["Subject"] == "[TEST] " + " ".join(value.split())
        elif field == "title":
            assert " ".join(value.split()) in message["List-Id"]


# -- 3. one subscriber never stops a send ------------------------------------------------------

ENCODED_NAME = "=?utf-8?q?a=0D=0ABcc=3A_victim=40evil.example?="


def _send_project(site: Path, folder: Path, port: int) -> Path:
    return project(site, folder, port)


def _insert_rows(folder: Path, rows: list[tuple[str, str]]) -> None:
    """Rows written straight into the state database, as an older version could have."""
    with contextlib.closing(sqlite3.connect(folder / "state" / "newsletter.sqlite3")) as db:
        db.executemany("INSERT INTO subscribers (email, name, topics, status, created, updated)"
                       " VALUES (?, ?, '', 'active', '2021-01-01', '2021-01-01')", rows)
        db.commit()


def test_import_and_add_refuse_names_that_could_become_headers(site: Path,
                                                                tmp_path: Path) -> None:
    _send_project(site, tmp_path, 1)
    people = tmp_path / "people.csv"
    people.write_text(f"email,name\nada@example.org,Ada\nbad@example.org,{ENCODED_NAME}\n"
                      "bell@example.org,Bell\x07 Ringer\n", "utf-8")
    result = run(tmp_path, "subscribers", "import", str(people))
    assert result.exit_code == 1
    assert "line 3: bad@example.org: name" in result.output
    assert "line 4: bell@example.org: name" in result.output
    result = run(tmp_path, "subscribers", "add", "eve@example.org", "--name", ENCODED_NAME)
    assert result.exit_code == 1 and "--name" in result.output
    result = run(tmp_path, "subscribers", "list", "--json")
    assert [s["email"] for s in json.loads(result.output)] == ["ada@example.org"]


def test_a_stored_hostile_name_is_written_as_literal_text(site: Path, tmp_path: Path) -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port:
        _send_project(site, tmp_path, port)
        assert run(tmp_path, "subscribers", "add", "ada@example.org").exit_code == 0
        _insert_rows(tmp_path, [("eve@example.org", ENCODED_NAME),
                                ("zed@example.org", '"=?x?= <evil@evil.example>')])
        result = run(tmp_path, "send", ISSUE.isoformat())
        assert result.exit_code == 0, result.output
    received = {address: raw for address, raw in recorder.messages}
    assert sorted(received) == ["ada@example.org", "eve@example.org", "zed@example.org"]
    for address, raw in received.items():
        assert "bcc" not in _received_headers(raw)
        (to,) = parse(raw)["To"].addresses
        assert to.addr_spec == address
    assert display_name(received["eve@example.org"], "To") == ENCODED_NAME


def _two_readers_and_one_unbuildable(site: Path, tmp_path: Path, port: int) -> None:
    """Ada and Bob, and a row an older version let in whose message cannot be built."""
    _send_project(site, tmp_path, port)
    for person in ("ada@example.org", "bob@example.org"):
        assert run(tmp_path, "subscribers", "add", person).exit_code == 0
    _insert_rows(tmp_path, [("bad\r\nBcc: victim@evil.example", "Bad")])


def test_a_message_that_cannot_be_built_fails_for_that_subscriber_only(
        site: Path, tmp_path: Path) -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port:
        _two_readers_and_one_unbuildable(site, tmp_path, port)
        first = run(tmp_path, "send", ISSUE.isoformat())
        assert first.exit_code == 1
        assert sorted(a for a, _ in recorder.messages) == ["ada@example.org",
                                                           "bob@example.org"]
        assert "1 failed" in first.output and "cannot be built" in first.output
        again = run(tmp_path, "send", ISSUE.isoformat())  # not retried: nothing changed
        assert len(recorder.messages) == 2
        assert "unchanged since" in again.output
        with contextlib.closing(sqlite3.connect(tmp_path / "state" /
                                                "newsletter.sqlite3")) as db:
            db.execute("UPDATE subscribers SET email = 'fixed@example.org', updated = "
                       "'2030-01-01' WHERE name = 'Bad'")
            db.commit()
        fixed = run(tmp_path, "send", ISSUE.isoformat())
        assert fixed.exit_code == 0, fixed.output
    assert sorted(a for a, _ in recorder.messages) == ["ada@example.org", "bob@example.org",
                                                       "fixed@example.org"]
    for _, raw in recorder.messages:
        assert "bcc" not in _received_headers(raw)


# -- 6. real-world URLs -------------------------------------------------------------------------

def test_urls_a_browser_accepts_are_published_normalized(tmp_path: Path) -> None:
    write_config(tmp_path)
    when = dt.datetime(2021, 2, 17, 12, tzinfo=dt.UTC)
    write_article(tmp_path / "articles", "ap", quality=70, publishedDateTime=when,
                  webUrl="https://apnews.com/Business Wire/2d242f964fde4cf98381ed91ca1b6ecc",
                  images=[{"url": "https://bücher.example/bild ä.png", "width": 800,
                           "height": 400}],
                  related=[{"title": "Covered", "webUrl": "https://Zoë.example/ä b?q=ü",
                            "provider": {"name": "Zoe", "domain": "zoë.example"},
                            "quality": 5}])
    write_article(tmp_path / "articles", "no-host", quality=60, webUrl="https:///path",
                  publishedDateTime=when)
    write_article(tmp_path / "articles", "ftp", quality=60, webUrl="ftp://files.example/x",
                  publishedDateTime=when)
    result = run(tmp_path, "build", "--date", "2021-02-22", "--publish")
    assert result.exit_code == 0, result.output
    assert "no-host.md" in result.output and "ftp.md" in result.output
    issue = json.loads((tmp_path / "issues" / "2021-02-22" / "issue.json").read_text("utf-8"))
    (article,) = issue["sections"][0]["articles"]
    assert article["url"] == "https://apnews.com/Business%20Wire/2d242f964fde4cf98381ed91ca1b6ecc"
    assert article["image"]["url"] == "https://xn--bcher-kva.example/bild%20%C3%A4.png"
    assert article["related"][0]["url"] == "https://xn--zo-ija.example/%C3%A4%20b?q=%C3%BC"
    for name in ("email.html", "email.txt", "index.html"):
        text = (tmp_path / "issues" / "2021-02-22" / name).read_text("utf-8")
        assert "Business%20Wire" in text and "Business Wire/" not in text, name
    feed = (tmp_path / "issues" / "feed.xml").read_text("utf-8")
    assert "Business%20Wire" in feed and "Business Wire/" not in feed


def test_the_same_story_is_recognised_through_the_normalized_url(tmp_path: Path) -> None:
    write_config(tmp_path)
    when = dt.datetime(2021, 2, 17, 12, tzinfo=dt.UTC)
    write_article(tmp_path / "articles", "spaced", quality=70, publishedDateTime=when,
                  title="First", webUrl="https://apnews.com/Business Wire/1")
    write_article(tmp_path / "articles", "encoded", quality=60, publishedDateTime=when,
                  title="Second", webUrl="https://APNEWS.com/Business%20Wire/1")
    result = run(tmp_path, "explain", "--date", "2021-02-22", "--json")
    assert result.exit_code == 0, result.output
    verdicts = {a["id"]: a for a in json.loads(result.output)["articles"]}
    assert verdicts["spaced"]["status"] == "placed"
    assert verdicts["encoded"]["status"] == "folded"
    assert verdicts["encoded"]["folded_into"] == "spaced"


# -- 7. serve and hostile requests ---------------------------------------------------------------

def test_overlong_paths_are_404(site: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with serving(project(site, tmp_path), log) as (port, _):
        assert get(port, "/ai/" + "a" * 300)[0] == 404
        assert get(port, "/ai/" + "a" * 300 + "/index.html")[0] == 404
        assert get(port, "/ai/" + "/".join(["abcd"] * 1000))[0] == 404
        assert get(port, "/ai/2021-02-22/")[0] == 200
    assert "Traceback" not in log.read_text()


def test_malformed_request_lines_get_an_answer_and_are_logged_without_the_query(
        site: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    token = "SECRET-TOKEN-abcdef"
    with serving(project(site, tmp_path), log) as (port, _):
        assert raw_request(port, b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.0 400 ")
        answer = raw_request(port, f"GET /ai/?token={token} HTTP/9.9\r\n\r\n".encode())
        assert answer.startswith(b"HTTP/1.0 400 "), answer[:60]
        long = f"GET /ai/unsubscribe?token={token}{'x' * 70_000} HTTP/1.1\r\n\r\n".encode()
        assert raw_request(port, long).startswith(b"HTTP/1.0 400 ")
        assert get(port, "/ai/")[0] == 200  # still serving
    text = log.read_text()
    assert "Traceback" not in text and "AttributeError" not in text
    assert token not in text
    assert text.count("400") >= 3


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def test_idle_connections_time_out(site: Path, tmp_path: Path) -> None:
    with serving(project(site, tmp_path), tmp_path / "serve.log", "--timeout", "1") as (port,
                                                                                        pid):
        baseline = _threads(pid)
        idle = []
        for _ in range(50):
            connection = socket.create_connection(("127.0.0.1", port), timeout=10)
            connection.sendall(b"GET /ai/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
            idle.append(connection)
        deadline = time.monotonic() + 10
        while _threads(pid) < baseline + 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _threads(pid) >= baseline + 40  # each one holds a thread...
        assert get(port, "/ai/")[0] == 200  # ...and the others are still served
        time.sleep(1.5)
        deadline = time.monotonic() + 10
        while _threads(pid) > baseline and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _threads(pid) <= baseline  # ...until it times out
        for connection in idle:
            try:
                leftover = connection.recv(65536)
            except (ConnectionResetError, TimeoutError):
                leftover = b""
            assert leftover in (b"",) or leftover.startswith(b"HTTP/1.")
            connection.close()
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


def test_serve_timeout_defaults_to_30_seconds() -> None:
    result = run(PROJECT, "serve", "--help")
    assert "--timeout" in result.output and "30" in result.output


# -- 10. state files ---------------------------------------------------------------------------

def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_files_are_private_whoever_creates_them(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_config(tmp_path)
        write_article(tmp_path / "articles", "one")
        assert run(tmp_path, "build", "--date", "2021-02-22").exit_code == 0
        state = tmp_path / ".newsletter"
        assert _mode(state) == 0o700
        files = [p for p in state.iterdir()]
        assert files
        assert all(_mode(p) & 0o077 == 0 for p in files), {p.name: oct(_mode(p)) for p in files}
        assert run(tmp_path, "subscribers", "add", "ada@example.org").exit_code == 0
        files = [p for p in state.iterdir()]
        assert any(p.name == "newsletter.sqlite3" for p in files)
        assert all(_mode(p) & 0o077 == 0 for p in files), {p.name: oct(_mode(p)) for p in files}
        state.chmod(0o755)  # made by an older version
        (state / "newsletter.sqlite3").chmod(0o644)
        assert run(tmp_path, "subscribers", "list").exit_code == 0
        assert _mode(state) == 0o700 and _mode(state / "newsletter.sqlite3") == 0o600
    finally:
        os.umask(old)


@pytest.fixture
def subscribed(tmp_path: Path) -> Path:
    write_config(tmp_path, topics=["AI"])
    assert run(tmp_path, "subscribers", "add", "ada@example.org").exit_code == 0
    return tmp_path


def _listing(folder: Path) -> list[str]:
    result = run(folder, "subscribers", "list", "--json")
    assert result.exit_code == 0, result.output
    return [s["email"] for s in json.loads(result.output)]


def test_disk_full_says_so_and_changes_nothing(subscribed: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = sqlite3.connect

    def full_disk(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - wraps sqlite3.connect
        db = real_connect(*args, **kwargs)
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {max(pages, 1)}")
        return db

    people = subscribed / "people.csv"
    people.write_text("email,name\n" + "".join(f"reader{i}@example.org,{'N' * 200}\n"
                                               for i in range(2000)), "utf-8")
    monkeypatch.setattr(sqlite3, "connect", full_disk)
    result = run(subscribed, "subscribers", "import", str(people))
    monkeypatch.setattr(sqlite3, "connect", real_connect)
    assert result.exit_code == 1
    assert "disk full" in result.output and "nothing changed" in result.output
    assert "cannot rollback" not in result.output and "unexpected" not in result.output
    assert _listing(subscribed) == ["ada@example.org"]


def test_a_read_only_database_says_read_only(subscribed: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = sqlite3.connect

    def read_only(database, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        kwargs.pop("uri", None)
        return real_connect(f"file:{database}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", read_only)
    assert _listing(subscribed) == ["ada@example.org"]  # reading needs no write
    result = run(subscribed, "subscribers", "add", "bob@example.org")
    assert result.exit_code == 1, result.output
    assert "read-only" in result.output and "nothing changed" in result.output
    assert "move it away" not in result.output and "unexpected" not in result.output
    monkeypatch.setattr(sqlite3, "connect", real_connect)
    assert _listing(subscribed) == ["ada@example.org"]


SETPRIV = ["setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all"]


@pytest.mark.skipif(not shutil.which("setpriv"), reason="needs setpriv (util-linux)")
def test_a_read_only_state_folder_says_read_only(subscribed: Path) -> None:
    """A real read-only folder: without CAP_DAC_OVERRIDE, root obeys the permission bits."""
    state = subscribed / ".newsletter"
    state.chmod(0o500)
    try:
        for command in (["subscribers", "list"], ["subscribers", "add", "bob@example.org"]):
            result = subprocess.run(
                [*SETPRIV, sys.executable, "-m", "newsletter", "--config",
                 str(subscribed / "newsletter.yaml"), *command],
                env=_env(), capture_output=True, text=True, timeout=60)
            assert result.returncode == 1, result
            assert "read-only" in result.stderr and "nothing changed" in result.stderr
            assert "move it away" not in result.stderr and "unexpected" not in result.stderr
    finally:
        state.chmod(0o700)
    assert _listing(subscribed) == ["ada@example.org"]


def test_a_lock_held_too_long_says_who_and_that_nothing_changed(
        subscribed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    state = importlib.import_module(_STATE_MODULE)
    monkeypatch.setattr(state, "BUSY_TIMEOUT_MS", 200)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys, time\n"
         "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
         "db.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(60)\n",
         str(subscribed / ".newsletter" / "newsletter.sqlite3")],
        stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        result = run(subscribed, "subscribers", "add", "bob@example.org")
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1
    assert "database is locked" not in result.output.lower() or "nothing changed" in \
        result.output
    assert "nothing changed" in result.output
    assert str(holder.pid) in result.output  # who holds it
    assert _listing(subscribed) == ["ada@example.org"]


_STATE_MODULE = "newsletter.state.sqlite"


# -- 11. output hygiene ---------------------------------------------------------------------------

ESCAPES = ["\x1b]0;owned\x07", "\x1b[2J", "\x9b31m"]


def test_check_and_build_escape_terminal_control_sequences(tmp_path: Path) -> None:
    write_config(tmp_path)
    articles = tmp_path / "articles"
    write_article(articles, "good")
    bad = articles / f"evil{ESCAPES[1]}name.md"
    bad.write_text("---\ntitle: x\nwebUrl: not a url \x1b[2J\n---\n", "utf-8")
    (articles / "evil-value.md").write_text(  # YAML escapes: valid YAML, hostile values
        '---\ntitle: "\\e]0;owned\\a"\nwebUrl: "\\e[2J\\x9b31m"\n---\n', "utf-8")
    for args in (["check"], ["build", "--date", "2021-02-22"]):
        # color=True: what a terminal gets (click strips some sequences from pipes only)
        result = CliRunner().invoke(cli, ["--config", str(tmp_path / "newsletter.yaml"),
                                          *args], color=True)
        output = result.output
        assert "evil" in output, output
        assert not any(c in output for c in "\x1b\x07\x9b"), repr(output)


def test_the_scheduler_log_escapes_terminal_control_sequences(tmp_path: Path) -> None:
    write_config(tmp_path, state_dir="state", schedule={"cron": "* * * * *"})
    (tmp_path / "articles" / f"evil{ESCAPES[1]}name.md").write_text(
        '---\ntitle: "\\e]0;owned\\a"\nwebUrl: "\\e[2J"\n---\n', "utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "newsletter", "--config", str(tmp_path / "newsletter.yaml"),
         "schedule", "--once"], env=_env(), capture_output=True, text=True, timeout=120)
    assert "evil" in result.stderr, result.stderr
    assert not any(c in result.stderr for c in "\x1b\x07\x9b"), repr(result.stderr)


def test_export_neutralises_formulas_and_import_reads_them_back(tmp_path: Path) -> None:
    write_config(tmp_path, topics=["AI"])
    names = ['=HYPERLINK("https://evil.example","click")', "+1 234", "-minus", "@SUM(A1)",
             "'=already quoted", "'plain apostrophe", "Ada"]
    for index, name in enumerate(names):
        assert run(tmp_path, "subscribers", "add", f"p{index}@example.org", "--name",
                   name).exit_code == 0
    exported = tmp_path / "out.csv"
    assert run(tmp_path, "subscribers", "export", str(exported)).exit_code == 0
    rows = list(csv.reader(exported.open(encoding="utf-8", newline="")))[1:]
    for row in rows:
        for cell in row:
            assert not cell or cell[0] not in "=+-@\t\r", row
    other = tmp_path / "other"
    other.mkdir()
    write_config(other, topics=["AI"])
    assert run(other, "subscribers", "import", str(exported)).exit_code == 0
    result = run(other, "subscribers", "list", "--json")
    assert sorted(s["name"] for s in json.loads(result.output)) == sorted(names)


def test_non_ascii_site_and_mailto_hosts_are_idna_encoded(tmp_path: Path) -> None:
    write_config(tmp_path, site_url="https://bücher.example/ai/",
                 email={"from": "AI Weekly <news@bücher.example>",
                        "postal_address": "1 Street",
                        "unsubscribe_mailto": "leave@bücher.example"})
    write_article(tmp_path / "articles", "one")
    result = run(tmp_path, "build", "--date", "2021-02-22")
    assert result.exit_code == 0, result.output
    sample = (tmp_path / "issues" / "2021-02-22" / "email.eml").read_bytes()
    assert b"xn--bcher-kva.example" in sample
    assert b"mailto:leave@xn--bcher-kva.example" in sample
    message = parse(sample)
    assert message["List-Unsubscribe"].startswith("<https://xn--bcher-kva.example/ai/")
    assert load_config(tmp_path / "newsletter.yaml").site_url == \
        "https://xn--bcher-kva.example/ai/"



def test_a_message_that_cannot_be_built_in_a_worker_process_is_not_offered_a_retry(
        site: Path, tmp_path: Path) -> None:
    """``--workers 2``: the subscriber whose message cannot be built is named by the worker
    process that tried, and the run does not say that sending again would retry it."""
    recorder = Recorder()
    with smtp_server(recorder) as port:
        _two_readers_and_one_unbuildable(site, tmp_path, port)
        first = run(tmp_path, "send", ISSUE.isoformat(), "--workers", "2")
    assert first.exit_code == 1
    assert "over 2 worker process(es)" in first.output, first.output
    assert "2 sent, 0 bounced, 1 failed" in first.output, first.output
    assert "Run the same command again" not in first.output, first.output
    assert sorted(a for a, _ in recorder.messages) == ["ada@example.org", "bob@example.org"]
