"""Read the article corpus: walk the folder, split front matter, parse it safely, validate.

One bad file never stops the others: :func:`read_corpus` returns the articles it could read
and a :class:`Problem` for each file it could not, naming the file, the line when known, and
what to fix.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .models import Article, Image, Number, Problem, Provider, RelatedItem
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

    @property
    def file_count(self) -> int:
        return len(self.articles) + len(self.problems)


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


def read_article(file: ArticleFile) -> Article | Problem:
    """Read one file; every failure becomes a :class:`Problem`, never an exception."""
    try:
        if file.size > MAX_FILE_BYTES:
            raise ArticleError(
                f"file is {file.size / 1024 / 1024:.1f} MB, over the "
                f"{MAX_FILE_BYTES // 1024 // 1024} MB limit for an article: not read; "
                "is it really an article?"
            )
        data = file.path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ArticleError(
                f"not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}): "
                "save the file as UTF-8",
                line=data.count(b"\n", 0, error.start) + 1,
            ) from None
        return parse_article(text, id=file.id, path=file.relative_path)
    except ArticleError as error:
        return Problem(file.relative_path, error.message, error.line)
    except OSError as error:
        return Problem(file.relative_path, f"cannot be read: {error.strerror or error}")
    except RecursionError:
        return Problem(file.relative_path, "YAML nested too deeply to read")


def read_corpus(root: Path) -> CorpusReading:
    """Read every article file below ``root``; the first file to claim an id keeps it."""
    articles: list[Article] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for file in iter_article_files(root):
        if file.id in seen:
            problems.append(Problem(file.relative_path,
                                    f"same id {file.id!r} as {seen[file.id]}: rename one of them"))
            continue
        seen[file.id] = file.relative_path
        result = read_article(file)
        (articles if isinstance(result, Article) else problems).append(result)
    return CorpusReading(tuple(articles), tuple(problems))
