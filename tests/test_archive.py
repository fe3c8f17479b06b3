"""The web pages: an issue page per issue and the archive, parsed as a browser would."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

from conftest import make_article, make_issue
from html_page import Page
from newsletter.core.config import Config
from newsletter.core.models import Coverage, Image, Issue, PlacedArticle, Provider
from newsletter.rendering.feeds import render_feeds
from newsletter.rendering.mail import issue_web_url as issue_url
from newsletter.rendering.mail import preheader as issue_summary
from newsletter.rendering.pages import render_archive, render_issue_page, topic_slug

DATES = (dt.date(2021, 2, 15), dt.date(2021, 2, 22), dt.date(2021, 3, 1))
HOSTILE = '<script>alert("x")</script> <img src=x onerror=alert(1)> ]]> {{ 7*7 }} \x0b\x00end'
FEED_TYPES = {"application/rss+xml": "feed.xml", "application/atom+xml": "atom.xml",
              "application/feed+json": "feed.json"}


def render_page(issue: Issue, config: Config, previous: Issue | None = None,
                next_issue: Issue | None = None) -> Page:
    return Page(render_issue_page(issue, config, previous=previous, next=next_issue))


def assert_safe_document(page: Page) -> None:
    """No script, no event handler, no javascript: URL, nothing loaded from elsewhere but
    https images."""
    assert not page.find("script")
    for tag, attrs in page.elements:
        assert not [a for a in attrs if a.lower().startswith("on")], (tag, attrs)
        for name in ("href", "src"):
            assert not (attrs.get(name) or "").strip().lower().startswith("javascript:")
    assert not [a for a in page.find("link") if a.get("rel") == "stylesheet"]
    assert "@import" not in page.style and "url(" not in page.style
    for attrs in page.find("img"):
        assert (attrs.get("src") or "").startswith("https://")
        assert attrs.get("alt") is not None  # "" for an article's image: see macros.j2


def assert_head(page: Page, config: Config, feed_prefix: str) -> None:
    assert page.source.startswith("<!doctype html>\n")
    assert page.find("html")[0].get("lang") == config.language
    assert page.find("meta", charset="utf-8")
    assert page.find("meta", name="viewport", content="width=device-width, initial-scale=1")
    assert page.find("meta", name="color-scheme", content="light dark")
    assert page.text_of("title") and page.text_of("title")[0]
    alternates = {a["type"]: a["href"] for a in page.find("link", rel="alternate")}
    assert alternates == {t: feed_prefix + name for t, name in FEED_TYPES.items()}
    assert "@media (prefers-color-scheme: dark)" in page.style


# --- helpers ----------------------------------------------------------------------------------

# --- the issue page -------------------------------------------------------------------------

def test_issue_page_head_and_feeds(published: list[Issue], config: Config) -> None:
    page = render_page(published[1], config, published[0], published[2])
    assert_head(page, config, "../")
    assert page.text_of("title") == ["AI Weekly: February 22, 2021"]
    assert page.find("link", rel="canonical", href="https://news.example.org/ai/2021-02-22/")
    nav_links = {a["href"] for a in page.find("a")}
    assert {"../index.html", "../feed.xml", "../atom.xml", "../feed.json"} <= nav_links
    assert_safe_document(page)


def test_previous_and_next_links_only_when_given(published: list[Issue], config: Config
                                                 ) -> None:
    both = {a["href"] for a in render_page(published[1], config, published[0],
                                           published[2]).find("a")}
    assert {"../2021-02-15/index.html", "../2021-03-01/index.html"} <= both
    first = {a["href"] for a in render_page(published[0], config, None, published[1]).find("a")}
    assert "../2021-02-22/index.html" in first
    assert not {h for h in first if h.startswith("../2021-02-1")}
    alone = render_page(published[1], config)
    assert not [a for a in alone.find("a")
                if re.fullmatch(r"\.\./\d{4}-\d\d-\d\d/index\.html", a["href"])]
    assert not alone.find("a", rel="prev") and not alone.find("a", rel="next")
    assert alone.find("a", href="../index.html")


def test_headings_follow_the_issue(published: list[Issue], config: Config) -> None:
    issue = published[1]
    page = render_page(issue, config)
    assert page.text_of("h1") == ["AI Weekly February 22, 2021"]
    assert page.text_of("h2") == [section.topic for section in issue.sections]
    assert page.text_of("h3") == [" ".join(p.article.title.split()) for p in issue.placed]
    assert not page.find("h4") and not page.find("h5")
    # one linked title per article, in order
    heading_links = [page.elements[i + 1][1].get("href")
                     for i, (tag, _) in enumerate(page.elements) if tag == "h3"]
    assert heading_links == [p.article.url for p in issue.placed]
    # the topics of the issue link to their sections
    anchors = [a["href"] for a in page.find("a") if a["href"].startswith("#")]
    assert anchors == ["#main"] + [f"#{topic_slug(s.topic)}" for s in issue.sections]
    assert [a["id"] for a in page.find("h2")] == [topic_slug(s.topic) for s in issue.sections]


def test_articles_show_provider_date_excerpt_and_coverage(published: list[Issue],
                                                          config: Config) -> None:
    issue = published[1]
    page = render_page(issue, config)
    text = " ".join(page.text.split())
    for placed in issue.placed:
        article = placed.article
        assert article.provider.name in text
        assert " ".join(article.excerpt.split())[:60] in text
        for item in placed.related:
            assert page.find("a", href=item.url)
            assert f"{item.provider}: {' '.join(item.title.split())}" in text
    assert text.count("Also covered by") == sum(1 for p in issue.placed if p.related)
    videos = [p for p in issue.placed if p.article.type == "video"]
    assert videos and text.count("Video") >= len(videos)
    assert page.text_of("span").count("Video") == len(videos)


def test_images(published: list[Issue], config: Config) -> None:
    issue = published[1]
    page = render_page(issue, config)
    images = page.find("img")
    with_image = [p.article for p in issue.placed if p.article.image]
    assert [i["src"] for i in images] == [a.image.url for a in with_image]
    assert [i["alt"] for i in images] == ["" for _ in with_image]  # the headline is below
    for attrs, article in zip(images, with_image, strict=True):
        width, height = int(attrs["width"]), int(attrs["height"])
        assert width == min(600, article.image.width)
        assert height == round(article.image.height * width / article.image.width)
    assert re.search(r"img \{[^}]*max-width: 100%;[^}]*height: auto;", page.style)
    assert_safe_document(page)


def test_image_rules(config: Config) -> None:
    articles = [
        make_article("plain-http", images=(Image("http://outlet.example/a.jpg", 800, 400),)),
        make_article("unknown-size", images=(Image("https://outlet.example/b.jpg"),)),
        make_article("small", images=(Image("https://outlet.example/c.jpg", 300, 200),)),
        make_article("wide", images=(Image("https://outlet.example/d.jpg", 1000, 333),)),
        make_article("none"),
    ]
    issue = make_issue(config, dt.date(2021, 2, 22), {"AI": [PlacedArticle(a) for a in articles]})
    images = render_page(issue, config).find("img")
    sizes = [(i["src"].rsplit("/", 1)[1], i["width"], i.get("height")) for i in images]
    assert sizes == [("b.jpg", "600", None), ("c.jpg", "300", "200"), ("d.jpg", "600", "200")]


def test_dates_are_shown_in_the_configured_timezone(config: Config) -> None:
    late = make_article("late", published=dt.datetime(2021, 2, 17, 3, 0, tzinfo=dt.UTC))
    issue = make_issue(config, dt.date(2021, 2, 22), {"AI": [PlacedArticle(late)]})
    page = render_page(issue, config)
    assert "February 16, 2021" in page.text  # 22:00 the evening before, in New York
    assert page.find("time", datetime="2021-02-16T22:00:00-05:00")


def test_intro_paragraphs_and_links_without_a_usable_url(config: Config) -> None:
    article = make_article("no-link", url="ftp://outlet.example/x", title="Not linked")
    coverage = Coverage(title="Unlinked coverage", url="mailto:x@example.org",
                        provider="Elsewhere", domain="elsewhere.example",
                        quality=1, published=None)
    issue = make_issue(config, dt.date(2021, 2, 22),
                       {"AI": [PlacedArticle(article, (coverage,))]},
                       intro=("First paragraph.", "Second paragraph."))
    page = render_page(issue, config)
    assert "First paragraph." in page.text_of("p") and "Second paragraph." in page.text_of("p")
    assert page.text_of("h3") == ["Not linked"]
    assert "Elsewhere: Unlinked coverage" in page.text_of("li")
    hrefs = [a["href"] for a in page.find("a")]
    assert not [h for h in hrefs if h.startswith(("ftp:", "mailto:"))]


def test_hostile_text_stays_text(config: Config) -> None:
    related = (Coverage(title=HOSTILE, url="javascript:alert(1)", provider=HOSTILE,
                        domain="evil.example", quality=1, published=None),)
    quoted = 'https://evil.example/a"onmouseover="alert(1)'
    article = make_article("hostile", title=HOSTILE, excerpt=HOSTILE, url=quoted, type="video",
                           provider=Provider(HOSTILE, "evil.example"),
                           images=(Image("javascript:alert(1)", 10, 10),))
    image = make_article("image", images=(Image(f"https://evil.example/i.jpg?{HOSTILE}",),))
    issue = make_issue(config, dt.date(2021, 2, 22),
                       {HOSTILE: [PlacedArticle(article, related), PlacedArticle(image)]},
                       intro=(HOSTILE,))
    data = render_issue_page(issue, config, previous=None, next=None)
    assert b"\x0b" not in data and b"\x00" not in data
    page = Page(data)
    assert_safe_document(page)
    assert "{{ 7*7 }}" in page.text and "49" not in page.text
    assert '<script>alert("x")</script>' in page.text
    assert page.find("a", href=quoted.replace('"', "%22"))  # one attribute, normalized
    # the javascript: image is dropped; the other is a URL a browser loads, percent-encoded
    (image_tag,) = page.find("img")
    assert image_tag["src"].startswith("https://evil.example/i.jpg?%3Cscript%3E")
    assert not any(c in image_tag["src"] for c in '<>" \x00\x0b')
    archive = Page(render_archive([issue], config))
    assert_safe_document(archive)
    assert "{{ 7*7 }}" in archive.text


def test_draft_pages_are_marked_and_not_indexed(published: list[Issue], config: Config) -> None:
    draft = render_page(replace(published[1], status="draft"), config)
    assert draft.find("meta", name="robots", content="noindex")
    assert "Draft" in draft.text
    final = render_page(published[1], config)
    assert not final.find("meta", name="robots") and "Draft" not in final.text


# --- styles -----------------------------------------------------------------------------------

def _luminance(color: str) -> float:
    channels = [int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_text_contrast_is_at_least_4_5_in_light_and_dark(published: list[Issue],
                                                          config: Config) -> None:
    style = render_page(published[1], config).style
    light_part, dark_part = style.split("@media (prefers-color-scheme: dark)")
    light = dict(re.findall(r"--([\w-]+): (#[0-9a-f]{6});", light_part))
    dark = light | dict(re.findall(r"--([\w-]+): (#[0-9a-f]{6});", dark_part.split("}")[0]))
    for scheme in (light, dark):
        for text in ("fg", "muted", "link", "accent"):
            for background in ("bg", "panel"):
                ratio = contrast(scheme[text], scheme[background])
                assert ratio >= 4.5, (text, background, round(ratio, 2))


def test_layout_rules_for_small_screens(published: list[Issue], config: Config) -> None:
    style = render_page(published[1], config).style
    assert "overflow-wrap: anywhere" in style
    assert re.search(r"\.page \{ max-width: 40rem;", style)  # 640 px: a 600 px text column
    rule = re.search(r"\.site-nav a, \.pager a, \.chips a \{([^}]*)\}", style)
    assert rule and "min-height: 44px" in rule.group(1) and "min-width: 44px" in rule.group(1)


# --- the archive ------------------------------------------------------------------------------

def test_archive_lists_published_issues_newest_first(published: list[Issue], config: Config
                                                    ) -> None:
    page = Page(render_archive([published[1], published[0], published[2]], config))
    assert_head(page, config, "")
    assert_safe_document(page)
    issue_links = [a["href"] for a in page.find("a")
                   if re.fullmatch(r"\d{4}-\d\d-\d\d/index\.html", a["href"])]
    assert issue_links == ["2021-03-01/index.html", "2021-02-22/index.html",
                           "2021-02-15/index.html"]
    assert page.text_of("h2")[:3] == ["March 1, 2021", "February 22, 2021", "February 15, 2021"]
    text = " ".join(page.text.split())
    for issue in published:
        assert f"{len(issue.placed)} articles" in text
        assert "Topics: " + ", ".join(s.topic for s in issue.sections) in text
        for placed in issue.placed[:3]:  # the top headlines, in full
            assert " ".join(placed.article.title.split()) in page.text_of("li")
        assert " ".join(issue.placed[3].article.title.split()) not in text
    assert "AI Weekly" in page.text_of("h1")[0]
    topic_feeds = [a["href"] for a in page.find("a") if a["href"].startswith("topics/")]
    assert topic_feeds == [f"topics/{topic_slug(t.name)}.xml" for t in config.topics]


def test_a_topic_no_published_issue_featured_has_no_feed_nor_link(config: Config) -> None:
    """A feed with no entry is a dead end for a reader who follows it: a configured topic
    gets its feed, and its link in the archive, with the first issue that features it."""
    ai = make_issue(config, dt.date(2021, 2, 15), {"AI": [PlacedArticle(make_article("a"))]})
    feeds = render_feeds([ai], config)
    assert {name for name in feeds if name.startswith("topics/")} == {"topics/ai.xml"}
    links = [a["href"] for a in Page(render_archive([ai], config)).find("a")
             if a["href"].startswith("topics/")]
    assert links == ["topics/ai.xml"]
    robotics = make_issue(config, dt.date(2021, 2, 22),
                          {"Robotics": [PlacedArticle(make_article("r"))]})
    feeds = render_feeds([ai, robotics], config)
    assert {name for name in feeds if name.startswith("topics/")} == {
        "topics/ai.xml", "topics/robotics.xml"}
    links = [a["href"] for a in Page(render_archive([ai, robotics], config)).find("a")
             if a["href"].startswith("topics/")]
    assert links == [f"topics/{topic_slug(t.name)}.xml" for t in config.topics
                     if t.name in ("AI", "Robotics")]  # in the config's order


def test_empty_archive_says_so(config: Config) -> None:
    page = Page(render_archive([], config))
    assert_head(page, config, "")
    assert "No issue has been published yet" in page.text
    assert not page.find("ol")


def test_pages_are_byte_identical(published: list[Issue], config: Config) -> None:
    first = render_issue_page(published[1], config, previous=published[0], next=published[2])
    again = render_issue_page(published[1], config, previous=published[0], next=published[2])
    assert first == again
    assert render_archive(published, config) == render_archive(published[::-1], config)


def test_issue_url_and_summary(published: list[Issue], config: Config) -> None:
    issue = published[1]
    assert issue_url(config, issue) == "https://news.example.org/ai/2021-02-22/"
    summary = issue_summary(issue)  # long titles: cut near 140 characters
    assert summary.startswith(issue.placed[0].article.title + " · ")
    assert len(summary) <= 141 and summary.endswith("…")
    short = make_issue(config, dt.date(2021, 2, 22), {
        "AI": [PlacedArticle(make_article(slug)) for slug in "ab"],
        "Robotics": [PlacedArticle(make_article(slug)) for slug in "cd"]})
    assert issue_summary(short) == "Story a · Story b · Story c"
