"""``<output>/<date>/issue.json``: the selected issue as data, and reading it back."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..core.errors import NewsletterError
from ..core.models import (
    Article,
    Coverage,
    Image,
    Issue,
    IssueStatus,
    PlacedArticle,
    Provider,
    Section,
    Window,
)
from ..core.urls import canonical_url

ISSUE_FILE = "issue.json"


def _instant(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat()


def _coverage(item: Coverage) -> dict[str, Any]:
    return {"url": item.url, "title": item.title, "provider": item.provider,
            "domain": item.domain, "quality": item.quality, "published": _instant(item.published)}


def _article(placed: PlacedArticle) -> dict[str, Any]:
    article = placed.article
    image = article.image
    return {
        "id": article.id,
        "url": article.url,
        "title": article.title,
        "excerpt": article.excerpt,
        "type": article.type,
        "provider": article.provider.name,
        "domain": article.domain,
        "published": _instant(article.published),
        "quality": article.quality,
        "heat": article.heat,
        "image": None if image is None
        else {"url": image.url, "width": image.width, "height": image.height},
        "related": [_coverage(item) for item in placed.related],
    }


def issue_to_dict(issue: Issue) -> dict[str, Any]:
    return {
        "slug": issue.slug,
        "title": issue.title,
        "status": issue.status,
        "window": {
            "start": issue.window.start.isoformat(),
            "end": issue.window.end.isoformat(),
            "timezone": issue.window.timezone.key,
        },
        "intro": list(issue.intro),
        "subject": issue.subject,
        "sections": [
            {"topic": section.topic, "articles": [_article(p) for p in section.articles]}
            for section in issue.sections
        ],
    }


def _parse_instant(value: Any) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


def _placed_from_dict(data: dict[str, Any]) -> PlacedArticle:
    image = data.get("image")
    article = Article(
        id=data["id"],
        path=data["id"],
        title=data["title"],
        url=data["url"],
        canonical_url=canonical_url(data["url"]) or data["url"],
        domain=data.get("domain", ""),
        published=dt.datetime.fromisoformat(data["published"]),
        quality=data.get("quality", 0),
        heat=data.get("heat", -1),
        excerpt=data.get("excerpt", ""),
        type=data.get("type", "article"),
        provider=Provider(data.get("provider", ""), data.get("domain", "")),
        images=(Image(image["url"], image.get("width"), image.get("height")),) if image else (),
    )
    related = tuple(
        Coverage(title=r["title"], url=r["url"], canonical_url=canonical_url(r["url"]) or r["url"],
                 provider=r.get("provider", ""), domain=r.get("domain", ""),
                 quality=r.get("quality"), published=_parse_instant(r.get("published")))
        for r in data.get("related", [])
    )
    return PlacedArticle(article, related)


def issue_from_dict(data: dict[str, Any], path: Path | str = ISSUE_FILE) -> Issue:
    """The :class:`Issue` an ``issue.json`` describes (what publishing renders from)."""
    try:
        timezone = ZoneInfo(data["window"]["timezone"])
        window = Window(dt.datetime.fromisoformat(data["window"]["start"]),
                        dt.datetime.fromisoformat(data["window"]["end"]), timezone)
        sections = tuple(
            Section(s["topic"], tuple(_placed_from_dict(a) for a in s["articles"]))
            for s in data["sections"]
        )
        return Issue(slug=data["slug"], date=dt.date.fromisoformat(data["slug"]),
                     title=data["title"], window=window, sections=sections,
                     status=IssueStatus(data.get("status", "draft")),
                     intro=tuple(data.get("intro") or ()), subject=data.get("subject"))
    except (KeyError, TypeError, ValueError) as error:
        raise NewsletterError(f"{path}: not a valid issue file ({type(error).__name__}: "
                              f"{error}); rebuild it with newsletter build --force") from None


def issue_json(issue: Issue) -> bytes:
    """Stable bytes: the same issue always serialises identically."""
    text = json.dumps(issue_to_dict(issue), indent=2, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


def read_issue_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise NewsletterError(
            f"{path}: cannot be read as an issue ({error}); restore it or remove the folder"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("sections"), list):
        raise NewsletterError(f"{path}: not an issue file (no sections); restore or remove it")
    return data


def load_issue(path: Path) -> Issue:
    return issue_from_dict(read_issue_file(path), path)
