"""Same-story folding against hand-made labels: pair precision and recall, repeats placed.

    python benchmarks/bench_same_story.py [--labels tests/data/stories] [--thresholds ...]

Each file in the labels folder names a corpus, an issue date and window, and the groups of
that issue's candidates that tell one story (tests/data/stories/README.md gives the rule
they were labelled by). For each threshold of the similar-text rule it builds every labelled
issue twice with the selector itself (``select_issue``) and prints, over all issues together:

- pair precision and recall of the stories the selector forms: the issue is built with no
  cut (every topic may place all its candidates), so that every candidate is either placed,
  starting a story, or folded into one; two candidates are "paired" when they end in one
  story. Precision: of the pairs so formed, the share the labels put in one story; recall:
  of the pairs the labels put in one story, the share so formed. This is rule 6 as the
  selector applies it, the exact rules (URL, title, related link) included;
- the issue as configured (each topic's default max_articles): placed articles repeating a
  labelled story already placed, and articles folded by similar text into another labelled
  story (wrong folds).

A line gives the same figures with ``same_story.content`` off (the exact rules alone), and a
table breaks the default threshold's figures down by corpus. Label files whose corpus is
missing are skipped with a note (the shared corpora live beside the checkout).

A last table says how far apart readers are: each folder under ``readers/`` in the labels
folder holds another labelling of the same issues (files of the same names, only their
``stories``), made from the same rule without seeing ours or any score. Each row takes one
labelling as the truth and gives the pair precision and recall of every other labelling and
of the rule at the default threshold against it.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from newsletter.core.config import Config, TopicConfig, load_config  # noqa: E402
from newsletter.core.models import Article, FoldRule  # noqa: E402
from newsletter.core.safeyaml import parse_yaml  # noqa: E402
from newsletter.core.settings import DEFAULT_SAME_STORY_THRESHOLD  # noqa: E402
from newsletter.reading.corpus import read_corpus  # noqa: E402
from newsletter.selecting.same_story import StoryIndex, StoryVectors  # noqa: E402
from newsletter.selecting.select import (  # noqa: E402
    LINKED_SHARE,
    PlacedStories,
    issue_window,
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


def case_config(case: Labelled, base: Config, threshold: float, content: bool = True,
                max_articles: int | None = None) -> Config:
    topics = tuple(TopicConfig(t) if max_articles is None else TopicConfig(t, max_articles)
                   for t in case.topics)
    return dataclasses.replace(
        base, corpus=case.corpus, timezone=ZoneInfo(case.timezone),
        window_days=case.window_days, min_quality=0, topics=topics,
        same_story_content=content, same_story_threshold=threshold)


def stories_formed(case: Labelled, config: Config) -> dict[str, str]:
    """Candidate id -> the id of the placed article of its story, the issue built with no
    cut (every topic may place all its candidates)."""
    matching = candidates(case)[1]
    config = dataclasses.replace(
        config, topics=tuple(TopicConfig(t.name, len(matching) + 1) for t in config.topics))
    selection = select_issue(articles_of(case.corpus), config, case.issue)
    story: dict[str, str] = {}
    for verdict in selection.verdicts:
        if verdict.status == "placed":
            story[verdict.id] = verdict.id
        elif verdict.folded_into is not None:
            story[verdict.id] = verdict.folded_into
    return story


def text_stories(case: Labelled, config: Config) -> dict[str, str]:
    """The same, by the similar-text rule alone: the candidates in the order placement
    visits them (topic by topic, best ranked first), each folded into the story its text
    is most similar to or starting one."""
    eligible, matching = candidates(case)
    vectors = StoryVectors({a.id: (a.title, a.excerpt) for a in eligible})
    threshold = config.same_story_threshold
    index = PlacedStories(StoryIndex(vectors, threshold, threshold * LINKED_SHARE))
    story: dict[str, str] = {}
    placed: list[str] = []
    for topic in case.topics:
        for article in sorted(matching, key=rank_key):
            if article.id in story or topic_key(topic) not in map(topic_key, article.topics):
                continue
            similar = index.similar_story(article)
            if similar is None:
                index.add(article, len(placed))
                placed.append(article.id)
                story[article.id] = article.id
            else:
                index.join(article, similar[0])
                story[article.id] = placed[similar[0]]
    return story


@dataclasses.dataclass
class Pairs:
    """Pairs of candidates: formed (one story in the selector), labelled, both."""

    formed: int = 0
    labelled: int = 0
    right: int = 0
    false: list[tuple[str, Article, Article]] = dataclasses.field(default_factory=list)
    missed: list[tuple[str, Article, Article]] = dataclasses.field(default_factory=list)

    def add(self, other: Pairs) -> None:
        self.formed += other.formed
        self.labelled += other.labelled
        self.right += other.right
        self.false += other.false
        self.missed += other.missed


def pairs_of(case: Labelled, config: Config, text_only: bool = False) -> Pairs:
    story = (text_stories if text_only else stories_formed)(case, config)
    ordered = sorted(candidates(case)[1], key=lambda a: a.id)
    found = Pairs()
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            label = case.story_of.get(a.id)
            same = label is not None and label == case.story_of.get(b.id)
            formed = a.id in story and story[a.id] == story.get(b.id)
            found.formed += formed
            found.labelled += same
            found.right += formed and same
            if formed and not same:
                found.false.append((case.name, a, b))
            elif same and not formed:
                found.missed.append((case.name, a, b))
    return found


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


def same_pairs(ids: list[str], story_of: dict[str, Any]) -> set[tuple[str, str]]:
    """The pairs of ``ids`` (sorted) that ``story_of`` puts in one story."""
    return {(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]
            if story_of.get(a) is not None and story_of.get(a) == story_of.get(b)}


def readers_of(labels: Path, cases: list[Labelled]) -> dict[str, dict[str, dict[str, int]]]:
    """Reader -> issue -> article id -> story number, from ``labels/readers/*/``."""
    readers: dict[str, dict[str, dict[str, int]]] = {}
    for folder in sorted(p for p in (labels / "readers").glob("*") if p.is_dir()):
        issues: dict[str, dict[str, int]] = {}
        for case in cases:
            path = folder / f"{case.name}.yaml"
            if path.is_file():
                stories = parse_yaml(path.read_text("utf-8")).get("stories") or []
                issues[case.name] = {article_id: number for number, story in enumerate(stories)
                                     for article_id in story["articles"]}
        readers[f"reader {folder.name}"] = issues
    return readers


def agreement(cases: list[Labelled], base: Config, labels: Path) -> None:
    """Each labelling, and the rule at the default threshold, against each labelling."""
    judged: dict[str, dict[str, dict[str, Any]]] = {
        "ours": {case.name: case.story_of for case in cases}, **readers_of(labels, cases)}
    if len(judged) == 1:
        return
    default = DEFAULT_SAME_STORY_THRESHOLD
    formed = {f"text at {default}": {c.name: text_stories(c, case_config(c, base, default))
                                     for c in cases},
              f"rule 6 at {default}": {c.name: stories_formed(c, case_config(c, base, default))
                                       for c in cases}}
    names = [*judged, *formed]
    print("\nReaders: each row takes one labelling as the truth; pair precision / recall of "
          "each column against it.\n")
    print(f"| truth | {' | '.join(names)} |\n| --- |{' ---: |' * len(names)}")
    for truth, truth_issues in judged.items():
        cells = []
        for name in names:
            issues = {**judged, **formed}[name]
            if name == truth:
                cells.append("-")
                continue
            made = right = labelled = 0
            for case in cases:
                if case.name not in truth_issues or case.name not in issues:
                    continue
                ids = sorted(a.id for a in candidates(case)[1])
                theirs = same_pairs(ids, issues[case.name])
                true = same_pairs(ids, truth_issues[case.name])
                made, right = made + len(theirs), right + len(theirs & true)
                labelled += len(true)
            cells.append(f"{ratio(right, made)} / {ratio(right, labelled)}")
        print(f"| {truth} | {' | '.join(cells)} |")


def ratio(part: int, whole: int) -> str:
    return f"{part / whole:.3f}" if whole else "-"


def measure(cases: Iterable[Labelled], base: Config, threshold: float, content: bool = True
            ) -> tuple[Pairs, str]:
    """The pairs of ``cases`` and their table row's figures."""
    pairs, text = Pairs(), Pairs()
    repeats = placed = folds = wrong = 0
    for case in cases:
        pairs.add(pairs_of(case, case_config(case, base, threshold, content)))
        text.add(pairs_of(case, case_config(case, base, threshold, content), text_only=True))
        r, n, f, w = built(case, case_config(case, base, threshold, content))
        repeats, placed, folds, wrong = repeats + r, placed + n, folds + f, wrong + w
    text_figures = (f"{ratio(text.right, text.formed)} | {ratio(text.right, text.labelled)} | "
                    if content else "- | - | ")
    return text, (f"{text_figures}{ratio(pairs.right, pairs.formed)} "
                  f"| {ratio(pairs.right, pairs.labelled)} "
                   f"| {repeats} / {placed} | {wrong} / {folds} |")


HEADER = ("| {} | text: pair precision | text: pair recall | rule 6: pair precision "
          "| rule 6: pair recall | placed repeats / placed | wrong folds / similar-text folds |\n"
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

    total = labelled = 0
    for case in cases:
        count = len(candidates(case)[1])
        sizes = [list(case.story_of.values()).count(n) for n in set(case.story_of.values())]
        pairs = sum(n * (n - 1) // 2 for n in sizes)
        total, labelled = total + count, labelled + pairs
        print(f"{case.name}: {count} candidates, {len(sizes)} stories of 2 or more, "
              f"{pairs} same-story pairs")
    print(f"{len(cases)} issues, {total} candidates, {labelled} same-story pairs\n")

    print(HEADER.format("threshold"))
    for threshold in thresholds:
        mark = " (default)" if threshold == default else ""
        print(f"| {threshold:.2f}{mark} | {measure(cases, base, threshold)[1]}")
    print(f"| exact rules only (content: false) | {measure(cases, base, default, False)[1]}")

    print(f"\nBy corpus, at the default threshold {default:.2f}:\n")
    print(HEADER.format("corpus"))
    for corpus in sorted({case.name.split("-")[0] for case in cases}):
        mine = [c for c in cases if c.name.split("-")[0] == corpus]
        print(f"| {corpus} | {measure(mine, base, default)[1]}")

    agreement(cases, base, args.labels)

    if args.misses:
        pairs = measure(cases, base, default)[0]
        print(f"\nFalse pairs (one story by similar text at {default}, labelled apart):")
        for name, a, b in pairs.false:
            print(f"  {name}: {a.title!r} / {b.title!r}")
        print("\nMissed pairs (labelled one story, apart):")
        for name, a, b in pairs.missed:
            print(f"  {name}: {a.title!r} / {b.title!r}")


if __name__ == "__main__":
    main()
