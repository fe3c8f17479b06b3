"""The ``newsletter`` command and the issue commands: build, publish, check, explain,
preview, schedule. Each parses options, calls one library function and prints."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from .. import __version__
from ..core.errors import NewsletterError
from ..core.folders import DEFAULT_CONFIG_NAME
from ..core.models import Issue, IssueStatus
from ..core.text import plural, topic_key
from ..publishing.build import build_issue, publish_issue, read_and_select, why_empty
from ..publishing.drafts import (
    check_draft_overrides,
    find_drafts,
    wanted_by,
    which_draft,
    windows_to_keep,
)
from ..publishing.editing import (
    NOT_APPLIED,
    correcting,
    edits_since_published,
    kept_as_it_was,
    overrides_warnings,
    published_lines,
    rebuilds_the_same,
    record_only,
)
from ..publishing.issues import IssueStore
from ..publishing.site import other_issues_files
from ..publishing.unfinished import unfinished_lines
from ..reading.corpus import read_corpus
from ..reading.topics import TopicTally
from ..rendering.check import template_problems as check_templates
from ..rendering.check import template_warnings
from ..selecting.explain import empty_topic_lines, explain_json_chunks, explain_text
from ..selecting.overrides import OVERRIDES_FILE
from .delivery_commands import send, send_pending, serve, subscribers
from .init_command import init
from .options import (
    STRICT_HELP,
    Group,
    Options,
    corrected,
    date_argument,
    echo,
    issue_date,
    next_step,
    reading_notes,
    report_problems,
    say_links,
)
from .running_commands import preview, schedule
from .state_commands import state


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              default=DEFAULT_CONFIG_NAME, show_default=True, envvar="NEWSLETTER_CONFIG",
              help="The configuration file; relative paths in it resolve against its folder.")
@click.option("--strict", is_flag=True, help=STRICT_HELP)
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
    ctx.obj = Options(config_path, strict)


@cli.command(short_help="Select the issue for a date and write its folder, <output>/<date>/: "
                        "the email, the web page, issue.json.")
@date_argument("The issue date; its window ends at 00:00 that day. Default: today.")
@click.option("--strict", is_flag=True, help=STRICT_HELP)
@click.option("--publish", is_flag=True, help="Publish the issue once built.")
@click.option("--force", is_flag=True,
              help="Rebuild the issue even if it is published and the rebuild changes it.")
@click.pass_obj
def build(options: Options, date: dt.date | None, strict: bool, publish: bool,
          force: bool) -> None:
    """Select the issue for a date and write its folder: <output>/<date>/ with issue.json,
    email.mjml, email.html, email.txt, email.eml (a sample message) and index.html.

    The editor's overrides.yaml in that folder (intro, subject, pin, exclude) is applied.

    \b
    Examples:
      newsletter build 2021-02-22
      newsletter build --date 2021-02-22 --publish
    """
    config, strict = options.load(strict)
    result = build_issue(config, issue_date(date, config), strict=strict, force=force,
                         publish=publish, now=dt.datetime.now(dt.UTC), waiting=waiting)
    report_problems(result.problems)
    for note in reading_notes(result.reading, config.corpus):
        echo(note, err=True)
    for warning in result.warnings:
        echo(f"warning: {warning}", err=True)
    issue = result.selection.issue
    if result.empty_reason:
        echo(f"Issue {issue.slug}: nothing to build: {result.empty_reason}.")
        if result.removed_draft:
            folder = config.output / issue.slug
            kept = f" ({OVERRIDES_FILE} stays)" if (folder / OVERRIDES_FILE).exists() else ""
            echo(f"Deleted the draft an earlier build wrote in {folder}{kept}: it held "
                 "articles this issue no longer has, and must not be published.")
        return
    if result.up_to_date and result.record_only:
        echo(f"Issue {issue.slug} is published and a rebuild gives the same email, pages and "
             f"feeds; {result.record_only}.")
        return
    if result.up_to_date:
        echo(f"Issue {issue.slug} is published and a rebuild gives the same files: "
                   "nothing to do.")
        return
    placed = issue.placed
    related = sum(len(p.related) for p in placed)
    echo(f"Issue {issue.slug} of {issue.title} ({issue.status}): "
         f"{plural(len(issue.sections), 'topic')}, {plural(len(placed), 'article')}, "
         f"{plural(related, 'related link')}.")
    for section in issue.sections:
        echo(f"  {section.topic}: {len(section.articles)}")
    for line in empty_topic_lines(result.selection.empty_topics, config.path.name):
        echo(line)
    target = config.output / issue.slug
    echo(f"Wrote {target}" if result.written else f"Unchanged: {target}")
    say_links(other_issues_files(result.written, config, issue))
    if result.was_published:  # out already: no "send it", which would not send it again
        echo(corrected(issue, result.corrected, len(result.written), config.path))
        if result.record_only:
            echo(f"Issue {issue.slug}: {result.record_only}.")
        return
    echo(next_step(issue, target, config))


@cli.command()
@date_argument("The issue to publish.")
@click.pass_obj
def publish(options: Options, date: dt.date | None) -> None:
    """Publish a built issue as it stands, then regenerate the archive and the feeds.
    Without a date it publishes nothing, and names the latest draft (exit status 2).

    \b
    Example:
      newsletter publish 2021-02-22
    """
    config, _ = options.load()
    if date is None:  # never a guess: an issue published cannot be taken back
        raise click.UsageError(which_draft(config.output))
    already = IssueStore(config.output).status(date) == IssueStatus.PUBLISHED
    for warning in overrides_warnings(config, date):  # as build and explain warn (a key
        echo(f"warning: {warning}", err=True)  # added since the build, say)
    issue, written = publish_issue(config, date, waiting=waiting)
    if already:
        echo(f"Issue {issue.slug} was published already: {len(written)} file(s) brought up "
             f"to date in {config.output} (the archive and the feeds; the issue stays as it "
             "was).")
    else:
        echo(f"Published issue {issue.slug}: {len(written)} file(s) written in "
             f"{config.output}.")
    say_links(other_issues_files(written, config, issue))
    edits: tuple[str, ...] = ()
    rebuilt: Issue | None = None
    emptied = False  # the edits leave no article: a correction build --force refuses
    refused: tuple[str, ...] = ()  # the problems of the entries build refuses (a typo)
    try:
        edits = edits_since_published(config, issue) if already else ()
        if edits:  # selected again, as build would: a correction, or only a new record?
            again = read_and_select(config, date, complete=False, lenient=True)
            refused = again.unapplied
            rebuilt = None if refused else again.selection.issue
            emptied = not again.selection.issue.sections
    except NewsletterError as error:  # published all the same: the file is the editor's
        echo(f"warning: {error}", err=True)
    if rebuilt is not None and rebuilds_the_same(config, issue, rebuilt):
        echo(f"Issue {issue.slug}: {record_only(issue, rebuilt)}.")
    elif edits:  # publishing again applies nothing: say so, or the fix seems out
        echo(f"warning: {config.output / issue.slug / OVERRIDES_FILE}: changed since issue "
             f"{issue.slug} was published ({', '.join(edits)} not in it); publishing again "
             f"does not apply it: "
             f"{correcting(config.path, issue.slug, len(refused), emptied=emptied)} "
             "(its email is not sent again)", err=True)
    elif already and (kept := kept_as_it_was(config, issue)):  # a template or theme changed
        echo(f"Issue {issue.slug}: {kept}.")
    for problem in refused:  # named as build and explain name them, with the id meant
        echo(f"warning: {problem}", err=True)


@cli.command()
@click.option("--strict", is_flag=True, help="Also fail on configuration warnings.")
@click.pass_obj
def check(options: Options, strict: bool) -> None:
    """Validate the configuration, every article file and the overrides.yaml of every
    draft; exit 1 if any is invalid. Says what send will do (its SMTP server, or that it
    refuses without an smtp: section). Also names a publish stopped halfway (the pages around
    its issue not written) and the command that finishes it, the subscribers stored under
    several spellings of one address (by an older version), and how to keep one, and those
    who chose a topic the configuration no longer has, and what to do.

    \b
    Example:
      newsletter check
    """
    config, strict = options.load(strict)
    drafts_found = find_drafts(config.output)
    # Only the articles the drafts' pins and excludes may name are kept, to resolve them;
    # the topics of all are tallied, for a configured topic that no article has.
    tally = TopicTally(t.name for t in config.topics)
    reading = read_corpus(config.corpus, cache_dir=config.state_dir,
                          keep_open=config.open_folders, keep_articles=False,
                          wanted=wanted_by(drafts_found),
                          keep_within=windows_to_keep(config, drafts_found), tally=tally)
    for line in [*map(str, reading.problems), *reading_notes(reading, config.corpus)]:
        echo(line, err=True)
    echo(f"Checked {config.path.name} and {reading.file_count} article files in "
         f"{config.corpus}: {reading.valid_count} valid, "
         f"{len(reading.problems)} invalid.")
    empty = tally.empty_topics(t.name for t in config.topics
                               if topic_key(t.name) in tally.missing)
    if empty:  # said as build says it of an issue's window: no error, the corpus may grow
        echo(f"Configured topics no article in the corpus has ({len(empty)}):")
        for line in empty_topic_lines(empty, config.path.name, where="the corpus"):
            echo(line)
    # -- templates: the overrides in `templates:` rendered once with a sample issue
    template_problems = check_templates(config)
    for line in template_problems:
        echo(line, err=True)
    warned = template_warnings(config)  # an old copy's opening `{#-`
    for line in warned:
        echo(line, err=True)
    if strict:
        template_problems += warned
    if config.templates:
        echo(f"Rendered the templates with overrides from {config.templates}: "
                   + (f"{len(template_problems)} problem(s)." if template_problems else "fine."))
    # -- the drafts' overrides.yaml: found now, not when the issue is built or published
    drafts = check_draft_overrides(config, drafts_found, reading.articles)
    for draft_problem in drafts.problems:
        echo(draft_problem, err=True)
    draft_errors = [p for p in drafts.problems if not p.warning or strict]
    if drafts.checked:
        echo(f"Checked the {OVERRIDES_FILE} of {drafts.checked} draft(s) in {config.output}: "
             + (f"{len(draft_errors)} problem(s); fix them before the issue is built or "
                "published." if draft_errors else "fine."))
    # -- sending (a From with no mail domain, a secret unset here) and the subscribers: a
    # mailbox stored under several spellings, topics the configuration no longer has
    from ..delivery.readiness import check_lines, sending_line

    echo(sending_line(config))
    for line in check_lines(config):
        echo(line, err=True)
    # -- the published site: a publish stopped halfway, whose issue the pages around it, the
    # archive and the feeds may not show yet (one small file read, not every page)
    stopped = unfinished_lines(config.output, strict=strict)
    for line in stopped:
        echo(line, err=True)
    if reading.problems or template_problems or draft_errors or (strict and stopped):
        sys.exit(1)


@cli.command()
@date_argument("The issue date. Default: today.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def explain(options: Options, date: dt.date | None, as_json: bool) -> None:
    """Say, for every article file, why it is or is not in the issue for a date.

    Placed (topic and position), folded into another article's related coverage, below the
    cut (its rank in each topic), below min_quality, no configured topic, already featured,
    excluded, outside the window, or invalid (with the reason). Writes nothing.

    \b
    Examples:
      newsletter explain 2021-02-22
      newsletter explain --date 2021-02-22 --json
    """
    config, strict = options.load()
    # A mistyped pin or exclude is left out and named: the report lists the ids to choose from.
    store = IssueStore.of(config)
    day = issue_date(date, config)
    result = read_and_select(config, day, strict=strict, lenient=True, store=store)
    for warning in result.warnings:  # the overrides': unknown keys, a pin featured before
        echo(f"warning: {warning}", err=True)
    selection = result.selection
    stored = store.get(day)
    published = stored if stored is not None and stored.status == IssueStatus.PUBLISHED else None
    if not as_json:
        rebuilt = None if result.unapplied else selection.issue  # as build would select it
        notes = (published_lines(config, published, rebuilt, len(result.unapplied))
                 if published else [])
        echo(explain_text(selection, config.path.name, notes), nl=False)
        if not selection.issue.sections:  # a date far off: where the articles are
            echo(f"\nNothing to build: {why_empty(result, explained=True)}.")
    else:
        batch: list[str] = []
        for chunk in explain_json_chunks(selection, published):  # streamed: 100,000 verdicts
            batch.append(chunk)
            if len(batch) >= 1000:
                echo("".join(batch), nl=False)
                batch.clear()
        echo("".join(batch), nl=False)
    for problem in result.unapplied:  # after the report, where the editor looks last
        echo(f"error: {problem} ({NOT_APPLIED})", err=True)
    if result.unapplied:  # reported, yet the file is broken: as check does, exit 1
        sys.exit(1)


def waiting(line: str) -> None:
    """Told when a build or publish waits for another writing the output folder."""
    echo(f"{line[0].upper()}{line[1:]}...", err=True)


for command in (subscribers, send, send_pending, serve, state):  # delivery, state_commands
    cli.add_command(command)
for command in (preview, schedule):  # running_commands.py
    cli.add_command(command)
cli.add_command(init)  # init_command.py


def main() -> None:
    cli(prog_name="newsletter")
