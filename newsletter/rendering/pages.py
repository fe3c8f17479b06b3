"""The web pages: one page per issue (``<slug>/index.html``) and the archive (``index.html``).

Pure: no clock, no I/O; the same issues and config always give the same bytes. Article text
is only ever data (autoescaped), only http(s) URLs become links and only https URLs images.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence

from ..core.config import Config, TopicConfig
from ..core.models import Issue
from ..core.text import clean_text, topic_key
from ..core.words import ENGLISH, Words
from .cards import card_maker
from .mail import issue_web_url, preheader
from .palette import Palette, palette_for
from .templating import environment_for, long_date

IMAGE_MAX_WIDTH = 600  # px: the width attribute of an image on a web page or in a feed, at most


def topic_slug(name: str) -> str:
    """A topic's name as a URL path segment: "Self-Driving Cars" -> "self-driving-cars"."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug or "topic"


def unique_slugs(names: Iterable[str]) -> list[str]:
    """``topic_slug`` of each name; a slug already taken gets "-2", "-3", ... appended, so
    "C++" and "C" (both "c") stay apart: "c" and "c-2"."""
    taken: set[str] = set()
    slugs = []
    for name in names:
        base = slug = topic_slug(name)
        number = 2
        while slug in taken:
            slug = f"{base}-{number}"
            number += 1
        taken.add(slug)
        slugs.append(slug)
    return slugs


def issue_heading(issue: Issue, words: Words = ENGLISH) -> str:
    """"AI Weekly: February 22, 2021": a feed entry's title and a page's <title>."""
    return f"{issue.title}: {long_date(issue.date, words)}"


def newest_first(issues: Iterable[Issue]) -> list[Issue]:
    return sorted(issues, key=lambda issue: (issue.date, issue.slug), reverse=True)


def _article_counter(words: Words) -> Callable[[Issue], str]:
    """The archive's "3 articles" of an issue."""
    def article_count(issue: Issue) -> str:
        count = len(issue.placed)
        return words.say("articles_one" if count == 1 else "articles_many", count=count)
    return article_count


def _render(template: str, config: Config, **context: object) -> bytes:
    html = environment_for(config).get_template(template).render(config=config, **context)
    return clean_text(html).encode("utf-8")


def render_issue_page(issue: Issue, config: Config, *, previous: Issue | None,
                      next: Issue | None,  # "next": the agreed keyword
                      palette: Palette | None = None) -> bytes:
    """``<output>/<slug>/index.html``: the issue for browsers; ``previous``/``next`` are the
    neighbouring published issues, linked only when given."""
    return _render(
        "issue.html.j2", config,
        issue=issue, previous=previous, next=next, root="../",
        page_title=issue_heading(issue, config.words),
        description=preheader(issue, config.words),
        canonical=issue_web_url(config, issue),
        anchors=unique_slugs(section.topic for section in issue.sections),
        card=card_maker(config.timezone, IMAGE_MAX_WIDTH, words=config.words),
        palette=palette or palette_for(config),
    )


# The archive's front page lists this many of the newest issues, then links every year's
# page: one page listing every issue would grow without bound (a daily newsletter's, 370 KB
# after three years) and be rendered again at every publish.
ARCHIVE_FRONT_ISSUES = 30


def archive_path(year: int) -> str:
    """The page of a year's issues, relative to the output folder: ``archive/2021.html``."""
    return f"archive/{year}.html"


def archive_years(published: Iterable[Issue]) -> list[tuple[int, int]]:
    """(year, number of issues) of every year with a published issue, newest first."""
    counts: dict[int, int] = {}
    for issue in published:
        counts[issue.date.year] = counts.get(issue.date.year, 0) + 1
    return sorted(counts.items(), reverse=True)


def topic_feeds(published: Iterable[Issue], config: Config) -> list[tuple[TopicConfig, str]]:
    """The configured topics that a published issue featured, each with the slug of its feed
    (``topics/<slug>.xml``), in the config's order. A topic never featured has no feed: a
    reader would follow a feed that links to nothing. The slugs are made from every
    configured topic, so a topic featured at last does not move another's feed."""
    featured = {topic_key(section.topic) for issue in published for section in issue.sections}
    slugs = unique_slugs(topic.name for topic in config.topics)
    return [(topic, slug) for topic, slug in zip(config.topics, slugs, strict=True)
            if topic_key(topic.name) in featured]


def _archive(config: Config, palette: Palette | None, published: Iterable[Issue],
             **context: object) -> bytes:
    return _render(
        "archive.html.j2", config,
        topic_feeds=[(topic.name, slug) for topic, slug in topic_feeds(published, config)],
        article_count=_article_counter(config.words), palette=palette or palette_for(config),
        **context)


def render_archive(published: Sequence[Issue], config: Config,
                   palette: Palette | None = None) -> bytes:
    """``<output>/index.html``: the newest published issues, then a link to each year's page
    (:func:`render_archive_year`)."""
    issues = newest_first(published)
    front = issues[:ARCHIVE_FRONT_ISSUES]
    return _archive(
        config, palette, published, issues=front, total=len(issues), years=archive_years(issues),
        groups=[{"id": "", "name": "", "issues": front}] if front else [], heading="h2",
        year=None, root="",
        page_title=config.words.say("archive_title", title=config.title),
        description=config.words.say("archive_description", title=config.title),
        canonical=config.site_url)


def render_archive_year(year: int, published: Sequence[Issue], config: Config,
                        palette: Palette | None = None) -> bytes:
    """``<output>/archive/<year>.html``: the year's published issues, newest first, under
    their months, with links to the years before and after. It depends on nothing else:
    an issue published in another year leaves the page as it was."""
    issues = [issue for issue in newest_first(published) if issue.date.year == year]
    years = [y for y, _count in archive_years(published)]
    months: dict[int, list[Issue]] = {}
    for issue in issues:
        months.setdefault(issue.date.month, []).append(issue)
    return _archive(
        config, palette, published, issues=issues, year=year, root="../", years=[], heading="h3",
        groups=[{"id": f"{year}-{month:02d}", "name": config.words.months[month - 1],
                 "issues": in_month} for month, in_month in months.items()],
        previous_year=max((y for y in years if y < year), default=None),
        next_year=min((y for y in years if y > year), default=None),
        page_title=config.words.say("year_title", title=config.title, year=year),
        description=config.words.say("year_description", title=config.title, year=year),
        canonical=config.site_url + archive_path(year))
