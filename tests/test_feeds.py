"""The feeds: RSS 2.0, Atom 1.0, JSON Feed 1.1 and one RSS feed per topic, parsed the way
feed readers parse them (feedparser, lxml) rather than compared as strings."""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import replace
from email.utils import format_datetime
from html.parser import HTMLParser

import feedparser
import pytest
from lxml import etree

from conftest import make_article, make_issue
from newsletter.core.config import Config, TopicConfig
from newsletter.core.models import Coverage, Image, Issue, PlacedArticle, Provider
from newsletter.core.timing import issue_timestamp
from newsletter.rendering.feeds import render_feeds
from newsletter.rendering.mail import preheader as issue_summary
from newsletter.rendering.pages import topic_slug

SITE = "https://news.example.org/ai/"
DATES = (dt.date(2021, 2, 15), dt.date(2021, 2, 22), dt.date(2021, 3, 1))
NS = {"atom": "http://www.w3.org/2005/Atom",
      "content": "http://purl.org/rss/1.0/modules/content/"}
HOSTILE = '<script>alert("x")</script> <img src=x onerror=alert(1)> ]]> {{ 7*7 }} \x0b\x00end'


@pytest.fixture(scope="module")
def feeds(published: list[Issue], config: Config) -> dict[str, bytes]:
    return render_feeds(published, config)


def parse(data: bytes) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def issue_url(issue: Issue) -> str:
    return f"{SITE}{issue.slug}/"


def newest_first(issues: list[Issue]) -> list[Issue]:
    return sorted(issues, key=lambda issue: issue.date, reverse=True)


class Markup(HTMLParser):
    """What an HTML fragment really contains once a browser parses it."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    @property
    def all_text(self) -> str:
        return "".join(self.text)


def assert_inert(fragment: str) -> Markup:
    """No live markup: no script element, no event handler, no javascript: link."""
    markup = Markup(fragment)
    assert not markup.named("script")
    for tag, attrs in markup.tags:
        assert not [name for name in attrs if name.lower().startswith("on")], (tag, attrs)
        for name in ("href", "src"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith("javascript:"), (tag, attrs)
    return markup


# --- building issues by hand ----------------------------------------------------------------

# --- the issue feeds ------------------------------------------------------------------------

def test_every_feed_is_there_and_parses_cleanly(feeds: dict[str, bytes], config: Config
                                                ) -> None:
    topic_files = {f"topics/{topic_slug(t.name)}.xml" for t in config.topics}
    assert set(feeds) == {"feed.xml", "atom.xml", "feed.json"} | topic_files
    assert "topics/self-driving-cars.xml" in feeds
    assert parse(feeds["feed.xml"]).version == "rss20"
    assert parse(feeds["atom.xml"]).version == "atom10"
    for name in topic_files:
        assert parse(feeds[name]).version == "rss20", name
        etree.fromstring(feeds[name])
    etree.fromstring(feeds["feed.xml"])
    etree.fromstring(feeds["atom.xml"])


def test_one_entry_per_issue_newest_first_with_the_issue_url_as_id(
        published: list[Issue], config: Config) -> None:
    shuffled = published[:]
    random.Random(7).shuffle(shuffled)
    feeds = render_feeds(shuffled, config)
    expected = [issue_url(issue) for issue in newest_first(published)]
    for name in ("feed.xml", "atom.xml"):
        entries = parse(feeds[name]).entries
        assert [e.id for e in entries] == expected, name
        assert [e.link for e in entries] == expected, name
        assert entries[0].title == "AI Weekly: March 1, 2021"
        assert entries[1].title == "AI Weekly: February 22, 2021"
    guids = etree.fromstring(feeds["feed.xml"]).findall("channel/item/guid")
    assert [g.text for g in guids] == expected
    assert {g.get("isPermaLink") for g in guids} == {"true"}


def test_ids_are_stable_across_renders(published: list[Issue], config: Config) -> None:
    first = parse(render_feeds(published, config)["atom.xml"]).entries
    again = parse(render_feeds(list(reversed(published)), config)["atom.xml"]).entries
    assert [e.id for e in first] == [e.id for e in again]


def test_at_most_max_entries_the_newest(published: list[Issue], config: Config) -> None:
    feeds = render_feeds(published, replace(config, feed_max_entries=2))
    newest = [issue_url(issue) for issue in newest_first(published)[:2]]
    assert [e.id for e in parse(feeds["feed.xml"]).entries] == newest
    assert [e.id for e in parse(feeds["atom.xml"]).entries] == newest
    assert [item["id"] for item in json.loads(feeds["feed.json"])["items"]] == newest
    # a topic's feed looks at the newest two issues that feature the topic: the articles of
    # an older one are gone
    checked = 0
    for topic in config.topics:
        featuring = [issue for issue in newest_first(published)
                     if any(section.topic == topic.name for section in issue.sections)]
        ids = {e.id for e in parse(feeds[f"topics/{topic_slug(topic.name)}.xml"]).entries}
        def urls(issues: list[Issue], name: str = topic.name) -> set[str]:
            return {p.article.canonical_url for issue in issues for section in issue.sections
                    if section.topic == name for p in section.articles}

        kept, gone = urls(featuring[:2]), urls(featuring[2:])
        assert ids == kept, topic.name
        assert not ids & (gone - kept), topic.name
        checked += bool(gone - kept)
    assert checked, "no topic featured in more than two issues: nothing was left out"


def test_dates_are_the_issue_timestamps_in_the_configured_timezone(
        feeds: dict[str, bytes]) -> None:
    """The sample schedule fires Mondays at 07:00 New York time: that is each issue's time."""
    rss = etree.fromstring(feeds["feed.xml"])
    items = rss.findall("channel/item")
    assert items[1].findtext("pubDate") == "Mon, 22 Feb 2021 07:00:00 -0500"
    assert [i.findtext("pubDate") for i in items] == [
        "Mon, 01 Mar 2021 07:00:00 -0500", "Mon, 22 Feb 2021 07:00:00 -0500",
        "Mon, 15 Feb 2021 07:00:00 -0500"]
    assert rss.findtext("channel/lastBuildDate") == "Mon, 01 Mar 2021 07:00:00 -0500"

    atom = etree.fromstring(feeds["atom.xml"])
    assert atom.findtext("atom:updated", namespaces=NS) == "2021-03-01T07:00:00-05:00"
    entry = atom.findall("atom:entry", NS)[1]
    assert entry.findtext("atom:updated", namespaces=NS) == "2021-02-22T07:00:00-05:00"
    assert entry.findtext("atom:published", namespaces=NS) == "2021-02-22T07:00:00-05:00"

    items = json.loads(feeds["feed.json"])["items"]
    assert items[1]["date_published"] == "2021-02-22T07:00:00-05:00"

    parsed = parse(feeds["atom.xml"])
    assert parsed.feed.updated_parsed[:4] == (2021, 3, 1, 12)  # 07:00 in New York is 12:00 UTC


def test_no_date_comes_from_the_clock(feeds: dict[str, bytes]) -> None:
    """Every date in the issue feeds is one of the issues' timestamps."""
    allowed_rss = {"Mon, 01 Mar 2021 07:00:00 -0500", "Mon, 22 Feb 2021 07:00:00 -0500",
                   "Mon, 15 Feb 2021 07:00:00 -0500"}
    rss = etree.fromstring(feeds["feed.xml"])
    found = {e.text for e in rss.iter("pubDate", "lastBuildDate")}
    assert found == allowed_rss
    atom = etree.fromstring(feeds["atom.xml"])
    found = {e.text for e in atom.iter(f"{{{NS['atom']}}}updated", f"{{{NS['atom']}}}published")}
    assert found == {"2021-03-01T07:00:00-05:00", "2021-02-22T07:00:00-05:00",
                     "2021-02-15T07:00:00-05:00"}


def test_self_and_alternate_links(feeds: dict[str, bytes]) -> None:
    rss = etree.fromstring(feeds["feed.xml"])
    self_link = rss.find("channel/atom:link[@rel='self']", NS)
    assert self_link is not None and self_link.get("href") == SITE + "feed.xml"
    assert rss.findtext("channel/link") == SITE  # the alternate link, not the self link
    atom = etree.fromstring(feeds["atom.xml"])
    links = {link.get("rel"): link.get("href") for link in atom.findall("atom:link", NS)}
    assert links == {"self": SITE + "atom.xml", "alternate": SITE}
    parsed = parse(feeds["atom.xml"])
    assert parsed.feed.link == SITE


def test_feed_metadata(feeds: dict[str, bytes], config: Config) -> None:
    rss = etree.fromstring(feeds["feed.xml"])
    assert rss.findtext("channel/title") == "AI Weekly"
    assert rss.findtext("channel/language") == "en"
    assert rss.findtext("channel/generator") == "newsletter"
    atom = etree.fromstring(feeds["atom.xml"])
    assert atom.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    assert atom.findtext("atom:generator", namespaces=NS) == "newsletter"
    assert b"CDATA" not in feeds["feed.xml"] + feeds["atom.xml"]


def test_summary_is_the_first_headlines(feeds: dict[str, bytes], published: list[Issue]
                                        ) -> None:
    newest = newest_first(published)[0]
    summary = issue_summary(newest)
    assert summary.startswith(newest.placed[0].article.title + " · ")
    assert len(summary) <= 141
    rss = parse(feeds["feed.xml"])
    assert rss.entries[0].summary == summary
    atom = etree.fromstring(feeds["atom.xml"])
    element = atom.find("atom:entry/atom:summary", NS)
    assert element is not None and element.get("type") == "html"


def test_content_is_clean_semantic_html(feeds: dict[str, bytes], published: list[Issue]
                                        ) -> None:
    issue = newest_first(published)[0]
    rss = etree.fromstring(feeds["feed.xml"])
    encoded = rss.find("channel/item/content:encoded", NS)
    atom = etree.fromstring(feeds["atom.xml"])
    content = atom.find("atom:entry/atom:content", NS)
    assert content is not None and content.get("type") == "html"
    assert encoded is not None and encoded.text == content.text
    markup = assert_inert(encoded.text)
    assert not markup.named("table")
    assert not [attrs for _, attrs in markup.tags if "style" in attrs]
    assert [t for t, _ in markup.tags if t == "h2"] == ["h2"] * len(issue.sections)
    links = [attrs["href"] for attrs in markup.named("a")]
    for placed in issue.placed:
        assert placed.article.url in links
        for item in placed.related:
            assert item.url in links
    assert links[-1] == issue_url(issue)
    assert "Also covered by" in markup.all_text
    assert markup.all_text.count(issue.sections[0].topic) >= 1
    # the summary and content of feedparser agree with what we wrote
    parsed = parse(feeds["feed.xml"]).entries[0]
    assert "Also covered by" in parsed.content[0].value


def test_json_feed(feeds: dict[str, bytes]) -> None:
    data = feeds["feed.json"]
    assert data.endswith(b"}\n")
    feed = json.loads(data)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] == "AI Weekly"
    assert feed["home_page_url"] == SITE
    assert feed["feed_url"] == SITE + "feed.json"
    assert feed["language"] == "en"
    rss_ids = [e.id for e in parse(feeds["feed.xml"]).entries]
    assert [item["id"] for item in feed["items"]] == rss_ids
    assert [item["url"] for item in feed["items"]] == rss_ids
    rss = etree.fromstring(feeds["feed.xml"])
    for item, element in zip(feed["items"], rss.findall("channel/item"), strict=True):
        assert item["title"] == element.findtext("title")
        assert item["content_html"] == element.findtext("content:encoded", namespaces=NS)
        assert item["summary"] and "<" not in item["summary"]
        dt.datetime.fromisoformat(item["date_published"])
    assert "Ø" not in data.decode("utf-8")  # sanity: UTF-8 text, not \u escapes
    assert "\\u" not in data.decode("utf-8")


def test_no_published_issue_gives_valid_empty_feeds(config: Config) -> None:
    feeds = render_feeds([], config)
    assert set(feeds) == {"feed.xml", "atom.xml", "feed.json"}  # no topic featured yet
    for name, data in feeds.items():
        if name.endswith(".xml"):
            assert parse(data).entries == [], name
    rss = etree.fromstring(feeds["feed.xml"])
    assert rss.findtext("channel/lastBuildDate") == "Thu, 01 Jan 1970 00:00:00 -0500"
    atom = etree.fromstring(feeds["atom.xml"])
    assert atom.findtext("atom:updated", namespaces=NS) == "1970-01-01T00:00:00-05:00"
    assert json.loads(feeds["feed.json"])["items"] == []
    assert render_feeds([], config) == feeds


def test_renders_are_byte_identical(published: list[Issue], config: Config) -> None:
    first = render_feeds(published, config)
    second = render_feeds(list(reversed(published)), config)
    assert first == second


# --- topic feeds ----------------------------------------------------------------------------

def test_topic_feed_lists_the_articles_featured_under_the_topic(
        feeds: dict[str, bytes], published: list[Issue]) -> None:
    expected = [p for issue in newest_first(published) for s in issue.sections
                if s.topic == "Robotics" for p in s.articles]
    assert expected
    data = feeds["topics/robotics.xml"]
    parsed = parse(data)
    assert parsed.feed.title == "AI Weekly: Robotics"
    assert [e.link for e in parsed.entries] == [p.article.url for p in expected]
    assert [e.title for e in parsed.entries] == [p.article.title for p in expected]
    items = etree.fromstring(data).findall("channel/item")
    assert [i.findtext("guid") for i in items] == [p.article.canonical_url for p in expected]
    assert {i.find("guid").get("isPermaLink") for i in items} == {"false"}
    assert [i.findtext("pubDate") for i in items] == [
        format_datetime(p.article.published) for p in expected]
    self_link = etree.fromstring(data).find("channel/atom:link[@rel='self']", NS)
    assert self_link is not None and self_link.get("href") == SITE + "topics/robotics.xml"
    # the summary: the card below its title (outlet and date, excerpt, related coverage)
    with_related = next(i for i, p in enumerate(expected) if p.related)
    placed = expected[with_related]
    description = Markup(items[with_related].findtext("description"))
    item = placed.related[0]
    text = " ".join(description.all_text.split())
    assert text.startswith(f"{placed.article.provider.name} · ")
    assert f"Also covered by: {item.provider}: {item.title}" in text
    assert placed.article.excerpt[:40] in description.all_text
    assert item.url in [attrs["href"] for attrs in description.named("a")]


def test_topic_feed_entry_counts(feeds: dict[str, bytes], published: list[Issue],
                                 config: Config) -> None:
    for topic in config.topics:
        count = len({p.article.canonical_url for issue in published for s in issue.sections
                     if s.topic == topic.name for p in s.articles})
        entries = parse(feeds[f"topics/{topic_slug(topic.name)}.xml"]).entries
        assert len(entries) == count, topic.name


def test_topic_feed_dedupes_and_skips_articles_without_a_usable_url(config: Config) -> None:
    repeated = make_article("repeat", title="First time")
    again = make_article("repeat", title="Second time",
                         url="https://www.outlet.example/repeat/?utm_source=x")
    unusable = make_article("bad", url="javascript:alert(1)", canonical_url="bad")
    older = make_issue(config, dt.date(2021, 2, 15), {"AI": [PlacedArticle(repeated)]})
    newer = make_issue(config, dt.date(2021, 2, 22),
                       {"AI": [PlacedArticle(unusable), PlacedArticle(again)]})
    feeds = render_feeds([older, newer], config)
    entries = parse(feeds["topics/ai.xml"]).entries
    assert [e.title for e in entries] == ["Second time"]
    assert entries[0].id == "outlet.example/repeat"


def test_an_issue_without_the_topic_leaves_its_feed_as_it_was(config: Config) -> None:
    """A topic's feed holds the newest feeds.max_entries issues that feature the topic, and is
    dated by them: an issue without the topic leaves the feed's bytes (and so its ETag and
    Last-Modified) as they were, while the issue feeds move on."""
    config = replace(config, feed_max_entries=2)
    robotics = [make_issue(config, dt.date(2021, 1, 4) + dt.timedelta(weeks=week),
                           {"Robotics": [PlacedArticle(make_article(f"r{week}"))]})
                for week in range(3)]
    ai_only = [make_issue(config, dt.date(2021, 2, 1) + dt.timedelta(weeks=week),
                          {"AI": [PlacedArticle(make_article(f"a{week}"))]})
               for week in range(3)]
    before = render_feeds(robotics, config)
    after = render_feeds(robotics + ai_only, config)
    assert after["topics/robotics.xml"] == before["topics/robotics.xml"]
    assert [e.id for e in parse(after["topics/robotics.xml"]).entries] == [
        "outlet.example/r2", "outlet.example/r1"]
    assert after["feed.xml"] != before["feed.xml"]
    assert [e.title for e in parse(after["topics/ai.xml"]).entries] == ["Story a2", "Story a1"]
    lastbuild = etree.fromstring(after["topics/robotics.xml"]).findtext("channel/lastBuildDate")
    assert lastbuild == format_datetime(issue_timestamp(config, dt.date(2021, 1, 18)))


def test_topic_slugs() -> None:
    assert topic_slug("Self-Driving Cars") == "self-driving-cars"
    assert topic_slug("  AI Policy ") == "ai-policy"
    assert topic_slug("Café & Crème") == "cafe-creme"
    assert topic_slug("C++") == "c"
    assert topic_slug("機械学習") == "topic"
    assert topic_slug("") == "topic"


def test_topics_with_the_same_slug_get_distinct_feeds(config: Config) -> None:
    topics = (TopicConfig("C++"), TopicConfig("C"), TopicConfig("機械"), TopicConfig("学習"))
    config = replace(config, topics=topics)
    feeds = render_feeds([make_issue(config, dt.date(2021, 2, 22), {
        topic.name: [PlacedArticle(make_article(f"t{n}"))] for n, topic in enumerate(topics)})],
        config)
    assert {name for name in feeds if name.startswith("topics/")} == {
        "topics/c.xml", "topics/c-2.xml", "topics/topic.xml", "topics/topic-2.xml"}
    assert parse(feeds["topics/c-2.xml"]).feed.title == "AI Weekly: C"


# --- hostile text -----------------------------------------------------------------------------

def hostile_issue(config: Config) -> Issue:
    related = (
        Coverage(title=HOSTILE, url="javascript:alert(1)", provider=HOSTILE,
                 domain="evil.example", quality=1, published=None),
        Coverage(title="Quoted", url='https://evil.example/q"onmouseover="alert(1)',
                 provider="Evil", domain="evil.example",
                 quality=1, published=None),
    )
    articles = [
        PlacedArticle(make_article(
            "hostile", title=HOSTILE, excerpt=HOSTILE, type="video",
            url='https://evil.example/a"onmouseover="alert(1)',
            provider=Provider(HOSTILE, "evil.example"),
            images=(Image("javascript:alert(1)"),)), related),
        PlacedArticle(make_article("js", title="JS link", url="javascript:alert(1)")),
    ]
    return make_issue(config, dt.date(2021, 2, 22), {HOSTILE: articles, "AI": articles[:1]},
                      intro=(HOSTILE,))


def test_hostile_text_stays_text(config: Config) -> None:
    config = replace(config, topics=config.topics + (TopicConfig(HOSTILE),))
    feeds = render_feeds([hostile_issue(config)], config)
    for name, data in feeds.items():
        assert b"\x0b" not in data and b"\x00" not in data, name
        if name.endswith(".xml"):
            etree.fromstring(data)  # well-formed XML
            parse(data)

    rss = etree.fromstring(feeds["feed.xml"])
    atom = etree.fromstring(feeds["atom.xml"])
    fragments = [
        rss.findtext("channel/item/content:encoded", namespaces=NS),
        rss.findtext("channel/item/description"),
        atom.findtext("atom:entry/atom:content", namespaces=NS),
        atom.findtext("atom:entry/atom:summary", namespaces=NS),
        json.loads(feeds["feed.json"])["items"][0]["content_html"],
    ]
    for name, data in feeds.items():
        if name.startswith("topics/"):
            fragments += [i.findtext("description") or ""
                          for i in etree.fromstring(data).findall("channel/item")]
    for fragment in fragments:
        assert fragment is not None
        assert_inert(fragment)
    content = Markup(fragments[0])
    assert "{{ 7*7 }}" in content.all_text
    assert "49" not in content.all_text
    assert '<script>alert("x")</script>' in content.all_text  # shown, not run
    hrefs = [attrs["href"] for attrs in content.named("a")]
    assert "https://evil.example/a%22onmouseover=%22alert(1)" in hrefs  # normalized
    assert "JS link" in content.all_text and "javascript:alert(1)" not in hrefs

    entry = parse(feeds["feed.xml"]).entries[0]
    assert "{{ 7*7 }}" in entry.summary and "<script" not in entry.summary
    assert json.loads(feeds["feed.json"])["items"][0]["summary"].startswith("<script>")

    topic = etree.fromstring(feeds[f"topics/{topic_slug(HOSTILE)}.xml"])
    items = topic.findall("channel/item")
    assert [i.findtext("link") for i in items] == [
        "https://evil.example/a%22onmouseover=%22alert(1)"]  # javascript: article skipped
    assert "{{ 7*7 }}" in items[0].findtext("title")
