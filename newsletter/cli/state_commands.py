"""The state commands: migrate, copy, prune (the library: newsletter.state)."""

from __future__ import annotations

import click

from .options import Options, echo


@click.group()
def state() -> None:
    """Prepare or move the state: subscribers, the send ledger, the schedule's runs.

    \b
    Examples:
      newsletter state migrate
      newsletter state copy --to postgresql://newsletter@db.example.org:5432/newsletter
      newsletter state prune --dry-run
    """


@state.command("migrate")
@click.pass_obj
def state_migrate(options: Options) -> None:
    """Bring the state's schema up to date (also done on first use by every command).

    Runs recorded by an older version in state_dir move into the database too.

    \b
    Example:
      newsletter state migrate
    """
    from ..schedule.runs import import_legacy_runs
    from ..state.database import migrate_state

    config, _ = options.load()
    where, before, after = migrate_state(config)
    if before == after:
        echo(f"{where}: the schema is up to date (version {after}).")
    else:
        echo(f"{where}: schema version {before} -> {after}.")
    if import_legacy_runs(config):
        echo("The schedule's record of runs moved into the database.")


@state.command("copy")
@click.option("--to", "to", required=True, metavar="URL",
              help="postgresql://user@host:port/database (or the path of a SQLite file).")
@click.option("--password-env", default=None, metavar="NAME",
              help="The environment variable holding the target's password (default: "
                   "state_password_env).")
@click.pass_obj
def state_copy(options: Options, to: str, password_env: str | None) -> None:
    """Copy the state to another database: every subscriber, status, topic, ledger row and
    run, as stored, so every link already in an inbox keeps working.

    Run it again at will: rows already there are brought up to date, and every row is
    verified in the target. Stop senders and schedulers first; afterwards point state_url at
    the target.

    \b
    Example:
      NEWSLETTER_DB_PASSWORD=... newsletter state copy \\
          --to postgresql://newsletter@db.example.org:5432/newsletter \\
          --password-env NEWSLETTER_DB_PASSWORD
    """
    from ..schedule.runs import import_legacy_runs
    from ..state.copy import copy_state
    from ..state.location import location, location_from_url

    config, _ = options.load()
    import_legacy_runs(config)
    target = location_from_url(to, password_env or config.state_password_env)
    report = copy_state(location(config), target, log=echo)
    for line in report.lines():
        echo(line)
    if target.dialect == "postgresql" and not config.state_url:
        echo(f"Next: state_url: {target} in {config.path}"
                   + (f" (password in {target.password_env}, named by state_password_env)"
                      if target.password_env else "")
                   + ", then restart serve, send and schedule.")


def _days(_ctx: click.Context, _param: click.Parameter, value: str) -> int:
    text = value.strip().lower().removesuffix("d")
    if not text.isdigit():
        raise click.BadParameter(f"{value!r} is not a number of days; give one as 90d")
    return int(text)


@state.command("prune")
@click.option("--older-than", "days", default="90d", show_default=True, metavar="DAYS",
              callback=_days, help="Prune issues whose last send activity is older than this "
                                   "(days, as 90d; at least 1d).")
@click.option("--dry-run", is_flag=True, help="Say what would be pruned; change nothing.")
@click.option("--vacuum", is_flag=True,
              help="Then give the space back: SQLite rewrites the file (needs free disk as "
                   "large as it, blocks writes meanwhile); PostgreSQL VACUUMs the tables.")
@click.pass_obj
def state_prune(options: Options, days: int, dry_run: bool, vacuum: bool) -> None:
    """Remove the per-address send ledger of old, finished issues, keeping one record per
    issue: a pruned issue is never sent again (send refuses it, naming when it was pruned).

    An issue with recipients still to be sent or messages in flight is never pruned, nor
    one with any activity in the last DAYS days. Subscribers, their statuses and the
    schedule's runs are not touched.

    \b
    Examples:
      newsletter state prune --dry-run
      newsletter state prune --older-than 180d --vacuum
    """
    import datetime as dt

    from ..delivery.editions import nothing_for
    from ..delivery.runmarks import clear_dead_runs
    from ..state.location import location
    from ..state.prune import prune_ledger

    config, _ = options.load()
    report = prune_ledger(location(config), days=days, now=dt.datetime.now(dt.UTC),
                          dry_run=dry_run, vacuum=vacuum and not dry_run, log=echo,
                          nothing_for=nothing_for(config))
    for line in report.lines():
        echo(line)
    cleared = 0 if dry_run else clear_dead_runs(config)
    if cleared:
        echo(f"Cleared the marks of {cleared} send run(s) that did not end (killed or "
             "interrupted).")
