"""Articles as JSON, in the two forms the project stores them, side by side.

* The corpus cache's payload (:func:`encode_article`): every field, each instant with the
  offset the file gave, so that decoding builds exactly the object parsing built.
* An issue's ``issue.json`` (:func:`placed_to_dict`): what was published, for readers of the
  file and for rendering it again: instants in UTC, the first image, the provider's name.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from .models import Article, Coverage, Image, PlacedArticle, Problem, Provider, RelatedItem
from .urls import canonical_url


def iso_instant(value: dt.datetime | None) -> str | None:
    """An instant with the offset it came with: parsing it back gives the same object."""
    return None if value is None else value.isoformat()


def utc_instant(value: dt.datetime | None) -> str | None:
    """An instant in UTC: what published files and reports show."""
    return None if value is None else value.astimezone(dt.UTC).isoformat()


def parse_instant_text(value: Any) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


# -- the cache's payload ---------------------------------------------------------------------

def encode_article(article: Article) -> str:
    related = [[r.title, r.url, r.canonical_url, r.domain, [r.provider.name, r.provider.domain],
                r.excerpt, r.type, r.quality, iso_instant(r.published)] for r in article.related]
    return json.dumps([
        article.id, article.path, article.title, article.url, article.canonical_url,
        article.domain, iso_instant(article.published), article.quality, article.heat,
        article.excerpt, article.type, [article.provider.name, article.provider.domain],
        list(article.topics), [[i.url, i.width, i.height] for i in article.images], related,
        article.body,
    ], allow_nan=False)


def decode_article(payload: str) -> Article:
    (id, path, title, url, canonical, domain, published, quality, heat, excerpt, type_,
     provider, topics, images, related, body) = json.loads(payload)
    return Article(
        id=id, path=path, title=title, url=url, canonical_url=canonical, domain=domain,
        published=dt.datetime.fromisoformat(published), quality=quality, heat=heat, excerpt=excerpt,
        type=type_, provider=Provider(*provider), topics=tuple(topics),
        images=tuple(Image(*i) for i in images),
        related=tuple(RelatedItem(title=t, url=u, canonical_url=c, domain=d,
                                  provider=Provider(*p), excerpt=e, type=ty, quality=q,
                                  published=parse_instant_text(pub))
                      for t, u, c, d, p, e, ty, q, pub in related),
        body=body,
    )


def encode_problem(problem: Problem) -> str:
    return json.dumps([problem.path, problem.message, problem.line])


def decode_brief(payload: str, path: str) -> Article:
    """A brief (``reading.corpus.brief``) of ``decode_article(payload)``, without building
    what a brief leaves out. ``path`` is the file's path as the caller already holds it (the
    payload's own copy would be one more string per file)."""
    id, _path, title, _url, _canonical, _domain, published, quality, heat = (
        json.loads(payload)[:9])
    return Article(id=id, path=path, title=title, url="", canonical_url="", domain="",
                   published=dt.datetime.fromisoformat(published), quality=quality,
                   heat=heat)


def decode_problem(payload: str) -> Problem:
    path, message, line = json.loads(payload)
    return Problem(path, message, line)


# -- issue.json ----------------------------------------------------------------------------

def _coverage(item: Coverage) -> dict[str, Any]:
    return {"url": item.url, "title": item.title, "provider": item.provider,
            "domain": item.domain, "quality": item.quality,
            "published": utc_instant(item.published)}


def placed_to_dict(placed: PlacedArticle) -> dict[str, Any]:
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
        "published": utc_instant(article.published),
        "quality": article.quality,
        "heat": article.heat,
        "image": None if image is None
        else {"url": image.url, "width": image.width, "height": image.height},
        "related": [_coverage(item) for item in placed.related],
    }


def placed_from_dict(data: dict[str, Any]) -> PlacedArticle:
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
        Coverage(title=r["title"], url=r["url"], provider=r.get("provider", ""),
                 domain=r.get("domain", ""), quality=r.get("quality"),
                 published=parse_instant_text(r.get("published")))
        for r in data.get("related", [])
    )
    return PlacedArticle(article, related)
