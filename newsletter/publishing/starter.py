"""Starting a newsletter (`newsletter init`): a commented config, an example article, an
empty output folder and a .gitignore; and copies of the packaged templates to override.

Nothing that exists is ever overwritten: every target is checked before the first file is
written, and files are created exclusively, so a second `init` changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..core.config import validate
from ..core.errors import ConfigError, NewsletterError
from ..core.folders import DEFAULT_CONFIG_NAME
from ..core.headers import mailbox
from ..core.safeyaml import parse_yaml
from ..core.theme import placeholder
from ..rendering.templating import TEMPLATES, packaged_templates

EXAMPLE_TOPIC = "News"  # the example article's topic when no topics were given
STATE_DIR = ".newsletter"
TEMPLATES_DIR = "templates"
# What `init --templates` copies: what readers see (the editor's preview is not themed).
_EDITOR_ONLY = ("preview_",)


@dataclass(frozen=True)
class Settings:
    """What `init` was told; None: not given (a placeholder is written)."""

    title: str | None = None
    site_url: str | None = None
    timezone: str | None = None
    topics: tuple[str, ...] = ()


def _quoted(value: str) -> str:
    """A YAML double-quoted scalar (JSON's escapes are YAML's)."""
    return json.dumps(value, ensure_ascii=False)


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def config_text(settings: Settings) -> str:
    title = settings.title or placeholder("the newsletter's name, e.g. AI Weekly")
    site_url = settings.site_url or placeholder(
        "the https URL where issues/ is published, e.g. https://news.example.org/ai/")
    timezone = settings.timezone or placeholder(
        "an IANA time zone such as America/New_York or UTC")
    topics = settings.topics or (placeholder(
        f'your topics, one per line; the example article is in "{EXAMPLE_TOPIC}"'),)
    host = urlsplit(settings.site_url).hostname if settings.site_url else None
    sender = (f"  from: {_quoted(mailbox(settings.title, f'newsletter@{host}'))}\n"
              if settings.title and host else
              '  # from: "AI Weekly <newsletter@news.example.org>"   # default: the title, '
              "newsletter@ the site's host\n")
    topic_lines = "".join(f"  - {_quoted(topic)}\n" for topic in topics)
    return f"""\
# The newsletter's configuration; README.md, "Configuration", has every setting.
# `newsletter check` validates it and lists every value still to fill in (<fill in: ...>).
# Relative paths resolve against this file's folder.

title: {_quoted(title)}
# Where the output folder is published: links in emails and feeds point there.
site_url: {_quoted(site_url)}
# Issue dates, windows and the schedule are in this time zone.
timezone: {_quoted(timezone)}
corpus: "articles"         # the article files, one per file (see articles/ for an example)
output: "issues"           # issues, the archive and the feeds are written here
window_days: 7             # an issue holds the articles of the 7 days before its date
min_quality: 0             # articles below this quality are left out
# The sections of every issue, in this order; a name alone holds up to 5 articles,
# or write {{name: "AI", max_articles: 3}}.
topics:
{topic_lines}
email:
{sender}  # Bulk email must show the sender's postal address (CAN-SPAM); `check` warns without it.
  # postal_address: "100 Example Street, Springfield"
  subject: "{{title}}: {{date}}"   # {{title}}, {{date}} (February 22, 2021) or {{slug}}

# Your look: the accent must be readable on white (WCAG AA; `check` says the contrast).
# theme:
#   accent: "#0f766e"
#   logo: {{url: "https://news.example.org/logo.png", width: 120}}
#   footer: "A short line under every email and page."
# Your own templates: `newsletter init --templates` copies the packaged ones there; a file
# named like a packaged template replaces it, the others keep the packaged version.
# templates: "{TEMPLATES_DIR}"

# Subscribers, the send ledger and caches (the .gitignore keeps them out of git).
state_dir: "{STATE_DIR}"
# schedule:
#   cron: "0 7 * * mon"    # build and publish every Monday at 07:00 (`newsletter schedule`)

# Sending (`newsletter send`, and the signup form of `newsletter serve`): your SMTP server.
# The secret that signs unsubscribe links goes in the variable NEWSLETTER_SECRET, never here.
# smtp:
#   host: "smtp.example.org"
#   port: 587
#   security: "starttls"            # none, starttls or ssl
#   username: "newsletter"
#   password_env: "SMTP_PASSWORD"   # the variable holding the password
"""


# The option of `init` that gives each setting it writes (the sender is made of the title).
OPTIONS = {"title": "--title", "site_url": "--site-url", "timezone": "--timezone",
           "topics": "--topics", "email": "--title"}


def settings_problems(folder: Path, settings: Settings, *, asked: bool = False
                      ) -> tuple[list[str], list[str]]:
    """What validating the configuration `init` would write says of the values it was
    given, as (errors, warnings), each after its option (``--timezone: timezone: expected an
    IANA time zone ...``): a typo is refused before anything is written, not left in the file
    for `check`, and a value `check` would warn about is warned about now. ``asked``: the
    value is an answer to `init`'s question, not an option, which a hint must not name."""
    path = (folder / DEFAULT_CONFIG_NAME).absolute()
    try:
        config = validate(parse_yaml(config_text(settings), first_line=1), path)
    except ConfigError as error:
        return (_given(settings, error.errors) + _topics(settings, asked),
                _given(settings, error.warnings, False))
    return _topics(settings, asked), _given(settings, list(config.warnings), False)


def _topics(settings: Settings, asked: bool) -> list[str]:
    """What `check` accepts but no article would name: a topic holding a comma or a lone
    quote, each said once (the first of each kind)."""
    return _commas(settings, asked) + _quotes(settings, asked)


# Quotes a topic or the whole answer may come in, typed as an example shows them or as a
# shell needs them, or as a word processor curls them. `init` takes a pair around a topic
# off; the closing single quotes are apostrophes too (it's, it’s).
QUOTES = (('"', '"'), ("'", "'"), ("\u201c", "\u201d"), ("\u2018", "\u2019"),
          ("\u00ab", "\u00bb"))
APOSTROPHES = ("'", "\u2019")


def unbalanced_quote(topic: str) -> tuple[str, str] | None:
    """The pair of quotes of which ``topic`` holds one that the other does not balance
    (``"climate``, ``it's "new``, ``'climate``), None when there is none. An apostrophe
    counts only when it is the topic's single one and opens it before a letter: inside a word
    (it's, rock 'n' roll), closing a possessive (Investors') or eliding digits ('90s) it is
    part of the name."""
    for opening, closing in QUOTES:
        marks = [index for index, char in enumerate(topic) if char in (opening, closing)]
        if closing in APOSTROPHES:
            lone = (len(marks) == 1 and marks[0] == 0
                    and not topic[1:2].isdigit())
        else:
            lone = (len(marks) % 2 == 1 if opening == closing
                    else topic.count(opening) != topic.count(closing))
        if lone:
            return opening, closing
    return None


def _without_lone_quotes(topic: str) -> str:
    while (pair := unbalanced_quote(topic)) is not None:
        topic = "".join(char for char in topic if char not in pair).strip()
    return topic


def _option_value(value: str) -> str:
    """``value`` quoted for a shell, as the README's examples quote --topics."""
    return f'"{value}"' if '"' not in value else shlex.quote(value)


def _quotes(settings: Settings, asked: bool = False) -> list[str]:
    """``--topics '"climate;tech'``: a quote opened and never closed (or closed and never
    opened) would stay in the topic's name, which no article spells so."""
    for index, topic in enumerate(settings.topics):
        if (pair := unbalanced_quote(topic)) is None:
            continue
        meant = ";".join(t for t in map(_without_lone_quotes, settings.topics) if t)
        fix = (("leave it out" if asked else "leave --topics out") if not meant
               else f"type {meant}" if asked else f"give --topics {_option_value(meant)}")
        shown = f'"{topic}"' if '"' not in topic else f"'{topic}'"
        mark = pair[0] if pair[0] in topic else pair[1]
        return [f"--topics: topics[{index}]: {shown} has an unbalanced quote ({mark}), which "
                f"would stay in the topic's name; {fix} (a topic named with a lone quote goes "
                f"in {DEFAULT_CONFIG_NAME} itself)"]
    return []


def _commas(settings: Settings, asked: bool = False) -> list[str]:
    """``--topics "AI, Robotics"`` meant two topics, not one named with a comma."""
    for index, topic in enumerate(settings.topics):
        if "," in topic:
            meant = ";".join(t.strip() for given in settings.topics for t in given.split(","))
            fix = (f'topics are separated by ";": {meant}' if asked else
                   f'--topics separates topics with ";": --topics "{meant}"')
            return [f'--topics: topics[{index}]: "{topic}" holds a comma, and {fix} (a topic '
                    f"named with a comma goes in {DEFAULT_CONFIG_NAME} itself)"]
    return []


def _given(settings: Settings, messages: list[str], derived: bool = True) -> list[str]:
    """The ``messages`` about a value given to `init` (not the placeholders, not the
    folders), each after the option that gave it. Without ``derived``, not those about the
    sender made of the title: a warning there (no postal address) is not the title's."""
    given = {"title": settings.title, "site_url": settings.site_url,
             "timezone": settings.timezone, "topics": settings.topics,
             "email": settings.title}
    found = []
    for message in messages:
        key = message.split(":", 1)[0].split(".", 1)[0].split("[", 1)[0]
        if key in OPTIONS and given[key] and (derived or key != "email"):
            found.append(f"{OPTIONS[key]}: {message}")
    return found


def example_article(settings: Settings, today: dt.date) -> tuple[str, str]:
    """(file name, text) of an article published yesterday at noon, so that the first
    `newsletter build` (today's issue) has something to place."""
    yesterday = today - dt.timedelta(days=1)
    published = dt.datetime.combine(yesterday, dt.time(12), tzinfo=_zone(settings.timezone))
    topic = settings.topics[0] if settings.topics else EXAMPLE_TOPIC
    name = settings.title or "your newsletter"
    text = f"""\
---
# An example article: one file per article, its fields as YAML between the two --- lines
# (README.md, "Article files"). Replace it with real ones; `newsletter check` validates them.
title: {_quoted(f"Welcome to {name}")}
excerpt: "The first article of the first issue. Each issue picks the best articles of its
  window per topic; `newsletter explain` says why each one is in or out."
publishedDateTime: {published.isoformat()}
webUrl: "https://example.org/welcome"
type: article               # or video
quality: 10                 # higher ranks first
heat: 0
provider: {{name: "Example", domain: "example.org"}}
topics: [{_quoted(topic)}]
images: []                  # [{{url: "https://...", width: 1200, height: 675}}]
related: []                 # other outlets' coverage of the same story
---
The body is for you; the newsletter shows the title, the excerpt and the links.
"""
    return f"articles/{yesterday.isoformat()}-welcome.md", text


GITIGNORE = f"""\
# The state of this newsletter (subscribers, the send ledger, caches): not for git.
/{STATE_DIR}/
"""


def _refuse_existing(folder: Path, names: list[str]) -> None:
    existing = [name for name in names if (folder / name).exists()
                or (folder / name).is_symlink()]
    if existing:
        verb = "exists" if len(existing) == 1 else "exist"
        raise NewsletterError(
            f"{folder.resolve()}: {', '.join(existing)} already {verb}; `newsletter init` "
            "never overwrites anything: pick another folder, or move them away first")


def init_newsletter(folder: Path, settings: Settings, today: dt.date) -> list[Path]:
    """Create the files of a new newsletter in ``folder`` (created if needed); refuses when
    any of them exists. ``today`` dates the example article (yesterday)."""
    article_name, article = example_article(settings, today)
    files = {DEFAULT_CONFIG_NAME: config_text(settings), article_name: article,
             ".gitignore": GITIGNORE}
    _refuse_existing(folder, [DEFAULT_CONFIG_NAME, "articles", "issues", ".gitignore"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "articles").mkdir()
    (folder / "issues").mkdir()
    created = [folder / "articles", folder / "issues"]
    for name, text in files.items():
        with open(folder / name, "x", encoding="utf-8") as file:
            file.write(text)
        created.append(folder / name)
    return sorted(created)


def copy_templates(target: Path) -> list[Path]:
    """Copy the packaged templates readers see into ``target``, to start overriding from;
    refuses when any of them exists there."""
    names = [n for n in packaged_templates() if not n.startswith(_EDITOR_ONLY)]
    _refuse_existing(target, names)
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in names:
        with open(TEMPLATES / name, "rb") as source, open(target / name, "xb") as copy:
            shutil.copyfileobj(source, copy)
        copied.append(target / name)
    return copied
