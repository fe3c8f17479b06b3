"""Text helpers every stage needs: cleaning input text, describing a bad value in a message."""

from __future__ import annotations

import calendar
import datetime as dt
import json
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


def double_quoted(text: str) -> str:
    """``text`` in double quotes, escaped as YAML (and JSON) read it back: what to write in
    a YAML file for a value that must stay text (``"2026-12-06"``, ``"Frost: a guide"``)."""
    return json.dumps(text, ensure_ascii=False)


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


def impossible_date(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
                    second: int = 0) -> str | None:
    """What makes these numbers no date (and time of day), in words, or None when they make
    one: "February 2021 has 28 days", "there is no hour 25 (hours go from 00 to 23)". Said
    alike of an issue date on the command line and of a date in a YAML file."""
    if year < 1:
        return "there is no year 0"
    if not 1 <= month <= 12:
        return f"there is no month {month} (months go from 01 to 12)"
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        return f"{calendar.month_name[month]} {year} has {days} days"
    for value, unit, last in ((hour, "hour", 23), (minute, "minute", 59),
                              (second, "second", 59)):
        if not 0 <= value <= last:
            return f"there is no {unit} {value} ({unit}s go from 00 to {last})"
    return None


# A date, or a date and time, as YAML and ISO 8601 write them (2021-02-18T16:24:00Z).
_WRITTEN_DATE = re.compile(
    r"\s*(\d{4})-(\d\d?)-(\d\d?)(?:(?:[Tt]|[ \t]+)(\d\d?):(\d\d)(?::(\d\d))?)?")


def impossible_date_text(text: str) -> str | None:
    """``text`` said as :func:`impossible_date` says it (``2026-02-30 is not a date:
    February 2026 has 28 days``) when it is written as a date, or a date and time, that
    does not exist; None otherwise (a real date, or no date at all)."""
    written = _WRITTEN_DATE.match(text)
    if written is None:
        return None
    numbers = [int(part) for part in written.groups() if part is not None]
    problem = impossible_date(*numbers)
    if problem is None:
        return None
    what = "a date" if impossible_date(*numbers[:3]) else "a date and time"
    return f"{text.strip()} is not {what}: {problem}"
