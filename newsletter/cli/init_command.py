"""`newsletter init`: start a newsletter, or copy the templates to override (the library:
newsletter.publishing.starter)."""

from __future__ import annotations

import datetime as dt
import errno
import os
import sys
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from ..core.errors import NewsletterError
from ..core.folders import DEFAULT_CONFIG_NAME
from ..publishing.starter import (
    QUOTES,
    TEMPLATES_DIR,
    Settings,
    copy_templates,
    init_newsletter,
    settings_problems,
)
from .options import echo


def interactive() -> bool:
    """Ask for what was not given only when a person is at a terminal (never in scripts)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _ask(label: str, folder: Path, field: str) -> str | None:
    """An answer for ``field`` of :class:`Settings`, asked again until it is valid."""

    def check(answer: str) -> str | None:
        value = answer.strip() or None
        if value is not None:
            given = Settings(title=value if field == "title" else None,
                             site_url=value if field == "site_url" else None,
                             timezone=value if field == "timezone" else None,
                             topics=_split(value) if field == "topics" else ())
            problems, warnings = settings_problems(folder, given, asked=True)
            if problems:
                raise click.UsageError(problems[0].split(": ", 1)[1])
            for warning in warnings:
                echo(f"warning: {warning.split(': ', 1)[1]}", err=True)
        return value

    return click.prompt(f"{label} (Enter: fill in later)", default="", show_default=False,
                        value_proc=check)


def _unquoted(text: str) -> str:
    """``text`` without one pair of quotes around it, unless such a quote is inside too
    (``"AI";"Robotics"`` is two quoted topics, not one)."""
    text = text.strip()
    for opening, closing in QUOTES:
        inside = text[1:-1]
        if (len(text) >= 2 and text[0] == opening and text[-1] == closing
                and opening not in inside and closing not in inside):
            return inside.strip()
    return text


def _split(topics: str | None) -> tuple[str, ...]:
    """The topics of ``--topics`` or of the answer: separated by ";", blank ones dropped,
    quotes around them or around them all taken off."""
    parts = (_unquoted(topic) for topic in _unquoted(topics or "").split(";"))
    return tuple(topic for topic in parts if topic)


@click.command()
@click.argument("folder", required=False, default=".",
                type=click.Path(file_okay=False, path_type=Path), metavar="[DIR]")
@click.option("--title", help="The newsletter's name.")
@click.option("--site-url", help="Where the output folder is published (https://...).")
@click.option("--timezone", help="An IANA time zone, e.g. America/New_York.")
@click.option("--topics", metavar='"AI;Robotics"', help="The topics, separated by ;.")
@click.option("--templates", "templates", is_flag=True,
              help=f"Only copy the packaged templates into DIR/{TEMPLATES_DIR}/, to change "
                   "them there.")
def init(folder: Path, title: str | None, site_url: str | None, timezone: str | None,
         topics: str | None, templates: bool) -> None:
    """Start a newsletter in DIR (default: here): newsletter.yaml, articles/ with an example
    article, an empty issues/ and a .gitignore. Never overwrites anything.

    What is not given as an option is asked for on a terminal; left out, it is written as a
    <fill in: ...> placeholder that `newsletter check` lists until it is filled in.

    \b
    Examples:
      newsletter init my-newsletter --title "AI Weekly" --topics "AI;Robotics"
      newsletter init --templates
    """
    if templates:
        target = folder / TEMPLATES_DIR
        try:
            copied = copy_templates(target)
        except OSError as error:
            raise cannot_write(target, error) from None
        echo(f"Copied {len(copied)} templates into {target}.")
        echo(f'Next: add `templates: "{TEMPLATES_DIR}"` to newsletter.yaml, change the '
                   "copies, delete those you keep as they are (they then follow the packaged "
                   "ones), and run `newsletter check`.")
        return
    given = Settings(title or None, site_url or None, timezone or None, _split(topics))
    problems, warnings = settings_problems(folder, given)
    if problems:  # before asking anything and before writing anything
        raise click.UsageError("\n".join(problems))
    for warning in warnings:
        echo(f"warning: {warning}", err=True)
    asking = interactive()
    if asking:
        title = title or _ask("The newsletter's name", folder, "title")
        site_url = site_url or _ask("Where it is published (https://...)", folder, "site_url")
        timezone = timezone or _ask("Its time zone (e.g. America/New_York)", folder,
                                    "timezone")
        topics = topics or _ask("Its topics, separated by ; (e.g. AI;Robotics)", folder,
                                "topics")
    settings = Settings(title or None, site_url or None, timezone or None, _split(topics))
    try:
        created = init_newsletter(folder, settings, today(settings.timezone))
    except OSError as error:
        raise cannot_write(folder, error) from None
    echo(f"Created a newsletter in {folder}:")
    for path in created:
        shown = path.relative_to(folder)
        echo(f"  {shown}/" if path.is_dir() else f"  {shown}")
    here = folder.resolve() == Path.cwd().resolve()
    echo("Next:" if here else f"Next, in {folder} (cd {folder}):")
    echo("  newsletter check      # says what is left to fill in")
    echo("  newsletter build      # today's issue, from the example article")
    echo("  newsletter preview    # look at it in your browser")
    if not asking and (left := not_given(settings)):
        echo(unasked(folder, left), err=True)


def not_given(settings: Settings) -> list[str]:
    """The options of the settings `init` wrote as placeholders."""
    given = {"--title": settings.title, "--site-url": settings.site_url,
             "--timezone": settings.timezone, "--topics": settings.topics}
    return [option for option, value in given.items() if not value]


def unasked(folder: Path, options: list[str]) -> str:
    """Why nothing was asked, so that answers piped in (``printf ... | newsletter init``),
    which are never read, are not taken for given: which values are placeholders, and how to
    give them."""
    terminal = "standard input" if not sys.stdin.isatty() else "standard output"
    keys = ", ".join(option.removeprefix("--").replace("-", "_") for option in options)
    flags = " ".join(f'{option} "A;B"' if option == "--topics" else f"{option} ..."
                     for option in options)
    return (f"note: {terminal} is not a terminal, so nothing was asked and standard input "
            f"was not read: {keys} are <fill in: ...> placeholders in "
            f"{folder / DEFAULT_CONFIG_NAME}; fill them in there (`newsletter check` lists "
            f"them); in a script, give them to `newsletter init` as options: {flags}")


def cannot_write(folder: Path, error: OSError) -> NewsletterError:
    """Why ``folder`` cannot be filled, naming the path that refused and what to do."""
    path = Path(error.filename) if error.filename else folder
    if error.errno in (errno.EACCES, errno.EPERM):
        reason = f"permission denied on {path}"
        fix = "choose a folder you can write to, or get write permission on this one"
    elif error.errno == errno.EROFS:
        reason = f"{path} is on a read-only file system"
        fix = "choose a folder on a writable disk"
    elif error.errno in (errno.ENOTDIR, errno.EEXIST):
        # mkdir met a file where a folder has to be: the path itself or one above it
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()),
                       path)
        reason = f"{blocker} is a file, where a folder has to be"
        fix = "move the file away, or choose another folder"
    elif error.errno == errno.ENOSPC:
        reason, fix = f"the disk holding {path} is full", "free some space and run it again"
    else:
        reason, fix = f"{path}: {error.strerror or error}", "choose another folder"
    return NewsletterError(f"cannot create files in {folder}: {reason}; {fix}")


def today(timezone: str | None) -> dt.date:
    """Today in the newsletter's time zone (UTC until it has one): the example article is
    dated the day before. Tests fix the clock with NEWSLETTER_TODAY=YYYY-MM-DD."""
    fixed = os.environ.get("NEWSLETTER_TODAY")
    if fixed:
        return dt.date.fromisoformat(fixed)
    try:
        zone = ZoneInfo(timezone) if timezone else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return dt.datetime.now(zone).date()
