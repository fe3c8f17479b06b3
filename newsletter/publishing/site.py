"""What a publish renders of the site besides the issue itself, in memory, nothing written:
the feeds, the archive (its front page and the pages of the years that changed) and the
pages of the other published issues whose previous or next link changed or is astray."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path

from ..core.config import Config
from ..core.models import Issue
from ..core.text import topic_key
from ..rendering.pages import (
    ARCHIVE_FRONT_ISSUES,
    archive_path,
    render_archive,
    render_archive_year,
    render_issue_page,
    topic_feeds,
)
from .links import neighbour_slugs, pages_astray, years_around


def _by_year(issues: Sequence[Issue]) -> dict[int, list[Issue]]:
    years: dict[int, list[Issue]] = {}
    for issue in sorted(issues, key=lambda i: i.date):
        years.setdefault(issue.date.year, []).append(issue)
    return years


def _years_to_render(
    published: Sequence[Issue],
    before: Sequence[Issue] | None,
    present: Collection[str],
    mend: Collection[int],
) -> list[int]:
    """The years whose archive page must be rendered: its issues, or the years around it,
    are not what they were in ``before``, or the page is not among ``present`` (a site
    published before the archive had year pages), or it is one of ``mend``."""
    now, then = _by_year(published), _by_year(before or ())

    def around(years: list[int], year: int) -> tuple[int | None, int | None]:
        return (
            max((y for y in years if y < year), default=None),
            min((y for y in years if y > year), default=None),
        )

    return [
        year
        for year in now
        if before is None
        or archive_path(year) not in present
        or year in mend
        or now[year] != then.get(year)
        or around(list(now), year) != around(list(then), year)
    ]


def _itself(issue: Issue) -> Issue:
    return issue


def render_site_files(
    published: Sequence[Issue],
    config: Config,
    before: Sequence[Issue] | None = None,
    present: Collection[str] = (),
    mend: Issue | Sequence[Issue] = (),
    whole: Callable[[Issue], Issue] = _itself,
) -> dict[str, bytes]:
    """The feeds, the archive (its front page, and the page of every year whose issues are
    not what they were in ``before`` or whose page is not among the ``present`` files), and
    the web page of every published issue whose previous or next issue is not what it was in
    ``before`` (the issues published until now; None: every page), with the current
    templates. No other file of an issue: its email files never, and its page for nothing
    but its links, so a template or a theme change reaches an issue out already only when it
    is rebuilt (``build --force``), publishing it again included. ``mend``: the issue
    published, and those whose publish stopped halfway (:mod:`.unfinished`), each of them in
    ``published``: their year's archive page is rendered (and the page of the year before or
    after, for its link to that year), and the pages of the issues around them when they do
    not lead where they should: a publish stopped before them had written its issue.json, so
    ``before`` holds it already. What a publish renders is bounded by one year of issues (a
    year for each publish that stopped halfway), however many years came before.

    ``published`` and ``before`` may hold light issues (:meth:`.issues.IssueStore.published_light`:
    their topics, no articles), and ``whole`` gives an issue whole: only the issues something
    renders are asked for whole (those the feeds, the archive's pages and the pages rendered
    show, and the pages around them), so a publish reads a year of issues at most, not every
    issue ever published."""
    published = sorted(published, key=lambda i: i.date)
    mending = [mend] if isinstance(mend, Issue) else list(mend)
    links = neighbour_slugs(published)
    links_before = None if before is None else neighbour_slugs(before)
    mended: set[int] = set().union(*(years_around(published, issue) for issue in mending))
    years = _years_to_render(published, before, present, mended)  # light ones as they are
    by_slug = {issue.slug: issue for issue in published}
    order = [issue.slug for issue in published]
    position = {slug: n for n, slug in enumerate(order)}

    def need(slugs: Iterable[str]) -> list[Issue]:
        for slug in slugs:
            by_slug[slug] = whole(by_slug[slug])
        return [by_slug[slug] for slug in order]

    def around(slug: str, reach: int) -> list[str]:
        return order[max(0, position[slug] - reach) : position[slug] + reach + 1]

    astray: set[str] = set()
    for issue in mending:  # its neighbours' pages, and those they lead to without it
        astray |= pages_astray(config, need(around(issue.slug, 2)), by_slug[issue.slug])
    pages = [
        slug
        for slug in order
        if links_before is None or slug in astray or links_before.get(slug) != links[slug]
    ]
    need(slug for page in pages for slug in around(page, 1))
    newest = order[::-1]
    need(newest[: max(config.feed_max_entries, ARCHIVE_FRONT_ISSUES)])
    featuring: dict[str, list[str]] = {}  # the issues of each topic's feed, newest first
    for slug in newest:
        for key in {topic_key(section.topic) for section in by_slug[slug].sections}:
            issues = featuring.setdefault(key, [])
            if len(issues) < config.feed_max_entries:
                issues.append(slug)
    for topic, _slug in topic_feeds(published, config):
        need(featuring.get(topic_key(topic.name), []))
    published = need(slug for slug in order if by_slug[slug].date.year in years)
    files: dict[str, bytes] = {}
    for slug in pages:
        previous, following = links[slug]
        files[f"{slug}/index.html"] = render_issue_page(
            by_slug[slug],
            config,
            previous=by_slug.get(previous or ""),
            next=by_slug.get(following or ""),
        )
    from ..rendering.feeds import render_feeds  # feedgen and lxml: only publishing needs them

    files.update(render_feeds(published, config))
    for year in years:
        files[archive_path(year)] = render_archive_year(year, published, config)
    files["index.html"] = render_archive(published, config)
    return files


def other_issues_files(written: Sequence[Path], config: Config, issue: Issue) -> list[str]:
    """The files of other issues among ``written`` (their pages, for their new previous or
    next link), relative to the output folder, for the command to name."""
    relative = (path.relative_to(config.output.resolve()) for path in written)
    return [
        path.as_posix()
        for path in relative
        if len(path.parts) == 2 and path.parts[0] != issue.slug and path.name == "index.html"
    ]
