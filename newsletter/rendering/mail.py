"""The email edition of an issue: MJML -> HTML with inlined CSS, the plain-text part, and the
complete RFC 5322 message.

Everything here is a pure function of the issue and the config: no clock, no randomness, no
I/O, so the same inputs always give the same bytes (the multipart boundary and the Message-ID
are derived from the content). Article text is only ever data: both templates are rendered
with autoescaping on for the markup, only http(s) URLs become links and only https URLs
become images.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

import css_inline
import mjml
from markupsafe import Markup, escape

from ..core.config import Config
from ..core.headers import readable_address
from ..core.models import Issue
from ..core.text import clean_text
from ..core.words import ENGLISH, Words
from .cards import card_maker
from .palette import Palette, palette_for
from .templating import environment_for, long_date, one_line, shorten, text_environment_for

UNSUBSCRIBE_PLACEHOLDER = "__UNSUBSCRIBE_TOKEN__"  # delivery replaces it per subscriber
PREFERENCES_PLACEHOLDER = "__PREFERENCES_TOKEN__"  # likewise, in the preferences link
GMAIL_CLIP_BYTES = 102 * 1024  # Gmail clips a message body larger than this
SIZE_WARNING_BYTES = 90 * 1024

EMAIL_WIDTH = 600  # px: the one column every client can show
GUTTER = 24  # px of padding either side of the text
IMAGE_WIDTH = EMAIL_WIDTH - 2 * GUTTER  # images sit in the text column, never wider
PREHEADER_HEADLINES = 3
PREHEADER_LENGTH = 140
HTML_TEMPLATE = "email.mjml.j2"
TEXT_TEMPLATE = "email.txt.j2"
NOTICE_HTML_TEMPLATE = "notice_email.mjml.j2"  # the confirmation and welcome emails
NOTICE_TEXT_TEMPLATE = "notice_email.txt.j2"

# -- the parts an email is made of ----------------------------------------------------------

def issue_web_url(config: Config, issue: Issue) -> str:
    return f"{config.site_url}{issue.slug}/"


def unsubscribe_url(config: Config, token: str = UNSUBSCRIBE_PLACEHOLDER) -> str:
    return f"{config.site_url}unsubscribe?token={token}"


def preferences_url(config: Config, token: str = PREFERENCES_PLACEHOLDER) -> str:
    """The reader's own preferences page; "" when readers cannot manage themselves
    (``subscribe.enabled: false``: the page does not exist)."""
    if not config.subscribe.enabled:
        return ""
    return f"{config.site_url}preferences?token={token}"


def _slot_marks() -> dict[str, str]:
    """Marks for the per-subscriber links, unique to one rendering: an article's title or URL
    may hold the placeholder text itself ("__UNSUBSCRIBE_TOKEN__" in an image URL), and only
    the templates' own links must receive a subscriber's tokens. The marks never outlive the
    rendering (see :func:`_slots`), so the same inputs still give the same bytes."""
    nonce = secrets.token_hex(16)
    return {"unsubscribe": f"__UNSUBSCRIBE_{nonce}__", "preferences": f"__PREFERENCES_{nonce}__"}


_PUBLIC = {"unsubscribe": UNSUBSCRIBE_PLACEHOLDER, "preferences": PREFERENCES_PLACEHOLDER}


def _slots(rendered: str, marks: dict[str, str]
           ) -> tuple[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """``rendered`` with the public placeholders in place of the marks, and its pieces
    between the marks with the slot each mark stands for."""
    by_mark = {mark: slot for slot, mark in marks.items()}
    split = re.split(f"({'|'.join(map(re.escape, by_mark))})", rendered)
    slots = tuple(by_mark[mark] for mark in split[1::2])
    public = "".join(piece if i % 2 == 0 else _PUBLIC[by_mark[piece]]
                     for i, piece in enumerate(split))
    return public, (tuple(split[0::2]), slots)


def subject_line(config: Config, issue: Issue) -> str:
    """The editor's subject for this issue, else the configured one; either may hold
    {title}, {date} (e.g. February 22, 2021) and {slug}."""
    template = issue.subject if issue.subject and issue.subject.strip() else config.email.subject
    subject = (template
               .replace("{title}", issue.title)
               .replace("{date}", long_date(issue.date, config.words))
               .replace("{slug}", issue.slug))
    return one_line(subject)


def preheader(issue: Issue, words: Words = ENGLISH) -> str:
    """The inbox preview line: the issue's top headlines (else its title and date, said in
    ``words``)."""
    titles = [one_line(p.article.title) for p in issue.placed[:PREHEADER_HEADLINES]]
    titles = [t for t in titles if t]
    if not titles:
        return shorten(f"{issue.title}: {long_date(issue.date, words)}", PREHEADER_LENGTH)
    return shorten(" · ".join(titles), PREHEADER_LENGTH)


# -- rendering -------------------------------------------------------------------------------

@dataclass(frozen=True)
class RenderedEmail:
    """An email as rendered. ``html`` and ``text`` show the placeholder tokens (as
    ``email.html`` does); ``slots`` splits each part at the links delivery fills in per
    subscriber: (the pieces between them, the name of each slot), where only the templates'
    own links are slots, never a placeholder-like string some article carries."""

    subject: str
    preheader: str
    mjml: str
    html: str
    text: str
    slots: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)

    @property
    def html_bytes(self) -> int:
        return len(self.html.encode("utf-8"))


# MJML refuses a document holding a character XML forbids, and no reader needs them.
_usable = clean_text


# mjml-python rewrites attribute values with Rust's escape_debug: a backslash doubles and a
# combining accent, a no-break space or a line separator becomes the text "\u{301}". Written as
# character references, every such character passes through it intact.
_MANGLED_IN_ATTRIBUTES = re.compile(r"[^\x20-\x5b\x5d-\x7e]")


def _attribute(value: object) -> Markup:
    """``value`` escaped for an attribute (or mj-title) of the MJML template."""
    escaped = str(escape(_usable(str(value))))
    return Markup(_MANGLED_IN_ATTRIBUTES.sub(lambda m: f"&#{ord(m.group())};", escaped))


def _context(issue: Issue, config: Config, palette: Palette, marks: dict[str, str]
             ) -> dict[str, object]:
    return {
        "issue": issue,
        "config": config,
        "date": long_date(issue.date, config.words),
        "web_url": issue_web_url(config, issue),
        "unsubscribe_url": unsubscribe_url(config, marks["unsubscribe"]),
        "preferences_url": preferences_url(config, marks["preferences"]),
        "preheader": preheader(issue, config.words),
        "palette": palette,
        "width": EMAIL_WIDTH,
        "gutter": GUTTER,
        "image_width": IMAGE_WIDTH,
        "card": card_maker(config.timezone, IMAGE_WIDTH, fills_column=True,
                           words=config.words),
        "attribute": _attribute,
    }


# Only the template's own "/* inline */" style sheet is inlined: MJML's reset rules are
# already in place where they matter and, copied onto every table cell, would cost ~10 KB.
_INLINED_ELSEWHERE = re.compile(
    r"<style(?=[\s>])(?![^>]*data-css-inline)(?![^>]*>\s*/\* inline \*/)")
_TAG_OPEN = re.compile(r"<(/?)([A-Za-z][^\s/>]*)")
_ATTRIBUTE = re.compile(r"""\s+([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_RAW_TEXT = ("style", "script")
_TEXT_ATTRIBUTES = ("alt", "title", "aria-label")  # attributes that can carry article text


def _attribute_value(name: str, value: str) -> str:
    value = value.replace("<", "&lt;").replace(">", "&gt;")
    if name.lower() in _TEXT_ATTRIBUTES:
        value = value.replace("=", "&#61;")
    return value


def _harden_attributes(html: str) -> str:
    """Escape ``<`` and ``>`` inside attribute values (and ``=`` in text attributes).

    The HTML serializer of the CSS inliner writes an ``alt="<script>"`` as it is: valid HTML
    and inert, but mail filters and scanners that read tags with a regular expression take it
    for markup. Comments (Outlook's conditional markup) and style sheets are copied as they are.
    """
    out: list[str] = []
    i, n = 0, len(html)
    while i < n:
        j = html.find("<", i)
        if j < 0:
            out.append(html[i:])
            break
        out.append(html[i:j])
        if html.startswith("<!--", j):
            end = html.find("-->", j + 4)
            end = n if end < 0 else end + 3
            out.append(html[j:end])
            i = end
            continue
        tag = _TAG_OPEN.match(html, j)
        if tag is None:
            if html.startswith(("<!", "<?"), j):  # doctype
                end = html.find(">", j)
                end = n if end < 0 else end + 1
                out.append(html[j:end])
                i = end
            else:
                out.append("&lt;")
                i = j + 1
            continue
        out.append(tag.group(0))
        k = tag.end()
        while k < n and html[k] != ">":
            attribute = _ATTRIBUTE.match(html, k)
            if attribute is None:
                out.append(html[k])
                k += 1
                continue
            name = attribute.group(1)
            double, single, bare = attribute.group(2, 3, 4)
            if double is not None:
                out.append(f' {name}="{_attribute_value(name, double)}"')
            elif single is not None:
                out.append(f" {name}='{_attribute_value(name, single)}'")
            elif bare is not None:
                out.append(f" {name}={_attribute_value(name, bare)}")
            else:
                out.append(f" {name}")
            k = attribute.end()
        out.append(html[k:k + 1])
        i = k + 1
        name = tag.group(2).lower()
        if not tag.group(1) and name in _RAW_TEXT:
            end = html.lower().find(f"</{name}", i)
            end = n if end < 0 else end
            out.append(html[i:end])
            i = end
    return "".join(out)


def _compile_mjml(source: str) -> str:
    # disable_comments=False keeps the <!--[if mso]> markup Outlook needs; fonts={} loads no
    # web fonts (system fonts only, nothing fetched).
    html = mjml.mjml2html(source, disable_comments=False, fonts={})
    html = _INLINED_ELSEWHERE.sub('<style data-css-inline="ignore"', html)
    inliner = css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False,
                                     minify_css=True)
    return _harden_attributes(inliner.inline(html)) + "\n"


def render_email(issue: Issue, config: Config,
                 palette: Palette | None = None) -> RenderedEmail:
    """The email edition of ``issue``: the same inputs always give identical strings.
    The palette is the config's theme unless one is given."""
    marks = _slot_marks()
    context = _context(issue, config, palette or palette_for(config), marks)
    source = _usable(environment_for(config).get_template(HTML_TEMPLATE).render(context))
    text, text_slots = _slots(
        _usable(text_environment_for(config).get_template(TEXT_TEMPLATE).render(context)),
        marks)
    html, html_slots = _slots(_compile_mjml(source), marks)
    return RenderedEmail(
        subject=subject_line(config, issue),
        preheader=str(context["preheader"]),
        mjml=_slots(source, marks)[0],
        html=html,
        text=text,
        slots={"text": text_slots, "html": html_slots},
    )


def notice_subject(config: Config, kind: str) -> str:
    title = one_line(config.title)
    return (f"Confirm your subscription to {title}" if kind == "confirm"
            else f"Welcome to {title}")


def render_notice(config: Config, kind: str, address: str, *, confirm_url: str = "",
                  preferences_url: str = "", latest_url: str = "",
                  palette: Palette | None = None) -> RenderedEmail:
    """The confirmation (``kind="confirm"``, with ``confirm_url``) or welcome email
    (``"welcome"``, with ``preferences_url`` and, once an issue is published, ``latest_url``)
    to ``address``. Pure: the links and their tokens are passed in. They hold no text the
    signup form's sender chose but the address itself, so the form cannot mail a stranger's
    message to a victim."""
    hours = config.subscribe.confirm_hours
    subject = notice_subject(config, kind)
    preheader = (f"One click to start receiving {one_line(config.title)}." if kind == "confirm"
                 else "Your subscription is confirmed.")
    context = {
        "kind": kind, "config": config, "address": readable_address(address),
        "subject": subject,
        "preheader": preheader, "hours": int(hours) if hours == int(hours) else hours,
        "confirm_url": confirm_url, "preferences_url": preferences_url,
        "latest_url": latest_url, "palette": palette or palette_for(config),
        "width": EMAIL_WIDTH, "gutter": GUTTER,
        "attribute": _attribute,
    }
    source = _usable(environment_for(config).get_template(NOTICE_HTML_TEMPLATE)
                     .render(context))
    text = _usable(text_environment_for(config).get_template(NOTICE_TEXT_TEMPLATE)
                   .render(context))
    return RenderedEmail(subject=subject, preheader=preheader, mjml=source,
                         html=_compile_mjml(source), text=text)


def size_warning(rendered: RenderedEmail) -> str | None:
    """A warning when the HTML nears the size at which Gmail clips the message."""
    size = rendered.html_bytes
    if size < SIZE_WARNING_BYTES:
        return None
    where = "over" if size > GMAIL_CLIP_BYTES else "close to"
    return (f"the email's HTML is {size / 1024:.1f} KB, {where} the ~{GMAIL_CLIP_BYTES // 1024} KB "
            "at which Gmail clips a message and hides the rest, unsubscribe link included, "
            'behind "View entire message"; place fewer articles or shorten the excerpts')


