"""The article schema: validating parsed front matter into an :class:`Article`."""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections.abc import Callable
from typing import Any

from ..core.errors import ArticleError
from ..core.models import Article, Image, Number, Provider, RelatedItem
from ..core.safeyaml import parse_yaml
from ..core.text import clean_text, describe, impossible_date_text
from ..core.timing import FIRST_ISSUE_DATE, LAST_ISSUE_DATE, minute_text
from ..core.urls import canonical_url, domain_of, normalize_url
from .frontmatter import split_front_matter


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


# No news article is older than the first issue date, nor newer than the last issue can
# hold: the window of the issue of LAST_ISSUE_DATE ends at 00:00 that day in the config's
# zone, at the earliest (UTC+14) on the instant below. A later article would be named by
# build and explain with a `build --date` that --date refuses.
EARLIEST = dt.datetime.combine(FIRST_ISSUE_DATE, dt.time(0), tzinfo=dt.UTC)
EASTERNMOST = dt.timezone(dt.timedelta(hours=14))  # Pacific/Kiritimati, Etc/GMT-14
LATEST = dt.datetime.combine(LAST_ISSUE_DATE, dt.time(0), tzinfo=EASTERNMOST)


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
        # "2026-02-30" in quotes: said as YAML's own 2026-02-30 is (core/safeyaml.py)
        impossible = impossible_date_text(value) if isinstance(value, str) else None
        raise ArticleError(
            f"{key}: {impossible}" if impossible else
            f"{key}: expected an ISO 8601 date and time such as 2021-02-18T16:24:00Z, "
            f"got {describe(value)}",
            key=key,
        )
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=dt.UTC)
    if instant < EARLIEST:
        raise ArticleError(
            f"{key}: {describe(value)} is before the year 1000 (in UTC), older than any "
            f"news and any issue (issue dates start at {FIRST_ISSUE_DATE.isoformat()}); "
            "give the real publication time", key=key)
    if instant >= LATEST:
        raise ArticleError(
            f"{key}: {describe(value)} is later than the last issue can hold (issue dates "
            f"end at {LAST_ISSUE_DATE.isoformat()}, and its window ends at 00:00 that day: "
            f"{minute_text(LATEST.astimezone(dt.UTC))} UTC in the easternmost time zone); "
            "give the real publication time", key=key)
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
        images.append(Image(normalize_url(url) or url.strip(), sizes[0], sizes[1]))
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
        url = (normalize_url(url) or url.strip()) if isinstance(url, str) else ""
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
    # Every field is checked, and every problem reported at once (as the config does):
    # fixing a file takes one `newsletter check`, not one per problem.
    errors: list[ArticleError] = []

    def field(check: Callable[..., Any], *args: Any, default: Any = None) -> Any:
        try:
            return check(*args)
        except ArticleError as error:
            errors.append(error)
            return default

    title = field(_text, fields.get("title"), "title", default=None)
    if title == "":
        errors.append(ArticleError("title: missing or empty; every article needs a title",
                                   key="title"))
    raw_url = fields.get("webUrl")
    url = normalize_url(raw_url)  # what a browser would load; written out in this form
    canonical = canonical_url(url)
    if url is None or canonical is None:
        found = "nothing" if raw_url is None else describe(raw_url)
        errors.append(ArticleError(f"webUrl: expected an absolute http(s) URL such as "
                                   f"https://example.org/story, got {found}", key="webUrl"))
    published = None
    if fields.get("publishedDateTime") is None:
        errors.append(ArticleError("publishedDateTime: missing; give the publication time, "
                                   "e.g. 2021-02-18T16:24:00Z", key="publishedDateTime"))
    else:
        published = field(parse_instant, fields["publishedDateTime"], "publishedDateTime")
    provider = field(_provider, fields.get("provider"), "provider", default=Provider())
    values = {
        "quality": field(parse_number, fields.get("quality"), "quality", 0),
        "heat": field(parse_number, fields.get("heat"), "heat", -1),
        "excerpt": field(_text, fields.get("excerpt"), "excerpt"),
        "type": field(_text, fields.get("type"), "type") or "article",
        "topics": field(_topics, fields.get("topics"), default=()),
        "images": field(_images, fields.get("images"), "images", default=()),
        "related": field(_related, fields.get("related"), default=()),
    }
    if errors:
        raise errors[0] if len(errors) == 1 else ArticleError(
            "; ".join(error.message for error in errors), parts=errors)
    return Article(
        id=id,
        path=path,
        title=title,
        url=url,  # type: ignore[arg-type]  # checked above
        canonical_url=canonical,  # type: ignore[arg-type]  # checked above
        domain=domain_of(provider.domain, url),  # type: ignore[arg-type]  # checked above
        published=published,  # type: ignore[arg-type]  # checked above
        provider=provider,
        body=body,
        **values,
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
        for part in error.parts or [error]:
            if part.line is None and part.key:
                part.line = _line_of_key(front_matter, part.key)
        if error.parts:  # each with its own line: "3 problems: line 2: title: ...; ..."
            error.message = f"{len(error.parts)} problems: " + "; ".join(
                f"line {part.line}: {part.message}" if part.line else part.message
                for part in error.parts)
        raise
