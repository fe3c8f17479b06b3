"""The commands that run until stopped: ``preview`` (the editor's drafts in a browser) and
``schedule`` (the scheduler). Each parses options and hands over to its loop."""

from __future__ import annotations

import datetime as dt

import click

from .options import STRICT_HELP, Options, date_argument, echo


@click.command(short_help="Serve drafts to the editor's browser, reloading on every change; "
                          "writes and publishes nothing.")
@date_argument("The issue to open. Default: the latest draft with articles in it (the "
               "next scheduled issue not published yet, an issue folder you started, the "
               "issue after the latest published one, or the issue holding the newest "
               "article).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; anything but loopback shows drafts to others.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="The port to listen on; 0 picks a free one.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="A host name (besides localhost) that browsers may use to reach the "
                   "preview, e.g. this machine's name; repeatable. Requests naming any other "
                   "host are refused, on every address.")
@click.option("--poll/--no-poll", default=None,
              help="Poll for changes instead of OS notifications (default: poll only on a "
                   "network mount, where edits made on other machines raise none).")
@click.option("--strict", is_flag=True, help=STRICT_HELP)
@click.pass_obj
def preview(options: Options, date: dt.date | None, host: str, port: int,
            allow_hosts: tuple[str, ...], poll: bool | None, strict: bool) -> None:
    """Serve drafts to the editor's browser, rendered in memory: writes nothing, publishes
    nothing. The page reloads itself when an article, the config, a template or the
    issue's overrides.yaml changes.

    \b
    Examples:
      newsletter preview
      newsletter preview --date 2021-02-22 --port 8001
      newsletter preview --host 0.0.0.0 --allow-host editor.example.org
    """
    from ..web.preview import PreviewServer

    config, strict = options.load(strict)
    server = PreviewServer(config.path, host=host, port=port, strict=strict,
                           default_date=date,
                           allow_hosts=allow_hosts, poll=poll)
    if not server.loopback:
        names = ", ".join(["localhost", *sorted(server.app.allowed_hosts)])
        echo(f"warning: serving on {host}: anyone who can reach this machine can connect. "
             f"The Host check stays on for every address: only requests naming {names} are "
             "answered (add names with --allow-host), so web pages elsewhere cannot read "
             "the drafts through DNS rebinding.", err=True)
    echo(f"Previewing {config.title}: {server.url}/")
    if date is not None:
        echo(f"Issue {date.isoformat()}: {server.draft_url(date)}")
    else:  # rendering the candidates says which have articles
        listing = server.listing()
        echo(f"Issue {listing.default.isoformat()}: {server.draft_url(listing.default)}")
        for other in listing.others:
            note = f" ({other.note})" if other.note else ""
            echo(f"  also: {other.date.isoformat()}{note}: {server.draft_url(other.date)}")
    echo("Saving an article, the config, a template or overrides.yaml reloads the page. "
         "Ctrl-C stops.")
    server.serve_forever()


@click.command(short_help="Build and publish each issue when schedule.cron says (--once: one "
                          "pass, for cron or a systemd timer).")
@click.option("--once", is_flag=True,
              help="One pass (make up the latest run if it is due), then exit: for cron or a "
                   "systemd timer. Exit status 1 when the run failed.")
@click.option("--strict", is_flag=True, help=STRICT_HELP)
@click.pass_obj
def schedule(options: Options, once: bool, strict: bool) -> None:
    """Build and publish each issue when schedule.cron says, until stopped (SIGTERM or
    Ctrl-C stop it cleanly, after the run in progress; a third one stops at once). On
    start, the latest missed run is made up when it is at most schedule.catch_up_hours
    late. An edit of the configuration
    file is followed without a restart. One scheduler per output folder. Logs go to stderr
    with timestamps.

    \b
    Examples:
      newsletter schedule
      newsletter schedule --once
    """
    from ..schedule.loop import configure_logging, run_scheduler

    config, strict = options.load(strict)
    configure_logging()
    status = run_scheduler(config, reload=lambda: options.load(strict)[0], once=once,
                           strict=strict)
    if status:
        raise click.ClickException("the run failed (see the log above)")
