"""One issue's folder rendered in memory, and which of its files on disk a rebuild would
change: ``build`` refuses to change a published issue without --force by it, explain,
the preview and publish say a rebuild gives the same issue only when it finds none, and
publish of an issue out already (which it leaves as it was) names them; a send refuses
to go out while its email files are not what rendering the issue now gives.

Rendering is pure (no clock, no I/O), so the same issue and config give the same bytes:
a file differs only when what readers see of it would (a template, the theme, the config
or the issue itself changed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..core.config import Config
from ..core.models import Issue
from ..rendering.mail import RenderedEmail, render_email, size_warning
from ..rendering.message import sample_message
from ..rendering.pages import render_issue_page
from .issuefile import ISSUE_FILE, issue_json
from .issues import neighbours


def email_files(issue: Issue, config: Config, email: RenderedEmail) -> dict[str, bytes]:
    """The issue's email files: the whole email, as every subscriber of every topic gets it
    (but for their address and their links' tokens, which email.eml holds placeholders of)."""
    folder = issue.slug
    return {
        f"{folder}/email.mjml": email.mjml.encode("utf-8"),
        f"{folder}/email.html": email.html.encode("utf-8"),
        f"{folder}/email.txt": email.text.encode("utf-8"),
        f"{folder}/email.eml": sample_message(config, issue, email),
    }


def render_issue_files(issue: Issue, config: Config, published: Sequence[Issue]
                       ) -> tuple[dict[str, bytes], str | None]:
    """The files of ``<output>/<slug>/`` and the email-size warning, if any."""
    email = render_email(issue, config)
    previous, following = neighbours(issue, published)
    folder = issue.slug
    files = {
        f"{folder}/{ISSUE_FILE}": issue_json(issue),
        **email_files(issue, config, email),
        f"{folder}/index.html": render_issue_page(issue, config, previous=previous,
                                                  next=following),
    }
    return files, size_warning(email)


def differs(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() != data
    except OSError:
        return True


def changed_files(config: Config, issue: Issue, others: Sequence[Issue]) -> list[str]:
    """The files of the published ``issue``'s folder (relative to the output folder) that
    writing it as it is now would change on disk: every file is compared, so a template or
    theme changed since counts as much as an article. ``others``: the other published
    issues, or those just before and after it (its page's previous and next links)."""
    published = sorted([*others, issue], key=lambda i: i.date)
    files, _warning = render_issue_files(issue, config, published)
    return [name for name, data in files.items() if differs(config.output / name, data)]


def changed_email_files(config: Config, issue: Issue) -> list[str]:
    """The published ``issue``'s email files (relative to the output folder) that are not
    what rendering its email now gives, which is what a send would send: the email only,
    not its page (a send renders nothing else). A file the issue was published without (by
    a version that did not write it) is not compared, unless it has none of them."""
    files = email_files(issue, config, render_email(issue, config))
    kept = {name: data for name, data in files.items() if (config.output / name).is_file()}
    return [name for name, data in (kept or files).items()
            if differs(config.output / name, data)]
