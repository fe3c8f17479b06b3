"""A newsletter after years of issues: the archive is a front page of the newest issues and
a page per year, and publishing one more issue costs what it cost in the first year."""

from __future__ import annotations

import datetime as dt
import gc
import re
import time
import weakref
from pathlib import Path

from conftest import make_article, make_issue, run, sample_site
from html_page import Page
from newsletter.core import urls
from newsletter.core.config import Config, load_config
from newsletter.core.models import Coverage, Issue, PlacedArticle
from newsletter.core.urls import _canonical, _normalized
from newsletter.publishing.editing import pinned_again
from newsletter.publishing.issuefile import issue_json
from newsletter.publishing.issues import IssueStore
from newsletter.publishing.site import render_site_files
from newsletter.rendering.pages import (
    ARCHIVE_FRONT_ISSUES,
    render_archive,
    render_archive_year,
)
from newsletter.selecting.overrides import Overrides
from newsletter.web.public import Site


def issues_from(config: Config, first: dt.date, count: int, every_days: int = 1
                ) -> list[Issue]:
    """``count`` published issues, one every ``every_days`` from ``first``, oldest first."""
    dates = [first + dt.timedelta(days=every_days * n) for n in range(count)]
    return [make_issue(config, date, {"AI": [PlacedArticle(make_article(f"{date}-{n}"))
                                             for n in range(3)]})
            for date in dates]


def issue_links(page: Page, prefix: str = "") -> list[str]:
    return [a["href"] for a in page.find("a")
            if re.fullmatch(re.escape(prefix) + r"\d{4}-\d\d-\d\d/index\.html", a["href"])]


def test_the_front_page_lists_the_newest_issues_and_every_year(config: Config) -> None:
    issues = issues_from(config, dt.date(2019, 1, 2), 1000)  # to 2021-09-27, daily
    front = render_archive(issues, config)
    page = Page(front)
    newest = issues[::-1][:ARCHIVE_FRONT_ISSUES]
    assert issue_links(page) == [f"{i.slug}/index.html" for i in newest]
    years = [(a["href"], " ".join(text.split())) for a, text in
             zip(page.find("a"), page.text_of("a"), strict=True)
             if a["href"].startswith("archive/")]
    assert years == [("archive/2021.html", "2021 (270)"), ("archive/2020.html", "2020 (366)"),
                     ("archive/2019.html", "2019 (364)")]
    assert f"The newest {ARCHIVE_FRONT_ISSUES} of 1000 issues" in " ".join(page.text.split())
    # A front page the size of thirty issues, not of a thousand (367 KB before).
    assert len(front) < 40_000
    assert front == render_archive(issues[::-1], config)


def test_a_year_page_lists_its_issues_under_their_months(config: Config) -> None:
    issues = issues_from(config, dt.date(2019, 1, 2), 1000)
    page = Page(render_archive_year(2020, issues, config))
    assert issue_links(page, "../") == [f"../{i.slug}/index.html" for i in issues[::-1]
                                        if i.date.year == 2020]
    assert page.text_of("h2") == [f"{month} 2020" for month in (
        "December", "November", "October", "September", "August", "July", "June", "May",
        "April", "March", "February", "January")]
    months = [a["href"] for a in page.find("a") if a["href"].startswith("#2020-")]
    assert months == [f"#2020-{m:02d}" for m in range(12, 0, -1)]
    assert [h["id"] for h in page.find("h2")] == [m[1:] for m in months]
    assert page.find("a", rel="prev")[0]["href"] == "2019.html"
    assert page.find("a", rel="next")[0]["href"] == "2021.html"
    assert page.find("link", rel="canonical")[0]["href"] == f"{config.site_url}archive/2020.html"
    first = Page(render_archive_year(2019, issues, config))
    assert not first.find("a", rel="prev") and first.find("a", rel="next")


def test_publishing_an_issue_renders_only_its_year(config: Config) -> None:
    issues = issues_from(config, dt.date(2019, 1, 2), 1000)
    new = issues_from(config, dt.date(2021, 9, 28), 1)
    present = ["archive/2019.html", "archive/2020.html", "archive/2021.html"]
    files = render_site_files(issues + new, config, issues, present)
    assert sorted(name for name in files if not name.startswith("topics/")) == [
        "2021-09-27/index.html", "2021-09-28/index.html", "archive/2021.html", "atom.xml",
        "feed.json", "feed.xml", "index.html"]
    # The first issue of a year: its page, and the year before's (its link to the new year).
    new_year = issues_from(config, dt.date(2022, 1, 3), 1)
    files = render_site_files(issues + new_year, config, issues, present)
    assert {"archive/2021.html", "archive/2022.html"} <= set(files)
    assert "archive/2020.html" not in files and "archive/2019.html" not in files
    # A site published before there were year pages gets all of them at its next publish.
    files = render_site_files(issues + new, config, issues, ["archive/2021.html"])
    assert {"archive/2019.html", "archive/2020.html", "archive/2021.html"} <= set(files)
    # A correction of an issue of 2019 renders 2019's page, no other year's.
    corrected = list(issues)
    corrected[5] = make_issue(config, issues[5].date, {"AI": [PlacedArticle(make_article("x"))]})
    files = render_site_files(corrected, config, issues, present)
    assert [name for name in files if name.startswith("archive/")] == ["archive/2019.html"]


def test_a_publish_leaves_the_coverage_of_published_issues_as_it_reads_it(
        tmp_path: Path, monkeypatch) -> None:
    """A publish reads every published issue back, "also covered by" links included, and
    renders some: their canonical URLs (which selection compares) are not worked out, which
    took 3.35 s of a 5.2 s publish after 1,000 daily issues holding 94,500 links."""
    output = sample_site(tmp_path)
    config = load_config(tmp_path / "newsletter.yaml")
    past = []
    for n in range(1, 6):
        article = make_article(f"past-{n}")
        related = (Coverage(f"Past coverage {n}", f"https://elsewhere.example/past-{n}/",
                            "Elsewhere", "elsewhere.example", 1, None),)
        past.append(make_issue(config, dt.date(2021, 1, n),
                               {"AI": [PlacedArticle(article, related)]}))
    for issue in past:
        (output / issue.slug).mkdir()
        (output / issue.slug / "issue.json").write_bytes(issue_json(issue))
    asked: list[str] = []
    real = urls._canonical

    def recording(normalized: str) -> str:
        asked.append(normalized)
        return real(normalized)

    monkeypatch.setattr(urls, "_canonical", recording)
    result = run(tmp_path, "build", "--date", "2021-03-01", "--publish")
    assert result.exit_code == 0, result.output
    assert asked, "the new issue's URLs are canonical as ever"
    assert not [url for url in asked if "elsewhere.example/past-" in url]
    # They were read all the same: the feed links them.
    feed = (output / "feed.xml").read_text("utf-8")
    assert all(f"https://elsewhere.example/past-{n}/" in feed for n in (4, 5)), feed[:2000]


def _cpu_seconds(published: list[Issue], before: list[Issue], config: Config) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        render_site_files(published, config, before,
                          [f"archive/{year}.html" for year in range(1900, 2100)])
        best = min(best, time.process_time() - start)
    return best


def test_publishing_after_forty_years_costs_what_it_cost_after_two(config: Config) -> None:
    """The site files of one more weekly issue, after 100 issues and after 2,000: the
    archive's pages and the previous/next links are worked out for the issues they concern,
    not for every issue again and again (the old archive page and the neighbour look-ups
    took 20 times longer after 2,000 issues)."""
    weekly = issues_from(config, dt.date(1982, 1, 4), 2101, every_days=7)
    short = weekly[-101:]
    few = _cpu_seconds(short, short[:-1], config)
    many = _cpu_seconds(weekly, weekly[:-1], config)
    assert many < 2 * few + 0.005, f"{many:.3f} s after 2,000 issues, {few:.3f} s after 100"


def test_the_sample_site_serves_its_year_page(tmp_path: Path) -> None:
    output = sample_site(tmp_path)
    assert (output / "archive" / "2021.html").is_file()
    assert run(tmp_path, "build", "--date", "2021-03-01", "--publish").exit_code == 0
    page = Page((output / "archive" / "2021.html").read_bytes())
    assert issue_links(page, "../") == ["../2021-03-01/index.html", "../2021-02-22/index.html",
                                        "../2021-02-15/index.html"]
    site = Site(load_config(tmp_path / "newsletter.yaml"), secret=b"s" * 32)
    for path, expected in (("archive/2021.html", "200 OK"), ("archive/2020.html", "404 Not Found"),
                           ("archive/", "404 Not Found")):
        statuses: list[str] = []
        body = b"".join(site({"REQUEST_METHOD": "GET", "PATH_INFO": f"{site.prefix}{path}"},
                             lambda status, headers, s=statuses: s.append(status)))
        assert statuses == [expected], path
        if expected == "200 OK":
            assert body == (output / path).read_bytes()


def test_rendering_the_archive_leaves_no_garbage_holding_the_issues(config: Config) -> None:
    """Once rendered, the archive's issues are freed at once, not kept by a reference cycle
    until a full garbage collection: the scheduler publishes in one process, and a macro
    defined in the archive's template (its context in a cycle) held a year's issues at every
    run, 30 MB a publish at 300 issues, 3.9 GB after 287 publishes in one process."""
    issues = issues_from(config, dt.date(2019, 1, 2), 40)
    alive = [weakref.ref(issue) for issue in issues]
    gc.collect()
    gc.disable()
    try:
        render_archive(issues, config)
        render_archive_year(2019, issues, config)
        del issues
        assert [ref for ref in alive if ref() is not None] == []
    finally:
        gc.enable()


def test_the_articles_published_issues_featured_are_looked_up_once(tmp_path: Path,
                                                                  config: Config) -> None:
    """What a build asks of every published issue (the articles it may not feature again)
    costs next to nothing once the issues are read: their canonical URLs were computed as
    they were read, and were computed again (a third of a publish after 3,000 daily issues,
    the URL cache being far smaller than their articles). Without a pin, nothing is asked."""
    issues = issues_from(config, dt.date(2021, 1, 1), 300)
    odd = make_article("odd", url="ftp://outlet.example/odd", canonical_url="")
    issues[7] = make_issue(config, issues[7].date, {"AI": [PlacedArticle(odd)]})
    for issue in issues:
        (tmp_path / issue.slug).mkdir()
        (tmp_path / issue.slug / "issue.json").write_bytes(issue_json(issue))
    store = IssueStore(tmp_path)
    assert len(store.published()) == 300
    _canonical.cache_clear()  # as in a large archive: the URLs read first are long gone
    _normalized.cache_clear()  # (clearing also zeroes the caches' counts of computations)
    featured = store.featured_before(dt.date(2022, 1, 1))
    assert featured == {p.article.canonical_url for issue in issues for p in issue.placed
                        if p.article.id != "odd"}
    # Counted, not timed (a CPU-time ratio failed on a busy machine): asking computes no URL.
    computed = _canonical.cache_info().misses + _normalized.cache_info().misses
    assert computed == 0, f"{computed} URLs computed again to ask"

    class Unread(IssueStore):
        def published(self) -> list[Issue]:
            raise AssertionError("no pin: the published issues are not looked at")

    assert pinned_again(Overrides(), [], Unread(tmp_path), dt.date(2022, 1, 1)) == ()
