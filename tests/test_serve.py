"""``newsletter serve`` over real HTTP on 127.0.0.1: the output folder with the right types,
validators and no way out, and one-click unsubscribes end to end (the token taken from a
message a real SMTP server received)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import feedparser
import pytest

from conftest import run, write_article, write_config
from html_page import Page
from newsletter.core.config import load_config
from newsletter.delivery.send import send_issue
from newsletter.delivery.tokens import make_token
from sending_support import DRAFT, ISSUE, NEXT_ISSUE, add_people, configured
from smtp_support import FAST, Recorder, parse, smtp_server, token_of
from web_support import Client, serving

pytestmark = pytest.mark.usefixtures("secret")  # NEWSLETTER_SECRET: readers' links are signed


@pytest.fixture
def client(site: Path, tmp_path: Path) -> Iterator[Client]:
    with serving(configured(site, tmp_path)) as port:
        yield Client(port)


# -- the site --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "expected"), [
    ("/ai/", "text/html; charset=utf-8"),
    ("/ai/2021-02-22/", "text/html; charset=utf-8"),
    ("/ai/feed.xml", "application/rss+xml; charset=utf-8"),
    ("/ai/atom.xml", "application/atom+xml; charset=utf-8"),
    ("/ai/feed.json", "application/feed+json"),
    ("/ai/topics/ai.xml", "application/rss+xml; charset=utf-8"),
])
def test_files_are_served_at_the_site_path_with_their_types(client: Client, site: Path,
                                                           path: str, expected: str) -> None:
    status, headers, body = client.get(path)
    assert status == 200
    assert headers["Content-Type"] == expected
    relative = path.removeprefix("/ai/") + ("index.html" if path.endswith("/") else "")
    assert body == (site / "issues" / relative).read_bytes()
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_folders_without_their_slash_are_redirected(client: Client) -> None:
    assert client.get("/ai")[:2][0] == 301 and client.get("/ai")[1]["Location"] == "/ai/"
    status, headers, _ = client.get("/ai/2021-02-22")
    assert status == 301 and headers["Location"] == "/ai/2021-02-22/"


def test_no_page_served_holds_the_placeholder_of_a_readers_link(client: Client, site: Path
                                                                 ) -> None:
    """The email's footer links are made for one reader (unsubscribe, preferences), and its
    file on disk holds placeholders for their tokens: served as it is, a reader who found it
    on the web would click "Unsubscribe" and be told "Invalid link". The web version of an
    issue is its page; an old link to the email file leads there."""
    output = site / "issues"
    email = output / ISSUE.isoformat() / "email.html"
    assert b"token=__UNSUBSCRIBE_TOKEN__" in email.read_bytes()  # the file the send compares
    for path in output.rglob("*"):
        status, _, body = client.get(f"/ai/{path.relative_to(output).as_posix()}")
        if status == 200:
            assert b"__UNSUBSCRIBE_TOKEN__" not in body and b"__PREFERENCES_TOKEN__" not in body
    status, headers, _ = client.get(f"/ai/{ISSUE}/email.html")
    assert status == 301 and headers["Location"] == f"/ai/{ISSUE}/"
    assert (output / DRAFT.isoformat() / "email.html").is_file()
    assert client.get(f"/ai/{DRAFT}/email.html")[0] == 404  # a draft: as if missing


def test_page_links_open_files_from_disk_and_when_served(client: Client, site: Path) -> None:
    """Opened from disk, a link to a folder shows a directory listing: every link between
    pages names its file, which the server serves as well."""
    output = site / "issues"
    pages = [output / "index.html", *sorted(output.glob("*/index.html"))]
    assert len(pages) == 4  # the archive, two published issues and a draft
    followed = set()
    for page in pages:
        for attrs in Page(page.read_bytes()).find("a"):
            href = attrs.get("href") or ""
            if urlsplit(href).scheme or href.startswith("#"):
                continue  # articles elsewhere, and places in the page itself
            served = urljoin(f"/ai/{page.relative_to(output).as_posix()}", href)
            if served == "/ai/subscribe":  # the signup form, which serve makes: not a file
                assert client.get(served)[0] == 200
                continue
            target = (page.parent / urlsplit(href).path).resolve()
            assert target.is_file(), f"{page.relative_to(output)} links {href!r}: not a file"
            status, _, body = client.get(served)
            assert status == 200 and body == target.read_bytes(), served
            followed.add(target.relative_to(output).as_posix())
    assert {"index.html", "2021-02-22/index.html", "2021-03-01/index.html",
            "feed.xml", "topics/ai.xml"} <= followed


def test_every_topic_feed_the_archive_links_is_served(tmp_path: Path) -> None:
    """A topic name of any length the configuration takes (this one 119 characters) has its
    feed served at the address the archive gives it, not a 404 that feed readers report as
    a broken feed."""
    long = ("Artificial intelligence and machine learning research news from universities "
            "laboratories and industry around the world")
    write_config(tmp_path, topics=["AI", long])
    write_article(tmp_path / "articles", "one", topics=[long])
    write_article(tmp_path / "articles", "two", "Kitchen robots learn to cook pasta.",
                  topics=["AI"], title="Robots cook dinner", webUrl="https://two.example/",
                  excerpt="Kitchen robots.")  # (a topic without articles has no feed)
    assert run(tmp_path, "build", "--date", "2021-02-22", "--publish").exit_code == 0
    links = [a["href"] for a in Page((tmp_path / "issues/index.html").read_bytes()).find("a")
             if a.get("href", "").startswith("topics/")]
    assert len(links) == 2 and max(map(len, links)) > 120
    with serving(load_config(tmp_path / "newsletter.yaml")) as port:
        for link in links:
            status, _, body = Client(port).get(f"/ai/{link}")
            assert status == 200, link
            assert not feedparser.parse(body).bozo
        assert Client(port).get("/ai/topics/" + "a" * 130 + ".xml")[0] == 404  # no such topic


@pytest.mark.parametrize("path", [
    "/", "/other/", "/ai/missing.html", "/ai/../newsletter.yaml", "/ai/%2e%2e/newsletter.yaml",
    "/ai/2021-02-22/..%2f..%2fnewsletter.yaml", "/ai/..%5cnewsletter.yaml",
    "/ai/.secret", "/ai/2021-02-22//issue.json", "/ai/escape/newsletter.yaml",
    "/ai/%00", "/ai/%ff",
])
def test_no_way_out_of_the_output_folder(client: Client, site: Path, path: str) -> None:
    (site / "issues" / ".secret").write_text("hidden-file-3f9c", "utf-8")
    escape = site / "issues" / "escape"
    if not escape.is_symlink():
        escape.symlink_to(site, target_is_directory=True)  # a link out of the folder
    status, _, body = client.get(path)
    assert status == 404
    # the site's one 404 page, whatever was asked: nothing of the file it named
    assert body == client.get("/ai/no-such-page")[2]
    assert b"hidden-file" not in body and b"corpus:" not in body and b"site_url" not in body


def test_etag_last_modified_and_304(client: Client, site: Path) -> None:
    status, headers, _ = client.get("/ai/feed.xml")
    assert status == 200
    etag, modified = headers["ETag"], headers["Last-Modified"]
    status, headers, body = client.get("/ai/feed.xml", If_None_Match=etag)
    assert status == 304 and body == b"" and headers["ETag"] == etag
    assert client.get("/ai/feed.xml", If_Modified_Since=modified)[0] == 304
    assert client.get("/ai/feed.xml", If_None_Match='"other"')[0] == 200
    assert client.get("/ai/feed.xml",
                      If_Modified_Since="Mon, 01 Jan 2001 00:00:00 GMT")[0] == 200
    head = client.request("HEAD", "/ai/feed.xml")
    assert head[0] == 200 and head[2] == b""
    assert int(head[1]["Content-Length"]) == (site / "issues" / "feed.xml").stat().st_size
    assert client.request("POST", "/ai/feed.xml")[0] == 405


# -- unsubscribing --------------------------------------------------------------------------------

@pytest.mark.usefixtures("state_backend")  # serve and send share SQLite or PostgreSQL
def test_one_click_unsubscribe_end_to_end(site: Path, tmp_path: Path) -> None:
    recorder = Recorder()
    people = ["ada@example.org", "bob@example.org", "cy@example.org"]
    with smtp_server(recorder) as port:
        config = configured(site, tmp_path, port)
        add_people(config, tmp_path, [f"{p},," for p in people])
        assert sorted(send_issue(config, ISSUE, log=lambda line: None, retry=FAST).sent) \
            == people
        received = {address: parse(raw) for address, raw in recorder.messages}
        token = token_of(received["ada@example.org"])
        path = f"/ai/unsubscribe?token={token}"

        with serving(config) as http_port:
            client = Client(http_port)
            status, headers, page = client.get(path)  # a mail scanner follows the link
            assert status == 200 and b'method="post"' in page and b"One-Click" in page
            assert headers["Cache-Control"] == "no-store"
            assert headers["Referrer-Policy"] == "no-referrer"
            assert active(tmp_path) == people  # GET unsubscribed nobody

            forged = make_token(b"not-the-secret-0123456789", "unsubscribe", "0" * 32)
            version, _, mac = token.split(".")
            bob_address = token_of(received["bob@example.org"]).split(".")[1]
            moved = f"{version}.{bob_address}.{mac}"  # ada's proof on bob's address
            for bad in (forged, moved, token[:-2], "", "1.x.y"):
                status, _, body = client.one_click(f"/ai/unsubscribe?token={bad}")
                assert status == 400
                assert b"ada" not in body and b"bob" not in body
            assert client.one_click("/ai/unsubscribe")[0] == 400
            assert client.one_click(path, body=b"")[0] == 400  # not RFC 8058's body
            assert active(tmp_path) == people

            status, _, body = client.one_click(path)  # what a mail client sends
            assert status == 200 and "a…@example.org".encode() in body  # a hint, not the address
            assert b"ada@example.org" not in body
            assert active(tmp_path) == people[1:]
            assert client.one_click(path)[0] == 200  # again: still fine, nothing changes

            bob = token_of(received["bob@example.org"])
            form = (b'--b\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
                    b"One-Click\r\n--b--\r\n")
            status, _, _ = client.one_click(f"/ai/unsubscribe?token={bob}", body=form,
                                            kind="multipart/form-data; boundary=b")
            assert status == 200
        assert active(tmp_path) == ["cy@example.org"]

        recorder.messages.clear()
        report = send_issue(config, NEXT_ISSUE, log=lambda line: None, retry=FAST)
    assert report.sent == ["cy@example.org"]  # the next issue skips those who left
    assert [address for address, _ in recorder.messages] == ["cy@example.org"]


def test_a_used_link_and_a_post_without_the_one_click_body_say_what_is_true(
        site: Path, tmp_path: Path) -> None:
    """The unsubscribe link of an older issue, followed after leaving, says the reader is
    unsubscribed instead of asking again; a POST of a good link without RFC 8058's body
    changes nothing and asks with the button, instead of calling the link invalid; the body
    followed by a line break is RFC 8058's still."""
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = configured(site, tmp_path, port)
        add_people(config, tmp_path, ["ada@example.org,,"])
        assert send_issue(config, ISSUE, log=lambda line: None, retry=FAST).sent
        path = f"/ai/unsubscribe?token={token_of(parse(recorder.messages[0][1]))}"
    with serving(config) as http_port:
        client = Client(http_port)
        for body in (b"", b"List-Unsubscribe=Yes", b"unsubscribe=1"):
            status, _, page = client.one_click(path, body=body)
            assert status == 400 and b"not valid" not in page, body
            assert b'method="post"' in page and b'value="One-Click"' in page, body
        assert active(tmp_path) == ["ada@example.org"]
        # RFC 8058's body as some senders write it, with a line break after it
        assert client.one_click(path, body=b"List-Unsubscribe=One-Click\r\n")[0] == 200
        assert active(tmp_path) == []
        status, _, page = client.get(path)
        assert status == 200 and b"You are unsubscribed" in page
        assert b"<form" not in page and "a…@example.org".encode() in page


def active(folder: Path) -> list[str]:
    result = run(folder, "subscribers", "list", "--json")
    assert result.exit_code == 0, result.output
    return [s["email"] for s in json.loads(result.output) if s["status"] == "active"]


def test_serve_refuses_to_start_without_the_secret(site: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    configured(site, tmp_path)
    monkeypatch.delenv("NEWSLETTER_SECRET")
    result = run(tmp_path, "serve", "--port", "0")
    assert result.exit_code == 1 and "NEWSLETTER_SECRET is not set" in result.output
