"""The editor's adjustments to one issue: ``<output>/<date>/overrides.yaml``.

```yaml
intro: |
  First paragraph.

  Second paragraph.
topic_intros:                     # a paragraph or more under a topic's heading
  AI Policy: "Brussels moved first this week."
intro_in_filtered: false          # the intro in editions of only some topics too
subject: "A special issue"
pin: [2021-02-17-some-article, "https://example.org/story"]   # ids or URLs
exclude: [2021-02-18-other]                                     # ids or URLs
```
Validated like the config: every problem reported at once, unknown keys warn.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.config import Config, check_subject
from ..core.errors import OVERRIDES, ConfigError
from ..core.models import Article, Issue, Window
from ..core.safeyaml import flow_item, load_yaml_file, written_items
from ..core.text import clean_text, describe, double_quoted, topic_key
from ..core.urls import canonical_url
from .select import pin_topic

OVERRIDES_FILE = "overrides.yaml"
KEYS = ("intro", "topic_intros", "intro_in_filtered", "subject", "pin", "exclude")


@dataclass(frozen=True)
class Overrides:
    intro: tuple[str, ...] = ()  # paragraphs
    subject: str | None = None
    pin: tuple[str, ...] = ()  # article ids or URLs, in the editor's order
    exclude: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    # topic name as written -> paragraphs; shown under the topic's heading
    topic_intros: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Whether an edition of only some topics (a subscriber's choice) shows ``intro``, which
    # talks about the whole issue; the intros of its own topics it always shows.
    intro_in_filtered: bool = False
    # What is wrong with the file's values, each left out above: reported with the problems
    # of its pins and excludes, so that an editor sees every problem of the file at once.
    errors: tuple[str, ...] = ()
    # Where each entry of ``pin`` and ``exclude`` is in the file's list (an entry that is no
    # text is left out above): messages number entries as the file does. () is 0, 1, 2, ...
    pin_at: tuple[int, ...] = ()
    exclude_at: tuple[int, ...] = ()

    def numbered(self, key: str) -> Iterator[tuple[int, str]]:
        """The entries of ``key`` (pin or exclude), each with its index in the file's list."""
        entries: tuple[str, ...] = getattr(self, key)
        return zip(getattr(self, f"{key}_at") or range(len(entries)), entries, strict=True)

    def entry(self, key: str, index: int) -> str | None:
        """The entry of ``key`` at ``index`` of the file's list; None when that one is not
        text (reported as such)."""
        return next((entry for at, entry in self.numbered(key) if at == index), None)


def _entries(value: Any, key: str, errors: list[str], text: str
             ) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The entries of ``key``, and their indices in the file's list; an entry that is no
    text (YAML read ``2026-12-06`` as a date) is named in ``errors`` with its line, and what
    to write instead, from ``text``, the file."""
    if value is None:
        return (), ()
    if isinstance(value, str):
        value = [value]
    elif not isinstance(value, list):
        errors.append(_not_text(key, value, text) or f"{key}: expected a list of article ids "
                      f"or URLs, got {describe(value)}")
        return (), ()
    entries, at = [], []
    for index, item in enumerate(value):
        if isinstance(item, str) and item.strip():
            entries.append(item.strip())
            at.append(index)
        else:
            errors.append(_not_text(key, value, text, index) or f"{key}[{index}]: expected "
                          f"an article id or URL, got {describe(item)}")
    return tuple(entries), tuple(at)


# What YAML makes of a value written without quotes, in words.
_READS_AS = ((bool, "true or false (a yes/no value)"), (dt.datetime, "a date and time"),
             (dt.date, "a date"), (int, "a number"), (float, "a number"),
             (type(None), "nothing (null)"), (list, "a list"), (dict, "a mapping (key: value)"))


def _not_text(key: str, value: Any, text: str, index: int | None = None) -> str | None:
    """The problem of ``key``'s value (of its item ``index``) that YAML read as something
    other than text, with its line and what to write instead: ``line 1: exclude[0]:
    2026-12-06 reads as a date in YAML; write it in quotes: exclude: ["2026-12-06"]``; or
    that it is empty. None when the file does not tell how it is written."""
    item = value if index is None else value[index]
    written = written_items(text, key)
    if written is None or len(written) != (1 if index is None else len(value)):
        return None
    where = written[index or 0]
    name = key if index is None else f"{key}[{index}]"
    if isinstance(item, str) or not where.source:  # "", or an item left blank (- )
        return (f"line {where.line}: {name}: empty: write an article id or URL, or remove "
                "the entry")
    kind = next(words for kind, words in _READS_AS if isinstance(item, kind))
    if index is None:  # subject: 2026-12-06, pin: 2026-12-06
        fix = f"{key}: " + (f"[{double_quoted(where.source)}]" if key in ("pin", "exclude")
                            else double_quoted(where.source))
    elif where.flow:  # the whole list, each entry written to read back as it is written
        fix = f"{key}: [" + ", ".join(w.source if isinstance(entry, str) else
                                      double_quoted(w.source)
                                      for w, entry in zip(written, value, strict=True)) + "]"
    else:
        fix = f"- {double_quoted(where.source)}"
    return (f"line {where.line}: {name}: {where.source} reads as {kind} in YAML; write it "
            f"in quotes: {fix}")


def parse_overrides(data: Any, path: Path, text: str = "") -> Overrides:
    """The overrides in ``data``, the YAML document of the file ``path``; its ``text`` says
    how a value YAML read as no text is written, to say what to write instead."""
    if data is None:
        return Overrides()
    if not isinstance(data, dict):
        raise ConfigError(str(path), [f"the file holds {describe(data)}, expected a mapping "
                                      "with intro, subject, pin or exclude"], what=OVERRIDES)
    errors: list[str] = []
    warnings = [f"{key}: unknown key, ignored (known: {', '.join(KEYS)})"
                for key in data if key not in KEYS]
    intro = _paragraphs(data.get("intro"), "intro", errors)
    topic_intros = _topic_intros(data.get("topic_intros"), errors)
    intro_in_filtered = data.get("intro_in_filtered", False)
    if not isinstance(intro_in_filtered, bool):
        errors.append(f"intro_in_filtered: expected true or false, got "
                      f"{describe(intro_in_filtered)}")
        intro_in_filtered = False
    subject = data.get("subject")
    if subject is not None:
        if not isinstance(subject, str) or not subject.strip():
            errors.append((not isinstance(subject, str | list | dict)
                           and _not_text("subject", subject, text))
                          or f"subject: expected a non-empty line of text, got "
                          f"{describe(subject)}")
            subject = None
        else:
            subject = " ".join(clean_text(subject).split())
            problem = check_subject(subject)
            if problem:
                errors.append(f"subject: {problem}")
                subject = None
    pin, pin_at = _entries(data.get("pin"), "pin", errors, text)
    exclude, exclude_at = _entries(data.get("exclude"), "exclude", errors, text)
    return Overrides(intro, subject, pin, exclude, tuple(warnings), topic_intros,
                     intro_in_filtered, tuple(errors), pin_at, exclude_at)


def _paragraphs(value: Any, key: str, errors: list[str]) -> tuple[str, ...]:
    """Plain text as paragraphs (separated by blank lines), each on one line."""
    if value is None:
        return ()
    if not isinstance(value, str):
        errors.append(f"{key}: expected plain text, got {describe(value)}")
        return ()
    paragraphs = re.split(r"\n\s*\n", clean_text(value).strip())
    return tuple(" ".join(p.split()) for p in paragraphs if p.strip())


def _topic_intros(value: Any, errors: list[str]
                  ) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        errors.append("topic_intros: expected a mapping of topic names to text, such as "
                      f'{{"AI Policy": "..."}}, got {describe(value)}')
        return ()
    intros = []
    for topic, text in value.items():
        if not isinstance(topic, str) or not topic.strip():
            errors.append(f"topic_intros: expected topic names as keys, got {describe(topic)}")
            continue
        paragraphs = _paragraphs(text, f"topic_intros.{topic}", errors)
        if paragraphs:
            intros.append((topic.strip(), paragraphs))
    return tuple(intros)


def load_overrides(path: Path, *, partial: bool = False) -> Overrides:
    """The overrides in ``path``, or none when the file does not exist. A value that is
    wrong raises, unless ``partial``: then it is left out and named in ``errors``, for the
    caller to report with the problems of the pins and excludes (a file that is no YAML
    mapping raises all the same)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Overrides()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(str(path), [f"cannot be read: {error}"], what=OVERRIDES) from None
    overrides = parse_overrides(load_yaml_file(path, text, holder="overrides files",
                                               what=OVERRIDES), path, text)
    if overrides.errors and not partial:
        raise ConfigError(str(path), list(overrides.errors), list(overrides.warnings),
                          what=OVERRIDES)
    return overrides


def find_article(entry: str, articles: dict[str, Article],
                 by_url: dict[str, Article]) -> Article | None:
    """The article an override entry names: by id, else by canonical URL."""
    if entry in articles:
        return articles[entry]
    url = canonical_url(entry)
    return by_url.get(url) if url else None


@dataclass(frozen=True)
class Resolved:
    """What :func:`resolve_entries` makes of the pins and excludes: the entries that apply,
    and a problem for each one that does not (left out of ``pinned`` and ``excluded``),
    after those of the file's values (``Overrides.errors``): every problem of the file."""
    pinned: tuple[Article, ...]
    excluded: frozenset[str]
    errors: tuple[str, ...]


def resolve_entries(overrides: Overrides, articles: Sequence[Article], config: Config,
                    window: Window, issue_date: dt.date) -> Resolved:
    """Pinned articles (in order) and excluded ids/URLs, and every problem of the file:
    its values' (``overrides.errors``), each entry that names no article, each intro of a
    topic not configured. An excluded entry names an article file, or another outlet's
    coverage (a related item) of an article in the window; anything else is a typo, as in
    ``pin``. ``articles`` must hold every valid article an entry names and, for an exclude
    naming no article, those of the window (``check`` resolves the drafts' entries as a
    build does). Nothing raises: ``explain`` and the preview account for the issue with the
    entries that apply, and say which do not."""
    listing = f"`newsletter explain --date {issue_date.isoformat()}` lists the ids"
    # Indexed only when there is an entry to look up: explain may read a million articles.
    by_id = {a.id: a for a in articles} if overrides.pin or overrides.exclude else {}
    by_url = _by_url(articles, window) if by_id else {}
    errors = list(overrides.errors)
    pinned: list[Article] = []
    for index, entry in overrides.numbered("pin"):
        article = find_article(entry, by_id, by_url)
        if article is None:
            errors.append(f'pin[{index}]: no valid article has the id or URL "{entry}"'
                          + _meant(entry, articles, window) + "; "
                          + (_as_list("pin", entry, by_id, by_url) or
                             f"{listing} and `newsletter check` the invalid files: fix the "
                             "entry or remove the pin"))
        elif pin_topic(article, config) is None:
            topics = ", ".join(article.topics) or "none"
            close = next(((t, n) for t, n in ((t, _close_topic(t, config))
                                              for t in article.topics) if n), None)
            hint = (f'; its topic "{close[0]}" is spelt like the configured "{close[1]}" '
                    "(renamed in the config?): change one or the other" if close else "")
            errors.append(f'pin[{index}]: "{entry}" has no configured topic (its topics: '
                          f"{topics}), so there is no section to pin it in{hint}")
        else:
            pinned.append(article)
    excluded: set[str] = set()
    related = _related_urls(articles, window) if overrides.exclude else set()
    for index, entry in overrides.numbered("exclude"):
        article = find_article(entry, by_id, by_url)
        if article is not None and article in pinned:
            errors.append(f'exclude[{index}]: "{entry}" is also pinned; keep one of the two')
            continue
        excluded.add(entry)
        if article is not None:
            excluded |= {article.id, article.canonical_url}
        elif canonical_url(entry) in related:
            excluded.add(canonical_url(entry) or entry)  # as related items are compared
        else:
            errors.append(f'exclude[{index}]: no article file and no related coverage in this '
                          f'issue\'s window has the id or URL "{entry}"'
                          + _meant(entry, articles, window) + "; "
                          + (_as_list("exclude", entry, by_id, by_url)
                             or f"{listing}: fix the entry or remove it"))
    errors += unknown_topics(overrides, config)
    return Resolved(tuple(pinned), frozenset(excluded), tuple(errors))


def _by_url(articles: Sequence[Article], window: Window) -> dict[str, Article]:
    """The article each canonical URL names. A URL several files share (a story published
    again, a feed's repeat) names the one in the issue's window, the newest of them or,
    with none in it, the newest: the one the editor saw in this issue's explain table."""
    chosen: dict[str, Article] = {}
    for article in articles:
        if not article.canonical_url:  # what explain keeps of a file outside the window
            continue
        held = chosen.get(article.canonical_url)
        if held is None or ((article.published in window, article.published)
                            > (held.published in window, held.published)):
            chosen[article.canonical_url] = article
    return chosen


def _meant(entry: str, articles: Sequence[Article], window: Window) -> str:
    """The id of an article in the issue's window spelt like ``entry`` (a typo), as a
    suggestion: those are the ids `explain` lists and `build` reads; "" when none is close.
    Looked for only once an entry names nothing."""
    ids = [a.id for a in articles if a.published in window]
    close = difflib.get_close_matches(entry, ids, n=1, cutoff=0.8)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _as_list(key: str, entry: str, by_id: dict[str, Article],
             by_url: dict[str, Article]) -> str:
    """The fix for several entries written as one ("a, b"), when each of them names an
    article: a YAML list. "" otherwise."""
    parts = [part.strip() for part in entry.split(",")]
    if len(parts) < 2 or not all(find_article(part, by_id, by_url) for part in parts if part):
        return ""
    return (f"it reads as one entry: to {key} several articles, write a YAML list, "
            f"`{key}: [{', '.join(flow_item(part) for part in parts if part)}]`")


def _related_urls(articles: Sequence[Article], window: Window) -> set[str]:
    return {item.canonical_url for a in articles if a.published in window
            for item in a.related if item.canonical_url}


def unknown_topics(overrides: Overrides, config: Config) -> list[str]:
    """A problem for each topic intro of a topic the config does not have (a typo, or one
    renamed since), with the configured topic it is spelt like."""
    known = {topic_key(t.name) for t in config.topics}
    names = ", ".join(t.name for t in config.topics)
    return [f'topic_intros: "{topic}" is not a configured topic (the topics: {names})'
            + _renamed(topic, config)
            for topic, _ in overrides.topic_intros if topic_key(topic) not in known]


def _renamed(topic: str, config: Config) -> str:
    """A configured topic spelt like ``topic`` (renamed in the config, or a typo), as a
    suggestion; "" when none is close."""
    close = _close_topic(topic, config)
    return f'; did you mean "{close}"?' if close else ""


def _close_topic(topic: str, config: Config) -> str | None:
    names = {topic_key(t.name): t.name for t in config.topics}
    close = difflib.get_close_matches(topic_key(topic), list(names), n=1, cutoff=0.6)
    return names[close[0]] if close else None


def unapplied(issue: Issue, overrides: Overrides) -> list[str]:
    """The keys of ``overrides`` that the built ``issue`` does not reflect: the editor
    changed overrides.yaml after the build (or the preview), so publishing the draft as it
    stands would send out what they took away, or without what they added."""
    keys = []
    if issue.intro != overrides.intro:
        keys.append("intro")
    if issue.subject != overrides.subject:
        keys.append("subject")
    if issue.intro_in_filtered != overrides.intro_in_filtered:
        keys.append("intro_in_filtered")
    intros = {topic_key(topic): text for topic, text in overrides.topic_intros}
    if any(section.intro != intros.get(topic_key(section.topic), ())
           for section in issue.sections):
        keys.append("topic_intros")
    placed = issue.placed
    names = {name for p in placed for name in (p.article.id, p.article.canonical_url)}
    # A pin also orders (the pinned first, in the file's order), and one taken out gives
    # the rules back the article's place: the entries must be those the issue was built
    # with (a published issue.json older than that record keeps none: None).
    pins, excludes = issue.pins, issue.excludes
    if (any(entry not in names and canonical_url(entry) not in names for entry in overrides.pin)
            or pins is not None and _entries_key(pins) != _entries_key(overrides.pin)):
        keys.append("pin")
    excluded = set(overrides.exclude) | {canonical_url(entry) for entry in overrides.exclude}
    shown = names | {item.canonical_url for p in placed for item in p.related}
    if excluded & shown or excludes is not None and (set(_entries_key(excludes))
                                                     != set(_entries_key(overrides.exclude))):
        keys.append("exclude")
    return keys


def _entries_key(entries: Sequence[str]) -> list[str]:
    """Entries as compared: a URL by its canonical form, however it is spelt."""
    return [canonical_url(entry) or entry for entry in entries]
