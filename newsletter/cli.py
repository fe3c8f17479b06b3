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
    if result.reading.unvalidated:
        click.echo(f"note: {result.reading.unvalidated} article file(s) outside the window "
                   "were not validated (they cannot change this issue); `newsletter check` "
                   "validates every file", err=True)
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
    reading = read_corpus(config.corpus, cache_dir=config.state_dir)
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


@cli.command()
@click.option("--date", "date", type=_DATE, metavar="YYYY-MM-DD",
              help="The issue to open. Default: the next scheduled issue (today without a "
                   "schedule).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; anything but loopback shows drafts to others.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="The port to listen on; 0 picks a free one.")
@click.option("--strict", is_flag=True, help=_STRICT_HELP)
@click.pass_obj
def preview(options: _Options, date: dt.datetime | None, host: str, port: int,
            strict: bool) -> None:
    """Serve drafts to the editor's browser, rendered in memory: writes nothing, publishes
    nothing. The page reloads itself when an article, the config, a template or the
    issue's overrides.yaml changes.

    \b
    Examples:
      newsletter preview
      newsletter preview --date 2021-02-22 --port 8001
    """
    from .preview import PreviewServer, is_loopback

    config, strict = options.load(strict)
    server = PreviewServer(config.path, host=host, port=port, strict=strict,
                           default_date=date.date() if date else None)
    if not is_loopback(host):
        click.echo(f"warning: serving on {host}: anyone who can reach this machine can read "
                   "the drafts", err=True)
    click.echo(f"Previewing {config.title}: {server.url}/")
    click.echo(f"Issue {server.state.default_date.isoformat()}: {server.draft_url()}")
    click.echo("Saving an article, the config, a template or overrides.yaml reloads the page. "
               "Ctrl-C stops.")
    server.serve_forever()


@cli.command()
@click.option("--once", is_flag=True,
              help="One pass (make up the latest run if it is due), then exit: for cron or a "
                   "systemd timer. Exit status 1 when the run failed.")
@click.option("--strict", is_flag=True, help=_STRICT_HELP)
@click.pass_obj
def schedule(options: _Options, once: bool, strict: bool) -> None:
    """Build and publish each issue when schedule.cron says, until stopped (SIGTERM or
    Ctrl-C stop it cleanly, after the run in progress). On start, the latest missed run is
    made up when it is at most schedule.catch_up_hours late. One scheduler per output
    folder. Logs go to stderr with timestamps.

    \b
    Examples:
      newsletter schedule
      newsletter schedule --once
    """
    from .schedule import configure_logging, run_scheduler

    config, strict = options.load(strict)
    configure_logging()
    status = run_scheduler(config, reload=lambda: options.load(strict)[0], once=once,
                           strict=strict)
    if status:
        raise click.ClickException("the run failed (see the log above)")


# -- delivery: subscribers, send, serve (the library: subscribers.py, deliver.py, serve.py) --

@cli.group()
def subscribers() -> None:
    """Manage the subscribers (kept in the SQLite state under state_dir).

    \b
    Examples:
      newsletter subscribers import people.csv
      newsletter subscribers add ada@example.org --name "Ada" --topics "AI;Robotics"
      newsletter subscribers list --json
    """


@subscribers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def subscribers_import(options: _Options, file: Path) -> None:
    """Import a CSV file with the header email,name[,topics] (topics separated by ";").

    Bad rows are reported with their line number and skipped (exit status 1); the good rows
    go in, in one transaction. Duplicates merge; an address that unsubscribed stays so.

    \b
    Example:
      newsletter subscribers import people.csv
    """
    from .subscribers import import_csv

    config, _ = options.load()
    report = import_csv(config, file)
    for problem in report.problems:
        click.echo(f"{file}: {problem}", err=True)
    outcomes = ", ".join(f"{count} {outcome}" for outcome, count in report.outcomes.items())
    click.echo(f"Imported {report.imported} subscriber(s) from {file}"
               + (f": {outcomes}." if outcomes else "."))
    if report.problems:
        click.echo(f"{len(report.problems)} bad row(s) skipped; fix them and import again "
                   "(the rows already in merge).", err=True)
        sys.exit(1)


@subscribers.command("add")
@click.argument("address", metavar="EMAIL")
@click.option("--name", default=None, help="The subscriber's name, for the To header.")
@click.option("--topics", default=None, metavar='"AI;Robotics"',
              help="Only these topics (separated by ;). Default: every topic.")
@click.pass_obj
def subscribers_add(options: _Options, address: str, name: str | None,
                    topics: str | None) -> None:
    """Add a subscriber, update one, or re-subscribe one who left.

    \b
    Example:
      newsletter subscribers add ada@example.org --name "Ada Lovelace" --topics AI
    """
    from .subscribers import add_subscriber

    config, _ = options.load()
    subscriber, outcome = add_subscriber(config, address, name, topics)
    click.echo(f"{subscriber.email}: {outcome}.")


@subscribers.command("remove")
@click.argument("address", metavar="EMAIL")
@click.pass_obj
def subscribers_remove(options: _Options, address: str) -> None:
    """Delete a subscriber.

    \b
    Example:
      newsletter subscribers remove ada@example.org
    """
    from .subscribers import remove_subscriber

    config, _ = options.load()
    subscriber = remove_subscriber(config, address)
    click.echo(f"{subscriber.email}: removed.")


@subscribers.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.pass_obj
def subscribers_list(options: _Options, as_json: bool) -> None:
    """One line per subscriber: address, status (active or unsubscribed), topics, name.

    \b
    Examples:
      newsletter subscribers list
      newsletter subscribers list --json
    """
    from .subscribers import list_subscribers, subscribers_json, subscribers_text

    config, _ = options.load()
    people = list_subscribers(config)
    click.echo(subscribers_json(people) if as_json else subscribers_text(people), nl=False)


@subscribers.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def subscribers_export(options: _Options, file: Path) -> None:
    """Write every subscriber to a CSV file (email,name,topics,status) that import reads.

    \b
    Example:
      newsletter subscribers export people.csv
    """
    from .subscribers import export_csv

    config, _ = options.load()
    count = export_csv(config, file)
    click.echo(f"Exported {count} subscriber(s) to {file}.")


@cli.command()
@click.argument("date", type=_DATE, metavar="YYYY-MM-DD")
@click.option("--to", "to", metavar="ADDRESS",
              help="Send one test copy to this address only (subject marked, not recorded).")
@click.option("--outbox", type=click.Path(file_okay=False, path_type=Path),
              help="Write the exact messages as .eml files in this folder instead of sending.")
@click.pass_obj
def send(options: _Options, date: dt.datetime, to: str | None, outbox: Path | None) -> None:
    """Send the published issue of a date to every active subscriber who has not had it.

    Run it again after a failure or a crash: it resumes, and nobody gets the issue twice.
    Needs the secret in the environment variable named by secret_env. Exit status 1 when
    any message failed.

    \b
    Examples:
      newsletter send 2021-02-22 --to me@example.org
      newsletter send 2021-02-22 --outbox /tmp/outbox
      newsletter send 2021-02-22
    """
    from .deliver import send_issue

    config, _ = options.load()
    report = send_issue(config, date.date(), to=to, outbox=outbox, log=click.echo)
    if not report.ok:
        sys.exit(1)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to bind.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="The port (0: any free port).")
@click.pass_obj
def serve(options: _Options, host: str, port: int) -> None:
    """Serve the output folder at the path of site_url, and one-click unsubscribes.

    A WSGI application (newsletter.serve.Site) with the standard library's server, for
    local use; production can run Site under any WSGI server.

    \b
    Example:
      newsletter serve --port 8080
    """
    from .serve import make_server, site_address

    config, _ = options.load()
    try:
        server = make_server(config, host, port)
    except OSError as error:
        raise NewsletterError(f"cannot listen on {host}:{port} ({error}); pick another "
                              "--port or --host") from None
    click.echo(f"Serving {config.output} at {site_address(server, config)} (Ctrl-C stops).")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main() -> None:
    cli(prog_name="newsletter")
