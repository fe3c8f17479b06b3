"""The delivery commands: subscribers, send, serve (the library: newsletter.delivery and
newsletter.web)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from .options import Group, Options, date_argument, echo, write_stdout
from .stops import INTERRUPTED


@click.group(cls=Group)
def subscribers() -> None:
    """Manage the subscribers (kept in the state: SQLite in state_dir, or state_url).

    \b
    Examples:
      newsletter subscribers import people.csv
      newsletter subscribers add ada@example.org --name "Ada" --topics "AI;Robotics"
      newsletter subscribers list --json
    """


@subscribers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def subscribers_import(options: Options, file: Path) -> None:
    """Import a CSV file with the header email,name[,topics[,status]] (topics separated by
    ";"; status active, unsubscribed or bounced, blank for active, as export writes it).

    Bad rows are reported with their line number and skipped (exit status 1); the good rows
    go in, in one transaction. Duplicates merge; an address that unsubscribed stays so. Rows
    giving one subscriber different statuses are named with their lines (exit status 1),
    and the subscriber goes in as having left.

    \b
    Example:
      newsletter subscribers import people.csv
    """
    from ..delivery.subscriber_csv import import_csv

    config, _ = options.load()
    try:
        report = import_csv(config, file)
    except KeyboardInterrupt:
        # Every row goes in in one transaction, which Ctrl-C rolled back; a row already in
        # merges, so the same import again is safe in any case.
        echo(f"Interrupted: nothing was imported from {file} (its rows go in all at once, or "
             "not at all); running the same command again is safe.", err=True)
        sys.exit(INTERRUPTED)
    for problem in report.problems:
        echo(f"{file}: {problem}", err=True)
    outcomes = ", ".join(f"{count} {outcome}" for outcome, count in report.outcomes.items())
    echo(f"Imported {report.imported} subscriber(s) from {file}"
               + (f": {outcomes}." if outcomes else "."))
    for line in report.spellings:
        echo(line)
    for conflict in report.conflicts:
        echo(f"{file}: {conflict}", err=True)
    if report.problems:
        echo(f"{len(report.problems)} bad row(s) skipped; fix them and import again "
                   "(the rows already in merge).", err=True)
    if report.conflicts:
        echo(f"{len(report.conflicts)} subscriber(s) given different statuses by the file, "
             "imported as having left (above).", err=True)
    if report.problems or report.conflicts:
        sys.exit(1)


@subscribers.command("add")
@click.argument("address", metavar="EMAIL")
@click.option("--name", default=None, help="The subscriber's name, for the To header.")
@click.option("--topics", default=None, metavar='"AI;Robotics"',
              help="Only these topics (separated by ;). Default: every topic.")
@click.pass_obj
def subscribers_add(options: Options, address: str, name: str | None,
                    topics: str | None) -> None:
    """Add a subscriber, update one, or re-subscribe one who left.

    \b
    Example:
      newsletter subscribers add ada@example.org --name "Ada Lovelace" --topics AI
    """
    from ..delivery.subscribers import add_subscriber

    config, _ = options.load()
    subscriber, outcome = add_subscriber(config, address, name, topics)
    echo(f"{subscriber.email}: {outcome}.")


@subscribers.command("remove")
@click.argument("address", metavar="EMAIL")
@click.pass_obj
def subscribers_remove(options: Options, address: str) -> None:
    """Delete a subscriber.

    \b
    Example:
      newsletter subscribers remove ada@example.org
    """
    from ..delivery.subscribers import remove_subscriber

    config, _ = options.load()
    subscriber = remove_subscriber(config, address)
    echo(f"{subscriber.email}: removed.")


@subscribers.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.pass_obj
def subscribers_list(options: Options, as_json: bool) -> None:
    """One line per subscriber: address, status (active or unsubscribed), topics, name.

    A mailbox stored under several spellings (case aside, by an older version) is named on
    standard error, with who is sent its issues and how to keep one spelling.

    \b
    Examples:
      newsletter subscribers list
      newsletter subscribers list --json
    """
    from ..delivery.mailboxes import case_spellings, case_spellings_lines
    from ..delivery.subscribers import (
        HOW_TO_ADD,
        forgotten_topics_lines,
        list_subscribers,
        subscribers_json,
        subscribers_text,
    )

    config, _ = options.load()
    people = list_subscribers(config)
    echo(subscribers_json(people) if as_json else subscribers_text(people), nl=False)
    if not people and not as_json:
        echo(f"No subscribers yet: {HOW_TO_ADD}.", err=True)
    for line in case_spellings_lines(case_spellings(config)):
        echo(line, err=True)
    for line in forgotten_topics_lines(people, config):
        echo(line, err=True)


@subscribers.command("export")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--force", is_flag=True, help="Replace FILE when it exists.")
@click.pass_obj
def subscribers_export(options: Options, file: Path, force: bool) -> None:
    """Write every subscriber to a CSV file (email,name,topics,status) that import reads;
    "-" writes it to standard output. A FILE that exists is left alone unless --force.

    \b
    Examples:
      newsletter subscribers export people.csv
      newsletter subscribers export - | gzip > people.csv.gz
    """
    from ..delivery.subscriber_csv import export_csv, export_text

    config, _ = options.load()
    if str(file) == "-":
        data, count = export_text(config)
        write_stdout(data)
        echo(f"Exported {count} subscriber(s) to standard output.", err=True)
        return
    count = export_csv(config, file, force=force)
    echo(f"Exported {count} subscriber(s) to {file}.")


@click.command()
@date_argument("The issue to send.")
@click.option("--to", "to", metavar="ADDRESS",
              help="Send one test copy to this address only (subject marked, not recorded).")
@click.option("--outbox", type=click.Path(file_okay=False, path_type=Path),
              help="Write the exact messages as .eml files in this folder instead of sending.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Sender processes, each with smtp.concurrency connections.")
@click.pass_obj
def send(options: Options, date: dt.date | None, to: str | None, outbox: Path | None,
         workers: int) -> None:
    """Send the published issue of a date to every active subscriber who has not had it.

    Run it again after a failure or a crash: it resumes, and nobody gets the issue twice.
    With a PostgreSQL state, runs on several machines share the work. Needs the secret in
    the environment variable named by secret_env, and the mail server of the config's
    smtp: section (--outbox does without: refused without one, naming the fix). Exit
    status 1 when any message failed or was not attempted (the SMTP session failed); Ctrl-C
    stops once the messages in flight are settled, says what went, and exits 130. Without a
    date it sends nothing, and names the latest published issue and whether it was sent
    (exit status 2).

    \b
    Examples:
      newsletter send 2021-02-22 --to me@example.org
      newsletter send 2021-02-22 --outbox /tmp/outbox
      newsletter send 2021-02-22 --workers 4
      newsletter send 2021-02-22
    """
    from ..delivery.progress import which_issue
    from ..delivery.send import send_issue
    from ..delivery.subscribers import forgotten_topics_lines, list_subscribers

    config, _ = options.load()
    if date is None:  # never a guess: the wrong issue sent cannot be taken back
        raise click.UsageError(which_issue(config))
    report = send_issue(config, date, to=to, outbox=outbox, log=echo, workers=workers)
    if to is None:
        for line in forgotten_topics_lines(list_subscribers(config), config):
            echo(line, err=True)
    if report.interrupted:
        sys.exit(INTERRUPTED)  # as a shell reports a command Ctrl-C stopped
    if not report.ok:
        sys.exit(1)


@click.command("send-pending")
@click.pass_obj
def send_pending(options: Options) -> None:
    """Send the queued confirmation and welcome emails that are due, then exit.

    For deployments whose web processes must not send mail (serve --no-send, or
    NEWSLETTER_SEND_MAIL=0 under a WSGI server): run it every minute from cron or a
    systemd timer. Exit status 1 when an email failed for good.

    \b
    Example:
      newsletter send-pending
    """
    from ..delivery.mailqueue import send_pending as send_queued

    config, _ = options.load()
    report = send_queued(config, log=echo)
    echo(f"Queued emails: {report.summary()}")
    if report.failed:
        sys.exit(1)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to bind.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="The port (0: any free port).")
@click.option("--timeout", default=30.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds a connection may stay silent before it is closed.")
@click.option("--send/--no-send", "send_mail", default=True, show_default=True,
              help="Send the confirmation and welcome emails from this process (else: "
                   "newsletter send-pending).")
@click.pass_obj
def serve(options: Options, host: str, port: int, timeout: float, send_mail: bool) -> None:
    """Serve the archive, feeds, published issues, signup pages and unsubscribes.

    Everything at the path of site_url: the signup, confirmation and preferences pages and
    one-click unsubscribes beside the published files. Drafts and the editor's files are
    never served.

    A site_url on this machine (localhost, 127.0.0.1) that names another port than the one
    served is warned of at start: the links in emails and pages lead there. So are the
    stored subscribers check warns of: who chose a topic the configuration no longer has
    (their preferences page asks them to pick again), a mailbox under several spellings.

    A WSGI application (newsletter.serve.Site) with the standard library's server, for
    local use; in production run newsletter.web.wsgi:application under a WSGI server (see
    the README).

    \b
    Example:
      newsletter serve --port 8080
    """
    from ..delivery.subscribers import stored_subscribers_lines
    from ..web.links import port_mismatch
    from ..web.public import make_server, site_address

    config, _ = options.load()
    server = make_server(config, host, port, timeout=timeout, send_mail=send_mail)
    mismatch = port_mismatch(config, server.server_address[1])
    if mismatch:
        echo(mismatch, err=True)
    for line in stored_subscribers_lines(config):
        echo(line, err=True)
    echo(f"Serving {config.output} at {site_address(server, config)} (Ctrl-C stops).")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

