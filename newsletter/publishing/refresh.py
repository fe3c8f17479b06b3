"""A published issue's email files written again, as ``build --force`` writes them for an
issue a rebuild leaves unchanged (no correction date), when only a template, the theme or
the config changed since it was published and none of its subscribers was sent anything yet
(the send decides that: :mod:`newsletter.delivery.unsent`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..core.config import Config
from ..core.errors import NewsletterError
from ..core.models import Issue
from ..rendering.mail import render_email
from .build import read_and_select
from .issuefile import issue_json
from .issues import IssueStore
from .output import write_files
from .rendered import email_files


def rebuilt_the_same(config: Config, issue: Issue) -> bool:
    """Whether rebuilding the published ``issue`` from the corpus gives its issue.json (its
    own content unchanged: what it places, its words), so that only the way it is rendered
    differs. Its publication times and record of pins and excludes are its own, as a build
    keeps them. False when it cannot be rebuilt (an overrides.yaml build refuses)."""
    try:
        rebuilt = read_and_select(config, issue.date, complete=False,
                                  store=IssueStore.of(config)).selection.issue
    except NewsletterError:
        return False
    rebuilt = replace(rebuilt, status=issue.status, published_at=issue.published_at,
                      updated_at=issue.updated_at, pins=issue.pins, excludes=issue.excludes)
    return issue_json(rebuilt) == issue_json(issue)


def rewrite_email(config: Config, issue: Issue) -> list[str]:
    """Write the issue's email files as rendering it now gives them, each atomically; the
    names of those written (relative to the output folder)."""
    files = email_files(issue, config, render_email(issue, config))
    written = {Path(path) for path in write_files(config.output, files)}
    root = config.output.resolve()
    return [name for name in files if root / name in written]
