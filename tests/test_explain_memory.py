"""explain accounts for every article file, and a large corpus must fit in memory: what it
holds per file outside the window (a brief and its verdict) stays small, and the JSON report
is written as ``json.dumps`` would write it whole."""

from __future__ import annotations

import datetime as dt
import json
import time
import tracemalloc
from pathlib import Path

import pytest

from conftest import make_config, write_article
from newsletter.core.config import Config
from newsletter.core.models import Status
from newsletter.publishing.build import read_and_select
from newsletter.reading import cache as corpus_cache
from newsletter.selecting.explain import GROUPS, explain_json, explain_json_chunks, verdict_to_dict

DATE = dt.date(2021, 2, 22)  # window [2021-02-15, 2021-02-22) UTC
SIZES = (1000, 3000)  # files: the difference is what each file costs


def corpus_outside_the_window(folder: Path, files: int) -> Config:
    """Files outside the window shaped like a feed's (titles, URLs and domains of their
    usual lengths, related coverage, a body), the cache filled by a first explain once the
    files are older than the racy margin, so that a second explain reads them all from it."""
    folder.mkdir()
    config = make_config(folder)
    for number in range(files):
        year, month = 2020 + number % 2, number % 12 + 1
        outlet = f"outlet{number % 40}.example"
        write_article(
            config.corpus, f"{year}/{month:02d}/story-{number:05d}",
            body="Paragraph of the story. " * 40,
            title=f"Regulators weigh new rules for the chips behind the models, story {number}",
            excerpt="What the hearing was about and who spoke, in two sentences. " * 3,
            publishedDateTime=dt.datetime(year, month, 3, 9, tzinfo=dt.UTC),
            webUrl=f"https://www.{outlet}/{year}/news/story-{number:05d}",
            provider={"name": f"Outlet {number % 40}", "domain": outlet},
            related=[{"title": "Another outlet's take on the same story",
                      "webUrl": f"https://other.example/take-{number}"}])
    time.sleep(2 * corpus_cache.RACY_MARGIN_NS / 1e9)
    read_and_select(config, DATE)
    return config


def explain_memory(config: Config) -> tuple[int, int]:
    """What a warm ``explain --json`` holds once it has selected, and its peak (bytes)."""
    tracemalloc.start()
    try:
        result = read_and_select(config, DATE)
        held, _ = tracemalloc.get_traced_memory()
        for _chunk in explain_json_chunks(result.selection):
            pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert {v.status for v in result.selection.verdicts} == {Status.OUTSIDE_WINDOW}
    return held, peak


def test_explain_costs_little_per_file_outside_the_window(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A million files outside the window must fit: each is a brief (id, path, title, date,
    quality; the path the walk's own string) and a verdict, and reading them builds nothing
    more per file: no stamp tuples, no decoded URLs, no index of the articles when there is
    no override to look up."""
    monkeypatch.setattr(corpus_cache, "RACY_MARGIN_NS", 10_000_000)
    small, large = (explain_memory(corpus_outside_the_window(tmp_path / str(n), n))
                    for n in SIZES)
    held, peak = ((b - a) / (SIZES[1] - SIZES[0]) for a, b in zip(small, large, strict=True))
    assert held < 750, f"{held:.0f} bytes held per file"
    assert peak < 900, f"{peak:.0f} bytes per file at the peak"


def test_streamed_report_is_the_whole_report_dumped(config: Config) -> None:
    """The report streamed verdict by verdict is byte for byte ``json.dumps`` of the whole."""
    selection = read_and_select(config, DATE).selection
    issue = selection.issue
    report = {
        "slug": issue.slug,
        "window": {"start": issue.window.start.isoformat(), "end": issue.window.end.isoformat(),
                   "timezone": issue.window.timezone.key},
        "counts": {status: sum(v.status == status for v in selection.verdicts)
                   for status, _ in GROUPS},
        "articles": [verdict_to_dict(v) for v in selection.verdicts],
    }
    assert len({v.status for v in selection.verdicts}) >= 4
    assert explain_json(selection) == json.dumps(report, indent=2, ensure_ascii=False) + "\n"
