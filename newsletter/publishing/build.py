"""Build and publish issues: corpus -> selection -> rendered files -> the output folder.

Every file of a build is rendered in memory first; only then is anything written, each file
atomically, the issue's own files first and the feeds and the archive last. A build killed at
any moment leaves every file either its old or its new version.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..core.config import Config
from ..core.errors import OVERRIDES, ConfigError, NewsletterError, StrictError
from ..core.folders import newsletter_command
from ..core.models import Issue, IssueStatus, Problem, Selection
from ..core.text import plural
from ..core.timing import issue_timestamp, minute_text
from ..reading.corpus import CorpusReading, read_corpus
from ..rendering.pages import archive_path, archive_years
from ..selecting.overrides import (
    OVERRIDES_FILE,
    load_overrides,
    resolve_entries,
)
from ..selecting.select import issue_window, select_issue
from .drafts import numbered, stale_keys
from .editing import pinned_again, record_only, unshown_intros, with_intros
from .issuefile import ISSUE_FILE, DamagedIssueError, issue_json
from .issues import IssueStore, neighbours
from .output import remove_files, write_files
from .publishlock import writing_output
from .rendered import changed_files, differs, render_issue_files
from .site import render_site_files
from .unfinished import UNFINISHED_FILE, unfinished_dates, unfinished_file


@dataclass(frozen=True)
class BuildResult:
    selection: Selection
    reading: CorpusReading
    written: tuple[Path, ...] = ()
    empty_reason: str = ""  # why nothing was written, when nothing was
    warnings: tuple[str, ...] = ()
    up_to_date: bool = False  # a published issue the rebuild would not change
    # A published issue rebuilt (--force): corrected when the rebuild changed it.
    was_published: bool = False
    corrected: bool = False
    removed_draft: bool = False  # an empty rebuild deleted the draft an earlier build wrote
    record_only: str = ""  # what differs, when only the overrides a published issue records do
    # The problems of the overrides' entries left out (read_and_select(lenient=True)), as
    # check names them: explain and the preview add NOT_APPLIED, publish what it does not do.
    unapplied: tuple[str, ...] = ()

    @property
    def problems(self) -> tuple[Problem, ...]:
        return self.reading.problems


def read_and_select(config: Config, issue_date: dt.date, *, strict: bool = False,
                    complete: bool = True, store: IssueStore | None = None,
                    reading: CorpusReading | None = None,
                    lenient: bool = False) -> BuildResult:
    """Read the corpus and select the issue; writes nothing (``explain`` stops here).

    ``complete=False`` lets files outside the window go unvalidated (they cannot change the
    issue), so the verdicts account only for the files read; ``strict`` reads them all.
    ``reading``: the corpus as already read for this issue (the preview keeps it up to date
    file by file), instead of reading it again. ``lenient``: a pin or exclude that names no
    article (a typo) is left out and named in ``unapplied`` instead of stopping everything,
    so that explain and the preview can still show the ids to choose from."""
    slug = issue_date.isoformat()
    overrides_path = config.output / slug / OVERRIDES_FILE
    overrides = load_overrides(overrides_path, partial=True)  # refused below, with the pins
    warnings = tuple(f"{overrides_path}: {w}" for w in overrides.warnings)
    if strict and warnings:
        raise StrictError("\n".join(f"{w} (an error with --strict)" for w in warnings),
                          (str(overrides_path),))  # the file to correct
    if reading is None:
        reading = _read(config, issue_date, overrides.pin + overrides.exclude,
                        whole=complete or strict)
    if strict and reading.problems:
        listed = "\n".join(f"  {p}" for p in reading.problems)
        raise StrictError(
            f"{len(reading.problems)} invalid article file(s) (an error with --strict):\n{listed}",
            tuple(str(config.corpus / p.path) for p in reading.problems))
    window = issue_window(issue_date, config.timezone, config.window_days)
    resolved = resolve_entries(overrides, reading.articles, config, window, issue_date)
    errors = numbered(overrides_path, overrides, resolved.errors)
    if errors and not lenient:
        raise ConfigError(str(overrides_path), [f"line {e.line}: {e.message}" if e.line
                                                else e.message for e in errors], what=OVERRIDES)
    pinned, excluded = resolved.pinned, resolved.excluded
    store = store or IssueStore.of(config)
    again = tuple(f"{overrides_path}: {w}" for w in pinned_again(overrides, pinned, store,
                                                                  issue_date))
    if strict and again:
        raise StrictError("\n".join(f"{w} (an error with --strict)" for w in again),
                          (str(overrides_path),))
    selection = select_issue(
        reading.articles, config, issue_date,
        problems=reading.problems,
        excluded=excluded,
        already_published=store.featured_before(issue_date),
        pinned=pinned,
    )
    issue = with_intros(selection.issue, overrides)
    unshown = tuple(f"{overrides_path}: {w}" for w in unshown_intros(
        issue, overrides, [topic.name for topic in config.topics]))
    if strict and unshown:
        raise StrictError("\n".join(f"{w} (an error with --strict)" for w in unshown),
                          (str(overrides_path),))
    return BuildResult(replace(selection, issue=issue), reading,
                       warnings=warnings + again + unshown,
                       unapplied=tuple(str(e) for e in errors))


def _read(config: Config, issue_date: dt.date, wanted: tuple[str, ...], *,
          whole: bool) -> CorpusReading:
    """The corpus as an issue's selection needs it: ``wanted`` (its pins and excludes) kept
    whatever their date. A ``whole`` reading accounts for every file, and keeps of the
    articles outside the window only what explain reports of them: 100,000 whole articles
    would not fit."""
    window = issue_window(issue_date, config.timezone, config.window_days)
    return read_corpus(
        config.corpus, cache_dir=config.state_dir, keep_open=config.open_folders,
        wanted=wanted, window=None if whole else window, brief_outside=window if whole else None)


def why_empty(result: BuildResult, *, explained: bool = False) -> str:
    """Why the issue has nothing in it (``explained``: said below explain's report)."""
    window = result.selection.issue.window
    span = f"{minute_text(window.start, zone=True)} and {minute_text(window.end, zone=True)}"
    in_window = [a for a in result.reading.articles if a.published in window]
    if not in_window:
        newest = max((a.published for a in result.reading.articles), default=None)
        if newest is None:
            return f"no article was published between {span}; the corpus has no valid article"
        day = newest.astimezone(window.timezone).date()  # the issue of the day after holds it
        return (f"no article was published between {span}; the newest article in the corpus "
                f"is dated {day}: `newsletter build --date {day + dt.timedelta(days=1)}` "
                "makes the issue that holds it")
    why = "the report above says why" if explained else "run `newsletter explain` to see why"
    return (f"none of the {len(in_window)} articles published between {span} could be "
            f"placed; {why}")


def _write(config: Config, issue: Issue, store: IssueStore, *, strict: bool,
           before_writing: Callable[[], None] | None = None, site_only: bool = False
           ) -> tuple[tuple[Path, ...], str | None]:
    """Render the issue (and the site, when it is published), then write it all, the issue's
    issue.json after its email and page: it reads as published only once they are written.

    ``site_only``: none of the issue's own files (it is out already, as it was). Called once
    everything is rendered, ``before_writing`` may raise to write nothing: the last moment
    for a caller to find out that it must not write any more (a scheduler no longer the
    active one). A published issue is named in :mod:`.unfinished`'s file before anything
    is written, and the file deleted once everything is: a publish stopped halfway leaves
    it naming the issue, and the next publish, whatever its date, mends what it left."""
    before = store.published_light()  # each read whole only when something renders it
    others = [p for p in before if p.slug != issue.slug]
    published = sorted(others + ([issue] if issue.status == IssueStatus.PUBLISHED else []),
                       key=lambda i: i.date)
    around = [store.whole(p) for p in neighbours(issue, published) if p is not None]
    files, warning = ({}, None) if site_only else render_issue_files(issue, config, around)
    if warning and strict:
        raise StrictError(f"issue {issue.slug}: {warning} (an error with --strict)")
    record = f"{issue.slug}/{ISSUE_FILE}"
    if record in files:
        files[record] = files.pop(record)
    if issue.status == IssueStatus.PUBLISHED:
        unfinished = unfinished_dates(config.output)
        present = [archive_path(year) for year, _count in archive_years(published)
                   if (config.output / archive_path(year)).is_file()]
        stopped = [p for p in others if p.date in unfinished]
        site = render_site_files(published, config, before, present, mend=[issue, *stopped],
                                 whole=store.whole)
        files = {**unfinished_file([*unfinished, issue.date]), **files,
                 **{k: v for k, v in site.items() if k not in files}}
    if before_writing is not None:
        before_writing()
    written = write_files(config.output, files)
    if issue.status == IssueStatus.PUBLISHED:  # everything written: nothing left to mend
        remove_files(config.output, [UNFINISHED_FILE])
    journal = config.output.resolve() / UNFINISHED_FILE
    return tuple(path for path in written if path != journal), warning


def _published(issue: Issue, stored: Issue | None, config: Config,
               corrected_at: dt.datetime | None = None) -> Issue:
    """``issue`` published, with the timestamp it was first published with (none for an
    issue published before timestamps were stored: the schedule's, as then) and the time
    of its last correction; ``corrected_at`` replaces that time when ``issue`` differs from
    the published ``stored`` (a rebuild that changes nothing must not move it). The pin and
    exclude entries the build applied are kept as the issue's record; readers never see
    them, so they alone are no correction, and an issue published before issues kept them
    keeps none until a correction."""
    if stored is None or stored.status != IssueStatus.PUBLISHED:
        return replace(issue, status=IssueStatus.PUBLISHED,
                       published_at=issue_timestamp(config, issue.date))
    issue = replace(issue, status=IssueStatus.PUBLISHED, published_at=stored.published_at,
                    updated_at=stored.updated_at)
    as_stored = replace(issue, pins=stored.pins, excludes=stored.excludes)
    if corrected_at is not None and issue_json(as_stored) != issue_json(stored):
        # In the issue's timezone, as published_at; to the second, as feeds give it.
        when = corrected_at.astimezone(config.timezone).replace(microsecond=0)
        return replace(issue, updated_at=when)
    return as_stored if stored.pins is None or stored.excludes is None else issue


def _replaced(damaged: DamagedIssueError, issue_date: dt.date, config_path: Path, *,
              published: bool) -> str:
    what = damaged.problem
    if published:
        return f"{what}; replaced by the issue rebuilt from the corpus, published"
    return (f"{what}; replaced by the issue rebuilt from the corpus, as a draft: "
            f"`{newsletter_command(config_path, f'publish {issue_date.isoformat()}')}` "
            "publishes it if it was published")


# What a build writes in an issue's folder, issue.json first: once it is gone the folder
# holds no issue, whatever a deletion cut short leaves of the rest.
DRAFT_FILES = (ISSUE_FILE, "email.mjml", "email.html", "email.txt", "email.eml", "index.html")


def _remove_stale_draft(config: Config, store: IssueStore, issue_date: dt.date) -> bool:
    """Delete the draft an earlier build wrote for a date that now has nothing in it (its
    articles excluded, removed or moved out of the window): left there, `publish` would
    send out what the editor has since taken away. The editor's overrides.yaml stays; a
    published issue is never touched, nor a damaged issue.json (it may say published)."""
    try:
        stored = store.get(issue_date)
    except DamagedIssueError:
        return False
    if stored is None or stored.status != IssueStatus.DRAFT:
        return False
    slug = issue_date.isoformat()
    return bool(remove_files(config.output, [f"{slug}/{name}" for name in DRAFT_FILES]))


def _emptied(config: Config, store: IssueStore, result: BuildResult, issue_date: dt.date
             ) -> NewsletterError | None:
    """The error for a rebuild that would leave a published issue with no article (every
    article excluded or deleted: a takedown), None for any other issue. Its email went out
    and its page, the archive and the feeds show it: an issue with nothing in it is no issue
    to correct it to, and saying "nothing to build" would leave the articles online."""
    try:
        stored = store.get(issue_date)
    except DamagedIssueError:  # named by every command that reads it, with its fix
        return None
    published = (store.damaged.published if store.damaged is not None else
                 stored is not None and stored.status == IssueStatus.PUBLISHED)
    if not published:
        return None
    slug = issue_date.isoformat()
    shown = f" ({plural(len(stored.placed), 'article')})" if stored is not None else ""
    return NewsletterError(
        f"issue {slug} is published{shown} and rebuilding it would leave no article in it "
        f"({why_empty(result)}), so nothing was written: its page and the feeds still show "
        "it as published. A published issue is corrected, never emptied: keep at least one "
        f"article (take an entry out of exclude in {config.output / slug / OVERRIDES_FILE}, "
        "or pin another article of its window), then `newsletter build --date "
        f"{slug} --force` corrects it; or undo the edit to leave it as it is (its email is "
        "never sent again either way)")


def build_issue(config: Config, issue_date: dt.date, *, strict: bool = False,
                force: bool = False, publish: bool = False, now: dt.datetime | None = None,
                before_writing: Callable[[], None] | None = None,
                waiting: Callable[[str], None] | None = None) -> BuildResult:
    """Select the issue dated ``issue_date`` and write its folder (and publish it if asked).

    An issue with nothing in it is not an error: nothing is written and ``empty_reason``
    says why; but a published issue that would be left with nothing is refused. A published
    issue is only rebuilt with ``force`` when the rebuild would change it; rebuilding it
    unchanged is a no-op. ``now`` (the wall clock when None) is recorded as the correction
    time of a published issue that a forced rebuild changes. The corpus read, the rest holds
    the output folder's lock (:mod:`.publishlock`; ``waiting`` is told when it waits for it).
    """
    overrides = load_overrides(config.output / issue_date.isoformat() / OVERRIDES_FILE,
                               partial=True)  # only what to read; read_and_select checks it
    reading = _read(config, issue_date, overrides.pin + overrides.exclude, whole=strict)
    slug = issue_date.isoformat()
    with writing_output(config.output, f"build of issue {slug}", waiting):
        return _build(config, issue_date, reading, strict=strict, force=force,
                      publish=publish, now=now, before_writing=before_writing)


def _build(config: Config, issue_date: dt.date, reading: CorpusReading, *, strict: bool,
           force: bool, publish: bool, now: dt.datetime | None,
           before_writing: Callable[[], None] | None) -> BuildResult:
    store = IssueStore.of(config, rebuild=issue_date if force else None)
    result = read_and_select(config, issue_date, strict=strict, complete=False, store=store,
                             reading=reading)
    issue = result.selection.issue
    if not issue.sections:
        emptied = _emptied(config, store, result, issue_date)
        if emptied is not None:
            raise emptied
        return replace(result, empty_reason=why_empty(result),
                       removed_draft=_remove_stale_draft(config, store, issue_date))
    stored = store.get(issue_date)
    was_published = stored is not None and stored.status == IssueStatus.PUBLISHED
    if store.damaged is not None:  # rebuilt from the corpus; published if it still says so
        was_published = store.damaged.published
        result = replace(result, warnings=result.warnings + (_replaced(
            store.damaged, issue_date, config.path, published=was_published or publish),))
    record = ""  # the published issue is rebuilt the same but for its record of overrides
    if was_published or publish:
        corrected_at = (now or dt.datetime.now(dt.UTC)) if force else None
        issue = _published(issue, stored, config, corrected_at)
    if was_published and not force:
        # Compare everything the rebuild would write: a template change counts too.
        changed = changed_files(config, issue, store.published_around(issue.date))
        if stored is not None and changed == [f"{issue.slug}/{ISSUE_FILE}"]:
            kept = replace(issue, pins=stored.pins, excludes=stored.excludes)
            if not differs(config.output / changed[0], issue_json(kept)):  # only the record
                record, issue, changed = record_only(stored, issue), kept, []
        if changed:
            raise NewsletterError(
                f"issue {issue.slug} is already published and rebuilding it would change "
                f"{', '.join(changed)}: pass --force to correct it (its page, the archive "
                "and the feeds show the correction, dated; its email is not sent again)")
        if not publish:
            selection = replace(result.selection, issue=issue)
            return replace(result, selection=selection, up_to_date=True, record_only=record)
    written, warning = _write(config, issue, store, strict=strict,
                              before_writing=before_writing)
    selection = replace(result.selection, issue=issue)
    warnings = result.warnings + ((f"issue {issue.slug}: {warning}",) if warning else ())
    corrected = was_published and stored is not None and issue.updated_at != stored.updated_at
    return replace(result, selection=selection, written=written, warnings=warnings,
                   was_published=was_published, corrected=corrected, record_only=record)


def _refused(config: Config, issue_date: dt.date, store: IssueStore) -> list[str]:
    """The problems for which ``build`` would refuse the issue's overrides.yaml (a pin or
    exclude naming no article), each as build names it: publish of a draft that is stale
    names them itself, so that rebuilding it is not a step to find them."""
    try:
        read_and_select(config, issue_date, complete=False, store=store)
    except ConfigError as error:
        return error.errors
    except NewsletterError:  # the corpus unreadable, say: the draft is stale all the same
        return []
    return []


def publish_issue(config: Config, issue_date: dt.date, *,
                  before_writing: Callable[[], None] | None = None,
                  waiting: Callable[[str], None] | None = None
                  ) -> tuple[Issue, tuple[Path, ...]]:
    """:func:`_publish`, holding the output folder's lock (:mod:`.publishlock`)."""
    with writing_output(config.output, f"publish of issue {issue_date.isoformat()}", waiting):
        return _publish(config, issue_date, before_writing=before_writing)


def _publish(config: Config, issue_date: dt.date, *,
             before_writing: Callable[[], None] | None = None
             ) -> tuple[Issue, tuple[Path, ...]]:
    """Publish the built issue as it stands (what the editor previewed), then regenerate the
    archive and the feeds from every published issue. An issue published already stays as
    it was (its email files and its page): only the archive and the feeds
    are brought up to date (:func:`.editing.kept_as_it_was` says what a rebuild would
    change)."""
    store = IssueStore.of(config)
    built = store.get(issue_date)
    slug = issue_date.isoformat()
    if built is None:
        raise NewsletterError(f"no issue {slug} in {config.output}: build it first with "
                              f"`{newsletter_command(config.path, f'build --date {slug}')}`")
    overrides_path = config.output / slug / OVERRIDES_FILE
    stale = [] if built.status == IssueStatus.PUBLISHED else stale_keys(config, built)
    if stale:
        refused = (_refused(config, issue_date, store)
                   if {"pin", "exclude", "topic_intros"} & set(stale) else [])
        fix = (f"fix the file (`build` refuses it: {len(refused)} "
               f"{'problem' if len(refused) == 1 else 'problems'}, below), " if refused else "")
        raise NewsletterError(
            f"{overrides_path}: changed since issue {slug} was built (the draft's "
            f"{', '.join(stale)} not as the file says now), so the draft is not what the "
            f"editor asked for: {fix}rebuild it with `newsletter build {slug}`, look at it, "
            "then publish it" + "".join(f"\n  {problem}" for problem in refused))
    issue = _published(built, built, config)
    written, _warning = _write(config, issue, store, strict=False, before_writing=before_writing,
                               site_only=built.status == IssueStatus.PUBLISHED)
    return issue, written
