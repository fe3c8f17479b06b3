"""Text helpers every stage needs: cleaning input text, describing a bad value in a message."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any


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
# U+FFFF) plus DEL and the C1 controls, which HTML treats as parse errors; and the bidi
# embedding, override and isolate controls (U+202A-U+202E, U+2066-U+2069): one left open in a
# title (a right-to-left override, say) reverses whatever follows it on the line, the other
# titles of a preheader, the date of a card. Dropped on reading and again before every
# output, so that no output can carry them. Right-to-left text itself needs none of them (the
# marks U+200E and U+200F, which open nothing, stay).
_UNWANTED_CHARACTERS = re.compile(
    "[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
    "|[\u202a-\u202e\u2066-\u2069]")


def clean_text(text: str) -> str:
    """``text`` without the control characters that XML forbids and HTML frowns upon, nor
    the bidi controls that would reorder the text around them."""
    return _UNWANTED_CHARACTERS.sub("", text)


def terminal_safe(text: str) -> str:
    """``text`` for a terminal: control characters other than newline and tab (ESC, BEL, the
    C1 range with its one-byte CSI, ...) written as escapes such as ``\\x1b``, so that an
    article value or a file name echoed by a command cannot move the cursor, retitle the
    window or hide the text around it."""
    return "".join(
        c if c in "\n\t" or not (c < " " or "\x7f" <= c <= "\x9f")
        else f"\\x{ord(c):02x}" for c in text)


def topic_key(name: str) -> str:
    """What makes two topic names the same topic: case and spacing do not count
    ("machine  learning " is "Machine Learning")."""
    return " ".join(name.split()).casefold()


def plural(count: int, noun: str) -> str:
    """``1 topic``, ``2 topics``: a count the way a person writes it."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
