"""Same-story folding against hand-made labels: pair precision and recall, repeats placed.

    python benchmarks/bench_same_story.py [--labels tests/data/stories] [--thresholds ...]

Each file in the labels folder names a corpus, an issue date and window, and the groups of
that issue's candidates that tell one story (tests/data/stories/README.md gives the rule
they were labelled by). For each threshold of the similar-text rule it prints, over all
labelled issues together:

- text precision: of the candidate pairs whose texts score at least the threshold, the
  share the labels put in one story;
- text recall: of the pairs the labels put in one story, the share scoring at least the
  threshold; "lead recall" counts only the pairs of a story's best-ranked article with each
  other article of the story, the pairs placement actually tests (rule 5 folds an article
  into the placed one, not into every other article of its story);
- rule 6 recall: the same with the exact rules (URL, title, related link) added;
- the issues built with that threshold: placed articles repeating a labelled story already
  placed, and articles folded by similar text into another labelled story (wrong folds).

A last table breaks the default threshold's figures down by corpus. Label files whose corpus
is missing are skipped with a note (the shared corpora live beside the checkout).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from newsletter.core.config import Config, TopicConfig, load_config  # noqa: E402
from newsletter.core.models import Article, FoldRule  # noqa: E402
from newsletter.core.safeyaml import parse_yaml  # noqa: E402
from newsletter.core.settings import DEFAULT_SAME_STORY_THRESHOLD  # noqa: E402
from newsletter.reading.corpus import read_corpus  # noqa: E402
from newsletter.selecting.same_story import StoryVectors  # noqa: E402
from newsletter.selecting.select import (  # noqa: E402
    issue_window,
    normalized_title,
    rank_key,
    select_issue,
    topic_key,
)


@dataclasses.dataclass
class Labelled:
    name: str  # the label file's stem
    corpus: Path
    issue: dt.date
    timezone: str
    window_days: int
    topics: list[str]
    story_of: dict[str, int]  # article id -> story number; unlisted ids are alone


def load_labels(folder: Path, corpora: Path | None = None) -> list[Labelled]:
    """The label files of ``folder``; ``corpora`` replaces ../shared/corpus when given."""
    labelled = []
    for path in sorted(folder.glob("*.yaml")):
        data = parse_yaml(path.read_text("utf-8"))
        corpus = Path(data["corpus"])
        if corpora is not None and corpus.parts[:3] == ("..", "shared", "corpus"):
            corpus = corpora.joinpath(*corpus.parts[3:])
        corpus = corpus if corpus.is_absolute() else (PROJECT / corpus).resolve()
        story_of: dict[str, int] = {}
        for number, story in enumerate(data["stories"]):
            for article_id in story["articles"]:
                if article_id in story_of:
                    raise SystemExit(f"{path}: {article_id} is labelled twice")
                story_of[article_id] = number
        labelled.append(Labelled(path.stem, corpus, data["issue"], data["timezone"],
                                 data["window_days"], data["topics"], story_of))
    return labelled


@cache
def articles_of(corpus: Path) -> tuple[Article, ...]:
    return tuple(read_corpus(corpus).articles)


def candidates(case: Labelled) -> tuple[list[Article], list[Article]]:
    """(the window's eligible articles, those matching a configured topic)."""
    window = issue_window(case.issue, ZoneInfo(case.timezone), case.window_days)
    eligible = [a for a in articles_of(case.corpus) if a.published in window]
    wanted = {topic_key(t) for t in case.topics}
    return eligible, [a for a in eligible if {topic_key(t) for t in a.topics} & wanted]


@dataclasses.dataclass(frozen=True)
class Pair:
    score: float  # the text measure
    exact: bool  # folded by an exact rule whatever the score
    same: bool  # labelled one story
    lead: bool  # one of the two is its story's best-ranked article
    case: str
    a: Article
    b: Article


def exact_same_story(a: Article, b: Article) -> bool:
    """Rule 6's exact tests: same canonical URL, same normalized title, linked as related."""
    return (a.canonical_url == b.canonical_url
            or normalized_title(a.title) == normalized_title(b.title)
            or a.canonical_url in {r.canonical_url for r in b.related}
            or b.canonical_url in {r.canonical_url for r in a.related})


def pairs_of(case: Labelled) -> list[Pair]:
    """Every pair of the issue's candidates that is labelled one story or shares a word."""
    eligible, matching = candidates(case)
    vectors = StoryVectors({a.id: (a.title, a.excerpt) for a in eligible})
    leads = {}
    for article in sorted(matching, key=rank_key):
        leads.setdefault(case.story_of.get(article.id), article.id)
    ordered = sorted(matching, key=lambda a: a.id)
    found = []
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            story = case.story_of.get(a.id)
            same = story is not None and story == case.story_of.get(b.id)
            score = vectors.similarity(a.id, b.id).score
            exact = exact_same_story(a, b)
            if same or score > 0 or exact:
                lead = same and leads[story] in (a.id, b.id)
                found.append(Pair(score, exact, same, lead, case.name, a, b))
    return found


def case_config(case: Labelled, base: Config, threshold: float) -> Config:
    return dataclasses.replace(
        base, corpus=case.corpus, timezone=ZoneInfo(case.timezone),
        window_days=case.window_days, min_quality=0,
        topics=tuple(TopicConfig(t) for t in case.topics),
        same_story_content=True, same_story_threshold=threshold)


def built(case: Labelled, config: Config) -> tuple[int, int, int, int]:
    """(placed repeats, placed, folds by similar text, wrong folds by similar text)."""
    selection = select_issue(articles_of(case.corpus), config, case.issue)
    seen: set[int] = set()
    repeats = 0
    for entry in selection.issue.placed:
        story = case.story_of.get(entry.article.id)
        repeats += story is not None and story in seen
        seen.add(story) if story is not None else None
    folds = wrong = 0
    for verdict in selection.verdicts:
        if verdict.fold is not None and verdict.fold.rule == FoldRule.SIMILAR_TEXT:
            folds += 1
            story = case.story_of.get(verdict.id)
            wrong += story is None or story != case.story_of.get(verdict.folded_into or "")
    return repeats, len(selection.issue.placed), folds, wrong


def ratio(part: int, whole: int) -> str:
    return f"{part / whole:.3f}" if whole else "-"


def row(label: str, pairs: list[Pair], cases: Iterable[Labelled], base: Config,
        threshold: float) -> str:
    same = [p for p in pairs if p.same]
    lead = [p for p in same if p.lead]
    found = [p for p in pairs if p.score >= threshold]
    right = sum(p.same for p in found)
    either = sum(p.score >= threshold or p.exact for p in same)
    repeats = placed = folds = wrong = 0
    for case in cases:
        r, n, f, w = built(case, case_config(case, base, threshold))
        repeats, placed, folds, wrong = repeats + r, placed + n, folds + f, wrong + w
    return (f"| {label} | {ratio(right, len(found))} | {ratio(right, len(same))} "
            f"| {ratio(sum(p.score >= threshold for p in lead), len(lead))} "
            f"| {ratio(either, len(same))} | {repeats} / {placed} | {wrong} / {folds} |")


HEADER = ("| {} | text precision | text recall | lead recall | rule 6 recall "
          "| placed repeats / placed | wrong folds / text folds |\n"
          "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=Path, default=PROJECT / "tests" / "data" / "stories")
    parser.add_argument("--corpora", type=Path, default=None,
                        help="the shared corpora's folder, when not ../shared/corpus")
    parser.add_argument("--thresholds", type=float, nargs="+", default=None)
    parser.add_argument("--misses", action="store_true",
                        help="list the false and the missed pairs at the default threshold")
    args = parser.parse_args()
    default = DEFAULT_SAME_STORY_THRESHOLD
    thresholds = args.thresholds or sorted({round(default + step / 20, 2)
                                            for step in range(-4, 5)} | {default})
    cases = []
    for case in load_labels(args.labels, args.corpora):
        if case.corpus.is_dir():
            cases.append(case)
        else:
            print(f"skipped {case.name}: {case.corpus} not found")
    base = load_config(PROJECT / "newsletter.yaml")

    pairs: dict[str, list[Pair]] = {}
    total = 0
    for case in cases:
        pairs[case.name] = pairs_of(case)
        count = len(candidates(case)[1])
        total += count
        print(f"{case.name}: {count} candidates, {len(set(case.story_of.values()))} stories "
              f"of 2 or more, {sum(p.same for p in pairs[case.name])} same-story pairs")
    every = [p for found in pairs.values() for p in found]
    exact = [p for p in every if p.exact]
    print(f"{len(cases)} issues, {total} candidates, {sum(p.same for p in every)} same-story "
          f"pairs; the exact rules alone link {len(exact)} pairs, precision "
          f"{ratio(sum(p.same for p in exact), len(exact))}\n")

    print(HEADER.format("threshold"))
    for threshold in thresholds:
        mark = " (default)" if threshold == default else ""
        print(row(f"{threshold:.2f}{mark}", every, cases, base, threshold))
    exact_only = 0
    for case in cases:
        config = dataclasses.replace(case_config(case, base, default), same_story_content=False)
        exact_only += built(case, config)[0]
    print(f"\nWith same_story.content off (the exact rules only): {exact_only} placed repeats.")

    print(f"\nBy corpus, at the default threshold {default:.2f}:\n")
    print(HEADER.format("corpus"))
    for corpus in sorted({case.name.split("-")[0] for case in cases}):
        mine = [c for c in cases if c.name.split("-")[0] == corpus]
        print(row(corpus, [p for c in mine for p in pairs[c.name]], mine, base, default))

    if args.misses:
        print(f"\nFalse pairs (text score >= {default}, labelled apart):")
        for p in sorted(every, key=lambda p: -p.score):
            if p.score >= default and not p.same:
                print(f"  {p.score:.2f} {p.case}: {p.a.title!r} / {p.b.title!r}")
        print(f"\nMissed lead pairs (text score < {default}, labelled one story):")
        for p in sorted(every, key=lambda p: -p.score):
            if p.score < default and p.lead:
                print(f"  {p.score:.2f} {p.case}: {p.a.title!r} / {p.b.title!r}")


if __name__ == "__main__":
    main()
