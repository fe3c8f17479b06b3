"""The email edition: HTML (MJML + inlined CSS), plain text and the RFC 5322 message.

Issues are built from the models directly, so hostile text and URLs reach the renderer
exactly as written, bypassing the corpus reader's checks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import email.utils
import re
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conftest import make_config
from newsletter.core.config import Config
from newsletter.core.models import (
    Article,
    Coverage,
    Image,
    Issue,
    PlacedArticle,
    Provider,
    Section,
    Window,
)
from newsletter.core.timing import issue_timestamp
from newsletter.rendering.mail import (
    EMAIL_WIDTH,
    GMAIL_CLIP_BYTES,
    SIZE_WARNING_BYTES,
    UNSUBSCRIBE_PLACEHOLDER,
    RenderedEmail,
    issue_web_url,
    preheader,
    render_email,
    size_warning,
    subject_line,
    unsubscribe_url,
)
from newsletter.rendering.message import sample_message

UTC = dt.UTC
ISSUE_DATE = dt.date(2021, 2, 22)
HOSTILE = ('<script>alert(1)</script><img src=x onerror=alert(2)> </mj-text></mj-column> '
           '{{ 7*7 }} {% raw %} ]]> & "quoted" \'single\'')


# -- building issues from the models ---------------------------------------------------------

def make_article(slug: str, **fields) -> Article:
    values = {
        "id": slug, "path": f"{slug}.md", "title": f"Story {slug}",
        "url": f"https://news.example/{slug}", "canonical_url": f"news.example/{slug}",
        "domain": "news.example", "published": dt.datetime(2021, 2, 17, 15, 0, tzinfo=UTC),
        "excerpt": f"What happened in {slug}.", "provider": Provider("News Example",
                                                                     "news.example"),
        "topics": ("AI",),
    }
    values.update(fields)
    return Article(**values)


def coverage(title: str, url: str, provider: str = "Other Outlet") -> Coverage:
    return Coverage(title=title, url=url, provider=provider,
                    domain="other.example", quality=10, published=None)


def make_issue(*sections: tuple[str, list[PlacedArticle]], **fields) -> Issue:
    window = Window(dt.datetime(2021, 2, 15, tzinfo=UTC), dt.datetime(2021, 2, 22, tzinfo=UTC),
                    ZoneInfo("UTC"))
    values = {"slug": ISSUE_DATE.isoformat(), "date": ISSUE_DATE, "title": "AI Weekly",
              "window": window,
              "sections": tuple(Section(topic, tuple(placed)) for topic, placed in sections)}
    values.update(fields)
    return Issue(**values)


def simple_issue(**fields) -> Issue:
    return make_issue(("AI", [PlacedArticle(make_article("one")),
                              PlacedArticle(make_article("two"))]), **fields)


def full_issue(topics: int = 5, articles: int = 5, related: int = 3) -> Issue:
    """The largest issue the default settings allow, with long text and long URLs."""
    def article(t: int, a: int) -> PlacedArticle:
        slug = f"topic-{t}-article-{a}-with-a-long-descriptive-slug-like-real-outlets-use"
        main = make_article(
            slug,
            title=f"Topic {t}, story {a}: a long descriptive headline about what happened "
                  "in the field this week",
            url=f"https://www.outlet-{a}.example/2021/02/17/{slug}?ref=newsletter",
            excerpt="Long excerpt words " * 60,
            provider=Provider(f"Outlet Number {a}", f"outlet-{a}.example"),
            images=(Image(f"https://cdn.outlet-{a}.example/uploads/2021/02/{slug}-hero.jpg",
                          1600, 900),),
        )
        return PlacedArticle(main, tuple(
            coverage(f"Another outlet's take on topic {t} story {a} (number {r}), also long",
                     f"https://www.other-{r}.example/2021/02/18/another-take-on-{slug}",
                     provider=f"Other Outlet {r}")
            for r in range(related)))

    return make_issue(*((f"Topic {t}", [article(t, a) for a in range(articles)])
                        for t in range(topics)),
                      intro=("An editor's note of a few sentences. " * 6,) * 2)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path, timezone="America/New_York", language="en", email={
        "from": "AI Weekly <newsletter@news.example.org>",
        "reply_to": "editors@news.example.org",
        "postal_address": "AI Weekly, 100 Example Street, Springfield, EX 00000",
        "subject": "{title}: {date}",
    })


# -- reading the HTML back -------------------------------------------------------------------

BLOCKS = ("div", "p", "li", "ul", "h1", "h2", "h3", "td", "br")


class Page(HTMLParser):
    """Every start tag with its attributes, the text of every element, the headings."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.comments: list[str] = []
        self.text_parts: list[str] = []
        self.headings: list[tuple[str, str]] = []
        self.links: list[tuple[str, str, dict[str, str | None]]] = []  # href, text, attrs
        self._heading: tuple[str, list[str]] | None = None
        self._link: tuple[dict[str, str | None], list[str]] | None = None
        self._skip = 0
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag in BLOCKS:
            self.text_parts.append(" ")  # where a reader sees a line break
        if tag in ("style", "title"):
            self._skip += 1
        if tag in ("h1", "h2", "h3"):
            self._heading = (tag, [])
        if tag == "a":
            self._link = (attributes, [])

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in BLOCKS:
            self.text_parts.append(" ")
        if tag in ("style", "title"):
            self._skip -= 1
        if self._heading and tag == self._heading[0]:
            self.headings.append((tag, "".join(self._heading[1]).strip()))
            self._heading = None
        if tag == "a" and self._link:
            attributes, text = self._link
            self.links.append((attributes.get("href") or "", "".join(text).strip(), attributes))
            self._link = None

    def handle_data(self, data):
        if self._skip:
            return
        self.text_parts.append(data)
        if self._heading:
            self._heading[1].append(data)
        if self._link:
            self._link[1].append(data)

    def handle_comment(self, data):
        self.comments.append(data)

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def with_class(self, css_class: str) -> list[tuple[str, dict[str, str | None]]]:
        return [(t, a) for t, a in self.tags if css_class in (a.get("class") or "").split()]


def styles(attributes: dict[str, str | None]) -> dict[str, str]:
    declarations = (d.split(":", 1) for d in (attributes.get("style") or "").split(";")
                    if ":" in d)
    return {k.strip().lower(): v.strip() for k, v in declarations}


def px(value: str) -> int:
    return int(value.removesuffix("px").split()[0].removesuffix("px"))


# -- safety ----------------------------------------------------------------------------------

def hostile_issue() -> Issue:
    bad = make_article(
        "bad",
        title=f"Title {HOSTILE}",
        excerpt=f"Excerpt {HOSTILE}",
        provider=Provider(f"Provider {HOSTILE}", "bad.example"),
        url="javascript:alert(document.cookie)",
        images=(Image("javascript:alert(1)", 100, 100),),
    )
    quote = make_article(
        "quote",
        title="A link with a quote",
        url='https://example.com/a"onmouseover="alert(1)',
        images=(Image('https://img.example/x.jpg?a=1&b="onerror="alert(1)', 800, 400),),
    )
    pictured = make_article(
        "pictured", title=f"Pictured {HOSTILE}", url="https://example.com/pictured",
        images=(Image("https://img.example/<script>alert(1)</script>.jpg", 640, 480),),
    )
    data_image = make_article(
        "data", title="A data image", url="https://example.com/fine",
        images=(Image("data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+", 10, 10),),
    )
    related = (
        coverage(f"Related {HOSTILE}", "data:text/html,<script>alert(1)</script>",
                 provider=f"Related provider {HOSTILE}"),
        coverage("Related javascript", "javascript:alert(1)"),
        coverage("Related vbscript", " JaVaScRiPt:alert(1)"),
        coverage("Related fine ]]>", "https://other.example/fine?x=1&y=2"),
        coverage("Related odd URL", "https://other.example/<script>alert(1)</script>"),
    )
    return make_issue((f"Topic {HOSTILE}", [PlacedArticle(bad, related),
                                             PlacedArticle(quote), PlacedArticle(pictured),
                                             PlacedArticle(data_image)]),
                      intro=(f"Intro {HOSTILE}",))


def test_hostile_text_and_urls_render_as_inert_text(config):
    rendered = render_email(hostile_issue(), config)
    html = rendered.html
    page = Page(html)

    assert "<script" not in html.lower()
    for tag, attributes in page.tags:
        assert tag != "script"
        assert not [name for name in attributes if name.startswith("on")], (tag, attributes)
        for name in ("href", "src"):
            value = (attributes.get(name) or "").strip().lower()
            if value:
                assert value.startswith(("https://", "http://")), (tag, name, value)
    assert not re.search(r"""(href|src)\s*=\s*["']?\s*(javascript|data|vbscript):""", html, re.I)
    # no markup from the input, even inside attribute values
    assert not re.search(r"<[^>]*\son\w+\s*=", html)

    # template syntax in data is text, never evaluated
    assert "49" not in html
    assert "{{ 7*7 }}" in page.text and "{% raw %}" in page.text
    # the text is shown as written, wherever it goes
    for where in ("Title", "Excerpt", "Provider", "Related", "Related provider", "Intro",
                  "Topic"):
        assert f"{where} {HOSTILE}" in page.text, where
    headings = dict((text, tag) for tag, text in page.headings)
    assert headings[f"Title {HOSTILE}"] == "h3"
    assert headings[f"Topic {HOSTILE}"] == "h2"
    images = page.all("img")
    assert [img["alt"] for img in images] == ["", ""]  # decorative: the headline is below
    assert images[1]["src"] == "https://img.example/%3Cscript%3Ealert(1)%3C/script%3E.jpg"

    # a quote in a URL is percent-encoded (the URL as a browser normalizes it)
    hrefs = [href for href, _, _ in page.links]
    assert "https://example.com/a%22onmouseover=%22alert(1)" in hrefs
    assert images[0]["src"] == "https://img.example/x.jpg?a=1&b=%22onerror=%22alert(1)"
    # unsafe links are dropped, their text stays
    assert "Related javascript" in page.text
    assert not [href for href in hrefs if "alert" in href and "example" not in href]
    assert "https://other.example/fine?x=1&y=2" in hrefs
    assert "https://other.example/%3Cscript%3Ealert(1)%3C/script%3E" in hrefs

    # the MJML escaped every piece of text: none of it closed an element early
    assert "&lt;/mj-text&gt;" in rendered.mjml and "&lt;/mj-column&gt;" in rendered.mjml


def test_hostile_text_part_keeps_the_text_and_drops_unsafe_links(config):
    text = render_email(hostile_issue(), config).text
    for where in ("Title", "Excerpt", "Provider", "Related", "Related provider", "Intro",
                  "Topic"):
        assert f"{where} {HOSTILE}" in text, where
    assert "javascript:" not in text.lower()
    assert "data:" not in text
    assert "https://example.com/a%22onmouseover=%22alert(1)" in text
    assert "49" not in text


def test_control_characters_and_odd_unicode_survive(config):
    """Characters MJML rejects are dropped; those it would mangle are kept."""
    title = "Caf\u0065\u0301 \\ back\u00a0slash\u2028 ok\x00\x0b\x1b"
    issue = make_issue(("AI", [PlacedArticle(make_article(
        "odd", title=title, excerpt="tab\tand\x0cform feed",
        images=(Image("https://img.example/odd.jpg", 600, 300),)))]))
    rendered = render_email(issue, config)
    page = Page(rendered.html)
    clean = "Caf\u0065\u0301 \\ back\u00a0slash\u2028 ok"
    assert page.all("img")[0]["alt"] == ""
    assert ("h3", clean) in page.headings
    assert "\\u{" not in rendered.html
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", rendered.html + rendered.text)


# -- structure -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample(sample_config: Config) -> tuple[Issue, Config, RenderedEmail]:
    """The sample newsletter's issue of 2021-02-22 (with an editor's intro added)."""
    from newsletter.publishing.build import read_and_select

    config = sample_config
    issue = read_and_select(config, ISSUE_DATE).selection.issue
    issue = dataclasses.replace(issue, intro=("This week: robots that code.", "Enjoy!"))
    return issue, config, render_email(issue, config)


def test_document_structure(sample):
    issue, config, rendered = sample
    html = rendered.html
    page = Page(html)
    root = page.all("html")[0]
    assert root["lang"] == config.language == "en"
    metas = {m.get("name"): m.get("content") for m in page.all("meta")}
    assert metas["color-scheme"] == "light dark"
    assert metas["supported-color-schemes"] == "light dark"
    assert "@media (prefers-color-scheme: dark)" in html
    assert any(c.startswith("[if mso") for c in page.comments)  # Outlook's markup is kept
    assert "<script" not in html.lower()
    assert f"max-width:{EMAIL_WIDTH}px" in html

    tags = [tag for tag, _ in page.headings]
    assert tags.count("h1") == 1 and page.headings[0] == ("h1", issue.title)
    assert [t for tag, t in page.headings if tag == "h2"] == [s.topic for s in issue.sections]
    assert [t for tag, t in page.headings if tag == "h3"] == [
        p.article.title for p in issue.placed]
    # headings nest: h2 after h1, h3 only under an h2
    assert tags.index("h2") < tags.index("h3")


def test_images_https_alt_and_width(sample):
    issue, _, rendered = sample
    images = Page(rendered.html).all("img")
    with_image = [p.article for p in issue.placed if p.article.image]
    assert len(images) == len(with_image) and images
    for img, article in zip(images, with_image, strict=True):
        assert img["alt"] == ""  # decorative: the headline right below is its text
        assert img["src"] == article.image.url and img["src"].startswith("https://")
        width, height = int(img["width"]), int(img["height"])
        assert width <= EMAIL_WIDTH and width <= article.image.width
        ratio = article.image.height / article.image.width
        assert abs(height - width * ratio) <= 1
        style = styles(img)
        assert style["width"] == "100%" and style["height"] == "auto"  # fluid
        assert px(style["max-width"]) == width


def test_image_rules(config):
    def placed(slug, image):
        return PlacedArticle(make_article(slug, title=f"Picture {slug}", images=(image,)))

    issue = make_issue(("AI", [
        placed("http", Image("http://img.example/plain.jpg", 800, 400)),
        placed("small", Image("https://img.example/small.jpg", 300, 150)),
        placed("noheight", Image("https://img.example/noheight.jpg", 1200, None)),
        placed("nowidth", Image("https://img.example/nowidth.jpg", None, 500)),
        placed("junk", Image("https://img.example/junk.jpg", True, float("nan"))),
        PlacedArticle(make_article("none", title="No picture")),
    ]))
    images = {"Picture " + img["src"].rsplit("/", 1)[1].removesuffix(".jpg"): img
              for img in Page(render_email(issue, config).html).all("img")}
    assert set(images) == {"Picture small", "Picture noheight", "Picture nowidth",
                           "Picture junk"}
    assert (images["Picture small"]["width"], images["Picture small"]["height"]) == ("300",
                                                                                      "150")
    # sized to the column like every email image, but never wider than itself
    assert px(styles(images["Picture small"])["max-width"]) == 300
    assert "height" not in images["Picture noheight"]
    assert int(images["Picture noheight"]["width"]) <= EMAIL_WIDTH
    assert "height" not in images["Picture nowidth"]
    assert "height" not in images["Picture junk"]


def test_long_words_wrap_and_tap_targets_are_large(sample):
    _, _, rendered = sample
    page = Page(rendered.html)
    (wrapper,) = [a for t, a in page.with_class("page") if t == "div"]
    style = styles(wrapper)
    assert style["overflow-wrap"] == "break-word" and style["word-break"] == "break-word"

    def height(attributes) -> int:
        style = styles(attributes)
        padding = style["padding"].split()
        return px(style["line-height"]) + 2 * px(padding[0])

    links = {text: attrs for _, text, attrs in page.links}
    assert height(links["View in browser"]) >= 44
    assert height(links["Unsubscribe"]) >= 44
    for _, title in [h for h in page.headings if h[0] == "h3"]:
        link = links[title]
        assert styles(link)["display"] == "block"
        # the heading's line height plus the link's own padding
        h3 = next(a for t, a in page.tags if t == "h3")
        assert px(styles(h3)["line-height"]) + 2 * px(styles(link)["padding"].split()[0]) >= 44


# -- content ---------------------------------------------------------------------------------

def test_header_intro_topics_and_footer(sample):
    issue, config, rendered = sample
    page = Page(rendered.html)
    text = " ".join(page.text.split())
    text = text[text.index("View in browser"):]  # after the hidden preheader
    assert "February 22, 2021" in text
    links = {text: href for href, text, _ in page.links}
    assert links["View in browser"] == issue_web_url(config, issue) == (
        "https://news.example.org/ai/2021-02-22/")
    assert "This week: robots that code." in text and "Enjoy!" in text
    assert text.index("Enjoy!") < text.index("In this issue") < text.index(
        issue.placed[0].article.title)
    for section in issue.sections:
        n = len(section.articles)
        assert f"{section.topic} ({n} {'story' if n == 1 else 'stories'})" in text
    assert ("You are receiving this because you subscribed to AI Weekly at "
            "https://news.example.org/ai/.") in text
    assert links["Unsubscribe"] == unsubscribe_url(config) == (
        f"https://news.example.org/ai/unsubscribe?token={UNSUBSCRIBE_PLACEHOLDER}")
    assert config.email.postal_address in text
    # the preheader is the first thing in the body, hidden
    body = rendered.html[rendered.html.index("<body"):]
    hidden = re.search(r'<div style="display:none[^>]*>([^<]*)', body)
    assert hidden and hidden.group(1).startswith(rendered.preheader)


def test_no_intro_no_intro_paragraphs(config):
    page = Page(render_email(simple_issue(), config).html)
    paragraphs = page.text.split("February 22, 2021", 1)[1].split("In this issue", 1)[0]
    assert not paragraphs.strip()


def test_article_details(config):
    video = make_article(
        "video", type="video", title="Watch the robot",
        published=dt.datetime(2021, 2, 17, 3, 0, tzinfo=UTC),  # the 16th in New York
        excerpt="word " * 200, provider=Provider("TubeView", "tube.example"))
    plain = make_article("plain", title="Read the story", provider=Provider(),
                         domain="plain.example", url="not a url")
    related = (coverage("Same story elsewhere", "https://other.example/same", "Other Outlet"),
               coverage("No link for this one", "ftp://other.example/x", "Ftp Outlet"))
    issue = make_issue(("AI", [PlacedArticle(video, related), PlacedArticle(plain)]))
    rendered = render_email(issue, config)
    page = Page(rendered.html)
    text = " ".join(page.text.split())

    assert [(t, a.get("class")) for t, a in page.with_class("video")] == [("span", "video")]
    assert "Video TubeView · February 16, 2021" in text  # a space: screen readers too
    assert "plain.example · February 17, 2021" in text  # the domain when there is no name
    links = {text: href for href, text, _ in page.links}
    assert links["Watch the robot"] == "https://news.example/video"
    assert "Read the story" not in links and ("h3", "Read the story") in page.headings
    assert "Also covered by: Other Outlet: Same story elsewhere Ftp Outlet: No link" in text
    assert links["Same story elsewhere"] == "https://other.example/same"
    assert "No link for this one" not in links
    for _, link_text, _ in page.links:  # descriptive link text, never a bare "here"
        assert link_text and link_text.lower() not in ("here", "click here", "link", "more")

    excerpt = next(p for p in re.findall(r"word[ word]*…", text))
    assert len(excerpt) <= 301 and excerpt.endswith("word…")
    assert ("word " * 200).startswith(excerpt[:-1] + " ")  # cut at a word boundary

    plain_text = rendered.text
    assert "[Video] Watch the robot" in plain_text
    assert "[Video] Read the story" not in plain_text
    assert "TubeView · February 16, 2021" in plain_text
    assert "Watch: https://news.example/video" in plain_text
    assert "- Other Outlet: Same story elsewhere\n  https://other.example/same" in plain_text
    assert "- Ftp Outlet: No link for this one\n" in plain_text
    assert "ftp://" not in plain_text
    assert "word " * 200 not in plain_text and "word…" in plain_text


def test_text_part(sample):
    issue, config, rendered = sample
    text = rendered.text
    lines = text.splitlines()
    assert lines[:2] == ["AI Weekly", "February 22, 2021"]
    assert f"View in your browser: {issue_web_url(config, issue)}" in lines
    assert "This week: robots that code." in lines and "Enjoy!" in lines
    positions = [lines.index(section.topic) for section in issue.sections]
    assert positions == sorted(positions)
    for placed in issue.placed:
        article = placed.article
        assert article.title in text and article.url in text
        for item in placed.related:
            assert f"- {item.provider}: {item.title}" in text and item.url in text
    assert f"Unsubscribe: {unsubscribe_url(config)}" in lines
    assert lines[-1] == config.email.postal_address
    assert "<" not in text.replace("<http", "")  # no markup leaked into it
    assert all(len(line) < 1000 for line in lines)


def test_subject_and_preheader(config, tmp_path):
    issue = simple_issue()
    assert subject_line(config, issue) == "AI Weekly: February 22, 2021"
    assert subject_line(config, dataclasses.replace(issue, subject="Robots\nwrite code")) == (
        "Robots write code")
    assert subject_line(config, dataclasses.replace(issue, subject="Special: {title} {slug}")) == (
        "Special: AI Weekly 2021-02-22")
    other = make_config(tmp_path, email={"from": "A <a@news.example.org>",
                                         "subject": "{title} #{slug} ({date}) {title}"})
    assert subject_line(other, issue) == (
        "AI Weekly #2021-02-22 (February 22, 2021) AI Weekly")

    assert preheader(issue) == "Story one · Story two"
    long = make_issue(("AI", [PlacedArticle(make_article(f"a{i}", title="Headline " * 8))
                              for i in range(4)]))
    assert len(preheader(long)) <= 141 and preheader(long).endswith("…")
    assert preheader(make_issue()) == "AI Weekly: February 22, 2021"
    rendered = render_email(issue, config)
    assert (rendered.subject, rendered.preheader) == (subject_line(config, issue),
                                                      preheader(issue))


def test_rendering_is_byte_identical(config):
    first, second = render_email(full_issue(), config), render_email(full_issue(), config)
    assert first == second
    assert first.html.encode() == second.html.encode()


def test_empty_issue_renders(config):
    rendered = render_email(make_issue(), config)
    assert "In this issue" not in rendered.html and "Unsubscribe" in rendered.html


# -- size ------------------------------------------------------------------------------------

def test_full_issue_stays_well_under_the_warning(config):
    rendered = render_email(full_issue(), config)
    assert len(Page(rendered.html).all("img")) == 25
    assert rendered.html_bytes == len(rendered.html.encode("utf-8"))
    assert rendered.html_bytes < 80 * 1024 < SIZE_WARNING_BYTES
    assert size_warning(rendered) is None


def test_size_warning_for_a_huge_issue(config):
    rendered = render_email(full_issue(topics=10, articles=8), config)
    assert rendered.html_bytes > GMAIL_CLIP_BYTES
    warning = size_warning(rendered)
    assert warning and f"{rendered.html_bytes / 1024:.1f} KB" in warning and "102 KB" in warning

    near = RenderedEmail("s", "p", "m", "x" * (SIZE_WARNING_BYTES + 10), "t")
    assert "90.0 KB" in size_warning(near)
    assert size_warning(dataclasses.replace(near, html="x" * (SIZE_WARNING_BYTES - 1))) is None


# -- the message -----------------------------------------------------------------------------

def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_sample_message_structure_and_headers(sample):
    """``email.eml`` is the message subscribers get, to a placeholder recipient."""
    issue, config, rendered = sample
    raw = sample_message(config, issue, rendered)
    assert raw == sample_message(config, issue, rendered)  # byte-identical
    assert raw.count(b"\n") == raw.count(b"\r\n")  # CRLF everywhere
    assert all(byte < 128 for byte in raw)
    message = parse(raw)
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert parts[0].get_content().replace("\r\n", "\n") == rendered.text
    assert parts[1].get_content().replace("\r\n", "\n") == rendered.html

    assert message["Subject"] == "AI Weekly: February 22, 2021" == rendered.subject
    assert message["From"] == "AI Weekly <newsletter@news.example.org>"
    assert message["To"] == "Subscriber <subscriber@example.invalid>"
    assert message["Reply-To"] == "editors@news.example.org"
    timestamp = issue_timestamp(config, issue.date)
    assert message["Date"] == email.utils.format_datetime(timestamp) == (
        "Mon, 22 Feb 2021 07:00:00 -0500")  # the sample schedule's 07:00
    assert message["Date"].datetime == timestamp
    assert re.fullmatch(r"<2021-02-22\.[0-9a-f]{16}@news\.example\.org>", message["Message-ID"])
    assert message["List-Unsubscribe"] == (
        f"<{unsubscribe_url(config)}>, <mailto:unsubscribe@news.example.org?subject=unsubscribe>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Id"] == "AI Weekly <ai.news.example.org>"
    assert message["MIME-Version"] == "1.0"
    assert len(message.get_all("MIME-Version")) == 1


def test_sample_message_without_reply_to_and_with_unicode(tmp_path):
    config = make_config(tmp_path, title="Café Weekly",
                         email={"from": "Café Weekly <news@news.example.org>"})
    issue = simple_issue(title="Café Weekly")
    rendered = render_email(issue, config)
    message = parse(sample_message(config, issue, rendered))
    assert "Reply-To" not in message
    assert message["Subject"] == "Café Weekly: February 22, 2021"
    assert str(message["From"]) == "Café Weekly <news@news.example.org>"
    assert all(byte < 128 for byte in sample_message(config, issue, rendered))


# -- compiled templates kept between runs ------------------------------------------------------

def test_compiled_templates_are_reused_privately_and_never_stale(tmp_path, monkeypatch):
    from newsletter.rendering import templating

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "page.html").write_text("<p>{{ text }}</p>\n", encoding="utf-8")
    first = templating.environment.__wrapped__((folder,))
    assert first.get_template("page.html").render(text="<b>") == "<p>&lt;b&gt;</p>\n"
    [kept] = (tmp_path / "cache" / "newsletter").iterdir()
    assert kept.stat().st_mode & 0o777 == 0o700 and len(list(kept.iterdir())) == 1
    # A new process (a new environment) loads it: compiling is not called again.
    second = templating.environment.__wrapped__((folder,))
    monkeypatch.setattr(second, "compile", lambda *a, **k: pytest.fail("compiled again"))
    assert second.get_template("page.html").render(text="x") == "<p>x</p>\n"
    # Changed source: compiled afresh, whatever is kept.
    (folder / "page.html").write_text("<div>{{ text }}</div>\n", encoding="utf-8")
    third = templating.environment.__wrapped__((folder,))
    assert third.get_template("page.html").render(text="y") == "<div>y</div>\n"
    # The plain-text environment (no escaping) keeps its own: never the escaping one's code.
    text = templating.text_environment.__wrapped__((folder,))
    assert text.get_template("page.html").render(text="<b>") == "<div><b></div>\n"


def test_compiled_templates_are_not_kept_where_others_could_write(tmp_path, monkeypatch):
    from newsletter.rendering import templating

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    shared = templating.compiled_templates_folder("markup")
    assert shared is not None
    shared.chmod(0o777)
    assert templating.compiled_templates_folder("markup") is None
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))  # cannot be made
    assert templating.compiled_templates_folder("markup") is None
    # A folder that went away: the template still renders, it is only compiled again.
    environment = templating.environment.__wrapped__((templating.TEMPLATES,))
    environment.bytecode_cache = templating.CompiledTemplates(str(tmp_path / "gone"))
    assert environment.get_template("macros.j2") is not None
