"""What a publish renders of the site besides the issue itself, in memory, nothing written:
the feeds, the archive (its front page and the pages of the years that changed) and the
pages of the other published issues whose previous or next link changed or is astray."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

from ..core.config import Config
from ..core.models import Issue
from ..rendering.pages import (
    archive_path,
    render_archive,
    render_archive_year,
    render_issue_page,
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


def render_site_files(
    published: Sequence[Issue],
    config: Config,
    before: Sequence[Issue] | None = None,
    present: Collection[str] = (),
    mend: Issue | Sequence[Issue] = (),
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
    year for each publish that stopped halfway), however many years came before."""
    published = sorted(published, key=lambda i: i.date)
    mending = [mend] if isinstance(mend, Issue) else list(mend)
    links = neighbour_slugs(published)
    links_before = None if before is None else neighbour_slugs(before)
    by_slug = {issue.slug: issue for issue in published}
    astray = set().union(*(pages_astray(config, published, issue) for issue in mending))
    files: dict[str, bytes] = {}
    for issue in published:
        previous, following = links[issue.slug]
        if (
            links_before is not None
            and issue.slug not in astray
            and links_before.get(issue.slug) == (previous, following)
        ):
            continue
        files[f"{issue.slug}/index.html"] = render_issue_page(
            issue, config, previous=by_slug.get(previous or ""), next=by_slug.get(following or "")
        )
    from ..rendering.feeds import render_feeds  # feedgen and lxml: only publishing needs them

    files.update(render_feeds(published, config))
    mended = set().union(*(years_around(published, issue) for issue in mending))
    for year in _years_to_render(published, before, present, mended):
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
