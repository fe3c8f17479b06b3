"""What every command shares: the global options, errors turned into messages, dates."""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from ..core.config import Config, load_config
from ..core.errors import NewsletterError
from ..core.folders import newsletter_command
from ..core.models import Issue, Problem
from ..core.text import plural, terminal_safe
from ..core.timing import parse_issue_date
from ..reading.corpus import CorpusReading
from .stops import OUTPUT_CLOSED, exit_interrupted, is_interrupt

F = TypeVar("F", bound=Callable[..., Any])


class OutputClosed(Exception):
    """The reader of the command's output went away (``newsletter build | head -1``)."""

    def __init__(self, err: bool) -> None:
        super().__init__("stderr" if err else "stdout")
        self.err = err


def echo(message: object = "", *, err: bool = False, nl: bool = True) -> None:
    """``click.echo`` with control characters escaped: what commands print holds article
    values and file names, which must not drive the terminal. A closed stdout or stderr is
    :class:`OutputClosed`, told apart from a broken pipe anywhere else (an SMTP server
    hanging up), which is a real error."""
    try:
        click.echo(terminal_safe(str(message)), err=err, nl=nl)
    except BrokenPipeError as error:
        raise OutputClosed(err) from error


def write_stdout(data: bytes) -> None:
    """Data for a pipe or a file (``export -``) as it is: escaped only for a terminal, as
    :func:`echo` escapes. A closed stdout is :class:`OutputClosed`."""
    stream = sys.stdout.buffer  # click 8.5 deprecates get_binary_stream
    if stream.isatty():
        data = terminal_safe(data.decode("utf-8").replace("\r\n", "\n")).encode("utf-8")
    try:
        stream.write(data)
        stream.flush()
    except BrokenPipeError as error:
        raise OutputClosed(False) from error


def _discard_output(err: bool) -> None:
    """Point the closed stream at /dev/null: what is still buffered in it would otherwise
    fail again when Python flushes it on exit, with a message about it."""
    stream = sys.stderr if err else sys.stdout
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (click's test runner)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)


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
    """Turns library errors into a message and exit status 1, never a traceback; takes the
    global options after the command too; lists each command's whole summary; with no
    command at all, prints the help and exits 0."""

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        # Click turns Ctrl-C while it reads the command line into "Aborted!" and status 1;
        # on a loaded machine that is a moment a Ctrl-C can well land in.
        try:
            return super().make_context(info_name, args, parent, **extra)
        except BaseException as error:  # Ctrl-C, also as Python may wrap it
            if is_interrupt(error):
                exit_interrupted()
            raise

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args and not ctx.resilient_parsing:
            click.echo(ctx.get_help())
            ctx.exit(0)
        if ctx.parent is None:
            args = _globals_first(self, ctx, args)
        return super().parse_args(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, summary(command)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NewsletterError as error:
            raise click.ClickException(terminal_safe(str(error))) from error
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except OutputClosed as closed:
            # Like a Unix tool stopped by SIGPIPE: quietly, and what was done stays done
            # (a build's files are written before its summary is printed).
            _discard_output(closed.err)
            ctx.exit(OUTPUT_CLOSED)
        except KeyboardInterrupt:
            exit_interrupted()
        except Exception as error:
            if is_interrupt(error):
                exit_interrupted()
            if os.environ.get("NEWSLETTER_DEBUG"):
                raise
            raise click.ClickException(terminal_safe(
                f"unexpected {type(error).__name__}: {error} (set NEWSLETTER_DEBUG=1 for "
                "the traceback and report it)")) from error


def issue_date(value: dt.date | None, config: Config) -> dt.date:
    """The given date, or today in the newsletter's timezone."""
    return value or dt.datetime.now(config.timezone).date()


def report_problems(problems: tuple[Problem, ...]) -> None:
    if problems:
        echo(f"warning: skipped {len(problems)} invalid article file(s):", err=True)
        for problem in problems:
            echo(f"  {problem}", err=True)


def reading_notes(reading: CorpusReading, corpus: Path) -> list[str]:
    """What check and build say of the corpus besides its invalid files: the files whose
    suffix leaves them unread although they look like articles (an editor's tool saving
    ``.markdown``, ``.MD`` from Windows), and how many files a build left unvalidated."""
    notes = []
    if reading.lookalikes:
        count, names = len(reading.lookalikes), reading.lookalikes
        shown = ", ".join(names[:5]) + (f" and {count - 5} more" if count > 5 else "")
        notes.append(f"note: {plural(count, 'file')} in {corpus} {'is' if count == 1 else 'are'}"
                     f" not read (only *.md and *.txt are articles): {shown}; rename "
                     f"{'it' if count == 1 else 'those that are articles'} to end in .md (or .txt)")
    if reading.unvalidated:
        notes.append(f"note: {reading.unvalidated} article file(s) outside the window were "
                     "not validated (they cannot change this issue); `newsletter check` "
                     "validates every file")
    return notes


STRICT_HELP = "Treat warnings and invalid article files as errors."


# -- commands alike: dates, global options anywhere, the whole summary in --help ------------

class IssueDate(click.ParamType):
    """YYYY-MM-DD as a date; a wrong one is explained in words (core/timing.py)."""

    name = "YYYY-MM-DD"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return parse_issue_date(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


DATE = IssueDate()


def date_argument(help: str) -> Callable[[F], F]:
    """The issue date as an argument or as ``--date`` (both at once: a usage error); the
    command receives it as ``date`` (None when not given: publish and send then name the
    issue meant, rather than say only "which issue?")."""

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def wrapper(*args: Any, date: dt.date | None = None,
                    date_option: dt.date | None = None, **kwargs: Any) -> Any:
            ctx = click.get_current_context()
            if date is not None and date_option is not None:
                raise click.UsageError(
                    "the date is given twice: either as the argument "
                    f"({ctx.command_path} {date.isoformat()}) or as --date, not both", ctx)
            return command(*args, date=date if date is not None else date_option, **kwargs)

        wrapper = click.argument("date", type=DATE, required=False,
                                 metavar="[YYYY-MM-DD]")(wrapper)
        wrapper = click.option("--date", "date_option", type=DATE, metavar="YYYY-MM-DD",
                               help=f"{help} Also given as the argument.")(wrapper)
        return wrapper  # type: ignore[return-value]

    return decorate


# Options of the top-level command that also work after a command's name
# (`newsletter build --config x.yaml`); True: takes a value.
GLOBAL_OPTIONS = {"--config": True, "--strict": False}


def _globals_first(group: click.Group, ctx: click.Context, args: list[str]) -> list[str]:
    """``args`` with the global options found after the command moved before it, unless
    the command has an option of the same name itself."""
    index = 0
    while index < len(args) and args[index].startswith("-") and args[index] != "--":
        index += 2 if GLOBAL_OPTIONS.get(args[index]) else 1
    if index >= len(args) or args[index] == "--":
        return args
    command = group.get_command(ctx, args[index])
    own = {opt for param in (command.params if command else ()) for opt in param.opts}
    moved: list[str] = []
    rest: list[str] = []
    tail = args[index + 1:]
    position = 0
    while position < len(tail):
        token = tail[position]
        name = token.split("=", 1)[0]
        if token == "--":
            rest += tail[position:]
            break
        if name in GLOBAL_OPTIONS and name not in own:
            takes_value = GLOBAL_OPTIONS[name] and "=" not in token
            moved += tail[position:position + 1 + takes_value]
            position += 1 + takes_value
            continue
        rest.append(token)
        position += 1
    return [*args[:index], *moved, args[index], *rest]


def next_step(issue: Issue, folder: Path, config: Config) -> str:
    """What to do after a build: look at the draft, then publish it; or, once published,
    open the archive and send it."""
    if issue.status == "published":
        return (f"Next: open {config.output / 'index.html'} in a browser, and send it with "
                f"`{newsletter_command(config.path, f'send {issue.slug}')}`.")
    return (f"Next: open {folder / 'email.html'} in a browser (or "
            f"`{newsletter_command(config.path, f'preview {issue.slug}')}`), then "
            f"`{newsletter_command(config.path, f'publish {issue.slug}')}`.")


def say_links(pages: list[str]) -> None:
    """Name the pages of other issues that publishing rewrote (only ever for their links)."""
    if pages:
        echo(f"Updated the previous/next links of {', '.join(pages)}.")


def corrected(issue: Issue, changed: bool, written: int, config_path: Path) -> str:
    """What a rebuild of an issue published before it did, to readers and subscribers."""
    send = newsletter_command(config_path, f"send {issue.slug}")
    again = (f"Its email is not sent again: `{send}` sends only to "
             "subscribers who have not had it.")
    if changed:
        when = issue.updated_at.isoformat() if issue.updated_at else ""
        return (f"Corrected issue {issue.slug}, published already: its web page, the archive "
                f"and the feeds show the correction (updated_at {when}), so feed readers show "
                f"its entry again. {again}")
    if written:
        return (f"Issue {issue.slug} was published already and is unchanged; {written} of its "
                f"files (or the archive's, the feeds') were written again. {again}")
    return f"Issue {issue.slug} was published already and the rebuild changes nothing."


def summary(command: click.Command) -> str:
    """A command's whole one-line summary: its short_help, else the first sentence of its
    help, never cut short."""
    if command.short_help:
        return command.short_help
    first = " ".join(inspect.cleandoc(command.help or "").split("\n\n", 1)[0].split())
    return first.split(". ", 1)[0].rstrip(".") + "."
