"""Selection engine (newsletter/select.py): window, eligibility, ranking, placement,
same-story folding, related coverage and verdicts, checked against the selection rules.

Articles are built with ``corpus.article_from_fields`` (or read from real files where the
file layer matters); the default article from ``article_fields`` is published
2021-02-17T12:00Z, quality 50, heat 10, on news.example, topic AI. The default issue date
2021-02-22 with a 7-day UTC window covers [2021-02-15T00:00Z, 2021-02-22T00:00Z).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from conftest import article_fields, article_text, make_config, write_article
from newsletter.core.config import Config
from newsletter.core.models import Article, Problem, Selection, Status, Verdict
from newsletter.core.urls import canonical_url
from newsletter.reading.article import article_from_fields, parse_article
from newsletter.reading.corpus import read_corpus
from newsletter.selecting.select import issue_window, normalized_title, select_issue

UTC = dt.UTC
ISSUE = dt.date(2021, 2, 22)
NEW_YORK = "America/New_York"


# -- helpers -------------------------------------------------------------------------------

def art(slug: str, **fields: Any) -> Article:
    """A valid article with id ``slug`` and path ``slug.md``; fields override the defaults."""
    return article_from_fields(article_fields(slug, **fields), id=slug, path=f"{slug}.md")


def rel(url: str, title: str = "Also here", domain: str | None = None,
        quality: Any = None, published: Any = None, name: str = "Other") -> dict[str, Any]:
    """One ``related`` item as written in a file; None leaves a key out."""
    item: dict[str, Any] = {"title": title, "webUrl": url}
    if domain is not None:
        item["provider"] = {"name": name, "domain": domain}
    if quality is not None:
        item["quality"] = quality
    if published is not None:
        item["publishedDateTime"] = published
    return item


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def config(tmp_path: Path):
    """make_config bound to tmp_path: config(topics=[...], timezone=..., ...).

    The similar-text rule is off unless a test turns it on: the made-up articles here are
    all "Story <slug>" / "What happened in <slug>.", one text to that rule whenever the
    slug is a function word or a figure ("at", "above", "2"), and these tests are about
    the other rules.
    """

    def build(**settings: Any) -> Config:
        settings.setdefault("same_story", {"content": False})
        return make_config(tmp_path, **settings)

    return build


def select(articles: list[Article], cfg: Config, date: dt.date = ISSUE,
           **kwargs: Any) -> Selection:
    return select_issue(articles, cfg, date, **kwargs)


def sections(selection: Selection) -> list[tuple[str, list[str]]]:
    """[(topic, [placed ids in order])] for the issue, in section order."""
    return [(s.topic, [p.article.id for p in s.articles]) for s in selection.issue.sections]


def placed_ids(selection: Selection) -> list[str]:
    return [p.article.id for p in selection.issue.placed]


def verdict(selection: Selection, article_id: str) -> Verdict:
    found = [v for v in selection.verdicts if v.id == article_id]
    assert len(found) == 1, f"expected one verdict for {article_id}, got {found}"
    return found[0]


def status(selection: Selection, article_id: str) -> str:
    return verdict(selection, article_id).status


def related_urls(selection: Selection, article_id: str) -> list[str]:
    for placed in selection.issue.placed:
        if placed.article.id == article_id:
            return [c.url for c in placed.related]
    raise AssertionError(f"{article_id} is not placed: {placed_ids(selection)}")


# -- rule 1: the window --------------------------------------------------------------------

def test_window_is_midnight_to_midnight_in_config_timezone(config):
    cfg = config(timezone="UTC", window_days=7)
    window = select([], cfg).issue.window
    assert window.start == at(2021, 2, 15)
    assert window.end == at(2021, 2, 22)


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        (at(2021, 2, 15), Status.PLACED),  # exactly the start: in
        (at(2021, 2, 14, 23, 59, 59, 999999), Status.OUTSIDE_WINDOW),  # 1 us before start
        (at(2021, 2, 22), Status.OUTSIDE_WINDOW),  # exactly the end: out
        (at(2021, 2, 21, 23, 59, 59, 999999), Status.PLACED),  # 1 us before the end
        (at(2021, 2, 21, 23, 59, 59), Status.PLACED),  # 1 s before the end
    ],
    ids=["at-start", "before-start", "at-end", "1us-before-end", "1s-before-end"],
)
def test_window_is_half_open(config, published, expected):
    cfg = config(window_days=7)
    selection = select([art("a", publishedDateTime=published)], cfg)
    assert status(selection, "a") == expected


def test_window_compares_instants_not_wall_clock(config):
    # 2021-02-22T08:59:59+09:00 is 2021-02-21T23:59:59Z: inside a UTC window.
    tokyo = dt.timezone(dt.timedelta(hours=9))
    cfg = config(window_days=7)
    inside = art("in", publishedDateTime=dt.datetime(2021, 2, 22, 8, 59, 59, tzinfo=tokyo))
    outside = art("out", publishedDateTime=dt.datetime(2021, 2, 22, 9, 0, tzinfo=tokyo))
    selection = select([inside, outside], cfg)
    assert status(selection, "in") == Status.PLACED
    assert status(selection, "out") == Status.OUTSIDE_WINDOW


def test_window_days_sets_the_start(config):
    cfg = config(window_days=3)  # [2021-02-19, 2021-02-22)
    selection = select([art("in", publishedDateTime=at(2021, 2, 19)),
                        art("out", publishedDateTime=at(2021, 2, 18, 23, 59, 59))], cfg)
    assert selection.issue.window.start == at(2021, 2, 19)
    assert status(selection, "in") == Status.PLACED
    assert status(selection, "out") == Status.OUTSIDE_WINDOW


# New York, issue 2021-02-22: window [2021-02-15T05:00Z, 2021-02-22T05:00Z).
# Reading a value as New York local time instead of UTC flips every case below.
@pytest.mark.parametrize(
    ("published", "expected"),
    [
        ("2021-02-22T03:00:00", Status.PLACED),  # 03:00Z < end; as local it is 08:00Z
        ("2021-02-15T04:00:00", Status.OUTSIDE_WINDOW),  # 04:00Z < start; local 09:00Z
        ("2021-02-22T04:59:59.999999", Status.PLACED),
        ("2021-02-22T05:00:00", Status.OUTSIDE_WINDOW),
    ],
)
def test_window_naive_timestamp_string_is_utc(config, published, expected):
    cfg = config(timezone=NEW_YORK)
    article = art("a", publishedDateTime=published)
    assert article.published.utcoffset() == dt.timedelta(0)
    assert status(select([article], cfg), "a") == expected


@pytest.mark.parametrize(
    ("yaml_value", "expected"),
    [
        ("2021-02-22 03:00:00", Status.PLACED),  # YAML timestamp without offset
        ("2021-02-15T04:00:00", Status.OUTSIDE_WINDOW),
        ("2021-02-22", Status.PLACED),  # date only: 2021-02-22T00:00Z
        ("2021-02-15", Status.OUTSIDE_WINDOW),  # 2021-02-15T00:00Z < 05:00Z
        ("'2021-02-22'", Status.PLACED),  # quoted date-only string
        ("'2021-02-15'", Status.OUTSIDE_WINDOW),
    ],
)
def test_window_naive_and_date_only_yaml_values_are_utc(config, yaml_value, expected):
    cfg = config(timezone=NEW_YORK)
    text = ("---\ntitle: Story\nwebUrl: https://news.example/a\n"
            f"publishedDateTime: {yaml_value}\nquality: 50\ntopics: [AI]\n---\n")
    article = parse_article(text, id="a", path="a.md")
    assert article.published.utcoffset() == dt.timedelta(0)
    assert status(select([article], cfg), "a") == expected


def test_window_date_only_value_is_midnight_utc(config):
    cfg = config(timezone=NEW_YORK)
    article = art("a", publishedDateTime=dt.date(2021, 2, 22))
    assert article.published == at(2021, 2, 22)
    assert status(select([article], cfg), "a") == Status.PLACED


def test_window_across_dst_change_in_new_york(config):
    cfg = config(timezone=NEW_YORK, window_days=7)
    window = issue_window(dt.date(2021, 3, 15), cfg.timezone, 7)
    assert window.start == at(2021, 3, 8, 5, 0)  # 00:00-05:00 (EST)
    assert window.end == at(2021, 3, 15, 4, 0)  # 00:00-04:00 (EDT)
    # same-zone subtraction in Python is wall clock; compare the real elapsed time
    elapsed = window.end.astimezone(UTC) - window.start.astimezone(UTC)
    assert elapsed == dt.timedelta(days=7, hours=-1)


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        (at(2021, 3, 15, 3, 59, 59), Status.PLACED),
        (at(2021, 3, 15, 4, 0, 0), Status.OUTSIDE_WINDOW),
        (at(2021, 3, 8, 5, 0), Status.PLACED),
        (at(2021, 3, 8, 4, 59, 59), Status.OUTSIDE_WINDOW),
        ("2021-03-14T23:59:59-04:00", Status.PLACED),
        ("2021-03-15T00:00:00-04:00", Status.OUTSIDE_WINDOW),
        ("2021-03-08T00:00:00-05:00", Status.PLACED),
    ],
)
def test_window_edges_across_dst_change(config, published, expected):
    cfg = config(timezone=NEW_YORK, window_days=7)
    selection = select([art("a", publishedDateTime=published)], cfg, dt.date(2021, 3, 15))
    assert selection.issue.window.start == at(2021, 3, 8, 5, 0)
    assert selection.issue.window.end == at(2021, 3, 15, 4, 0)
    assert status(selection, "a") == expected


# -- rule 3: eligibility -------------------------------------------------------------------

def test_min_quality_is_inclusive(config):
    cfg = config(min_quality=40)
    selection = select([art("at", quality=40), art("below", quality=39.5),
                        art("above", quality=41)], cfg)
    assert placed_ids(selection) == ["above", "at"]
    assert status(selection, "below") == Status.BELOW_MIN_QUALITY


def test_excluded_by_id(config):
    cfg = config()
    selection = select([art("a", quality=90), art("b")], cfg, excluded=frozenset({"a"}))
    assert placed_ids(selection) == ["b"]
    assert status(selection, "a") == Status.EXCLUDED


def test_excluded_by_canonical_url(config):
    cfg = config()
    a = art("a", quality=90, webUrl="https://WWW.News.Example/a/?utm_source=x#top")
    selection = select([a, art("b")], cfg, excluded=frozenset({"news.example/a"}))
    assert placed_ids(selection) == ["b"]
    assert status(selection, "a") == Status.EXCLUDED


def test_excluded_article_never_appears_as_related_coverage(config):
    cfg = config(related={"max_per_article": 10})
    excluded_by_id = art("x", quality=10, webUrl="https://x.example/story",
                         provider={"name": "X", "domain": "x.example"})
    excluded_same_title = art("t", quality=10, title="Story p",
                              webUrl="https://t.example/story",
                              provider={"name": "T", "domain": "t.example"})
    p = art("p", quality=90, related=[
        rel("https://www.x.example/story?utm_medium=mail", domain="x.example"),
        rel("https://y.example/story", domain="y.example"),  # excluded by URL, no file
        rel("https://z.example/story", domain="z.example"),
    ])
    selection = select([p, excluded_by_id, excluded_same_title], cfg,
                       excluded=frozenset({"x", "t", "y.example/story"}))
    assert placed_ids(selection) == ["p"]
    assert related_urls(selection, "p") == ["https://z.example/story"]
    assert status(selection, "x") == Status.EXCLUDED
    assert status(selection, "t") == Status.EXCLUDED


def test_already_published_is_not_placed(config):
    cfg = config()
    a = art("a", quality=90, webUrl="https://www.news.example/a/?utm_campaign=w7")
    selection = select([a, art("b")], cfg, already_published=frozenset({"news.example/a"}))
    assert placed_ids(selection) == ["b"]
    assert status(selection, "a") == Status.ALREADY_PUBLISHED


def test_ineligible_article_does_not_fold_or_block_its_story(config):
    # A same-story article that is below min_quality neither takes the slot nor folds.
    cfg = config(min_quality=30)
    low = art("low", quality=20, title="Story a", webUrl="https://other.example/a",
              provider={"name": "O", "domain": "other.example"})
    selection = select([art("a"), low], cfg)
    assert placed_ids(selection) == ["a"]
    assert related_urls(selection, "a") == []
    assert status(selection, "low") == Status.BELOW_MIN_QUALITY


# -- rule 4: topic match -------------------------------------------------------------------

def test_topic_match_is_trimmed_and_casefolded(config):
    cfg = config(topics=["AI"])
    selection = select([art("a", topics=["  ai "]), art("b", topics=["Ai"])], cfg)
    assert sections(selection) == [("AI", ["a", "b"])]


def test_topic_match_trims_article_topics_in_the_engine(config):
    # Built directly, bypassing corpus.py's own trimming: the engine still matches.
    cfg = config(topics=["AI"])
    article = dataclasses.replace(art("a"), topics=("  ai\t",))
    assert sections(select([article], cfg)) == [("AI", ["a"])]


def test_topic_match_uses_casefold_not_lower(config):
    cfg = config(topics=["STRASSE"])
    selection = select([art("a", topics=["Straße"])], cfg)
    assert sections(selection) == [("STRASSE", ["a"])]


def test_topic_match_is_equality_not_substring(config):
    cfg = config(topics=["AI"])
    selection = select([art("a", topics=["AI research"]), art("b", topics=[])], cfg)
    assert sections(selection) == []
    assert status(selection, "a") == Status.NO_TOPIC
    assert status(selection, "b") == Status.NO_TOPIC


# -- rule 5: ranking -----------------------------------------------------------------------

def test_rank_quality_decides_first(config):
    cfg = config()
    better = art("better", quality=60, heat=1, publishedDateTime=at(2021, 2, 15),
                 webUrl="https://z.example/z")
    worse = art("worse", quality=59, heat=99, publishedDateTime=at(2021, 2, 21),
                webUrl="https://a.example/a")
    assert placed_ids(select([worse, better], cfg)) == ["better", "worse"]


def test_rank_heat_decides_when_quality_equal(config):
    cfg = config()
    hot = art("hot", quality=50, heat=11, publishedDateTime=at(2021, 2, 15),
              webUrl="https://z.example/z")
    cold = art("cold", quality=50, heat=10, publishedDateTime=at(2021, 2, 21),
               webUrl="https://a.example/a")
    assert placed_ids(select([cold, hot], cfg)) == ["hot", "cold"]


def test_rank_missing_heat_is_below_zero_heat(config):
    cfg = config()
    zero = art("zero", heat=0, webUrl="https://z.example/z")
    missing = art("missing", heat=None, webUrl="https://a.example/a")  # default -1
    assert placed_ids(select([missing, zero], cfg)) == ["zero", "missing"]


def test_rank_later_published_first_when_quality_and_heat_equal(config):
    cfg = config()
    late = art("late", publishedDateTime=at(2021, 2, 17, 12, 0, 1),
               webUrl="https://z.example/z")
    early = art("early", publishedDateTime=at(2021, 2, 17, 12, 0, 0),
                webUrl="https://a.example/a")
    assert placed_ids(select([early, late], cfg)) == ["late", "early"]


def test_rank_published_compares_instants_across_offsets(config):
    cfg = config()
    # 13:00+02:00 is 11:00Z, earlier than 12:00Z despite the later wall clock.
    plus_two = dt.timezone(dt.timedelta(hours=2))
    offset = art("offset", publishedDateTime=dt.datetime(2021, 2, 17, 13, 0, tzinfo=plus_two),
                 webUrl="https://a.example/a")
    utc = art("utc", publishedDateTime=at(2021, 2, 17, 12, 0), webUrl="https://z.example/z")
    assert placed_ids(select([offset, utc], cfg)) == ["utc", "offset"]


def test_rank_canonical_url_ascending_when_all_else_equal(config):
    cfg = config()
    # Raw order: "http://b..." < "https://www.a...", canonical: "a.example/" < "b.example/".
    first_raw = art("a", webUrl="http://b.example/x", provider=None)
    first_canonical = art("b", webUrl="https://www.a.example/x", provider=None)
    selection = select([first_raw, first_canonical], cfg)
    assert placed_ids(selection) == ["b", "a"]


def test_rank_decides_who_makes_the_cut(config):
    cfg = config(topics=[{"name": "AI", "max_articles": 2}])
    articles = [art("q50"), art("q70", quality=70), art("q60", quality=60)]
    selection = select(articles, cfg)
    assert placed_ids(selection) == ["q70", "q60"]
    assert status(selection, "q50") == Status.BELOW_CUT


# -- rule 6: placement ---------------------------------------------------------------------

def test_placement_follows_config_topic_order_and_max_articles(config):
    cfg = config(topics=[{"name": "Robotics", "max_articles": 1},
                         {"name": "AI", "max_articles": 2}])
    articles = [
        art("ai1", quality=90), art("ai2", quality=80), art("ai3", quality=70),
        art("rb1", quality=60, topics=["Robotics"]), art("rb2", quality=95, topics=["Robotics"]),
    ]
    selection = select(articles, cfg)
    assert sections(selection) == [("Robotics", ["rb2"]), ("AI", ["ai1", "ai2"])]
    assert status(selection, "ai3") == Status.BELOW_CUT
    assert status(selection, "rb1") == Status.BELOW_CUT


def test_article_in_two_topics_is_placed_once_in_the_first(config):
    cfg = config(topics=[{"name": "Robotics", "max_articles": 1},
                         {"name": "AI", "max_articles": 1}])
    both = art("both", quality=90, topics=["AI", "Robotics"])
    ai = art("ai", quality=50, topics=["AI"])
    selection = select([both, ai], cfg)
    assert sections(selection) == [("Robotics", ["both"]), ("AI", ["ai"])]
    v = verdict(selection, "both")
    assert (v.status, v.topic, v.position) == (Status.PLACED, "Robotics", 1)
    assert related_urls(selection, "both") == []


def test_article_cut_in_first_topic_can_be_placed_in_a_later_one(config):
    cfg = config(topics=[{"name": "Robotics", "max_articles": 1},
                         {"name": "AI", "max_articles": 1}])
    top = art("top", quality=90, topics=["Robotics"])
    both = art("both", quality=80, topics=["Robotics", "AI"])
    ai = art("ai", quality=70, topics=["AI"])
    selection = select([top, both, ai], cfg)
    assert sections(selection) == [("Robotics", ["top"]), ("AI", ["both"])]
    assert status(selection, "ai") == Status.BELOW_CUT


def test_empty_topics_are_omitted(config):
    cfg = config(topics=["Robotics", "AI", "Policy"])
    selection = select([art("a")], cfg)
    assert sections(selection) == [("AI", ["a"])]


def test_section_uses_configured_topic_name(config):
    cfg = config(topics=[" Machine Learning "])
    selection = select([art("a", topics=["machine learning"])], cfg)
    assert sections(selection) == [("Machine Learning", ["a"])]
    assert verdict(selection, "a").topic == "Machine Learning"


# -- rules 6 and 7: same story, folding -----------------------------------------------------

def test_fold_by_canonical_url_within_topic(config):
    cfg = config(topics=[{"name": "AI", "max_articles": 2}])
    p = art("p", quality=90, webUrl="https://news.example/story")
    dup = art("dup", quality=80, title="Another headline",
              webUrl="http://WWW.News.Example:80/story/?utm_source=tw&UTM_Medium=x#c",
              provider={"name": "Syndicated", "domain": "syndicated.example"})
    nxt = art("next", quality=70)
    selection = select([p, dup, nxt], cfg)
    assert sections(selection) == [("AI", ["p", "next"])]
    assert verdict(selection, "dup").status == Status.FOLDED
    assert verdict(selection, "dup").folded_into == "p"
    # same canonical URL as a placed article: not shown as related coverage
    assert related_urls(selection, "p") == []


@pytest.mark.parametrize(
    "title",
    ["Northgate delays Orion!", "NORTHGATE -- delays   orion", "Ｎｏｒｔｈｇａｔｅ delays Orion",
     "northgate_delays_orion"],
)
def test_fold_by_normalized_title(config, title):
    cfg = config(topics=[{"name": "AI", "max_articles": 2}])
    p = art("p", quality=90, title="Northgate delays Orion")
    same = art("same", quality=80, title=title, webUrl="https://other.example/orion",
               provider={"name": "Other", "domain": "other.example"})
    nxt = art("next", quality=70)
    selection = select([p, same, nxt], cfg)
    assert placed_ids(selection) == ["p", "next"]
    assert verdict(selection, "same").folded_into == "p"
    assert related_urls(selection, "p") == ["https://other.example/orion"]


def test_titles_differing_in_words_do_not_fold(config):
    cfg = config()
    p = art("p", quality=90, title="Northgate delays Orion")
    other = art("other", title="Northgate delays Orion 2", webUrl="https://other.example/o")
    assert placed_ids(select([p, other], cfg)) == ["p", "other"]


def test_fold_when_candidate_url_is_in_placed_articles_related(config):
    cfg = config()
    p = art("p", quality=90, related=[rel("https://www.other.example/c/?utm_term=x",
                                          domain="other.example")])
    cand = art("cand", title="Different words", webUrl="https://other.example/c",
               provider={"name": "Other", "domain": "other.example"})
    selection = select([p, cand], cfg)
    assert placed_ids(selection) == ["p"]
    assert verdict(selection, "cand").folded_into == "p"


def test_fold_when_placed_url_is_in_candidates_related(config):
    cfg = config(related={"max_per_article": 10})
    p = art("p", quality=90, webUrl="https://news.example/p")
    cand = art("cand", title="Different words", webUrl="https://other.example/c",
               provider={"name": "Other", "domain": "other.example"},
               related=[rel("http://www.news.example/p/#x", domain="news.example"),
                        rel("https://third.example/t", domain="third.example")])
    selection = select([p, cand], cfg)
    assert placed_ids(selection) == ["p"]
    assert verdict(selection, "cand").folded_into == "p"
    # P's related: P's own items then the folded articles, not the folded one's related
    assert related_urls(selection, "p") == ["https://other.example/c"]


def test_fold_across_topics_frees_the_slot(config):
    cfg = config(topics=[{"name": "AI", "max_articles": 1},
                         {"name": "Robotics", "max_articles": 1}])
    a = art("a", quality=90, title="Helix raises Series D")
    b_same = art("b_same", quality=80, title="Helix Raises Series-D",
                 webUrl="https://other.example/helix", topics=["Robotics"],
                 provider={"name": "Other", "domain": "other.example"})
    b_next = art("b_next", quality=70, topics=["Robotics"])
    selection = select([a, b_same, b_next], cfg)
    assert sections(selection) == [("AI", ["a"]), ("Robotics", ["b_next"])]
    assert verdict(selection, "b_same").status == Status.FOLDED
    assert verdict(selection, "b_same").folded_into == "a"
    assert related_urls(selection, "a") == ["https://other.example/helix"]


@pytest.mark.parametrize("variant", ["title-first-url-second", "url-first-title-second"])
def test_fold_goes_to_first_placed_match(config, variant):
    cfg = config(topics=[{"name": "AI", "max_articles": 1},
                         {"name": "Robotics", "max_articles": 3}])
    first = art("first", quality=90, title="Alpha story", webUrl="https://news.example/1")
    second = art("second", quality=95, title="Beta story", webUrl="https://news.example/2",
                 topics=["Robotics"])
    if variant == "title-first-url-second":
        title, url = "ALPHA story!", "https://www.news.example/2?utm_source=a"
    else:
        title, url = "beta... STORY", "https://www.news.example/1?utm_source=a"
    cand = art("cand", quality=80, title=title, webUrl=url, topics=["Robotics"],
               provider={"name": "Cand", "domain": "cand.example"})
    selection = select([second, cand, first], cfg)
    assert sections(selection) == [("AI", ["first"]), ("Robotics", ["second"])]
    assert verdict(selection, "cand").folded_into == "first"


def test_fold_to_first_match_by_related_urls(config):
    # cand's related lists later-placed "second"; "first" lists cand in its related.
    cfg = config(topics=[{"name": "AI", "max_articles": 5}])
    first = art("first", quality=90, webUrl="https://news.example/1",
                related=[rel("https://cand.example/c", domain="cand.example")])
    second = art("second", quality=85, webUrl="https://news.example/2")
    cand = art("cand", quality=80, webUrl="https://cand.example/c",
               provider={"name": "Cand", "domain": "cand.example"},
               related=[rel("https://news.example/2", domain="news.example")])
    selection = select([cand, second, first], cfg)
    assert placed_ids(selection) == ["first", "second"]
    assert verdict(selection, "cand").folded_into == "first"


def test_folded_articles_keep_folding_order_in_ties(config):
    # Two folded articles, equal quality/date/canonical URL: the first folded is kept.
    cfg = config(topics=[{"name": "AI", "max_articles": 2}], related={"max_per_article": 5})
    p = art("p", quality=90, title="Same story")
    f1 = art("f1", quality=40, title="Same story", webUrl="https://o.example/s?utm_a=1",
             heat=20, provider={"name": "O1", "domain": "o.example"})
    f2 = art("f2", quality=40, title="Same story", webUrl="https://o.example/s?utm_a=2",
             heat=10, provider={"name": "O2", "domain": "o.example"})
    selection = select([f2, p, f1], cfg)
    assert verdict(selection, "f1").folded_into == "p"
    assert verdict(selection, "f2").folded_into == "p"
    assert related_urls(selection, "p") == ["https://o.example/s?utm_a=1"]


def test_below_cut_article_is_not_folded(config):
    # Once a topic is full the walk stops: a same-story article after the cut is below it.
    cfg = config(topics=[{"name": "AI", "max_articles": 1}])
    p = art("p", quality=90, title="Same story")
    later = art("later", quality=40, title="Same story", webUrl="https://o.example/s",
                provider={"name": "O", "domain": "o.example"})
    selection = select([p, later], cfg)
    assert placed_ids(selection) == ["p"]
    assert status(selection, "later") == Status.BELOW_CUT
    assert related_urls(selection, "p") == []


# -- rule 10: related coverage -------------------------------------------------------------

def related_of(cfg: Config, items: list[dict[str, Any]], *others: Article,
               **p_fields: Any) -> list[str]:
    """Related URLs of placed article "p" (quality 90, news.example) with ``items``."""
    p = art("p", quality=90, related=items, **p_fields)
    return related_urls(select([p, *others], cfg), "p")


def test_related_drops_item_with_empty_title(config):
    cfg = config(related={"max_per_article": 10})
    items = [rel("https://a.example/1", title=""), rel("https://b.example/1", title="   "),
             rel("https://c.example/1", title="Kept")]
    assert related_of(cfg, items) == ["https://c.example/1"]


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "/relative/path", "ftp://a.example/file", "mailto:x@a.example",
     "https://", ""],
)
def test_related_drops_item_without_absolute_http_url(config, url):
    cfg = config(related={"max_per_article": 10})
    items = [rel(url, domain="a.example"), rel("https://c.example/1", domain="c.example")]
    assert related_of(cfg, items) == ["https://c.example/1"]


def test_related_drops_item_with_url_of_a_placed_article(config):
    cfg = config(related={"max_per_article": 10})
    # P's own URL listed by a syndicating outlet: a different domain, P's canonical URL.
    items = [rel("https://www.news.example/p/?utm_source=feed", domain="syndicator.example"),
             rel("https://c.example/1", domain="c.example")]
    assert related_of(cfg, items) == ["https://c.example/1"]


@pytest.mark.parametrize("z_quality", [50, 95], ids=["q-placed-first", "z-folded-first"])
def test_related_drops_folded_article_with_url_of_another_placed_article(config, z_quality):
    # With z_quality 95, Z folds into P before Q is placed: the filter uses every placed
    # article, known only after all placement.
    cfg = config(topics=[{"name": "AI", "max_articles": 1},
                         {"name": "Robotics", "max_articles": 2}],
                 related={"max_per_article": 10})
    p = art("p", quality=90, title="Story P")
    q = art("q", quality=90, title="Story Q", webUrl="https://q.example/q",
            provider={"name": "Q", "domain": "q.example"}, topics=["Robotics"])
    # same title as P (folds into P, placed first), URL of Q, a third domain
    z = art("z", quality=z_quality, title="story p", webUrl="https://www.q.example/q?utm_x=1",
            provider={"name": "Z", "domain": "z.example"}, topics=["Robotics"])
    selection = select([p, q, z], cfg)
    assert sections(selection) == [("AI", ["p"]), ("Robotics", ["q"])]
    assert verdict(selection, "z").folded_into == "p"
    assert related_urls(selection, "p") == []


@pytest.mark.parametrize(
    "item",
    [
        rel("https://elsewhere.example/1", domain="news.example"),
        rel("https://elsewhere.example/1", domain="www.News.Example"),
        rel("https://www.news.example/other"),  # no provider domain: host fallback
        rel("https://NEWS.example/other", domain="  "),  # blank provider domain
    ],
    ids=["provider-domain", "provider-domain-www-case", "host-www", "host-blank-provider"],
)
def test_related_drops_item_from_placed_articles_domain(config, item):
    cfg = config(related={"max_per_article": 10})
    items = [item, rel("https://c.example/1", domain="c.example")]
    assert related_of(cfg, items) == ["https://c.example/1"]


def test_related_provider_domain_wins_over_url_host(config):
    cfg = config(related={"max_per_article": 10})
    # hosted on news.example but published by another outlet: kept
    items = [rel("https://news.example/guest", domain="guest.example")]
    assert related_of(cfg, items) == ["https://news.example/guest"]


def test_related_domain_of_placed_article_falls_back_to_host(config):
    cfg = config(related={"max_per_article": 10})
    items = [rel("https://x.example/1", domain="p.example"),
             rel("https://www.p.example/2"),
             rel("https://c.example/1", domain="c.example")]
    result = related_of(cfg, items, provider={"name": "P"}, webUrl="https://WWW.P.example/p")
    assert result == ["https://c.example/1"]


def test_related_duplicate_canonical_url_keeps_first_after_sort(config):
    cfg = config(related={"max_per_article": 10})
    items = [rel("https://a.example/s", title="Low", domain="a1.example", quality=10),
             rel("https://www.a.example/s/?utm_source=x", title="High", domain="a2.example",
                 quality=20)]
    assert related_of(cfg, items) == ["https://www.a.example/s/?utm_source=x"]


def test_related_duplicate_domain_keeps_first_after_sort(config):
    cfg = config(related={"max_per_article": 10})
    items = [rel("https://a.example/old", domain="a.example", quality=5,
                 published="2021-02-16T00:00:00Z"),
             rel("https://www.a.example/new", domain="A.example", quality=5,
                 published="2021-02-17T00:00:00Z"),
             rel("https://b.example/1", domain="b.example", quality=1)]
    assert related_of(cfg, items) == ["https://www.a.example/new", "https://b.example/1"]


def test_related_duplicate_drops_do_not_count_against_max(config):
    cfg = config(related={"max_per_article": 2})
    items = [rel("https://a.example/1", domain="a.example", quality=9),
             rel("https://a.example/2", domain="a.example", quality=8),
             rel("https://b.example/1", domain="b.example", quality=7)]
    assert related_of(cfg, items) == ["https://a.example/1", "https://b.example/1"]


@pytest.mark.parametrize(
    ("limit", "expected"),
    [(0, []), (1, ["https://a.example/1"]), (2, ["https://a.example/1", "https://b.example/1"])],
)
def test_related_max_per_article(config, limit, expected):
    cfg = config(related={"max_per_article": limit})
    items = [rel("https://c.example/1", domain="c.example", quality=1),
             rel("https://a.example/1", domain="a.example", quality=3),
             rel("https://b.example/1", domain="b.example", quality=2)]
    assert related_of(cfg, items) == expected


def test_related_sort_quality_then_date_then_canonical_url(config):
    cfg = config(related={"max_per_article": 10})
    items = [
        rel("https://low.example/1", domain="low.example", quality=3,
            published="2021-02-20T00:00:00Z"),
        rel("https://old.example/1", domain="old.example", quality=5,
            published="2021-02-10T00:00:00Z"),
        # equal quality and date: canonical "a.example/" < "b.example/" against raw order
        rel("https://www.b.example", domain="b.example", quality=5,
            published="2021-02-16T00:00:00Z"),
        rel("http://a.example", domain="a.example", quality=5,
            published="2021-02-16T00:00:00Z"),
        rel("https://z.example/1", domain="z.example", quality=5.5,
            published="2021-01-01T00:00:00Z"),
    ]
    assert related_of(cfg, items) == [
        "https://z.example/1", "http://a.example/", "https://www.b.example/",
        "https://old.example/1", "https://low.example/1",
    ]


def test_related_sort_date_compares_instants(config):
    cfg = config(related={"max_per_article": 10})
    items = [rel("https://a.example/1", domain="a.example", quality=1,
                 published="2021-02-16T13:00:00+02:00"),  # 11:00Z
             rel("https://b.example/1", domain="b.example", quality=1,
                 published="2021-02-16T12:00:00Z")]
    assert related_of(cfg, items) == ["https://b.example/1", "https://a.example/1"]


def test_related_missing_quality_counts_as_zero(config):
    cfg = config(related={"max_per_article": 10})
    items = [
        rel("https://neg.example/1", domain="neg.example", quality=-1,
            published="2021-02-18T00:00:00Z"),
        rel("https://zero.example/1", domain="zero.example", quality=0,
            published="2021-02-16T00:00:00Z"),
        rel("https://none.example/1", domain="none.example",
            published="2021-02-17T00:00:00Z"),
        rel("https://one.example/1", domain="one.example", quality=1,
            published="2021-02-01T00:00:00Z"),
    ]
    assert related_of(cfg, items) == ["https://one.example/1", "https://none.example/1",
                                      "https://zero.example/1", "https://neg.example/1"]


def test_related_missing_date_counts_as_oldest(config):
    cfg = config(related={"max_per_article": 10})
    items = [rel("https://a.example/1", domain="a.example", quality=2),
             rel("https://z.example/1", domain="z.example", quality=2,
                 published="1900-01-01T00:00:00Z"),
             rel("https://b.example/1", domain="b.example", quality=2,
                 published="2021-02-16T00:00:00Z")]
    assert related_of(cfg, items) == ["https://b.example/1", "https://z.example/1",
                                      "https://a.example/1"]


def test_related_own_items_keep_file_order_in_ties(config):
    # Same canonical URL, quality and date: the item listed first in the file is kept.
    cfg = config(related={"max_per_article": 10})
    items = [rel("https://o.example/s?utm_source=a", title="First", domain="o.example",
                 quality=4, published="2021-02-16T00:00:00Z"),
             rel("https://www.o.example/s", title="Second", domain="o.example",
                 quality=4, published="2021-02-16T00:00:00Z")]
    assert related_of(cfg, items) == ["https://o.example/s?utm_source=a"]


def test_related_own_items_come_before_folded_articles(config):
    # Same canonical URL, quality and date: the related item (listed first) is kept.
    cfg = config(related={"max_per_article": 10})
    published = at(2021, 2, 16, 9, 0)
    p = art("p", quality=90, title="Story p", related=[
        rel("https://o.example/s?utm_source=rss", title="Listed", domain="o.example",
            quality=40, published=published)])
    folded = art("f", quality=40, title="Story P!", webUrl="https://o.example/s",
                 publishedDateTime=published, provider={"name": "O", "domain": "o.example"})
    selection = select([p, folded], cfg)
    assert verdict(selection, "f").folded_into == "p"
    [coverage] = selection.issue.placed[0].related
    assert (coverage.title, coverage.url) == ("Listed", "https://o.example/s?utm_source=rss")


def test_related_folded_articles_are_sorted_with_own_items(config):
    cfg = config(related={"max_per_article": 10})
    p = art("p", quality=90, title="Big story", related=[
        rel("https://r.example/1", domain="r.example", quality=10)])
    folded = art("f", quality=60, title="BIG STORY", webUrl="https://f.example/1",
                 provider={"name": "F", "domain": "f.example"})
    selection = select([p, folded], cfg)
    assert related_urls(selection, "p") == ["https://f.example/1", "https://r.example/1"]
    coverage = selection.issue.placed[0].related[0]
    assert (coverage.title, coverage.provider, coverage.domain, coverage.quality) == (
        "BIG STORY", "F", "f.example", 60)
    assert coverage.published == at(2021, 2, 17, 12, 0)


def test_related_folded_articles_obey_domain_filter_and_max(config):
    cfg = config(related={"max_per_article": 2})
    p = art("p", quality=90, title="Big story", related=[
        rel("https://r.example/1", domain="r.example", quality=10)])
    same_domain = art("same", quality=80, title="big story",
                      webUrl="https://news.example/other")
    f1 = art("f1", quality=70, title="Big story.", webUrl="https://f1.example/1",
             provider={"name": "F1", "domain": "f1.example"})
    f2 = art("f2", quality=5, title="Big-story", webUrl="https://f2.example/1",
             provider={"name": "F2", "domain": "f2.example"})
    selection = select([p, same_domain, f1, f2], cfg)
    assert [verdict(selection, i).folded_into for i in ("same", "f1", "f2")] == ["p"] * 3
    assert related_urls(selection, "p") == ["https://f1.example/1", "https://r.example/1"]


def test_related_folded_article_same_domain_as_own_item_dedupes(config):
    cfg = config(related={"max_per_article": 10})
    p = art("p", quality=90, title="Big story", related=[
        rel("https://o.example/own", domain="o.example", quality=10)])
    folded = art("f", quality=30, title="Big story", webUrl="https://www.o.example/folded",
                 provider=None)
    selection = select([p, folded], cfg)
    assert related_urls(selection, "p") == ["https://www.o.example/folded"]


# -- verdicts ------------------------------------------------------------------------------

def test_verdict_placed_has_topic_and_position(config):
    cfg = config(topics=["Robotics", "AI"])
    selection = select([art("a1", quality=90), art("a2", quality=80),
                        art("r1", topics=["robotics"])], cfg)
    assert [(v.id, v.status, v.topic, v.position) for v in selection.verdicts] == [
        ("a1", Status.PLACED, "AI", 1),
        ("a2", Status.PLACED, "AI", 2),
        ("r1", Status.PLACED, "Robotics", 1),
    ]


def test_verdict_below_cut_has_rank_and_count(config):
    cfg = config(topics=[{"name": "AI", "max_articles": 1}])
    selection = select([art("c", quality=70), art("a", quality=90), art("b", quality=80)], cfg)
    assert verdict(selection, "a").status == Status.PLACED
    assert verdict(selection, "b").status == Status.BELOW_CUT
    assert verdict(selection, "b").ranks == (("AI", 2, 3),)
    assert verdict(selection, "c").ranks == (("AI", 3, 3),)


def test_verdict_below_cut_in_two_topics_lists_both_ranks(config):
    cfg = config(topics=[{"name": "Robotics", "max_articles": 1},
                         {"name": "AI", "max_articles": 1}])
    selection = select([art("r", quality=95, topics=["Robotics"]),
                        art("a", quality=90, topics=["AI"]),
                        art("both", quality=50, topics=["AI", "Robotics"])], cfg)
    assert verdict(selection, "both").status == Status.BELOW_CUT
    assert verdict(selection, "both").ranks == (("Robotics", 2, 2), ("AI", 2, 2))


def test_verdict_folded_names_placed_article(config):
    cfg = config()
    selection = select([art("p", quality=90, title="X"),
                        art("f", title="x", webUrl="https://o.example/f")], cfg)
    v = verdict(selection, "f")
    assert (v.status, v.folded_into, v.topic, v.position) == (Status.FOLDED, "p", None, None)


def test_verdict_for_every_status(config):
    cfg = config(topics=[{"name": "AI", "max_articles": 2}], min_quality=10)
    articles = [
        art("placed", quality=90),
        art("folded", quality=80, title="Story placed", webUrl="https://o.example/f"),
        art("second", quality=75),
        art("cut", quality=70),
        art("low", quality=5),
        art("notopic", topics=["Cooking"]),
        art("old", publishedDateTime=at(2021, 2, 1)),
        art("excl"),
        art("pub"),
    ]
    problems = [Problem("broken/bad.md", "title: missing or empty", 2)]
    selection = select(articles, cfg, problems=problems, excluded=frozenset({"excl"}),
                       already_published=frozenset({"news.example/pub"}))
    assert [(v.path, v.status) for v in selection.verdicts] == [
        ("broken/bad.md", Status.INVALID),
        ("cut.md", Status.BELOW_CUT),
        ("excl.md", Status.EXCLUDED),
        ("folded.md", Status.FOLDED),
        ("low.md", Status.BELOW_MIN_QUALITY),
        ("notopic.md", Status.NO_TOPIC),
        ("old.md", Status.OUTSIDE_WINDOW),
        ("placed.md", Status.PLACED),
        ("pub.md", Status.ALREADY_PUBLISHED),
        ("second.md", Status.PLACED),
    ]


def test_verdict_invalid_from_problem(config):
    cfg = config()
    problem = Problem("briefs/2021-02-17-bad.md", "YAML syntax error: oops", 4)
    selection = select([], cfg, problems=[problem])
    [v] = selection.verdicts
    assert (v.id, v.path, v.status) == ("briefs/2021-02-17-bad", "briefs/2021-02-17-bad.md",
                                        Status.INVALID)
    assert "oops" in v.reason and "line 4" in v.reason


def test_verdicts_from_real_files_one_per_file(project):
    articles = project / "articles"
    write_article(articles, "a", quality=90)
    write_article(articles, "sub/b", title="Story a", webUrl="https://other.example/b")
    (articles / "broken.md").write_text("no front matter\n", encoding="utf-8")
    reading = read_corpus(articles)
    cfg = make_config(project)
    selection = select(list(reading.articles), cfg, problems=reading.problems)
    assert [(v.id, v.status, v.folded_into) for v in selection.verdicts] == [
        ("a", Status.PLACED, None),
        ("broken", Status.INVALID, None),
        ("sub/b", Status.FOLDED, "a"),
    ]


def test_verdicts_one_per_file_when_two_files_share_an_id(project):
    articles = project / "articles"
    write_article(articles, "dup", quality=90)
    (articles / "dup.txt").write_text(article_text(article_fields("dup2")), encoding="utf-8")
    reading = read_corpus(articles)
    assert [p.path for p in reading.problems] == ["dup.txt"]
    selection = select(list(reading.articles), make_config(project),
                       problems=reading.problems)
    assert [(v.path, v.status) for v in selection.verdicts] == [
        ("dup.md", Status.PLACED),
        ("dup.txt", Status.INVALID),
    ]


def test_selection_is_independent_of_input_order(config):
    cfg = config(topics=[{"name": "AI", "max_articles": 2}])
    articles = [art("a", quality=90), art("b", quality=90, title="story a",
                                          webUrl="https://o.example/b"),
                art("c", quality=80), art("d", quality=70)]
    forward = select(articles, cfg)
    backward = select(list(reversed(articles)), cfg)
    assert forward == backward
    assert placed_ids(forward) == ["a", "c"]


# -- rule 8: canonical URL -----------------------------------------------------------------

@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Example.COM/Path", "example.com/Path"),
        ("https://www.example.com/a", "example.com/a"),
        ("http://WWW.Example.com/a", "example.com/a"),
        ("https://www2.example.com/a", "www2.example.com/a"),
        ("https://wwwexample.com/a", "wwwexample.com/a"),
        ("http://example.com/a", "example.com/a"),
        ("http://example.com:80/a", "example.com/a"),
        ("https://example.com:443/a", "example.com/a"),
        ("http://example.com:443/a", "example.com:443/a"),
        ("https://example.com:80/a", "example.com:80/a"),
        ("https://example.com:8443/a", "example.com:8443/a"),
        ("https://example.com/a#section", "example.com/a"),
        ("https://example.com/a?utm_source=x", "example.com/a"),
        ("https://example.com/a?UTM_Source=x&Utm_Medium=y", "example.com/a"),
        ("https://example.com/a?b=2&utm_campaign=c&a=1", "example.com/a?b=2&a=1"),
        ("https://example.com/a?id=7&utm=keep&xutm_source=k",
         "example.com/a?id=7&utm=keep&xutm_source=k"),
        ("https://example.com/a/", "example.com/a"),
        ("https://example.com/a//", "example.com/a/"),
        ("https://example.com/", "example.com/"),
        ("https://example.com", "example.com/"),
        ("https://example.com?x=1", "example.com/?x=1"),
        ("https://example.com/a/?utm_source=x#frag", "example.com/a"),
        # the URL's parts, wherever a delimiter of another part appears in one
        ("https://user:pw@www.example.com:8443/a?b=1#c?d=2", "example.com:8443/a?b=1"),
        ("https://example.com/a@b:1/c?x=@:/#@", "example.com/a@b:1/c?x=@:/"),
        ("https://example.com#a/b?c", "example.com/"),
        ("https://example.com/share?u=https://www.other.example/a?utm_source=x",
         "example.com/share?u=https://www.other.example/a?utm_source=x"),
        ("https://example.com/go/https://other.example/a", "example.com/go/https://other.example/a"),
        ("http://[2001:DB8::1]:80/a", "[2001:db8::1]/a"),
        ("http://www.example.com:0/", "example.com:0/"),
    ],
)
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


@pytest.mark.parametrize("url", ["javascript:alert(1)", "/relative", "ftp://example.com/a",
                                 "mailto:a@example.com", "", None, 42])
def test_canonical_url_of_non_http_url_is_none(url):
    assert canonical_url(url) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # RFC 3986 6.2.2.1: the hex digits of an escape are upper-cased
        ("https://example.com/caf%c3%a9", "example.com/caf%C3%A9"),
        ("https://example.com/caf%C3%A9", "example.com/caf%C3%A9"),
        ("https://example.com/a?q=caf%c3%a9", "example.com/a?q=caf%C3%A9"),
        # 6.2.2.2: an escaped unreserved character is decoded
        ("https://example.com/%7Eed/a%2Db%2e%5Fc", "example.com/~ed/a-b._c"),
        ("https://example.com/%7eed", "example.com/~ed"),
        ("https://example.com/%41%7a%30", "example.com/Az0"),
        ("https://example.com/a?%6B=%76", "example.com/a?k=v"),
        ("https://example.com/a?%75tm_source=x&b=1", "example.com/a?b=1"),
        # reserved characters keep their escape (decoding one changes the URL's meaning)
        ("https://example.com/a%2fb", "example.com/a%2Fb"),
        ("https://example.com/a%2F", "example.com/a%2F"),
        ("https://example.com/a%3Fb", "example.com/a%3Fb"),
        ("https://example.com/a%23b", "example.com/a%23b"),
        ("https://example.com/a?q=x%26y%3dz", "example.com/a?q=x%26y%3Dz"),
        ("https://example.com/a?q=%2F%3f%23", "example.com/a?q=%2F%3F%23"),
        ("https://example.com/%25", "example.com/%25"),
        ("https://example.com/%20", "example.com/%20"),
        # bytes >= 0x80 are never decoded, even alone
        ("https://example.com/%e9", "example.com/%E9"),
        ("https://example.com/%FF", "example.com/%FF"),
    ],
)
def test_canonical_url_normalizes_percent_escapes(url, expected):
    assert canonical_url(url) == expected


def test_urls_spelt_with_different_escapes_are_the_same_page():
    assert canonical_url("https://example.com/caf%c3%a9-%7Eed?x=%2d") \
        == canonical_url("https://example.com/caf%C3%A9-~ed?x=-")
    assert canonical_url("https://example.com/a%2Fb") != canonical_url("https://example.com/a/b")
    assert canonical_url("https://example.com/a?q=x%26y") \
        != canonical_url("https://example.com/a?q=x&y")


# -- rule 9: normalized title --------------------------------------------------------------

@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Hello, World!", "hello world"),
        ("  --Hello---World--  ", "hello world"),
        ("Ｈｅｌｌｏ Ｗｏｒｌｄ", "hello world"),  # full-width: NFKC
        ("ﬁnal Straße", "final strasse"),  # ligature NFKC, sharp s casefold
        ("snake_case_title", "snake case title"),
        ("GPT-4 beats 3.5", "gpt 4 beats 3 5"),
        ("Café — déjà vu", "café déjà vu"),
        ("Cafe\u0301", "café"),  # combining accent composed by NFKC
        ("!!!", ""),
    ],
)
def test_normalized_title(title, expected):
    assert normalized_title(title) == expected


def test_one_topic_key_for_every_stage():
    from newsletter.core.text import topic_key

    assert topic_key("  Machine \t Learning ") == topic_key("machine learning")
    assert topic_key("AI") != topic_key("A I")
