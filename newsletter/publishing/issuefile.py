"""``<output>/<date>/issue.json``: the selected issue as data, and reading it back."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..core.codec import placed_from_dict, placed_to_dict
from ..core.errors import NewsletterError
from ..core.models import (
    Issue,
    IssueStatus,
    Section,
    Window,
)

ISSUE_FILE = "issue.json"


def _section_to_dict(section: Section) -> dict[str, Any]:
    data: dict[str, Any] = {"topic": section.topic}
    if section.intro:  # only when the editor wrote one: older files stay as they were
        data["intro"] = list(section.intro)
    data["articles"] = [placed_to_dict(p) for p in section.articles]
    return data


def issue_to_dict(issue: Issue) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": issue.slug,
        "title": issue.title,
        "status": issue.status,
        **({"published_at": issue.published_at.isoformat()} if issue.published_at else {}),
        **({"updated_at": issue.updated_at.isoformat()} if issue.updated_at else {}),
        "window": {
            "start": issue.window.start.isoformat(),
            "end": issue.window.end.isoformat(),
            "timezone": issue.window.timezone.key,
        },
        "intro": list(issue.intro),
        "subject": issue.subject,
        "sections": [_section_to_dict(section) for section in issue.sections],
    }
    if issue.intro_in_filtered:
        data["intro_in_filtered"] = True
    # The entries the build applied: a draft's when it has any (for publish to compare), a
    # published issue's always, as a record (none is not the same as no record: an issue
    # published before issues kept one has none, and keeps none when rebuilt unchanged).
    published = issue.status == IssueStatus.PUBLISHED
    data.update({key: list(entries) for key, entries in
                 (("pin", issue.pins), ("exclude", issue.excludes))
                 if entries or (published and entries is not None)})
    return data


class DamagedIssueError(NewsletterError):
    """An ``issue.json`` that cannot be read back. ``published``: the file still says it was
    published (a damaged file may not say anything)."""

    def __init__(self, path: Path | str, what: str, *, published: bool = False) -> None:
        folder = Path(path).parent.name
        rebuild = (f"newsletter build --date {folder} --force"
                   if _is_date(folder) else "newsletter build --date <date> --force")
        super().__init__(f"{path}: {what}; restore it, or rebuild it from the corpus with "
                         f"`{rebuild}`" + ("" if published else
                                           " (with --publish if it was published)"))
        self.problem = f"{path}: {what}"  # without the advice
        self.published = published


def _is_date(name: str) -> bool:
    try:
        return dt.date.fromisoformat(name).isoformat() == name
    except ValueError:
        return False


def _instant(data: dict[str, Any], key: str) -> dt.datetime | None:
    """An instant with its offset (older files have none: the schedule gives it)."""
    value = data.get(key)
    if value is None:
        return None
    instant = dt.datetime.fromisoformat(value)
    if instant.tzinfo is None:
        raise ValueError(f"{key} {value!r} has no UTC offset")
    return instant


def _entries(data: dict[str, Any], key: str) -> tuple[str, ...] | None:
    """A pin or exclude record; None for a published issue without one (an older file)."""
    if key not in data and data.get("status") == IssueStatus.PUBLISHED:
        return None
    entries = data.get(key) or []
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise ValueError(f"{key} is not a list of article ids or URLs")
    return tuple(entries)


def issue_from_dict(data: dict[str, Any], path: Path | str = ISSUE_FILE) -> Issue:
    """The :class:`Issue` an ``issue.json`` describes (what publishing renders from)."""
    try:
        timezone = ZoneInfo(data["window"]["timezone"])
        window = Window(dt.datetime.fromisoformat(data["window"]["start"]),
                        dt.datetime.fromisoformat(data["window"]["end"]), timezone)
        sections = tuple(
            Section(s["topic"], tuple(placed_from_dict(a) for a in s["articles"]),
                    intro=tuple(s.get("intro") or ()))
            for s in data["sections"]
        )
        return Issue(slug=data["slug"], date=dt.date.fromisoformat(data["slug"]),
                     title=data["title"], window=window, sections=sections,
                     status=IssueStatus(data.get("status", "draft")),
                     intro=tuple(data.get("intro") or ()), subject=data.get("subject"),
                     intro_in_filtered=data.get("intro_in_filtered") is True,
                     published_at=_instant(data, "published_at"),
                     updated_at=_instant(data, "updated_at"),
                     pins=_entries(data, "pin"), excludes=_entries(data, "exclude"))
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise DamagedIssueError(
            path, f"not a valid issue file ({type(error).__name__}: {error})",
            published=isinstance(data, dict) and data.get("status") == IssueStatus.PUBLISHED
        ) from None


def issue_json(issue: Issue) -> bytes:
    """Stable bytes: the same issue always serialises identically."""
    text = json.dumps(issue_to_dict(issue), indent=2, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


def read_issue_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DamagedIssueError(path, f"cannot be read as an issue ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("sections"), list):
        raise DamagedIssueError(
            path, "not an issue file (no sections)",
            published=isinstance(data, dict) and data.get("status") == IssueStatus.PUBLISHED)
    return data


def load_issue(path: Path) -> Issue:
    return issue_from_dict(read_issue_file(path), path)
