"""The previous and next links of the published issues' pages: where each should lead, and
which of the pages around an issue lead elsewhere on disk.

A publish writes the issue's issue.json before the pages of the issues around it (their new
"next" or "previous" link); stopped in between (a kill, a full disk), the issue reads as
published while those pages still lead where they did before it. What the issues published
say cannot tell such a page from one written whole, so the page itself is read: the links
it holds (``rel="prev"``, ``rel="next"``) against those it should hold."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html.parser import HTMLParser

from ..core.config import Config
from ..core.models import Issue
from ..rendering.pages import render_issue_page

Links = tuple[str | None, str | None]  # the slugs of the previous and the next issue


def neighbour_slugs(published: Sequence[Issue]) -> dict[str, Links]:
    """Where the previous and next links of each issue's page lead, for every issue of
    ``published`` at once: one pass, as the archive of a daily newsletter holds thousands."""
    slugs: list[str | None] = [None]
    slugs += [issue.slug for issue in sorted(published, key=lambda i: i.date)]
    slugs.append(None)
    return {str(slugs[i]): (slugs[i - 1], slugs[i + 1]) for i in range(1, len(slugs) - 1)}


def _slug_of(href: str) -> str | None:
    """The issue a link leads to: the last part of its path that is a date
    (``../2021-02-15/index.html``, ``https://news.example/2021-02-15/``)."""
    for part in reversed(href.split("#")[0].split("?")[0].split("/")):
        try:
            if dt.date.fromisoformat(part).isoformat() == part:
                return part
        except ValueError:
            continue
    return None


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: dict[str, set[str | None]] = {"prev": set(), "next": set()}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        values = dict(attrs)
        for rel in (values.get("rel") or "").lower().split():
            if rel in self.found:
                self.found[rel].add(_slug_of(values.get("href") or ""))


def page_links(page: bytes) -> tuple[frozenset[str | None], frozenset[str | None]]:
    """The issues an issue page's ``rel="prev"`` and ``rel="next"`` links lead to."""
    parser = _LinkParser()
    parser.feed(page.decode("utf-8", errors="replace"))
    parser.close()
    return frozenset(parser.found["prev"]), frozenset(parser.found["next"])


def _leads_where(page: bytes, links: Links) -> bool:
    return page_links(page) == tuple(frozenset({slug}) - {None} for slug in links)


def pages_astray(config: Config, published: Sequence[Issue], issue: Issue) -> set[str]:
    """Of the issues just before and after ``issue`` (one of ``published``), the slugs of
    those whose page in the output folder does not lead where it should (or is missing).

    Two pages read, whatever the archive holds. A page that marks none of its links (a
    template of the editor's without ``rel``) is astray when it is, byte for byte, what the
    current templates give with the links it had before ``issue`` was published; changed
    since, it cannot tell, and stays."""
    links = neighbour_slugs(published)
    by_slug = {p.slug: p for p in published}
    astray = set()
    for slug in links[issue.slug]:
        if slug is None:
            continue
        try:
            page = (config.output / slug / "index.html").read_bytes()
        except OSError:
            astray.add(slug)
            continue
        if _leads_where(page, links[slug]):
            continue
        if page_links(page) == (frozenset(), frozenset()):
            without = neighbour_slugs([p for p in published if p.slug != issue.slug])
            previous, following = without[slug]
            if page != render_issue_page(by_slug[slug], config,
                                         previous=by_slug.get(previous or ""),
                                         next=by_slug.get(following or "")):
                continue
        astray.add(slug)
    return astray


def years_around(published: Sequence[Issue], issue: Issue) -> set[int]:
    """The years whose archive page lists ``issue`` (one of ``published``) or, when it is
    the first or the last of its year, leads to its year: the pages a publish of it stopped
    before them leaves as they were, though ``published`` holds it."""
    year = issue.date.year
    years = {p.date.year for p in published}
    dates = [p.date for p in published if p.date.year == year]
    found = {year}
    if issue.date == min(dates):
        found |= {y for y in [max((y for y in years if y < year), default=None)] if y}
    if issue.date == max(dates):
        found |= {y for y in [min((y for y in years if y > year), default=None)] if y}
    return found
