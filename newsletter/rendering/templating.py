"""The Jinja2 environment every output is rendered with, and the filters templates share.

Autoescaping is on for everything that becomes HTML, MJML or XML, so article text can never
become markup; article text is only ever data, so template syntax inside it is never
evaluated. Only http(s) URLs may become links or images (``http_url``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.resources
import os
import stat
import sys
import unicodedata
from collections.abc import Callable
from functools import cache
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from ..core.config import Config
from ..core.urls import normalize_url
from ..core.words import ENGLISH, Words, fill


def _templates_folder() -> Path:
    """The checkout's templates/ (a source tree or an editable install, where they are
    edited), else the copy a wheel ships inside the package (``newsletter/templates``, see
    setup.py), wherever pip put it: a venv, ``--user`` or ``--prefix``."""
    checkout = Path(__file__).resolve().parents[2] / "templates"
    if (checkout / "macros.j2").is_file():
        return checkout
    return Path(str(importlib.resources.files("newsletter") / "templates"))


TEMPLATES = _templates_folder()


def packaged_templates() -> list[str]:
    """The names of the packaged templates, sorted."""
    return sorted(p.name for p in TEMPLATES.glob("*.j2"))
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


def direction(text: object) -> Markup:
    """`` dir="rtl"`` for text that reads right to left (Hebrew, Arabic, ...), else nothing:
    the direction of its first letter that has one, as the HTML ``dir="auto"`` decides, but
    written out, since Outlook and some webmail ignore ``auto``. In a left-to-right page
    without it, an Arabic or Hebrew title starts at the left, shows its final "?" on the
    wrong side and an excerpt mixing in a Latin name ("GPT-3") in a scrambled order."""
    for char in str(text):
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return Markup(' dir="rtl"')
        if kind == "L":
            break
    return Markup("")


def indent_lines(text: str, width: int) -> str:
    """Each line of ``text`` but empty ones indented by ``width`` spaces. Unlike Jinja's
    ``indent``, only "\n" ends a line: a U+2028 inside an article's title stays where it is."""
    pad = " " * width
    indented = "\n".join(pad + line if line else line for line in text.split("\n"))
    return Markup(indented) if isinstance(text, Markup) else indented


def long_date(value: dt.date | dt.datetime, words: Words = ENGLISH) -> str:
    """"February 22, 2021" (in ``words``' months and format), whatever the machine's locale."""
    return words.date(value)


def _words(context: jinja2.runtime.Context) -> Words:
    """The words of a rendering: its config's (``words:``), but the English ones on a page
    that says it is English whatever the config's language (``page_language``: the signup
    and unsubscribe pages), so that its words and its lang agree."""
    config = context["config"]
    language = context.get("page_language", config.language)
    return config.words if language == config.language else ENGLISH


@jinja2.pass_context
def say(context: jinja2.runtime.Context, key: str, **values: object) -> str:
    """The templates' one way to the words readers see: ``say("all_issues_of",
    title=config.title)``. The phrase is operator text, escaped where the output is markup;
    a value given as markup (a link the template built) is kept as it is."""
    phrase = _words(context).by_key[key]
    if not context.eval_ctx.autoescape:
        return fill(phrase, values)
    return Markup(fill(str(escape(phrase)), values, lambda value: str(escape(value))))


@jinja2.pass_context
def date_filter(context: jinja2.runtime.Context, value: dt.date | dt.datetime) -> str:
    """``|long_date`` in a template: in the rendering's words."""
    return long_date(value, _words(context))


def template_folders(config: Config) -> tuple[Path, ...]:
    """Where ``config``'s templates are looked up, first match wins: its ``templates:``
    folder of overrides (any file named like a packaged template replaces it), then the
    packaged ones."""
    return (config.templates, TEMPLATES) if config.templates else (TEMPLATES,)


def environment_for(config: Config) -> jinja2.Environment:
    return environment(template_folders(config))


def text_environment_for(config: Config) -> jinja2.Environment:
    return text_environment(template_folders(config))


class _OverridesFirst(jinja2.BaseLoader):
    """The first folder holding a template wins; a template found further down stays
    up to date only while no earlier folder gains a file of its name, so an override added
    while a process runs (the preview, the tests) replaces the packaged template at once."""

    def __init__(self, folders: tuple[Path, ...]) -> None:
        self.loaders = [jinja2.FileSystemLoader(folder) for folder in folders]
        self.folders = folders

    def list_templates(self) -> list[str]:
        return sorted({name for loader in self.loaders for name in loader.list_templates()})

    def get_source(self, environment: jinja2.Environment, template: str
                   ) -> tuple[str, str | None, Callable[[], bool] | None]:
        for index, loader in enumerate(self.loaders):
            try:
                source, filename, uptodate = loader.get_source(environment, template)
            except jinja2.TemplateNotFound:
                continue
            earlier = [folder / template for folder in self.folders[:index]]

            def current(uptodate=uptodate, earlier=earlier) -> bool:
                return (uptodate is None or uptodate()) and not any(
                    path.is_file() for path in earlier)

            return source, filename, current
        raise jinja2.TemplateNotFound(template)


class CompiledTemplates(jinja2.FileSystemBytecodeCache):
    """Templates compiled by an earlier run, so that a build does not compile its nine
    again (60 ms of a 1 s warm build). A compiled template is found by the template's name
    and file and used only while its source is unchanged (Jinja compares a checksum). A
    failure to store one only costs compiling it next time."""

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def compiled_templates_folder(kind: str) -> Path | None:
    """The user's own folder for compiled templates (``$XDG_CACHE_HOME/newsletter`` or
    ``~/.cache/newsletter``), one per kind of environment, Python and Jinja version; None
    when it cannot be made private. Never the state folder: loading compiled code runs it,
    and a state folder may come along with a checkout from someone else."""
    home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = Path(home) / "newsletter" / (
        f"templates-{kind}-{sys.implementation.cache_tag}-jinja{jinja2.__version__}")
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.lstat()
    except (OSError, RuntimeError):  # RuntimeError: no home folder to expand "~" to
        return None
    private = (stat.S_ISDIR(info.st_mode) and not info.st_mode & 0o077
               and info.st_uid == getattr(os, "getuid", lambda: info.st_uid)())
    return folder if private else None


def _compiled(kind: str) -> CompiledTemplates | None:
    folder = compiled_templates_folder(kind)
    return CompiledTemplates(str(folder)) if folder is not None else None


@cache
def environment(folders: Path | tuple[Path, ...] = (TEMPLATES,)) -> jinja2.Environment:
    """The environment over ``folders`` (searched in order: overrides first)."""
    if isinstance(folders, Path):
        folders = (folders,)
    env = jinja2.Environment(
        loader=_OverridesFirst(folders),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "mjml", "xml", "j2"),
            default_for_string=True, default=True),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=_compiled("markup"),
    )
    env.filters.update(http_url=http_url, https_url=https_url, shorten=shorten,
                       long_date=date_filter, indent_lines=indent_lines)
    # the macros (macros.j2) escape attribute values with ``attribute``: plain HTML escaping,
    # unless a rendering passes a stricter one (the email's MJML does)
    env.globals.update(attribute=escape, one_line=one_line, direction=direction, say=say)
    return env


@cache
def text_environment(folders: Path | tuple[Path, ...] = (TEMPLATES,)) -> jinja2.Environment:
    """For the plain-text email: no escaping (it is not markup), same filters. Its own cache:
    an overlay would otherwise share templates (macros.j2) compiled with escaping on."""
    return environment(folders).overlay(autoescape=False, cache_size=400,
                                        bytecode_cache=_compiled("text"))
