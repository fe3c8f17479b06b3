"""`newsletter init`: start a newsletter, or copy the templates to override (the library:
newsletter.publishing.starter)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from ..publishing.starter import (
    TEMPLATES_DIR,
    Settings,
    copy_templates,
    init_newsletter,
)
from .options import echo


def interactive() -> bool:
    """Ask for what was not given only when a person is at a terminal (never in scripts)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _ask(label: str) -> str | None:
    answer = click.prompt(f"{label} (Enter: fill in later)", default="", show_default=False)
    return answer.strip() or None


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
        copied = copy_templates(target)
        echo(f"Copied {len(copied)} templates into {target}.")
        echo(f'Next: add `templates: "{TEMPLATES_DIR}"` to newsletter.yaml, change the '
                   "copies, delete those you keep as they are (they then follow the packaged "
                   "ones), and run `newsletter check`.")
        return
    if interactive():
        title = title or _ask("The newsletter's name")
        site_url = site_url or _ask("Where it is published (https://...)")
        timezone = timezone or _ask("Its time zone (e.g. America/New_York)")
        topics = topics or _ask('Its topics, separated by ; (e.g. "AI;Robotics")')
    settings = Settings(title or None, site_url or None, timezone or None,
                        tuple(t.strip() for t in (topics or "").split(";") if t.strip()))
    created = init_newsletter(folder, settings, today(settings.timezone))
    echo(f"Created a newsletter in {folder}:")
    for path in created:
        shown = path.relative_to(folder)
        echo(f"  {shown}/" if path.is_dir() else f"  {shown}")
    here = folder.resolve() == Path.cwd().resolve()
    echo("Next:" if here else f"Next, in {folder} (cd {folder}):")
    echo("  newsletter check      # says what is left to fill in")
    echo("  newsletter build      # today's issue, from the example article")
    echo("  newsletter preview    # look at it in your browser")


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
