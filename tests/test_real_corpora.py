"""The real article corpora in ../shared/corpus: every file loads, real issues select cleanly.

Skipped, with the reason, when the shared corpora are not beside the checkout.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

import pytest

from conftest import SHARED_CORPUS, make_config
from newsletter.core.models import Status
from newsletter.reading.corpus import CorpusReading, read_corpus
from newsletter.selecting.select import normalized_title, select_issue


def corpus_folder(name: str) -> Path:
    folder = SHARED_CORPUS / name
    if not folder.is_dir():
        pytest.skip(f"{folder} not found: the real-corpus tests need ../shared/corpus "
                    "beside the project checkout")
    return folder


@cache
def reading(name: str) -> CorpusReading:
    return read_corpus(corpus_folder(name))


@pytest.mark.parametrize("name", ["diablo4", "powerapps"])
def test_every_real_file_loads_as_valid(name: str) -> None:
    files = sorted(corpus_folder(name).glob("*.txt"))
    result = reading(name)
    assert [str(p) for p in result.problems] == []
    assert sorted(a.path for a in result.articles) == [f.name for f in files]
    for article in result.articles:
        assert article.published.tzinfo is not None
        assert article.title and article.canonical_url


def check_invariants(selection, config, articles) -> None:
    """What every selected issue must satisfy, whatever the corpus."""
    issue = selection.issue
    by_id = {a.id: a for a in articles}
    placed = issue.placed
    placed_urls = {p.article.canonical_url for p in placed}
    assert len(placed_urls) == len(placed), "the same URL placed twice"
    titles = [normalized_title(p.article.title) for p in placed]
    assert len(set(titles)) == len(titles), "the same title placed twice"
    limits = {t.name: t.max_articles for t in config.topics}
    for section in issue.sections:
        assert 0 < len(section.articles) <= limits[section.topic]
        quality = [p.article.quality for p in section.articles]
        for p in section.articles:
            assert p.article.published in issue.window
            assert p.article.quality >= config.min_quality
            assert len(p.related) <= config.related_max_per_article
            domains = [r.domain for r in p.related]
            assert len(set(domains)) == len(domains)
            assert p.article.domain not in domains
            assert not {r.canonical_url for r in p.related} & placed_urls
        # Placement walks each topic in rank order, and rank starts with quality.
        assert quality == sorted(quality, reverse=True)
    verdicts = {v.id: v for v in selection.verdicts}
    assert set(verdicts) == set(by_id)
    in_window = {a.id for a in articles if a.published in issue.window}
    outside = {v.id for v in selection.verdicts if v.status == Status.OUTSIDE_WINDOW}
    assert outside == set(by_id) - in_window
    assert {v.id for v in selection.verdicts if v.status == Status.PLACED} == {
        p.article.id for p in placed}
    for verdict in selection.verdicts:
        if verdict.status == Status.FOLDED:
            assert verdicts[verdict.folded_into].status == Status.PLACED


@pytest.mark.parametrize("issue_date", ["2023-03-20", "2023-03-27"])
def test_diablo4_issues(tmp_path: Path, issue_date: str) -> None:
    articles = reading("diablo4").articles
    config = make_config(tmp_path, corpus=str(corpus_folder("diablo4")),
                         topics=["Diablo 4", "Druid", "Barbarian"])
    selection = select_issue(articles, config, dt.date.fromisoformat(issue_date))
    issue = selection.issue
    assert issue.sections[0].topic == "Diablo 4"
    assert len(issue.sections[0].articles) == 5
    assert any(p.related for p in issue.placed)
    check_invariants(selection, config, articles)
    statuses = {v.status for v in selection.verdicts if v.status != Status.OUTSIDE_WINDOW}
    assert Status.BELOW_CUT in statuses


def test_powerapps_issue(tmp_path: Path) -> None:
    articles = reading("powerapps").articles
    config = make_config(tmp_path, corpus=str(corpus_folder("powerapps")),
                         timezone="America/New_York",
                         topics=["Power Apps", "Portals", "Teams integration"])
    selection = select_issue(articles, config, dt.date(2021, 5, 24))
    assert selection.issue.sections
    check_invariants(selection, config, articles)
