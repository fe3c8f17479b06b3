"""``newsletter serve`` over real HTTP: the validators feed readers poll with (ETag and
If-None-Match first, If-Modified-Since else), HEAD without a body on the wire, and the files
it refuses though they exist (a topic not configured, an issue no longer published, a FIFO
in place of a feed), and a site path outside ASCII."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import run, write_article, write_config
from newsletter.core.config import load_config
from sending_support import TOPICS
from web_support import Client, serving

pytestmark = pytest.mark.usefixtures("secret")


@pytest.fixture
def output(site: Path, tmp_path: Path) -> Path:
    """A copy of the shared site's output folder, for this test to change."""
    copy = tmp_path / "issues"
    shutil.copytree(site / "issues", copy, symlinks=True)
    return copy


@pytest.fixture
def client(site: Path, output: Path, tmp_path: Path) -> Iterator[Client]:
    config = load_config(write_config(tmp_path, topics=TOPICS, corpus=str(site / "articles"),
                                      output=str(output), state_dir=str(tmp_path / "state")))
    with serving(config) as port:
        yield Client(port)


def test_if_none_match_in_the_forms_clients_send(client: Client) -> None:
    status, headers, _ = client.get("/ai/feed.xml")
    etag, modified = headers["ETag"], headers["Last-Modified"]
    assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', etag)  # a quoted strong tag
    assert headers["Cache-Control"] == "no-cache"  # kept, but asked about each time
    for sent in (etag, f"W/{etag}", f'"other",{etag}', f'"other" , {etag}', "*"):
        assert client.get("/ai/feed.xml", If_None_Match=sent)[0] == 304, sent
    # If-None-Match decides when sent, even with an If-Modified-Since that matches
    for sent in ('"other"', ""):
        assert client.get("/ai/feed.xml", If_None_Match=sent,
                          If_Modified_Since=modified)[0] == 200, sent
    assert client.get("/ai/feed.xml", If_Modified_Since="yesterday")[0] == 200


def test_a_file_rewritten_with_the_same_size_gets_a_new_etag(client: Client,
                                                             output: Path) -> None:
    etag = client.get("/ai/feed.xml")[1]["ETag"]
    feed = output / "feed.xml"
    later = feed.stat().st_mtime_ns + 3_000_000_000
    os.utime(feed, ns=(later, later))  # a rebuild writes the same bytes again
    status, headers, body = client.get("/ai/feed.xml", If_None_Match=etag)
    assert status == 200 and body == feed.read_bytes()
    assert headers["ETag"] != etag


def _head(client: Client, path: str) -> tuple[bytes, bytes]:
    with socket.create_connection(("127.0.0.1", client.port), timeout=10) as connection:
        connection.sendall(f"HEAD {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    return head, rest


def test_head_sends_no_body_on_the_wire(client: Client, output: Path) -> None:
    head, rest = _head(client, "/ai/feed.xml")
    assert head.startswith(b"HTTP/1.0 200")
    size = (output / "feed.xml").stat().st_size
    assert f"Content-Length: {size}".encode() in head
    assert rest == b""
    head, rest = _head(client, "/ai/unsubscribe?token=not-a-token")  # a page, not a file
    assert head.startswith(b"HTTP/1.0 400") and b"Content-Length: " in head
    assert rest == b""


def test_a_topic_feed_on_disk_but_not_configured_is_not_served(client: Client,
                                                               output: Path) -> None:
    shutil.copy(output / "topics" / "ai.xml", output / "topics" / "dropped.xml")
    assert client.get("/ai/topics/ai.xml")[0] == 200
    assert client.get("/ai/topics/dropped.xml")[0] == 404


def test_an_issue_made_a_draft_again_or_with_an_unreadable_record_is_not_served(
        client: Client, output: Path) -> None:
    record = output / "2021-02-22" / "issue.json"
    assert client.get("/ai/2021-02-22/")[0] == 200
    data = json.loads(record.read_text("utf-8"))
    data["status"] = "draft"
    record.write_text(json.dumps(data, indent=4), encoding="utf-8")
    assert client.get("/ai/2021-02-22/")[0] == 404
    assert client.get("/ai/2021-02-22")[0] == 404
    record.write_text('["published"]', encoding="utf-8")
    assert client.get("/ai/2021-02-22/email.html")[0] == 404


def test_a_fifo_in_place_of_a_feed_is_not_read(client: Client, output: Path) -> None:
    """Reading a FIFO would wait for a writer that never comes: only regular files."""
    (output / "feed.json").unlink()
    os.mkfifo(output / "feed.json")
    assert client.get("/ai/feed.json")[0] == 404


def test_a_site_path_outside_ascii_is_served(tmp_path: Path) -> None:
    """site_url keeps its path percent-encoded (``/café/`` is ``/caf%C3%A9/``), as every
    link carries it; a request's path arrives decoded: the site is served there all the same,
    and the redirects and the page's links use the encoded form."""
    write_config(tmp_path, site_url="https://news.example.org/café news/")
    write_article(tmp_path / "articles", "one")
    assert run(tmp_path, "build", "--date", "2021-02-22", "--publish").exit_code == 0
    config = load_config(tmp_path / "newsletter.yaml")
    assert config.site_url == "https://news.example.org/caf%C3%A9%20news/"
    with serving(config) as port:
        client = Client(port)
        for path, file in [("/caf%C3%A9%20news/", "index.html"),
                           ("/caf%c3%a9%20news/feed.xml", "feed.xml"),
                           ("/caf%C3%A9%20news/2021-02-22/", "2021-02-22/index.html")]:
            status, _, body = client.get(path)
            assert status == 200, path
            assert body == (tmp_path / "issues" / file).read_bytes()
        for path, location in [("/caf%C3%A9%20news", "/caf%C3%A9%20news/"),
                               ("/caf%C3%A9%20news/2021-02-22", "/caf%C3%A9%20news/2021-02-22/")]:
            status, headers, _ = client.get(path)
            assert (status, headers["Location"]) == (301, location)
        status, _, page = client.get("/caf%C3%A9%20news/unsubscribe?token=bad")
        assert status == 400 and b'href="/caf%C3%A9%20news/"' in page
        assert client.get("/caf%C3%A9/")[0] == 404
