"""One article card in every rendering: the email (HTML and text), the web issue page, the
feeds' content and the topic feeds' summaries show the same outlet (the provider's name, else
the domain), the same separators and the same order."""

from __future__ import annotations

import datetime as dt
import html
import json
import re

import pytest
from lxml import etree

from conftest import make_article, make_issue
from newsletter.core.config import Config
from newsletter.core.models import Coverage, Image, Issue, PlacedArticle, Provider
from newsletter.rendering.cards import card, image_box, outlet
from newsletter.rendering.feeds import render_feeds
from newsletter.rendering.mail import render_email
from newsletter.rendering.pages import render_issue_page

DATE = dt.date(2021, 2, 22)


def coverage(title: str, url: str, provider: str, domain: str) -> Coverage:
    return Coverage(title=title, url=url, provider=provider, domain=domain,
                    quality=5, published=None)


@pytest.fixture(scope="module")
def issue(config: Config) -> Issue:
    nameless = make_article(
        "nameless", title="Nameless outlet's story", type="video",
        provider=Provider("", "nameless.example"), domain="nameless.example",
        url="https://nameless.example/story", excerpt="Watch it.",
        published=dt.datetime(2021, 2, 17, 3, 0, tzinfo=dt.UTC),  # the 16th in New York
        images=(Image("https://img.example/a.jpg", 1200, 600),))
    related = (coverage("Linked take", "https://named.example/take", "Named Outlet",
                        "named.example"),
               coverage("Unlinked take", "ftp://bare.example/take", "", "bare.example"))
    return make_issue(config, DATE, {"AI": [PlacedArticle(nameless, related)]})


def plain(markup: str) -> str:
    """The text a reader sees, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def texts(issue: Issue, config: Config) -> dict[str, str]:
    email = render_email(issue, config)
    feeds = render_feeds([issue], config)
    content = json.loads(feeds["feed.json"])["items"][0]["content_html"]
    topic = etree.fromstring(feeds["topics/ai.xml"]).findtext("channel/item/description")
    page = render_issue_page(issue, config, previous=None, next=None).decode("utf-8")
    return {
        "email": plain(email.html),
        "text": " ".join(re.sub(r"(?m)^- ", "", email.text).split()),  # no list marks
        "web page": plain(page),
        "feed content": plain(content),
        "topic feed": plain(topic),
    }


def test_every_rendering_shows_the_same_card(issue: Issue, config: Config) -> None:
    for name, text in texts(issue, config).items():
        assert "nameless.example · February 16, 2021" in text, name
        assert "Also covered by: Named Outlet: Linked take bare.example: Unlinked take" in (
            text.replace(" https://named.example/take", "")), name
        assert "Watch it." in text, name
        assert text.index("nameless.example ·") < text.index("Watch it.") < text.index(
            "Also covered by"), name


def test_the_card_decides_what_is_shown(issue: Issue, config: Config) -> None:
    shown = card(issue.placed[0], config.timezone, 600)
    assert shown.outlet == "nameless.example" and shown.video
    assert shown.date == "February 16, 2021" and shown.published.utcoffset() == dt.timedelta(
        hours=-5)
    assert [(r.outlet, r.url) for r in shown.related] == [
        ("Named Outlet", "https://named.example/take"), ("bare.example", "")]
    assert shown.image is not None and (shown.image.width, shown.image.height) == (600, 300)
    assert outlet("Name", "domain.example") == "Name" and outlet("", "d.example") == "d.example"


@pytest.mark.parametrize(("image", "expected"), [
    (Image("https://i.example/a.jpg", 1000, 333), (552, 184)),
    (Image("https://i.example/a.jpg", 300, 200), (300, 200)),
    (Image("https://i.example/a.jpg"), (552, None)),
    (Image("https://i.example/a.jpg", 800.0, float("nan")), (552, None)),
    (Image("http://i.example/a.jpg", 300, 200), None),
    (None, None),
])
def test_image_box(image: Image | None, expected: tuple[int, int | None] | None) -> None:
    box = image_box(image, 552)
    assert (None if box is None else (box.width, box.height)) == expected
