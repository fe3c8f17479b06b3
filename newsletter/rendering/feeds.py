"""The feeds of the published issues: RSS 2.0, Atom 1.0, JSON Feed 1.1, and an RSS feed per topic.

Pure: no clock, no I/O. Every date is an issue's timestamp (``timing.issue_time``), the time
of its last correction as ``issue.json`` stores it, or an article's own publication instant (in
UTC), never the wall clock, so the same issues and config always give the same bytes. Text
is only ever data: summaries and content are HTML escaped once (never CDATA), and only http(s)
URLs become links.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass

from feedgen.feed import FeedGenerator

from ..core.config import Config, TopicConfig
from ..core.models import Issue, PlacedArticle
from ..core.text import clean_text, topic_key
from ..core.timing import issue_time, issue_timestamp
from .cards import card_maker
from .mail import issue_web_url, preheader
from .pages import IMAGE_MAX_WIDTH, issue_heading, newest_first, topic_feeds
from .templating import environment_for, http_url

GENERATOR = "newsletter"  # no version: upgrading the tool must not change the feeds' bytes
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
# An empty feed still needs an updated date (Atom requires one and feedgen always writes
# RSS's lastBuildDate): a fixed one, never the wall clock.
EMPTY_FEED_DATE = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class _IssueEntry:
    """What every issue feed says about one issue, computed once."""

    id: str  # the issue's web URL: stable, and a permalink
    url: str
    title: str
    summary: str  # plain text
    content_html: str
    timestamp: dt.datetime
    topics: tuple[str, ...]
    # The last correction of the published issue, if any: readers that go by modification
    # dates show an entry again only when this moves.
    corrected: dt.datetime | None = None

    @property
    def updated(self) -> dt.datetime:
        return self.corrected or self.timestamp


def _content_html(issue: Issue, config: Config) -> str:
    template = environment_for(config).get_template("feed_content.html.j2")
    return clean_text(template.render(
        issue=issue, config=config, web_url=issue_web_url(config, issue),
        card=card_maker(config.timezone, IMAGE_MAX_WIDTH, words=config.words),
    ).strip())


def _issue_entry(issue: Issue, config: Config) -> _IssueEntry:
    url = issue_web_url(config, issue)
    timestamp = issue_time(config, issue)
    # A correction made before the issue's own publication time (published by hand ahead of
    # its schedule, then corrected) must not date the entry's change before the entry.
    corrected = max(issue.updated_at, timestamp) if issue.updated_at else None
    return _IssueEntry(
        id=url, url=url,
        title=clean_text(issue_heading(issue, config.words)),
        summary=clean_text(preheader(issue, config.words)),
        content_html=_content_html(issue, config),
        timestamp=timestamp,
        topics=tuple(clean_text(section.topic) for section in issue.sections),
        corrected=corrected,
    )


def _updated(issues: Sequence[Issue], config: Config) -> dt.datetime:
    """The newest issue's timestamp, or a correction of any issue after it: the last time the
    feeds' content changed (without a correction, what it always was)."""
    if not issues:
        return issue_timestamp(config, EMPTY_FEED_DATE)
    return max([issue_time(config, issues[0]),
                *(issue.updated_at for issue in issues if issue.updated_at)])


def _generator(config: Config, *, title: str, subtitle: str, self_url: str, self_type: str,
               updated: dt.datetime) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id(config.site_url)
    fg.title(clean_text(title))
    fg.subtitle(clean_text(subtitle))
    fg.author(name=clean_text(config.title))
    fg.language(config.language)
    fg.generator(GENERATOR)
    fg.updated(updated)
    fg.link(href=self_url, rel="self", type=self_type)
    fg.link(href=config.site_url, rel="alternate", type="text/html")  # last: RSS uses it
    return fg


def _add_issue_entries(fg: FeedGenerator, entries: Sequence[_IssueEntry]) -> None:
    for item in entries:
        entry = fg.add_entry(order="append")
        entry.guid(item.id, permalink=True)
        entry.title(item.title)
        entry.link(href=item.url, rel="alternate", type="text/html")
        entry.published(item.timestamp)
        entry.updated(item.updated)
        if item.summary:  # RSS descriptions are HTML: escape the text once, tell Atom so
            entry.summary(html.escape(item.summary, quote=False), type="html")
        entry.content(item.content_html, type="html")
        for topic in item.topics:
            entry.category(term=topic)


def _issue_feed(kind: str, entries: Sequence[_IssueEntry], config: Config,
                updated: dt.datetime) -> bytes:
    rss = kind == "rss"
    fg = _generator(
        config, title=config.title,
        subtitle=config.words.say("feed_description", title=config.title),
        self_url=config.site_url + ("feed.xml" if rss else "atom.xml"),
        self_type="application/rss+xml" if rss else "application/atom+xml",
        updated=updated,
    )
    _add_issue_entries(fg, entries)
    return fg.rss_str(pretty=True) if rss else fg.atom_str(pretty=True)


def _json_feed(entries: Sequence[_IssueEntry], config: Config) -> bytes:
    feed = {
        "version": JSON_FEED_VERSION,
        "title": clean_text(config.title),
        "home_page_url": config.site_url,
        "feed_url": config.site_url + "feed.json",
        "description": clean_text(config.words.say("feed_description", title=config.title)),
        "language": config.language,
        "authors": [{"name": clean_text(config.title)}],
        "items": [
            {
                "id": item.id,
                "url": item.url,
                "title": item.title,
                "summary": item.summary,
                "content_html": item.content_html,
                "date_published": item.timestamp.isoformat(),
                **({"date_modified": item.corrected.isoformat()} if item.corrected else {}),
                "tags": list(item.topics),
            }
            for item in entries
        ],
    }
    return (json.dumps(feed, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _featuring(newest: Sequence[Issue], topic: TopicConfig, config: Config) -> list[Issue]:
    """The newest ``feeds.max_entries`` issues with a section of ``topic``: an issue without
    it leaves the topic's feed as it was (its bytes, its date), so a reader polling it is
    answered "not modified" until the topic has something new."""
    wanted = topic_key(topic.name)
    return [issue for issue in newest
            if any(topic_key(section.topic) == wanted for section in issue.sections)
            ][: config.feed_max_entries]


def _topic_articles(issues: Sequence[Issue], topic: TopicConfig) -> list[PlacedArticle]:
    """The articles featured under ``topic``, newest issue first and in section order, one
    per canonical URL, leaving out those without an http(s) URL to link to."""
    wanted = topic_key(topic.name)
    seen: set[str] = set()
    found = []
    for issue in issues:
        for section in issue.sections:
            if topic_key(section.topic) != wanted:
                continue
            for placed in section.articles:
                article = placed.article
                if not http_url(article.url) or article.canonical_url in seen:
                    continue
                seen.add(article.canonical_url)
                found.append(placed)
    return found


def _topic_feed(issues: Sequence[Issue], topic: TopicConfig, slug: str, config: Config
                ) -> bytes:
    updated = _updated(issues, config)
    fg = _generator(
        config, title=f"{config.title}: {topic.name}",
        subtitle=config.words.say("topic_feed_description", title=config.title,
                                  topic=topic.name),
        self_url=f"{config.site_url}topics/{slug}.xml", self_type="application/rss+xml",
        updated=updated,
    )
    summary = environment_for(config).get_template("feed_topic_summary.html.j2")
    card = card_maker(config.timezone, IMAGE_MAX_WIDTH, words=config.words)
    for placed in _topic_articles(issues, topic):
        article = placed.article
        entry = fg.add_entry(order="append")
        entry.guid(clean_text(article.canonical_url), permalink=False)
        entry.title(clean_text(article.title) or clean_text(article.canonical_url))
        entry.link(href=clean_text(http_url(article.url)), rel="alternate")
        # In UTC, as issue.json stores it: the article's own offset is lost once the issue
        # is read back, and a pubDate that flipped from -0500 to +0000 on the next publish
        # would rewrite every older entry.
        published = article.published.astimezone(dt.UTC)
        entry.published(published)
        entry.updated(published)
        text = clean_text(summary.render(config=config, card=card(placed)).strip())
        if text:
            entry.summary(text, type="html")
    return fg.rss_str(pretty=True)


def render_feeds(published: Sequence[Issue], config: Config) -> dict[str, bytes]:
    """The feeds of the published issues (given in any order), by path below the output
    folder: ``feed.xml``, ``atom.xml``, ``feed.json`` and ``topics/<topic_slug>.xml`` for
    every configured topic a published issue featured (:func:`topic_feeds`)."""
    newest = newest_first(published)
    issues = newest[: config.feed_max_entries]
    updated = _updated(issues, config)
    entries = [_issue_entry(issue, config) for issue in issues]
    files = {
        "feed.xml": _issue_feed("rss", entries, config, updated),
        "atom.xml": _issue_feed("atom", entries, config, updated),
        "feed.json": _json_feed(entries, config),
    }
    for topic, slug in topic_feeds(newest, config):
        files[f"topics/{slug}.xml"] = _topic_feed(_featuring(newest, topic, config), topic,
                                                  slug, config)
    return files
