"""Build one issue: corpus -> selection -> files in the output folder."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

from .config import Config
from .corpus import CorpusReading, read_corpus
from .errors import NewsletterError
from .issuefile import ISSUE_FILE, featured_before, issue_json, read_issue_file
from .models import Problem, Selection
from .output import write_files
from .select import select_issue


@dataclass(frozen=True)
class BuildResult:
    selection: Selection
    reading: CorpusReading
    written: tuple[Path, ...] = ()
    empty_reason: str = ""  # why nothing was written, when nothing was

    @property
    def problems(self) -> tuple[Problem, ...]:
        return self.reading.problems


def read_and_select(config: Config, issue_date: dt.date, *, strict: bool = False) -> BuildResult:
    """Read the corpus and select the issue; writes nothing (``explain`` stops here)."""
    reading = read_corpus(config.corpus)
    if strict and reading.problems:
        listed = "\n".join(f"  {p}" for p in reading.problems)
        raise NewsletterError(
            f"{len(reading.problems)} invalid article file(s) (an error with --strict):\n{listed}")
    selection = select_issue(
        reading.articles, config, issue_date,
        problems=reading.problems,
        already_published=featured_before(config.output, issue_date),
    )
    return BuildResult(selection, reading)


def _empty_reason(result: BuildResult) -> str:
    window = result.selection.issue.window
    fmt = "%Y-%m-%d %H:%M %Z"
    span = f"{window.start.strftime(fmt)} and {window.end.strftime(fmt)}"
    in_window = [a for a in result.reading.articles if a.published in window]
    if not in_window:
        newest = max((a.published for a in result.reading.articles), default=None)
        hint = (f"; the newest article in the corpus is dated "
                f"{newest.astimezone(window.timezone).date().isoformat()}"
                if newest else "; the corpus has no valid article")
        return f"no article was published between {span}{hint}"
    return (f"none of the {len(in_window)} articles published between {span} could be "
            "placed; run `newsletter explain` to see why")


def build_issue(config: Config, issue_date: dt.date, *, strict: bool = False,
                force: bool = False) -> BuildResult:
    """Select the issue dated ``issue_date`` and write ``<output>/<date>/issue.json``.

    An issue with nothing in it is not an error: nothing is written and ``empty_reason``
    says why. A published issue is rebuilt only with ``force``, and stays published.
    """
    result = read_and_select(config, issue_date, strict=strict)
    issue = result.selection.issue
    if not issue.sections:
        return replace(result, empty_reason=_empty_reason(result))
    existing = config.output / issue.slug / ISSUE_FILE
    if existing.is_file() and read_issue_file(existing).get("status") == "published":
        if not force:
            raise NewsletterError(
                f"issue {issue.slug} is already published ({existing}); rebuilding it changes "
                "what readers were sent: pass --force to rebuild it anyway")
        issue = replace(issue, status="published")
    written = write_files(config.output, {f"{issue.slug}/{ISSUE_FILE}": issue_json(issue)})
    selection = replace(result.selection, issue=issue)
    return replace(result, selection=selection, written=tuple(written))
