"""Front matter: splitting it off the body, and a cheap, sound scan of its date and URL."""

from __future__ import annotations

import datetime as dt
import re

from ..core.errors import ArticleError
from .cache import microseconds

# The line that closes the front matter: exactly "---" or "...", CRLF allowed.
_CLOSING_LINE = re.compile(r"^(?:---|\.\.\.)\r?$", re.MULTILINE)
_OPENING_LINE = re.compile(r"---\r?\n|---\r?$")


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
    # The key once: counted as text first (the pattern is needed only when it may repeat).
    if match and (front_matter.count("\npublishedDateTime") == 1
                  or len(_PUBLISHED_KEY.findall(front_matter)) == 1):
        value = match.group(1) or match.group(2) or match.group(3)
        try:
            instant = dt.datetime.fromisoformat(value)
        except ValueError:
            instant = None
        if instant is not None:
            if instant.tzinfo is None:
                instant = instant.replace(tzinfo=dt.UTC)
            published = microseconds(instant)
    if url:
        match = _URL_LINE.search(front_matter)
        if match and (front_matter.count("\nwebUrl") == 1
                      or len(_URL_KEY.findall(front_matter)) == 1):
            found_url = match.group(1) or match.group(2)
    return published, found_url


# -- reading the corpus ----------------------------------------------------------------------
