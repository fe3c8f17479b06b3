"""Same story by what it says (README rule 6, similar text): the measure, folding in
placement, explain, configuration, and the labelled sample issues.

The articles are written the way wires write them; each test gives its window a few
articles on other subjects, so that the window's own statistics decide which words are
common, as they do in a real week.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

import pytest

from conftest import PROJECT, article_fields, make_config, run, tree, write_article, write_config
from newsletter.core.config import Config, load_config
from newsletter.core.errors import ConfigError
from newsletter.core.models import Article, Fold, FoldRule, Selection, Status
from newsletter.core.safeyaml import parse_yaml
from newsletter.core.settings import DEFAULT_SAME_STORY_THRESHOLD
from newsletter.publishing.build import read_and_select
from newsletter.reading.article import article_from_fields
from newsletter.selecting.explain import explain_json, explain_text
from newsletter.selecting.same_story import StoryIndex, StoryVectors, stem, terms, words
from newsletter.selecting.select import select_issue

ISSUE = dt.date(2021, 2, 22)  # window [2021-02-15, 2021-02-22) in UTC
LABELS = PROJECT / "tests" / "data" / "stories"


def art(slug: str, title: str, excerpt: str, day: int = 17, **fields: Any) -> Article:
    published = dt.datetime(2021, 2, day, 12, 0, tzinfo=dt.UTC)
    return article_from_fields(
        article_fields(slug, title=title, excerpt=excerpt, publishedDateTime=published,
                       webUrl=f"https://{slug}.example/story", **fields),
        id=slug, path=f"{slug}.md")


# Other news of the week: daily tallies from other countries make "coronavirus", "cases"
# and "reports" the common words they are in a real week of such a feed.
TALLIES = ("Italy", "Brazil", "Germany", "Spain", "Russia", "Peru", "Chile", "Mexico",
           "Turkey", "Iran", "Sweden", "Qatar")
BACKGROUND = [
    art(f"bg-{country.lower()}", f"{country} reports {100 + n * 37} new coronavirus cases",
        f"{country}'s health ministry reports {100 + n * 37} new coronavirus cases and "
        f"{n + 3} deaths in the past day.")
    for n, country in enumerate(TALLIES)
] + [
    art("bg-chips", "Chipmaker raises outlook on data center demand",
        "The company expects sales of server chips to grow through the year."),
    art("bg-robots", "Warehouse robots pick more groceries",
        "Operators say robot arms now handle frozen goods and produce."),
]


def selected(articles: list[Article], config: Config, **kwargs: Any) -> Selection:
    return select_issue(BACKGROUND + articles, config, ISSUE, **kwargs)


def verdicts(selection: Selection) -> dict[str, Any]:
    return {v.id: v for v in selection.verdicts}


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path, topics=["AI"])


# -- the measure ---------------------------------------------------------------------------

def test_words_drop_figures_number_words_and_function_words() -> None:
    assert words("France says total death toll rises by 80 to 26,310") == [
        "france", "total", "death", "toll", "rises"]
    assert words("China reports two new cases, 7% more; 5th day") == [
        "china", "reports", "cases", "day"]
    # A long run of digits names something (an error code); possessives and entities go.
    assert words("Diablo 4&#39;s error code 316719") == ["diablo", "error", "code", "316719"]
    assert words("Northgate’s Orion") == ["northgate", "orion"]


def test_stem_joins_the_forms_of_a_word() -> None:
    assert len({stem(w) for w in ("preload", "preloads", "preloading", "preloaded")}) == 1
    assert stem("boss") == "boss" and stem("dlss") == "dlss"
    assert stem("companies") == "company"


def test_running_tally_scores_high_and_names_its_words() -> None:
    vectors = StoryVectors({a.id: (a.title, a.excerpt) for a in [*BACKGROUND, *[
        art("fr-1", "France's coronavirus daily death toll rises again",
            "France reported 306 new deaths from coronavirus on Tuesday."),
        art("fr-2", "France says total death toll from coronavirus rises by 80 to 26,310",
            "The French health ministry says the death toll rose by 80 on Wednesday."),
    ]]})
    found = vectors.similarity("fr-2", "fr-1")
    assert found.score >= DEFAULT_SAME_STORY_THRESHOLD
    assert set(found.terms) <= {"france", "death", "toll", "rises"} and len(found.terms) == 3
    assert found.score == vectors.similarity("fr-1", "fr-2").score


def test_boilerplate_alone_does_not_make_a_story() -> None:
    china = art("china", "China reports 14 new coronavirus cases",
                "China's health commission reports 14 new coronavirus cases, 12 imported.")
    india = art("india", "India now has 52,952 coronavirus cases",
                "India's coronavirus cases rose to 52,952, the health ministry reports.")
    vectors = StoryVectors({a.id: (a.title, a.excerpt) for a in [*BACKGROUND, china, india]})
    assert vectors.similarity("china", "india").score < 0.3


def test_vectors_do_not_depend_on_the_order_of_the_window() -> None:
    texts = {a.id: (a.title, a.excerpt) for a in BACKGROUND}
    shuffled = list(texts.items())
    random.Random(7).shuffle(shuffled)
    first, second = StoryVectors(texts), StoryVectors(dict(shuffled))
    assert all(first.vector(key) == second.vector(key) for key in texts)


def test_index_finds_the_most_similar_story_above_the_threshold() -> None:
    texts = {"a": ("Japan approves remdesivir", "Japan approved the drug."),
             "b": ("Chip sales rise", "Chip sales rose."),
             "c": ("Japan approves remdesivir for severe patients", "Japan's approval."),
             "d": ("Remdesivir approved in Japan", "The drug remdesivir.")}
    index = StoryIndex(StoryVectors(texts), threshold=0.3)
    index.add("b", 0)
    index.add("a", 1)
    index.add("c", 1)  # folded into the story of "a"
    story, found = index.best_story("d")  # type: ignore[misc]
    assert story == 1
    assert found.score >= 0.3 and "remdesivir" in found.terms
    assert StoryIndex(StoryVectors(texts), threshold=0.99).best_story("d") is None


def test_a_story_is_matched_by_all_its_members_together() -> None:
    # The third outlet shares "outage" with one report and "Tucson" with the other: with
    # either alone it scores below the threshold, with the story (both) above it.
    texts = {"a": ("Wayline robotaxi outage strands riders", "An outage stranded riders."),
             "b": ("Wayline pauses robotaxi rides in Tucson", "Rides paused in Tucson."),
             "c": ("Tucson outage halts Wayline robotaxi", "The outage halted rides."),
             **{f"x{i}": (f"Unrelated {w} news", f"Something about {w}.")
                for i, w in enumerate(("chips", "drones", "stocks", "models", "farms"))}}
    vectors = StoryVectors(texts)
    alone_a, alone_b = vectors.similarity("c", "a").score, vectors.similarity("c", "b").score
    together = StoryIndex(vectors, threshold=0.0)
    together.add("a", 0)
    together.add("b", 0)
    score = together.best_story("c")[1].score  # type: ignore[index]
    assert score > max(alone_a, alone_b)
    threshold = (score + max(alone_a, alone_b)) / 2
    index = StoryIndex(vectors, threshold)
    index.add("a", 0)
    assert index.best_story("c") is None
    index.add("b", 0)
    assert index.best_story("c") is not None


def test_a_story_linked_by_related_coverage_needs_a_lower_score() -> None:
    texts = {"a": ("Northgate delays its AI accelerator", "The chip slips to next year."),
             "b": ("Cloud customers scramble after Northgate slip", "Buyers look elsewhere."),
             **{f"x{i}": (f"Unrelated {w} news", f"Something about {w}.")
                for i, w in enumerate(("chips", "drones", "stocks", "models", "farms"))}}
    vectors = StoryVectors(texts)
    score = vectors.similarity("b", "a").score
    index = StoryIndex(vectors, threshold=score + 0.05, linked_threshold=score - 0.05)
    index.add("a", 3)
    assert index.best_story("b") is None
    assert index.best_story("b", linked=frozenset({3}))[0] == 3  # type: ignore[index]


def test_hyphens_and_roman_numerals_are_written_as_other_outlets_write_them() -> None:
    assert terms("Diablo IV pre-load") == terms("Diablo 4 preload") == ["diablo", "preload"]
    assert terms("co-op and re-release") == terms("coop and rerelease")
    assert terms("kill-death ratio") == ["kill", "death", "ratio"]


# -- placement -----------------------------------------------------------------------------

TALLY = [  # a running tally over three days; the newest update is ranked best
    art("tally-1", "Chip shortage idles 14 North American auto plants",
        "Automakers have now halted production at 14 assembly plants in North America "
        "because of the semiconductor shortage.", day=15, quality=60,
        provider={"name": "Global Markets Wire", "domain": "gmwire.example"}),
    art("tally-2", "UPDATE 1-Chip shortage now idles 19 North American auto plants",
        "The semiconductor shortage has forced automakers to halt production at 19 North "
        "American assembly plants, up from 14 on Monday.", day=17, quality=70,
        provider={"name": "Metro Business Journal", "domain": "metrobiz.example"}),
    art("tally-3", "Idled North American auto plants rise to 23 as chip shortage hits trucks",
        "Automakers have halted production at 23 North American assembly plants because of "
        "the semiconductor shortage, up from 19 on Wednesday.", day=19, quality=80,
        provider={"name": "The Circuit Ledger", "domain": "circuitledger.example"}),
]
REMDESIVIR = [  # one event, two outlets
    art("forbes", "Japan Approves Remdesivir For Use On Severe COVID-19 Patients",
        "Japan's health ministry approved Gilead's remdesivir for severe patients, the "
        "first drug it has cleared against the disease.", quality=90,
        provider={"name": "Forbes", "domain": "forbes.example"}),
    art("usnews", "Japan Approves Gilead Sciences' Remdesivir as COVID-19 Drug",
        "Japan approved remdesivir as a treatment for the disease on Thursday, fast-tracking "
        "the Gilead Sciences drug.", quality=70,
        provider={"name": "US News", "domain": "usnews.example"}),
]
APART = [  # one subject, different events
    art("china", "China reports 14 new coronavirus cases, high-risk area resurfaces",
        "China reports 14 new coronavirus cases, including a cluster in Jilin.", quality=80),
    art("india", "India now has 52,952 coronavirus cases",
        "India's coronavirus cases rose to 52,952, the health ministry reports.", quality=75),
    art("northgate", "Northgate Quarterly Revenue Falls 8% as Orion Delay Weighs",
        "Northgate Semiconductor reported fourth-quarter revenue of $2.1 billion, down 8% "
        "from a year earlier.", quality=70),
    art("pacifica", "Pacifica Foundry Revenue Jumps 22% on Automotive Demand",
        "Pacifica Foundry reported fourth-quarter revenue of $4.6 billion, up 22% from a "
        "year earlier.", quality=65),
]


def test_running_tally_is_folded_into_the_newest_best(config: Config) -> None:
    selection = selected(TALLY, config)
    found = verdicts(selection)
    assert found["tally-3"].status == Status.PLACED
    for older in ("tally-1", "tally-2"):
        assert found[older].status == Status.FOLDED
        assert found[older].folded_into == "tally-3"
        assert found[older].fold.rule == FoldRule.SIMILAR_TEXT
    placed = next(p for p in selection.issue.placed if p.article.id == "tally-3")
    assert [c.title for c in placed.related] == [TALLY[1].title, TALLY[0].title]


def test_two_outlets_on_one_event_are_folded(config: Config) -> None:
    found = verdicts(selected(REMDESIVIR, config))
    assert found["forbes"].status == Status.PLACED
    assert found["usnews"].status == Status.FOLDED and found["usnews"].folded_into == "forbes"
    assert "remdesivir" in found["usnews"].fold.terms


def test_same_subject_different_events_stay_apart(config: Config) -> None:
    found = verdicts(selected(APART, config))
    assert all(found[a.id].status == Status.PLACED for a in APART)


def test_a_pinned_article_is_never_folded(config: Config) -> None:
    usnews = REMDESIVIR[1]
    found = verdicts(selected(REMDESIVIR, config, pinned=[usnews]))
    assert found["usnews"].status == Status.PLACED and found["usnews"].pinned
    # The better-ranked article tells the pinned one's story: it is the one folded.
    assert found["forbes"].status == Status.FOLDED and found["forbes"].folded_into == "usnews"
    found = verdicts(selected(REMDESIVIR, config, pinned=list(REMDESIVIR)))
    assert {found["usnews"].status, found["forbes"].status} == {Status.PLACED}


def test_content_false_keeps_only_the_exact_rules(tmp_path: Path) -> None:
    config = make_config(tmp_path, topics=["AI"], same_story={"content": False})
    found = verdicts(selected(TALLY + REMDESIVIR, config))
    assert all(found[a.id].status == Status.PLACED for a in TALLY + REMDESIVIR)


def test_threshold_decides(tmp_path: Path) -> None:
    strict = make_config(tmp_path, topics=["AI"], same_story={"threshold": 0.99})
    assert verdicts(selected(REMDESIVIR, strict))["usnews"].status == Status.PLACED


def test_an_exact_rule_is_named_before_similar_text(config: Config) -> None:
    copy = dataclasses.replace(REMDESIVIR[1], title=REMDESIVIR[0].title)
    found = verdicts(selected([REMDESIVIR[0], copy], config))
    assert found["usnews"].fold == Fold(FoldRule.SAME_TITLE)


# -- explain -------------------------------------------------------------------------------

def test_explain_text_and_json_show_the_score_and_the_words(config: Config) -> None:
    selection = selected(REMDESIVIR, config)
    fold = verdicts(selection)["usnews"].fold
    assert fold.score == round(fold.score, 2) and 0 < fold.score <= 1
    words_shown = ", ".join(fold.terms)
    line = (f"  usnews: same story as forbes (similar text {fold.score:.2f} ({words_shown})), "
            "shown in its related coverage")
    assert line in explain_text(selection)
    data = {a["id"]: a for a in json.loads(explain_json(selection))["articles"]}
    assert data["usnews"]["folded_into"] == "forbes"
    assert data["usnews"]["fold"] == {"rule": "similar_text", "score": fold.score,
                                      "terms": list(fold.terms)}
    assert len(fold.terms) == 3 and "remdesivir" in fold.terms
    assert data["forbes"]["fold"] is None


def test_explain_names_the_exact_rules(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    write_config(tmp_path)
    write_article(articles, "alpha", quality=90, title="Alpha launches")
    write_article(articles, "gamma", quality=70, title="ALPHA launches!")
    write_article(articles, "linked", quality=60, title="Something else entirely",
                  related=[{"title": "Alpha", "webUrl": "https://news.example/alpha"}])
    data = json.loads(run(tmp_path, "explain", "--date", "2021-02-22", "--json").stdout)
    folds = {a["id"]: a["fold"] for a in data["articles"]}
    assert folds["gamma"] == {"rule": "same_title", "score": None, "terms": []}
    assert folds["linked"] == {"rule": "related_link", "score": None, "terms": []}
    text = run(tmp_path, "explain", "--date", "2021-02-22").stdout
    assert "gamma: same story as alpha (same title)" in text
    assert "linked: same story as alpha (linked as related)" in text


# -- configuration -------------------------------------------------------------------------

def test_same_story_settings_load(tmp_path: Path) -> None:
    config = make_config(tmp_path, same_story={"content": False, "threshold": 0.6})
    assert (config.same_story_content, config.same_story_threshold) == (False, 0.6)
    default = make_config(tmp_path)
    assert default.same_story_content is True and 0 < default.same_story_threshold < 1


def test_same_story_mistakes_are_reported_together_with_the_rest(tmp_path: Path) -> None:
    path = write_config(tmp_path, window_days=0,
                        same_story={"content": "yes", "threshold": 1.5, "treshold": 0.3})
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.errors == [
        "window_days: expected a positive integer, got 0",
        'same_story.content: expected true or false, got "yes" in quotes, which YAML reads '
        "as text: write content: true",
        "same_story.threshold: expected a number above 0 and at most 1 (the default is "
        f"{DEFAULT_SAME_STORY_THRESHOLD}), got 1.5",
    ]
    assert any(w.startswith("same_story.treshold: unknown key") and '"threshold"' in w
               for w in caught.value.warnings)
    path = write_config(tmp_path, same_story=0.5)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.errors == [
        "same_story: expected a mapping with content, threshold, got 0.5"]


# -- the sample corpus ---------------------------------------------------------------------

def sample_config(tmp_path: Path) -> Config:
    sample = load_config(PROJECT / "newsletter.yaml")
    return dataclasses.replace(sample, output=tmp_path / "issues", state_dir=tmp_path / "s")


def test_sample_week_folds_running_stories_and_keeps_rivals_apart(tmp_path: Path) -> None:
    selection = read_and_select(sample_config(tmp_path), dt.date(2021, 3, 8)).selection
    found = verdicts(selection)
    folded = {i: v.folded_into for i, v in found.items() if v.status == Status.FOLDED}
    assert folded == {
        "2021-03-01-chip-shortage-idles-14-plants": "2021-03-05-chip-shortage-idles-23-plants",
        "2021-03-03-chip-shortage-idles-19-plants": "2021-03-05-chip-shortage-idles-23-plants",
        "2021-03-02-wayline-pauses-after-collision": "2021-03-04-wayline-resumes-tucson",
        "2021-03-02-wayline-robotaxi-collides": "2021-03-04-wayline-resumes-tucson",
        "2021-03-02-corvid-lands-500m": "2021-03-02-corvid-raises-500m",
        "2021-03-03-ridgeview-fourth-city-ban": "2021-03-02-ridgeview-bans-facial-recognition",
        "2021-03-05-hiring-algorithm-bill-clears": "2021-03-04-hiring-audit-bill-committee",
        "2021-03-02-single-camera-depth-lidar": "2021-03-01-depth-from-one-camera",
    }
    for rival in ("2021-03-04-kuhne-robotik-raises-60m",
                  "2021-03-05-lakemont-county-weighs-ban",
                  "2021-03-03-northgate-quarterly-revenue-falls",
                  "2021-03-04-pacifica-revenue-jumps",
                  "2021-03-03-parallax-begins-no-driver-tests"):
        assert found[rival].status in (Status.PLACED, Status.BELOW_CUT), rival


def labelled_sample_issues() -> list[Path]:
    return sorted(LABELS.glob("sample-*.yaml"))


@pytest.mark.parametrize("label_file", labelled_sample_issues(), ids=lambda p: p.stem)
def test_no_sample_issue_places_one_labelled_story_twice(tmp_path: Path,
                                                         label_file: Path) -> None:
    labels = parse_yaml(label_file.read_text("utf-8"))
    story_of = {a: n for n, story in enumerate(labels["stories"]) for a in story["articles"]}
    selection = read_and_select(sample_config(tmp_path), labels["issue"]).selection
    told = [story_of[p.article.id] for p in selection.issue.placed if p.article.id in story_of]
    assert len(told) == len(set(told))


def test_rebuilds_are_byte_identical(tmp_path: Path) -> None:
    """Two builds of the sample week with folding by similar text give the same bytes."""
    outputs = []
    for name in ("first", "second"):
        folder = tmp_path / name
        folder.mkdir()
        config = parse_yaml((PROJECT / "newsletter.yaml").read_text("utf-8"))
        config.update(corpus=str(PROJECT / "articles"), output=str(folder / "issues"),
                      state_dir=str(folder / "state"))
        (folder / "newsletter.yaml").write_text(json.dumps(config), "utf-8")
        result = run(folder, "build", "--date", "2021-03-08")
        assert result.exit_code == 0, result.output
        outputs.append(tree(folder / "issues"))
    assert outputs[0] == outputs[1]
    issue = json.loads(outputs[0]["2021-03-08/issue.json"])
    titles = [r["title"] for s in issue["sections"] for a in s["articles"] for r in a["related"]]
    assert "UPDATE 1-Chip shortage now idles 19 North American auto plants" in titles


def test_selection_does_not_depend_on_the_order_of_the_articles(config: Config) -> None:
    articles = TALLY + REMDESIVIR + APART
    first = selected(articles, config)
    shuffled = list(articles)
    random.Random(3).shuffle(shuffled)
    assert selected(shuffled, config) == first
