"""What the editor's pages show: the explain table's rows, the hints saying what to write in
``overrides.yaml``, and the pages themselves, rendered from ``templates/preview_*.html.j2``
(autoescaped: an article title or an error message is text, never markup)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from ...core.config import Config
from ...core.models import Selection, Status, Verdict
from ...core.safeyaml import flow_item
from ...core.timing import minute_text
from ...rendering.mail import GMAIL_CLIP_BYTES
from ...rendering.templating import environment
from ...selecting.explain import GROUPS, empty_topic_lines
from ...selecting.overrides import OVERRIDES_FILE
from .drafts import Draft
from .listing import Listing

PHONE_WIDTH = 375
DESKTOP_WIDTH = 800


def display_path(config: Config, path: Path) -> str:
    """``path`` as the editor knows it: relative to the config's folder when inside it."""
    try:
        return str(path.relative_to(config.folder))
    except ValueError:
        return str(path)


def override_hint(verdict: Verdict, overrides: str) -> str:
    """What the editor can write in the issue's overrides.yaml to change this verdict: the
    id as YAML reads it back (a file named 2026-12-06.md is "2026-12-06", not a date)."""
    if verdict.status == Status.PLACED:
        if verdict.pinned:
            return f"pinned in {overrides}; remove it from `pin` to let the rules decide"
        return f"to leave it out, add `exclude: [{flow_item(verdict.id)}]` to {overrides}"
    if verdict.status in (Status.FOLDED, Status.BELOW_CUT, Status.BELOW_MIN_QUALITY,
                          Status.ALREADY_PUBLISHED):
        return f"to place it, add `pin: [{flow_item(verdict.id)}]` to {overrides}"
    if verdict.status == Status.EXCLUDED:
        return f"excluded in {overrides}; remove it from `exclude` to let the rules decide"
    if verdict.status == Status.NO_TOPIC:
        return "none of its topics is configured: add one to the article or to the config"
    if verdict.status == Status.INVALID:
        return "fix the file (`newsletter check` lists every problem)"
    return ""


def _topic_of(verdict: Verdict) -> str | None:
    """The topic a verdict is about: its section, or the first it ranked in."""
    if verdict.topic is not None:
        return verdict.topic
    return verdict.ranks[0][0] if verdict.ranks else None


def explain_rows(selection: Selection, config: Config, unread: int = 0
                 ) -> tuple[list[dict[str, Any]], int]:
    """The explain table's rows, and how many files are left out because they are outside
    the window (the whole corpus, mostly; ``unread`` of them were not even read).

    Rows come in the report's order of verdicts and, within one, in the config's order of
    topics (the order of the email's sections), then by place and id."""
    overrides = display_path(config, config.output / selection.issue.slug / OVERRIDES_FILE)
    order = {status: index for index, (status, _) in enumerate(GROUPS)}
    headings = dict(GROUPS)
    topics = {topic.name.casefold(): index for index, topic in enumerate(config.topics)}
    timezone = selection.issue.window.timezone

    def key(verdict: Verdict) -> tuple[int, int, int, str]:
        topic = _topic_of(verdict)
        place = topics.get(topic.casefold(), len(topics)) if topic else len(topics)
        return order.get(verdict.status, len(order)), place, verdict.position or 0, verdict.id

    rows = []
    outside = unread
    for verdict in sorted(selection.verdicts, key=key):
        if verdict.status == Status.OUTSIDE_WINDOW:
            outside += 1
            continue
        rows.append({
            "id": verdict.id, "title": verdict.title, "status": verdict.status,
            "topic": _topic_of(verdict) or "",
            "heading": headings.get(verdict.status, verdict.status), "reason": verdict.reason,
            "quality": "" if verdict.quality is None else verdict.quality,
            "published": (minute_text(verdict.published.astimezone(timezone), zone=True)
                          if verdict.published else ""),
            "hint": override_hint(verdict, overrides),
        })
    return rows, outside


def _render(template: str, **context: Any) -> bytes:
    return environment().get_template(template).render(**context).encode("utf-8")


def with_code(text: str) -> Markup:
    """``text`` escaped, its `commands` set as code: the words explain and publish print."""
    return Markup(re.sub(r"`([^`]*)`", r"<code>\1</code>", str(escape(text))))


def draft_page(draft: Draft, config: Config) -> bytes:
    rows, outside = explain_rows(draft.selection, config, draft.unread)
    overrides = display_path(config, config.output / draft.slug / OVERRIDES_FILE)
    empty_topics = [line.strip() for line in empty_topic_lines(draft.selection.empty_topics,
                                                               config.path.name)]
    return _render("preview_draft.html.j2", draft=draft, config=config, rows=rows,
                   outside=outside, overrides=overrides, clip_bytes=GMAIL_CLIP_BYTES,
                   empty_topics=empty_topics, correcting=with_code(draft.correcting),
                   html_kb=f"{draft.html_bytes / 1024:.1f}",
                   clip_kb=f"{GMAIL_CLIP_BYTES / 1024:.0f}",
                   clip_percent=round(100 * draft.html_bytes / GMAIL_CLIP_BYTES),
                   phone_width=PHONE_WIDTH, desktop_width=DESKTOP_WIDTH,
                   version=draft.version, page_title=f"Draft {draft.slug}: {config.title}")


def explain_page(draft: Draft, config: Config) -> bytes:
    rows, outside = explain_rows(draft.selection, config, draft.unread)
    return _render("preview_explain.html.j2", draft=draft, rows=rows, outside=outside,
                   page_title=f"Explain {draft.slug}: {config.title}")


def index_page(config: Config, listing: Listing, version: str) -> bytes:
    return _render("preview_index.html.j2", config=config, listing=listing, version=version,
                   page_title=f"Preview: {config.title}")


def error_page(slug: str, message: str, version: str) -> bytes:
    return _render("preview_error.html.j2", slug=slug, message=message, version=version,
                   page_title=f"Draft {slug}: cannot be built")
