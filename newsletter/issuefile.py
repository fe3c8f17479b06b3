"""``<output>/<date>/issue.json``: the selected issue as data, and reading it back."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from .errors import NewsletterError
from .models import Coverage, Issue, PlacedArticle
from .urls import canonical_url

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
        "sections": [
            {"topic": section.topic, "articles": [_article(p) for p in section.articles]}
            for section in issue.sections
        ],
    }


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


def published_issue_dates(output: Path) -> list[dt.date]:
    """Dates of the published issues in ``output``, oldest first."""
    dates = []
    if not output.is_dir():
        return dates
    for folder in sorted(output.iterdir()):
        try:
            date = dt.date.fromisoformat(folder.name)
        except ValueError:
            continue
        file = folder / ISSUE_FILE
        if file.is_file() and read_issue_file(file).get("status") == "published":
            dates.append(date)
    return dates


def featured_before(output: Path, issue_date: dt.date) -> frozenset[str]:
    """Canonical URLs of the articles featured in published issues dated before the date."""
    urls: set[str] = set()
    for date in published_issue_dates(output):
        if date >= issue_date:
            break
        data = read_issue_file(output / date.isoformat() / ISSUE_FILE)
        for section in data["sections"]:
            for article in section.get("articles", []):
                url = canonical_url(article.get("url"))
                if url:
                    urls.add(url)
    return frozenset(urls)
