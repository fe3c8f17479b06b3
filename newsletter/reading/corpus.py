"""Read the article corpus: walk the folder, split front matter, parse it safely, validate.

One bad file never stops the others: :func:`read_corpus` returns the articles it could read
and a :class:`Problem` for each file it could not, naming the file, the line when known, and
what to fix.

Corpora grow to 100,000 files and more, so :func:`read_corpus` can keep what it read in a
cache (``cache.py``) and re-read only changed files, can leave unparsed the files a cheap,
sound scan of their ``publishedDateTime:`` line puts outside the issue's window, and reads
the rest over every core. None of this may change a result (``tests/test_cache.py``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import html
import math
import operator
import os
import re
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import cache as corpus_cache
from .cache import CANONICAL, KIND, PROBLEM, PUBLISHED_US, TRUSTED
from .models import Article, Image, Number, Problem, Provider, RelatedItem, Window
from .urls import canonical_url, domain_of

ARTICLE_SUFFIXES = (".md", ".txt")
MAX_FILE_BYTES = 2 * 1024 * 1024
# Article files never need YAML anchors; a few are tolerated, many are an alias bomb.
MAX_ALIAS_USES = 20

# The line that closes the front matter: exactly "---" or "...", CRLF allowed.
_CLOSING_LINE = re.compile(r"^(?:---|\.\.\.)\r?$", re.MULTILINE)
_OPENING_LINE = re.compile(r"---\r?\n|---\r?$")


class ArticleError(ValueError):
    """Why one article file is invalid; ``key`` names the field when there is one."""

    def __init__(self, message: str, *, key: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.key = key
        self.line = line


class _ArticleLoader(yaml.CSafeLoader):  # type: ignore[misc, name-defined]
    """libyaml's safe loader (fast; no language tags) that refuses alias bombs.

    An alias is constructed once and shared, so expansion costs nothing here, but a
    document made of thousands of aliases still explodes in whatever walks it later.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._alias_uses = 0

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node in self.constructed_objects or node in self.recursive_objects:
            self._alias_uses += 1
            if self._alias_uses > MAX_ALIAS_USES:
                raise ArticleError(
                    f"more than {MAX_ALIAS_USES} YAML aliases (*name): refused, as files "
                    "like this are used to exhaust memory; write the values out in full",
                    line=node.start_mark.line + 2,
                )
        return super().construct_object(node, deep)


@dataclass(frozen=True)
class CorpusReading:
    articles: tuple[Article, ...]
    problems: tuple[Problem, ...]
    # Files outside the window left out (see read_corpus): valid or not, they cannot change
    # the issue. ``unvalidated`` of them were never parsed, so an invalid one among them is
    # not in ``problems`` until a complete reading (check, explain, --strict) validates it.
    unread: int = 0
    unvalidated: int = 0

    @property
    def file_count(self) -> int:
        return len(self.articles) + len(self.problems) + self.unread


@dataclass(frozen=True)
class ArticleFile:
    id: str
    relative_path: str
    path: Path
    size: int


def article_id(relative_path: str) -> str:
    """``briefs/2021-02-17-x.md`` -> ``briefs/2021-02-17-x``."""
    stem, _, _suffix = relative_path.rpartition(".")
    return stem


def iter_article_files(root: Path) -> Iterator[ArticleFile]:
    """Every ``*.md`` and ``*.txt`` below ``root``, sorted, skipping hidden files and folders.

    Folder symlinks are not followed, so a link loop cannot make the walk endless.
    """

    def walk(folder: str, prefix: str) -> Iterator[ArticleFile]:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda e: e.name)
        for entry in entries:
            if entry.name.startswith("."):
                continue
            relative = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                yield from walk(entry.path, relative + "/")
            elif entry.name.endswith(ARTICLE_SUFFIXES) and entry.is_file():
                yield ArticleFile(
                    article_id(relative), relative, Path(entry.path), entry.stat().st_size
                )

    yield from walk(str(root), "")


def split_front_matter(text: str) -> tuple[str, str]:
    """Split an article into (front matter YAML, body).

    The file starts with a ``---`` line and the front matter ends at the next line that is
    exactly ``---`` or ``...``. The YAML keeps its position: it starts on line 2 of the file.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise ArticleError(
            "empty file: an article is a '---' line, YAML fields, and a closing '---' line"
        )
    opening = _OPENING_LINE.match(text)
    if not opening:
        raise ArticleError(
            "no front matter: the file must start with a line containing only '---', "
            "followed by the article's fields and a closing '---' line",
            line=1,
        )
    closing = _CLOSING_LINE.search(text, opening.end())
    if not closing:
        raise ArticleError(
            "front matter opened on line 1 is never closed: add a line containing only "
            "'---' after the last field",
            line=1,
        )
    body = text[closing.end():]
    return text[opening.end():closing.start()], body.removeprefix("\r").removeprefix("\n")


def _yaml_error(error: yaml.YAMLError) -> ArticleError:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    line = mark.line + 2 if mark is not None else None  # YAML starts on file line 2
    problem = getattr(error, "problem", None) or str(error)
    context, context_mark = getattr(error, "context", None), getattr(error, "context_mark", None)
    if context and context_mark is not None and context_mark.line + 2 != line:
        problem += f" ({context} started on line {context_mark.line + 2})"
    tag = re.search(r"tag '([^']*)'", problem)
    if isinstance(error, yaml.constructor.ConstructorError) and tag:
        short = tag.group(1).replace("tag:yaml.org,2002:", "!!")
        return ArticleError(
            f"YAML tag {short} is not allowed: article files hold plain YAML "
            "(strings, numbers, dates, lists, mappings)",
            line=line,
        )
    return ArticleError(f"YAML syntax error: {problem}", line=line)


MAX_FLOW_DEPTH = 200


def check_nesting(text: str) -> None:
    """Refuse deeply nested flow collections (``[[[[...``) before libyaml sees them: its
    parser recurses in C and overflows the stack, killing the process, long before Python's
    recursion limit could catch it. Block nesting needs indentation, which the size limit
    already bounds."""
    if text.count("[") + text.count("{") <= MAX_FLOW_DEPTH:
        return
    depth = 0
    for index, char in enumerate(text):
        if char in "[{":
            depth += 1
            if depth > MAX_FLOW_DEPTH:
                raise ArticleError(
                    f"YAML nested more than {MAX_FLOW_DEPTH} levels deep: refused",
                    line=text.count("\n", 0, index) + 2)
        elif char in "]}":
            depth = max(0, depth - 1)


def parse_yaml(front_matter: str) -> Any:
    check_nesting(front_matter)
    loader = _ArticleLoader(front_matter)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as error:
        raise _yaml_error(error) from None
    except ArticleError:
        raise
    except (ValueError, OverflowError) as error:
        # PyYAML builds timestamps with datetime(), which refuses 2021-02-30 with a bare
        # ValueError: an invalid file, not a crash of the whole build.
        raise ArticleError(f"YAML value cannot be read: {error} (a date that does not "
                           "exist?)") from None
    finally:
        loader.dispose()


# -- field validation ----------------------------------------------------------------------

def describe(value: Any) -> str:
    """A short rendering of a bad value for an error message."""
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return '"' + shown.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return repr(value)


# Characters XML 1.0 forbids (C0 controls but tab/newline/return, lone surrogates, U+FFFE,
# U+FFFF) plus DEL and the C1 controls, which HTML treats as parse errors. Dropped on reading
# and again before every output, so that no output can carry them.
_UNWANTED_CHARACTERS = re.compile(
    "[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean_text(text: str) -> str:
    """``text`` without the control characters that XML forbids and HTML frowns upon."""
    return _UNWANTED_CHARACTERS.sub("", text)


def _text(value: Any, key: str) -> str:
    """A text field: HTML entities decoded once, so every output can escape it correctly."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ArticleError(f"{key}: expected text, got {describe(value)}", key=key)
    return clean_text(html.unescape(str(value))).strip()


def parse_number(value: Any, key: str, default: Number) -> Number:
    if value is None:
        return default
    number: Number | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int | float):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            try:
                number = float(value.strip())
            except ValueError:
                number = None
    if number is None or (isinstance(number, float) and not math.isfinite(number)):
        raise ArticleError(f"{key}: expected a number, got {describe(value)}", key=key)
    return number


def parse_instant(value: Any, key: str) -> dt.datetime:
    """An instant: a YAML timestamp or ISO 8601 string; no offset means UTC; a date is 00:00 UTC."""
    instant: dt.datetime | None = None
    if isinstance(value, dt.datetime):
        instant = value
    elif isinstance(value, dt.date):
        instant = dt.datetime.combine(value, dt.time(0))
    elif isinstance(value, str):
        try:
            instant = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            instant = None
    if instant is None:
        raise ArticleError(
            f"{key}: expected an ISO 8601 date and time such as 2021-02-18T16:24:00Z, "
            f"got {describe(value)}",
            key=key,
        )
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=dt.UTC)
    return instant


def _provider(value: Any, key: str) -> Provider:
    if value is None:
        return Provider()
    if not isinstance(value, dict):
        raise ArticleError(f"{key}: expected a mapping with name and domain, got "
                           f"{describe(value)}", key=key)
    return Provider(_text(value.get("name"), f"{key}.name"),
                    _text(value.get("domain"), f"{key}.domain"))


def _images(value: Any, key: str) -> tuple[Image, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ArticleError(f"{key}: expected a list of images, got {describe(value)}", key=key)
    images = []
    for index, item in enumerate(value):
        where = f"{key}[{index}]"
        if not isinstance(item, dict):
            raise ArticleError(f"{where}: expected a mapping with url, width and height, "
                               f"got {describe(item)}", key=key)
        url = item.get("url")
        if not isinstance(url, str) or not url.strip():
            continue  # an image without a URL is nothing to show
        sizes = []
        for dimension in ("width", "height"):
            raw = item.get(dimension)
            size = None if raw is None else parse_number(raw, f"{where}.{dimension}", 0)
            sizes.append(int(size) if size is not None and size > 0 else None)
        images.append(Image(url.strip(), sizes[0], sizes[1]))
    return tuple(images)


def _topics(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ArticleError(f"topics: expected a list of topic names, got {describe(value)}",
                           key="topics")
    topics = []
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise ArticleError(f"topics[{index}]: expected a topic name, got {describe(item)}",
                               key="topics")
        if item.strip():
            topics.append(clean_text(html.unescape(item)).strip())
    return tuple(topics)


def _related(value: Any) -> tuple[RelatedItem, ...]:
    """Related coverage; items without a usable title or URL are kept here and dropped by
    selection, which owns that rule."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ArticleError(f"related: expected a list, got {describe(value)}", key="related")
    items = []
    for index, item in enumerate(value):
        where = f"related[{index}]"
        if not isinstance(item, dict):
            raise ArticleError(f"{where}: expected a mapping with title and webUrl, got "
                               f"{describe(item)}", key="related")
        url = item.get("webUrl")
        url = url.strip() if isinstance(url, str) else ""
        provider = _provider(item.get("provider"), f"{where}.provider")
        published = item.get("publishedDateTime")
        items.append(RelatedItem(
            title=_text(item.get("title"), f"{where}.title"),
            url=url,
            canonical_url=canonical_url(url),
            domain=domain_of(provider.domain, url),
            provider=provider,
            excerpt=_text(item.get("excerpt"), f"{where}.excerpt"),
            type=_text(item.get("type"), f"{where}.type") or "article",
            quality=None if item.get("quality") is None
            else parse_number(item["quality"], f"{where}.quality", 0),
            published=None if published is None
            else parse_instant(published, f"{where}.publishedDateTime"),
        ))
    return tuple(items)


def article_from_fields(fields: Any, *, id: str, path: str, body: str = "") -> Article:
    """Validate parsed front matter and build the :class:`Article`.

    ``secured`` is deliberately never looked at: it is an opaque blob that must not reach
    any output.
    """
    if not isinstance(fields, dict):
        kind = "a list" if isinstance(fields, list) else describe(fields)
        raise ArticleError(f"front matter is {kind}, expected a mapping of fields "
                           "(title: ..., webUrl: ..., ...)")
    title = _text(fields.get("title"), "title")
    if not title:
        raise ArticleError("title: missing or empty; every article needs a title", key="title")
    url = fields.get("webUrl")
    canonical = canonical_url(url)
    if canonical is None:
        found = "nothing" if url is None else describe(url)
        raise ArticleError(f"webUrl: expected an absolute http(s) URL such as "
                           f"https://example.org/story, got {found}", key="webUrl")
    if fields.get("publishedDateTime") is None:
        raise ArticleError("publishedDateTime: missing; give the publication time, e.g. "
                           "2021-02-18T16:24:00Z", key="publishedDateTime")
    provider = _provider(fields.get("provider"), "provider")
    return Article(
        id=id,
        path=path,
        title=title,
        url=url.strip(),
        canonical_url=canonical,
        domain=domain_of(provider.domain, url),
        published=parse_instant(fields["publishedDateTime"], "publishedDateTime"),
        quality=parse_number(fields.get("quality"), "quality", 0),
        heat=parse_number(fields.get("heat"), "heat", -1),
        excerpt=_text(fields.get("excerpt"), "excerpt"),
        type=_text(fields.get("type"), "type") or "article",
        provider=provider,
        topics=_topics(fields.get("topics")),
        images=_images(fields.get("images"), "images"),
        related=_related(fields.get("related")),
        body=body,
    )


def _line_of_key(front_matter: str, key: str) -> int | None:
    """The file line of a top-level key, for messages; only called on the error path."""
    match = re.search(rf"^{re.escape(key)}\s*:", front_matter, re.MULTILINE)
    return front_matter.count("\n", 0, match.start()) + 2 if match else None


def parse_article(text: str, *, id: str, path: str) -> Article:
    front_matter, body = split_front_matter(text)
    fields = parse_yaml(front_matter)
    try:
        return article_from_fields(fields, id=id, path=path, body=body)
    except ArticleError as error:
        if error.line is None and error.key:
            error.line = _line_of_key(front_matter, error.key)
        raise


# -- reading one file ----------------------------------------------------------------------

def _decode_utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ArticleError(
            f"not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}): "
            "save the file as UTF-8",
            line=data.count(b"\n", 0, error.start) + 1,
        ) from None


def _too_big(size: int) -> ArticleError:
    return ArticleError(
        f"file is {size / 1024 / 1024:.1f} MB, over the "
        f"{MAX_FILE_BYTES // 1024 // 1024} MB limit for an article: not read; "
        "is it really an article?"
    )


def read_article(file: ArticleFile) -> Article | Problem:
    """Read one file; every failure becomes a :class:`Problem`, never an exception."""
    return _read_file(file.relative_path, str(file.path), file.size, None)[4]  # type: ignore


# What reading one file gave: (kind, published_us, canonical URL, cache payload, result).
# ``result`` is None for a deferred file, and in worker processes (the payload travels).
_Read = tuple[int, int | None, str | None, str | None, Article | Problem | None]


def _read_file(relative: str, path: str, size: int, plan: _Plan | None, *,
               encode: bool = False, keep: bool = True) -> _Read:
    """Read one file, or only scan its date when ``plan`` says it cannot matter."""
    result: Article | Problem
    try:
        if size > MAX_FILE_BYTES:
            raise _too_big(size)
        with open(path, "rb") as handle:
            text = _decode_utf8(handle.read())
        if plan is not None and plan.start_us is not None:
            # The URL matters only when an editor named files by URL (and costs a parse).
            published, url = scan_front_matter(text, url=bool(plan.wanted_canonical))
            canonical = canonical_url(url) if url is not None else None
            if plan.may_skip(article_id(relative), published, canonical):
                return corpus_cache.KIND_DEFERRED, published, canonical, None, None
        result = parse_article(text, id=article_id(relative), path=relative)
    except ArticleError as error:
        result = Problem(relative, error.message, error.line)
    except OSError as error:
        result = Problem(relative, f"cannot be read: {error.strerror or error}")
    except RecursionError:
        result = Problem(relative, "YAML nested too deeply to read")
    kind, payload = corpus_cache.payload_for(result) if encode else (
        corpus_cache.KIND_ARTICLE if isinstance(result, Article) else corpus_cache.KIND_PROBLEM,
        None)
    if isinstance(result, Article):
        return (kind, corpus_cache.microseconds(result.published), result.canonical_url,
                payload, result if keep else None)
    return kind, None, None, payload, result if keep else None


# -- the cheap date scan -------------------------------------------------------------------
#
# Sound, not clever: it answers only for front matter whose top level is plainly a block
# mapping of simple keys, where a `publishedDateTime:` line at column 0 can only be that key.
# Anything unusual (quoted or complex keys, flow or indentless collections at column 0,
# YAML's other line breaks, a value that could continue on the next line, a second
# `publishedDateTime` key, a date in another spelling) gets no answer, and the file is parsed.
# The promise is one-way: *if* the file is valid, its publishedDateTime is the scanned one.

_TIMESTAMP = (r"\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)?)?")
# Every pattern starts with a literal "\n" (the scan prepends one) rather than ^: the regex
# engine then jumps from newline to newline instead of trying every character.
# The value ends the line and the next line starts at column 0 (a plain scalar would
# otherwise continue there) or the front matter ends.
_PUBLISHED_LINE = re.compile(
    rf"\npublishedDateTime:[ ]+(?:({_TIMESTAMP})|\"({_TIMESTAMP})\"|'({_TIMESTAMP})')"
    r"[ ]*\r?(?:\n(?![ \t\r\n])|\Z)")
_PUBLISHED_KEY = re.compile(r"\npublishedDateTime[ \t]*:")
_URL_LINE = re.compile(
    r"\nwebUrl:[ ]+(?:(https?://[^\s'\"]*[^\s:'\"])|\"(https?://[^\"\\\r\n]*)\")"
    r"[ ]*\r?(?:\n(?![ \t\r\n])|\Z)")
_URL_KEY = re.compile(r"\nwebUrl[ \t]*:")
# A line at column 0 that is not a simple `key:` line, a comment, an indented or empty line.
_UNUSUAL_LINE = re.compile(
    r"\n(?![A-Za-z_][A-Za-z0-9_-]*[ ]*:(?:[ ]|\r?\n|\Z)|#| |\r?\n|\Z)")
_FAST_CLOSING_LINE = re.compile(r"\n(?:---|\.\.\.)\r?(?=\n|\Z)")
_LONE_CR = re.compile(r"\r(?!\n)")


def _scannable_front_matter(text: str) -> str | None:
    """The front matter, with a newline in front, when it is plain enough to scan."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if text.startswith("---\n"):
        start = 4
    elif text.startswith("---\r\n"):
        start = 5
    else:
        return None
    closing = _FAST_CLOSING_LINE.search(text, start - 1)
    if closing is None:
        return None
    front_matter = text[start - 1:closing.start() + 1]
    # The top level must start at column 0 with a key, and only \n and \r\n may break lines
    # (YAML also breaks lines at a lone \r, NEL, LS and PS, which ^ and \n know nothing of).
    first = front_matter[1:2]
    if not (first.isascii() and (first.isalpha() or first == "_")):
        return None
    if ("\r" in front_matter and _LONE_CR.search(front_matter)) or "\x85" in front_matter \
            or "\u2028" in front_matter or "\u2029" in front_matter:
        return None
    if _UNUSUAL_LINE.search(front_matter):
        return None
    return front_matter


def scan_front_matter(text: str, *, url: bool = True) -> tuple[int | None, str | None]:
    """(publishedDateTime in epoch microseconds, webUrl) read off the lines, without a YAML
    parse; either is None when it cannot be known soundly that way."""
    front_matter = _scannable_front_matter(text)
    if front_matter is None:
        return None, None
    published = found_url = None
    match = _PUBLISHED_LINE.search(front_matter)
    if match and len(_PUBLISHED_KEY.findall(front_matter)) == 1:
        value = match.group(1) or match.group(2) or match.group(3)
        try:
            instant = dt.datetime.fromisoformat(value)
        except ValueError:
            instant = None
        if instant is not None:
            if instant.tzinfo is None:
                instant = instant.replace(tzinfo=dt.UTC)
            published = corpus_cache.microseconds(instant)
    if url:
        match = _URL_LINE.search(front_matter)
        if match and len(_URL_KEY.findall(front_matter)) == 1:
            found_url = match.group(1) or match.group(2)
    return published, found_url


# -- reading the corpus ----------------------------------------------------------------------

PARALLEL_MIN_FILES = 2000  # fewer files than this are read in this process
PROGRESS_MIN_FILES = 2000  # and a progress bar for fewer would only flicker
_CHUNK_FILES = 400


@dataclass(frozen=True)
class _Plan:
    """Which files a reading may leave unvalidated: valid or not, they cannot change the
    issue. ``start_us`` None means every file is validated (check, explain, --strict)."""

    start_us: int | None = None
    end_us: int | None = None
    wanted_ids: frozenset[str] = frozenset()
    wanted_canonical: frozenset[str] = frozenset()

    def may_skip(self, id: str, published_us: int | None, canonical: str | None) -> bool:
        if self.start_us is None or self.end_us is None or published_us is None:
            return False
        if self.start_us <= published_us < self.end_us or id in self.wanted_ids:
            return False
        # An editor's pin or exclude may name it by URL.
        return not (self.wanted_canonical
                    and (canonical is None or canonical in self.wanted_canonical))


VALIDATE_ALL_BELOW = 2_000  # files


def _plan(window: Window | None, wanted: Iterable[str]) -> _Plan:
    if window is None:
        return _Plan()
    entries = frozenset(wanted)
    canonical = frozenset(c for c in (canonical_url(e) for e in entries) if c)
    return _Plan(corpus_cache.microseconds(window.start), corpus_cache.microseconds(window.end),
                 entries, canonical)


_Found = tuple[str, str, "corpus_cache.Stamp"]  # relative path, path, stamp
_NAME = operator.attrgetter("name")


def _walk(root: Path) -> list[_Found]:
    """:func:`iter_article_files` without the objects: 100,000 files are walked per build,
    and only the stamp of each stat is kept (a stat result weighs ten times more)."""
    found: list[_Found] = []

    def walk(folder: str, prefix: str) -> None:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=_NAME)
        append = found.append
        for entry in entries:
            name = entry.name
            if name[0] == ".":
                continue
            if entry.is_dir(follow_symlinks=False):
                walk(entry.path, prefix + name + "/")
            elif name.endswith(ARTICLE_SUFFIXES) and entry.is_file():
                info = entry.stat()
                append((prefix + name, entry.path,
                        (info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns)))

    walk(str(root), "")
    return found


class _Progress:
    """``indexing articles 41% (41,000/100,000)`` on stderr, redrawn at most 10 times a
    second, erased at the end; silent unless stderr is a terminal."""

    def __init__(self, total: int, enabled: bool | None) -> None:
        if enabled is None:
            enabled = total >= PROGRESS_MIN_FILES and sys.stderr.isatty()
        self.total, self.enabled, self.done, self.shown = total, enabled, 0, 0.0

    def advance(self, count: int = 1) -> None:
        self.done += count
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.shown >= 0.1 or self.done >= self.total:
            self.shown = now
            share = self.done / self.total if self.total else 1
            bar = "#" * int(share * 30)
            sys.stderr.write(f"\rindexing articles [{bar:<30}] {share:4.0%} "
                             f"({self.done:,}/{self.total:,})")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _read_chunk(chunk: list[_Found], plan: _Plan, settled_before_ns: int
                ) -> list[corpus_cache.Entry]:
    """A worker's share, as cache rows: payloads travel back, not objects, so pickling
    stays cheap, and the parent has little left to do per file."""
    rows = []
    for relative, path, stamp in chunk:
        kind, published, canonical, payload, _ = _read_file(relative, path, stamp[0], plan,
                                                            encode=True, keep=False)
        rows.append(corpus_cache.entry(relative, stamp, settled_before_ns, kind, published,
                                       canonical, payload))
    return rows


def _workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


_Done = tuple[int, _Read, "corpus_cache.Entry | None"]


def _read_many(found: list[_Found], indexes: list[int], plan: _Plan, encode: bool,
               settled_before_ns: int, progress: _Progress) -> Iterator[_Done]:
    """Read the given files, over every core when there are many (fork: the workers share
    the imported modules; only when no other thread runs, as fork copies no threads)."""
    workers = _workers()
    if (len(indexes) < PARALLEL_MIN_FILES or workers < 2 or threading.active_count() > 1
            or sys.platform == "win32"):
        for index in indexes:
            relative, path, stamp = found[index]
            yield index, _read_file(relative, path, stamp[0], plan, encode=encode), None
            progress.advance()
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    size = max(50, min(_CHUNK_FILES, len(indexes) // (workers * 4) or 1))
    chunks = [indexes[i:i + size] for i in range(0, len(indexes), size)]
    jobs = [[found[i] for i in chunk] for chunk in chunks]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        results = pool.map(_read_chunk, jobs, [plan] * len(jobs),
                           [settled_before_ns] * len(jobs))
        for chunk, rows in zip(chunks, results, strict=True):
            for index, row in zip(chunk, rows, strict=True):
                result = None if row.payload is None else corpus_cache.decode(row.kind,
                                                                               row.payload)
                yield index, (row.kind, row.published_us, row.canonical, row.payload,
                              result), row
            progress.advance(len(chunk))


def read_corpus(root: Path, *, cache_dir: Path | None = None, window: Window | None = None,
                wanted: Iterable[str] = (), progress: bool | None = None) -> CorpusReading:
    """See :func:`_read_corpus`; the cyclic garbage collector is paused meanwhile, as the
    hundreds of thousands of small objects it would scan over and over hold no cycles."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _read_corpus(root, cache_dir=cache_dir, window=window, wanted=wanted,
                            progress=progress)
    finally:
        if collecting:
            gc.enable()


def _read_corpus(root: Path, *, cache_dir: Path | None, window: Window | None,
                 wanted: Iterable[str], progress: bool | None) -> CorpusReading:
    """Read every article file below ``root``; the first file to claim an id keeps it.

    With ``cache_dir``, what each file read as is kept there (``cache.py``) and only new or
    changed files are read again. With ``window``, a file whose publishedDateTime is known,
    without a full parse, to lie outside it may be left unvalidated: valid or not it cannot
    be in the issue. Files named by ``wanted`` (an editor's pins and excludes: ids or URLs)
    and the newest valid article (an empty issue names its date) are always read. Without
    ``window`` every file is validated, as ``check``, ``explain`` and ``--strict`` need.
    """
    # A file changed this close to now could change again within its timestamp's tick.
    settled_before_ns = time.time_ns() - corpus_cache.RACY_MARGIN_NS
    found = _walk(root)
    # A small corpus is validated whole, even for a build: it costs next to nothing and every
    # invalid file is reported at once. Skipping files outside the window pays off at scale.
    plan = _plan(window if len(found) >= VALIDATE_ALL_BELOW else None, wanted)
    cache = corpus_cache.CorpusCache.open(cache_dir, root) if cache_dir is not None else None
    known = cache.load(canonical=bool(plan.wanted_canonical)) if cache is not None else {}
    slots: list[Article | Problem | None] = [None] * len(found)
    skipped: list[tuple[int, int, int]] = []  # (published_us, index, kind) left unread
    to_read: list[int] = []
    to_decode: dict[str, int] = {}
    seen: dict[str, str] = {}
    pop, may_skip = known.pop, plan.may_skip  # (this loop runs for every file, every build)
    for index, (relative, _path, stamp) in enumerate(found):
        id = relative.rpartition(".")[0]  # article_id(), inlined
        if id in seen:
            slots[index] = Problem(relative, f"same id {id!r} as {seen[id]}: rename one of them")
            continue
        seen[id] = relative
        row = pop(relative, None)  # what is left at the end has vanished
        # Equal stamps, all four fields (never ordered: mtimes can go backwards), trusted.
        if row is None or not row[TRUSTED] or row[1:5] != stamp:
            to_read.append(index)
        elif row[KIND] == corpus_cache.KIND_PROBLEM:
            try:
                slots[index] = corpus_cache.decode_problem(row[PROBLEM])  # type: ignore[arg-type]
            except (ValueError, TypeError):
                to_read.append(index)
        elif may_skip(id, row[PUBLISHED_US], row[CANONICAL]):
            skipped.append((row[PUBLISHED_US], index, row[KIND]))  # type: ignore[arg-type]
        elif row[KIND] == corpus_cache.KIND_ARTICLE:
            to_decode[relative] = index
        else:
            to_read.append(index)  # deferred before, needed now

    writer = cache.writer() if cache is not None and cache.usable else None

    def record(index: int, read: _Read, row: corpus_cache.Entry | None = None) -> None:
        kind, published, canonical, payload, result = read
        if kind == corpus_cache.KIND_DEFERRED:
            skipped.append((published, index, kind))  # type: ignore[arg-type]
        else:
            slots[index] = result
        if writer is not None:
            writer.add(row or corpus_cache.entry(found[index][0], found[index][2],
                                                 settled_before_ns, kind, published,
                                                 canonical, payload))

    if cache is not None and to_decode:
        for relative, payload in cache.payloads(to_decode):
            try:
                slots[to_decode[relative]] = corpus_cache.decode_article(payload)
            except (ValueError, TypeError, KeyError):
                continue
            del to_decode[relative]
        to_read.extend(to_decode.values())  # rows gone or unreadable since: read the files
        to_read.sort()

    meter = _Progress(len(to_read), progress)
    try:
        for index, read, row in _read_many(found, to_read, plan, writer is not None,
                                           settled_before_ns, meter):
            record(index, read, row)
    finally:
        meter.close()

    # The newest valid article must be known (an empty issue names its date): read unread
    # files newest first until one is valid or none can be newer than a valid one.
    newest = max((corpus_cache.microseconds(a.published) for a in slots
                  if isinstance(a, Article)), default=None)
    skipped.sort(reverse=True)
    while skipped and (newest is None or skipped[0][0] > newest):
        _published, index, kind = skipped.pop(0)
        relative, path, stamp = found[index]
        if kind == corpus_cache.KIND_ARTICLE and cache is not None:  # valid: its row will do
            with contextlib.suppress(ValueError, TypeError, KeyError):
                for _relative, payload in cache.payloads([relative]):
                    slots[index] = article = corpus_cache.decode_article(payload)
                    newest = corpus_cache.microseconds(article.published)
            if slots[index] is not None:
                continue
        read = _read_file(relative, path, stamp[0], None, encode=writer is not None)
        record(index, read)
        if isinstance(read[4], Article):
            newest = corpus_cache.microseconds(read[4].published)

    if writer is not None:
        writer.close(list(known))
    return CorpusReading(
        tuple(a for a in slots if isinstance(a, Article)),
        tuple(p for p in slots if isinstance(p, Problem)),
        unread=len(skipped),
        unvalidated=sum(1 for _p, _i, kind in skipped if kind == corpus_cache.KIND_DEFERRED),
    )
