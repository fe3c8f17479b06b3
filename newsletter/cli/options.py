"""What every command shares: the global options, errors turned into messages, dates."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ..core.config import Config, load_config
from ..core.errors import NewsletterError
from ..core.models import Problem
from ..core.text import terminal_safe


def echo(message: object = "", *, err: bool = False, nl: bool = True) -> None:
    """``click.echo`` with control characters escaped: what commands print holds article
    values and file names, which must not drive the terminal."""
    click.echo(terminal_safe(str(message)), err=err, nl=nl)


@dataclass
class Options:
    config_path: Path
    strict: bool

    def load(self, strict: bool = False) -> tuple[Config, bool]:
        strict = strict or self.strict
        config = load_config(self.config_path, strict=strict)
        for warning in config.warnings:
            echo(f"warning: {config.path.name}: {warning}", err=True)
        return config, strict


class Group(click.Group):
    """Turns library errors into a message and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NewsletterError as error:
            raise click.ClickException(terminal_safe(str(error))) from error
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            raise click.Abort() from None
        except Exception as error:
            if os.environ.get("NEWSLETTER_DEBUG"):
                raise
            raise click.ClickException(terminal_safe(
                f"unexpected {type(error).__name__}: {error} (set NEWSLETTER_DEBUG=1 for "
                "the traceback and report it)")) from error


def issue_date(value: dt.datetime | None, config: Config) -> dt.date:
    """The given date, or today in the newsletter's timezone."""
    return value.date() if value else dt.datetime.now(config.timezone).date()


def report_problems(problems: tuple[Problem, ...]) -> None:
    if problems:
        echo(f"warning: skipped {len(problems)} invalid article file(s):", err=True)
        for problem in problems:
            echo(f"  {problem}", err=True)


DATE = click.DateTime(formats=["%Y-%m-%d"])
STRICT_HELP = "Treat warnings and invalid article files as errors."
