"""The Jinja2 environment every output is rendered with, and the filters templates share.

Autoescaping is on for everything that becomes HTML, MJML or XML, so article text can never
become markup; article text is only ever data, so template syntax inside it is never
evaluated. Only http(s) URLs may become links or images (``http_url``).
"""

from __future__ import annotations

import datetime as dt
import sys
from functools import cache
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from ..core.urls import normalize_url


def _templates_folder() -> Path:
    """The checkout's templates/ (editable installs, where editors change them), else the
    copy a regular install puts under <prefix>/share/newsletter/templates."""
    checkout = Path(__file__).resolve().parents[2] / "templates"
    installed = Path(sys.prefix) / "share" / "newsletter" / "templates"
    return checkout if checkout.is_dir() or not installed.is_dir() else installed


TEMPLATES = _templates_folder()
EXCERPT_LENGTH = 300


def http_url(value: object) -> str:
    """The URL, normalized, when it is absolute http(s), else "" (templates then render no
    link)."""
    return normalize_url(value) or ""


def https_url(value: object) -> str:
    """Images load only over https: mixed content is blocked by mail clients and browsers."""
    url = http_url(value)
    return url if url.lower().startswith("https://") else ""


def shorten(text: str, length: int = EXCERPT_LENGTH) -> str:
    """Cut at a word boundary near ``length`` characters, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= length:
        return text
    cut = text[: length + 1].rsplit(" ", 1)[0] if " " in text[: length + 1] else text[:length]
    return cut.rstrip(" ,.;:-–—") + "…"


def one_line(text: object) -> str:
    """Runs of whitespace (newlines included) as one space: headers and text lines stay whole."""
    return " ".join(str(text).split())


def indent_lines(text: str, width: int) -> str:
    """Each line of ``text`` but empty ones indented by ``width`` spaces. Unlike Jinja's
    ``indent``, only "\n" ends a line: a U+2028 inside an article's title stays where it is."""
    pad = " " * width
    indented = "\n".join(pad + line if line else line for line in text.split("\n"))
    return Markup(indented) if isinstance(text, Markup) else indented


def long_date(value: dt.date | dt.datetime) -> str:
    """"February 22, 2021", independent of the machine's locale."""
    return f"{value:%B} {value.day}, {value.year}"


@cache
def environment(folder: Path = TEMPLATES) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "mjml", "xml", "j2"),
            default_for_string=True, default=True),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(http_url=http_url, https_url=https_url, shorten=shorten,
                       long_date=long_date, indent_lines=indent_lines)
    # the macros (macros.j2) escape attribute values with ``attribute``: plain HTML escaping,
    # unless a rendering passes a stricter one (the email's MJML does)
    env.globals.update(attribute=escape, one_line=one_line)
    return env


@cache
def text_environment(folder: Path = TEMPLATES) -> jinja2.Environment:
    """For the plain-text email: no escaping (it is not markup), same filters. Its own cache:
    an overlay would otherwise share templates (macros.j2) compiled with escaping on."""
    return environment(folder).overlay(autoescape=False, cache_size=400)
