"""The ``newsletter`` command: a thin layer that parses options and calls the library."""

from __future__ import annotations

import datetime as dt
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from . import __version__
from .build import build_issue, publish_issue, read_and_select
from .config import DEFAULT_CONFIG_NAME, Config, load_config
from .corpus import read_corpus
from .errors import NewsletterError
from .explain import explain_json, explain_text
from .models import Problem


@dataclass
class _Options:
    config_path: Path
    strict: bool

    def load(self, strict: bool = False) -> tuple[Config, bool]:
        strict = strict or self.strict
        config = load_config(self.config_path, strict=strict)
        for warning in config.warnings:
            click.echo(f"warning: {config.path.name}: {warning}", err=True)
        return config, strict


class _Group(click.Group):
    """Turns library errors into a message and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except NewsletterError as error:
            raise click.ClickException(str(error)) from error
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            raise click.Abort() from None
        except Exception as error:
            if os.environ.get("NEWSLETTER_DEBUG"):
                raise
            raise click.ClickException(
                f"unexpected {type(error).__name__}: {error} (set NEWSLETTER_DEBUG=1 for "
                "the traceback and report it)") from error


def _issue_date(value: dt.datetime | None, config: Config) -> dt.date:
    """The given date, or today in the newsletter's timezone."""
    return value.date() if value else dt.datetime.now(config.timezone).date()


def _report_problems(problems: tuple[Problem, ...]) -> None:
    if problems:
        click.echo(f"warning: skipped {len(problems)} invalid article file(s):", err=True)
        for problem in problems:
            click.echo(f"  {problem}", err=True)


_DATE = click.DateTime(formats=["%Y-%m-%d"])
_STRICT_HELP = "Treat warnings and invalid article files as errors."


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              default=DEFAULT_CONFIG_NAME, show_default=True, envvar="NEWSLETTER_CONFIG",
              help="The configuration file; relative paths in it resolve against its folder.")
@click.option("--strict", is_flag=True, help=_STRICT_HELP)
@click.version_option(__version__, prog_name="newsletter")
@click.pass_context
def cli(ctx: click.Context, config_path: Path, strict: bool) -> None:
    """Turn a folder of news articles into a curated weekly newsletter.

    \b
    Examples:
      newsletter build --date 2021-02-22
      newsletter explain --date 2021-02-22
      newsletter --config other.yaml check
    """
    ctx.obj = _Options(config_path, strict)


@cli.command()
@click.option("--date", "date", type=_DATE, metavar="YYYY-MM-DD",
              help="The issue date; its window ends at 00:00 that day. Default: today.")
@click.option("--strict", is_flag=True, help=_STRICT_HELP)
@click.option("--publish", is_flag=True, help="Publish the issue once built.")
@click.option("--force", is_flag=True,
              help="Rebuild the issue even if it is published and the rebuild changes it.")
@click.pass_obj
def build(options: _Options, date: dt.datetime | None, strict: bool, publish: bool,
          force: bool) -> None:
    """Select the issue for a date and write its folder: <output>/<date>/ with issue.json,
    email.mjml, email.html, email.txt, email.eml (a sample message) and index.html.

    The editor's overrides.yaml in that folder (intro, subject, pin, exclude) is applied.

    \b
    Examples:
      newsletter build --date 2021-02-22
      newsletter build --date 2021-02-22 --publish
    """
    config, strict = options.load(strict)
    result = build_issue(config, _issue_date(date, config), strict=strict, force=force,
                         publish=publish)
    _report_problems(result.problems)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    issue = result.selection.issue
    if result.empty_reason:
        click.echo(f"Issue {issue.slug}: nothing to build: {result.empty_reason}.")
        return
    if result.up_to_date:
        click.echo(f"Issue {issue.slug} is published and a rebuild gives the same files: "
                   "nothing to do.")
        return
    placed = issue.placed
    related = sum(len(p.related) for p in placed)
    click.echo(f"Issue {issue.slug} of {issue.title} ({issue.status}): "
               f"{len(issue.sections)} topics, {len(placed)} articles, "
               f"{related} related links.")
    for section in issue.sections:
        click.echo(f"  {section.topic}: {len(section.articles)}")
    target = config.output / issue.slug
    click.echo(f"Wrote {target}" if result.written else f"Unchanged: {target}")


@cli.command()
@click.argument("date", type=_DATE, metavar="YYYY-MM-DD")
@click.pass_obj
def publish(options: _Options, date: dt.datetime) -> None:
    """Publish a built issue as it stands, then regenerate the archive and the feeds.

    \b
    Example:
      newsletter publish 2021-02-22
    """
    config, _ = options.load()
    issue, written = publish_issue(config, date.date())
    click.echo(f"Published issue {issue.slug}: {len(written)} file(s) written in "
               f"{config.output}.")


@cli.command()
@click.option("--strict", is_flag=True, help="Also fail on configuration warnings.")
@click.pass_obj
def check(options: _Options, strict: bool) -> None:
    """Validate the configuration and every article file; exit 1 if any is invalid.

    \b
    Example:
      newsletter check
    """
    config, strict = options.load(strict)
    reading = read_corpus(config.corpus)
    for problem in reading.problems:
        click.echo(f"{problem}", err=True)
    click.echo(f"Checked {config.path.name} and {reading.file_count} article files in "
               f"{config.corpus}: {len(reading.articles)} valid, "
               f"{len(reading.problems)} invalid.")
    if reading.problems:
        sys.exit(1)


@cli.command()
@click.option("--date", "date", type=_DATE, metavar="YYYY-MM-DD",
              help="The issue date. Default: today.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def explain(options: _Options, date: dt.datetime | None, as_json: bool) -> None:
    """Say, for every article file, why it is or is not in the issue for a date.

    Placed (topic and position), folded into another article's related coverage, below the
    cut (its rank in each topic), below min_quality, no configured topic, already featured,
    excluded, outside the window, or invalid (with the reason). Writes nothing.

    \b
    Examples:
      newsletter explain --date 2021-02-22
      newsletter explain --date 2021-02-22 --json
    """
    config, _ = options.load()
    selection = read_and_select(config, _issue_date(date, config)).selection
    click.echo(explain_json(selection) if as_json else explain_text(selection), nl=False)


def main() -> None:
    cli(prog_name="newsletter")
