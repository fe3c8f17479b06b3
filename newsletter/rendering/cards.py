"""What an article card shows, computed once for every rendering of an article.

The email (HTML and plain text), the web issue page, the feeds' content and the topic feeds'
summaries all show the same card: its fields are decided here and nowhere else, so the
renderings cannot drift apart (an outlet is its provider's name, else its domain; only
http(s) URLs become links, only https URLs images). The templates' macros
(``templates/macros.j2``) only lay these fields out.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ..core.models import Image, PlacedArticle
from ..core.words import ENGLISH, Words
from .templating import http_url, https_url, long_date, shorten


def outlet(provider_name: str, domain: str) -> str:
    """How a card names an outlet: its provider's name, else its domain."""
    return provider_name or domain


@dataclass(frozen=True)
class ImageBox:
    """An article image as a card shows it: https only, at most the column's width, and
    fluid below that (CSS width 100%, height auto); the attributes are what Outlook uses."""

    src: str
    width: int  # the image's own width, at most the column's; the column's when unknown
    height: int | None  # in proportion to ``width``; None when unknown
    # The email's style sheet sizes every image to the column (width 100%, what mail apps
    # that ignore max-width follow): the card then caps it at ``width`` itself, else an
    # image narrower than the column (a 120 px logo) would be stretched, blurred, to 552 px.
    fills_column: bool = False


def _dimension(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) and value > 0 else None


def image_box(image: Image | None, max_width: int, fills_column: bool = False
              ) -> ImageBox | None:
    if image is None:
        return None
    src = https_url(image.url)
    if not src:
        return None
    width, height = _dimension(image.width), _dimension(image.height)
    if width is None:
        return ImageBox(src, max_width, None, fills_column)
    shown = min(max_width, max(1, round(width)))
    scaled = max(1, round(height * shown / width)) if height is not None else None
    return ImageBox(src, shown, scaled, fills_column)


@dataclass(frozen=True)
class RelatedLine:
    """One line of "Also covered by": "<outlet>: <title>", the title linked when it can be."""

    outlet: str
    title: str
    url: str  # absolute http(s), else "" (the title is shown as text)


@dataclass(frozen=True)
class Card:
    title: str
    url: str  # absolute http(s), else "" (the title is shown as text)
    outlet: str
    published: dt.datetime  # in the timezone
    date: str  # ``published`` as "February 22, 2021"
    video: bool
    excerpt: str  # shortened; "" when the article has none
    image: ImageBox | None
    related: tuple[RelatedLine, ...]


def card(placed: PlacedArticle, timezone: ZoneInfo, image_width: int,
         fills_column: bool = False, words: Words = ENGLISH) -> Card:
    """The card of ``placed`` with dates in ``timezone`` (said in ``words``) and its image at
    most ``image_width`` px wide (see :attr:`ImageBox.fills_column`)."""
    article = placed.article
    published = article.published.astimezone(timezone)
    return Card(
        title=article.title,
        url=http_url(article.url),
        outlet=outlet(article.provider.name, article.domain),
        published=published,
        date=long_date(published, words),
        video=article.type == "video",
        excerpt=shorten(article.excerpt),
        image=image_box(article.image, image_width, fills_column),
        related=tuple(RelatedLine(outlet(item.provider, item.domain), item.title,
                                  http_url(item.url))
                      for item in placed.related),
    )


def card_maker(timezone: ZoneInfo, image_width: int, *, fills_column: bool = False,
               words: Words = ENGLISH) -> Callable[[PlacedArticle], Card]:
    """The templates' ``card`` function for one rendering."""
    return lambda placed: card(placed, timezone, image_width, fills_column, words)
