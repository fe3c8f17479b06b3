"""A hostile article set goes through the whole build and nothing dangerous comes out."""

from __future__ import annotations

import html
import json
from html.parser import HTMLParser
from pathlib import Path

import feedparser
from lxml import etree

from conftest import run, tree, write_article, write_config
from hostile_articles import WHEN, hostile_site


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def assert_inert_html(markup: str, where: str) -> None:
    parser = _Collector()
    parser.feed(markup)
    for tag, attrs in parser.tags:
        assert tag != "script", where
        assert not [a for a in attrs if a.startswith("on")], (where, tag, attrs)
        for name in ("href", "src"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("javascript:", "data:", "vbscript:")), (where, value)


def test_hostile_articles_build_and_nothing_dangerous_comes_out(tmp_path: Path) -> None:
    output = hostile_site(tmp_path)
    files = tree(output)
    assert "2021-02-22/email.html" in files
    literal = set()
    for name, data in files.items():
        text = data.decode("utf-8")
        if name.endswith((".html", ".txt", ".mjml", ".json", ".xml")) and "Title" in text:
            # Evaluated, the template syntax would have become "49": it must stay literal.
            assert "{{ 7*7 }}" in html.unescape(html.unescape(text)), name
            literal.add(name)
    # the pages and feeds that show the hostile title were all looked at
    assert {"index.html", "2021-02-22/index.html", "2021-02-22/email.html",
            "feed.xml", "atom.xml", "feed.json"} <= literal, sorted(literal)
    for name, data in files.items():
        text = data.decode("utf-8")
        assert "\x0b" not in text and "\x01" not in text and "\x07" not in text, name
        if name.endswith(".html") or name.endswith(".mjml"):
            assert_inert_html(text, name)
        if name.endswith(".xml"):
            etree.fromstring(data)  # well-formed
            feed = feedparser.parse(data)
            assert not feed.bozo, (name, feed.bozo_exception)
            for entry in feed.entries:
                for content in entry.get("content", []) + [{"value": entry.get("summary", "")}]:
                    assert_inert_html(content["value"], name)
                assert not entry.get("link", "").lower().startswith(("javascript", "data"))
        if name.endswith(".json"):
            json.loads(text)
    email = files["2021-02-22/email.html"].decode()
    assert "{{ 7*7 }}" in email.replace("&#123;", "{").replace("&#125;", "}")
    assert "&lt;script&gt;" in email
    text = files["2021-02-22/email.txt"].decode()
    assert "{{ 7*7 }}" in text and "javascript:" not in text and "data:" not in text


BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def test_bidi_controls_in_article_text_reorder_nothing(tmp_path: Path) -> None:
    """A right-to-left override left open in a title or an outlet's name would show the
    rest of the line backwards (the preheader's other titles, a card's date): no output
    carries one, on the web, in the email or in a feed."""
    write_config(tmp_path)
    write_article(tmp_path / "articles", "override", quality=90, publishedDateTime=WHEN,
                  title="Chips \u202eare back", excerpt="Fabs \u2067open\u2069 again \u202b",
                  provider={"name": "Wire \u202dOne", "domain": "wire.example"},
                  related=[{"title": "Also \u2066here", "webUrl": "https://r.example/a",
                            "provider": {"name": "Rel \u202aOut", "domain": "r.example"}}])
    write_article(tmp_path / "articles", "second", quality=80, publishedDateTime=WHEN,
                  title="Robots \u2068too")
    result = run(tmp_path, "build", "--date", "2021-02-22", "--publish")
    assert result.exit_code == 0, result.output
    files = tree(tmp_path / "issues")
    for name, data in files.items():
        assert not set(data.decode("utf-8")) & set(BIDI), name
    text = files["2021-02-22/email.txt"].decode()
    assert "Chips are back\nWire One · February 17, 2021\n" in text
    assert "Fabs open again" in text and "Rel Out: Also here" in text
    page = files["2021-02-22/index.html"].decode()
    assert "Wire One · <time" in page and ">Chips are back</a>" in page
    entry = feedparser.parse(files["feed.xml"]).entries[0]
    assert entry.summary == "Chips are back · Robots too"
    topic = feedparser.parse(files["topics/ai.xml"]).entries
    assert [e.title for e in topic] == ["Chips are back", "Robots too"]
    assert "Wire One · February 17, 2021" in topic[0].summary
    items = json.loads(files["feed.json"])["items"]
    assert items[0]["summary"] == "Chips are back · Robots too"
