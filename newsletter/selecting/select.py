"""Selection: which articles make an issue, where they go, and why the others don't.

Pure functions of the articles, the config and the issue date: no clock, no I/O. The rules
are exact so that an editor can predict an issue (README, "Selection rules"):

1. window [D - window_days, D) at 00:00 in the config's timezone;
2. valid articles only (``corpus.py``);
3. eligible: in the window, quality >= min_quality, not excluded, not already published;
4. topic match by :func:`~newsletter.core.text.topic_key` equality (case and spacing aside);
5. rank: quality desc, heat desc, published desc, canonical URL asc;
6. placement topic by topic, folding the same story into the first placed article;
7. same story: equal canonical URLs, equal normalized titles, one's URL among the other's
   related items, or (``same_story.content``) title and excerpt similar enough to the
   story of a placed article, its own text and what was folded into it
   (``selecting/same_story.py``);
10. related coverage after placement.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo

from ..core.config import Config
from ..core.models import (
    Article,
    Coverage,
    Fold,
    FoldRule,
    Issue,
    PlacedArticle,
    Problem,
    Section,
    Selection,
    Status,
    Verdict,
    Window,
)
from ..core.text import topic_key
from ..core.urls import is_http_url
from ..reading.topics import TopicTally
from ..reading.walk import article_id
from .same_story import StoryIndex, StoryVectors

_NON_ALPHANUMERIC = re.compile(r"[\W_]+")


def issue_window(issue_date: dt.date, timezone: ZoneInfo, days: int) -> Window:
    """[D - days at 00:00, D at 00:00) in ``timezone``; across DST it is not 24 h x days."""
    end = dt.datetime.combine(issue_date, dt.time(0), tzinfo=timezone)
    start = dt.datetime.combine(issue_date - dt.timedelta(days=days), dt.time(0), tzinfo=timezone)
    return Window(start, end, timezone)


def normalized_title(title: str) -> str:
    """NFKC, casefold, every run of non-alphanumerics one space, stripped."""
    folded = unicodedata.normalize("NFKC", title).casefold()
    return _NON_ALPHANUMERIC.sub(" ", folded).strip()


def rank_key(article: Article) -> tuple:
    """Best first: quality desc, heat desc, published desc, canonical URL asc."""
    return (-article.quality, -article.heat, -article.published.timestamp(),
            article.canonical_url)


# Two articles that share related coverage (one lists the other, or both list two or more
# of the same other articles) are likelier one story: the similar-text threshold for a story
# linked that way is this share of the configured one. Measured on the labelled set
# (benchmarks/bench_same_story.py): 0.7 kept precision and folded more.
LINKED_SHARE = 0.7


@dataclass
class PlacedStories:
    """Placed articles, indexed for the same-story test; values are placement positions.

    The exact rules compare a candidate with the placed articles; the similar-text rule with
    whole stories, the placed article and what was folded into it."""

    text: StoryIndex | None = None  # the similar-text test, when same_story.content is on
    by_url: dict[str, int] = field(default_factory=dict)
    by_title: dict[str, int] = field(default_factory=dict)
    by_related_url: dict[str, int] = field(default_factory=dict)
    # Similar text: the stories' members' URLs and the URLs their related items list.
    story_urls: dict[str, set[int]] = field(default_factory=dict)
    story_related: dict[str, set[int]] = field(default_factory=dict)

    def add(self, article: Article, position: int) -> None:
        self.by_url.setdefault(article.canonical_url, position)
        title = normalized_title(article.title)
        if title:
            self.by_title.setdefault(title, position)
        for item in article.related:
            if item.canonical_url:
                self.by_related_url.setdefault(item.canonical_url, position)
        self.join(article, position)

    def join(self, article: Article, position: int) -> None:
        """``article`` tells the story placed at ``position`` (for the similar-text rule)."""
        if self.text is None:
            return
        self.text.add(article.id, position)
        self.story_urls.setdefault(article.canonical_url, set()).add(position)
        for item in article.related:
            if item.canonical_url:
                self.story_related.setdefault(item.canonical_url, set()).add(position)

    def _linked(self, article: Article) -> frozenset[int]:
        """The stories sharing related coverage with ``article``: one of their members lists
        it or is listed by it, or their members list two or more of the URLs it lists."""
        linked = set(self.story_related.get(article.canonical_url, ()))
        shared: dict[int, int] = {}
        for url in {item.canonical_url for item in article.related if item.canonical_url}:
            linked.update(self.story_urls.get(url, ()))
            for position in self.story_related.get(url, ()):
                shared[position] = shared.get(position, 0) + 1
        linked.update(p for p, count in shared.items() if count >= 2)
        return frozenset(linked)

    def similar_story(self, article: Article) -> tuple[int, Fold] | None:
        """The story ``article``'s text is most similar to, by the similar-text rule alone."""
        if self.text is None:
            return None
        similar = self.text.best_story(article.id, self._linked(article))
        if similar is None:
            return None
        position, found = similar
        return position, Fold(FoldRule.SIMILAR_TEXT, round(found.score, 2), found.terms)

    def first_same_story(self, article: Article) -> tuple[int, Fold] | None:
        """The first placed article (in placement order) telling the same story, if any,
        and the first rule, in the order of README rule 6, that says so."""
        linked = [self.by_url.get(item.canonical_url) for item in article.related
                  if item.canonical_url]
        matches = [
            (self.by_url.get(article.canonical_url), Fold(FoldRule.SAME_URL)),
            (self.by_title.get(normalized_title(article.title) or "\0"),
             Fold(FoldRule.SAME_TITLE)),
            (self.by_related_url.get(article.canonical_url), Fold(FoldRule.RELATED_LINK)),
            (min((p for p in linked if p is not None), default=None),
             Fold(FoldRule.RELATED_LINK)),
        ]
        similar = self.similar_story(article)
        if similar is not None:
            matches.append(similar)
        found_matches = [(p, order, fold) for order, (p, fold) in enumerate(matches)
                         if p is not None]
        if not found_matches:
            return None
        position, _, fold = min(found_matches, key=lambda m: (m[0], m[1]))
        return position, fold


def _matches(article: Article, excluded: frozenset[str]) -> bool:
    return article.id in excluded or article.canonical_url in excluded


def related_coverage(
    placed: Article,
    folded: Sequence[Article],
    placed_urls: frozenset[str],
    excluded: frozenset[str],
    limit: int,
    unshown: dict[str, str] | None = None,
) -> tuple[Coverage, ...]:
    """Rule 10: the "Also covered by" list of one placed article. ``unshown`` gets, for each
    ``folded`` article the list leaves out, why (explain must not say it is shown)."""
    candidates: list[Coverage] = []
    for item in placed.related:
        if item.title and item.canonical_url and is_http_url(item.url):
            candidates.append(Coverage(item.title, item.url, item.provider.name,
                                       item.domain, item.quality, item.published))
    of_fold: dict[int, str] = {}  # a folded article's coverage (by identity) -> its id
    for article in folded:
        candidates.append(Coverage(article.title, article.url, article.provider.name,
                                   article.domain, article.quality, article.published))
        of_fold[id(candidates[-1])] = article.id

    def left_out(coverage: Coverage, why: str) -> bool:
        if unshown is not None and id(coverage) in of_fold:
            unshown[of_fold[id(coverage)]] = why
        return False

    candidates = [
        c for c in candidates
        if (c.canonical_url != placed.canonical_url
            or left_out(c, "a duplicate of it, not shown"))
        and (c.canonical_url not in placed_urls
             or left_out(c, "not shown: its URL is another placed article's"))
        and (c.canonical_url not in excluded or left_out(c, "not shown: its URL is excluded"))
        and (c.domain != placed.domain
             or left_out(c, f"not shown: from {placed.id}'s own domain ({c.domain}), which its "
                            "related coverage leaves out"))
    ]
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
    candidates.sort(key=lambda c: c.canonical_url)
    candidates.sort(key=lambda c: (c.quality or 0, c.published or oldest), reverse=True)
    kept: list[Coverage] = []
    seen_urls: dict[str, Coverage] = {}
    seen_domains: set[str] = set()
    for c in candidates:
        if len(kept) >= limit:
            left_out(c, "not shown: its related coverage is full "
                        f"(related.max_per_article: {limit})")
        elif c.canonical_url in seen_urls:
            shown = of_fold.get(id(seen_urls[c.canonical_url]))
            left_out(c, f"not shown: a duplicate (same URL) of {shown}, which is shown" if shown
                     else f"not shown: {placed.id}'s own related item of that URL is shown")
        elif c.domain in seen_domains:
            left_out(c, f"not shown: one item per domain, and one from {c.domain} is shown")
        else:
            seen_urls[c.canonical_url] = c
            seen_domains.add(c.domain)
            kept.append(c)
    return tuple(kept)


def pin_topic(article: Article, config: Config) -> str | None:
    """The configured topic a pinned article goes to: the first, in config order, it matches."""
    keys = {topic_key(t) for t in article.topics}
    return next((t.name for t in config.topics if topic_key(t.name) in keys), None)


def select_issue(
    articles: Iterable[Article],
    config: Config,
    issue_date: dt.date,
    *,
    problems: Iterable[Problem] = (),
    excluded: frozenset[str] = frozenset(),
    already_published: frozenset[str] = frozenset(),
    pinned: Sequence[Article] = (),
) -> Selection:
    """Select the issue dated ``issue_date`` and account for every article file.

    ``excluded`` holds article ids or canonical URLs the editor excluded; they are never
    placed and never related. ``already_published`` holds the canonical URLs featured in
    published issues dated before ``issue_date``.
    """
    window = issue_window(issue_date, config.timezone, config.window_days)
    verdicts: dict[str, Verdict] = {}
    eligible: list[Article] = []
    excluded_urls = set(excluded)
    pinned_ids = {article.id for article in pinned}
    featured: Counter[str] = Counter()  # by topic: a topic left empty by them says so
    for article in articles:
        reason = None
        if _matches(article, excluded):
            excluded_urls.add(article.canonical_url)
        if article.id in pinned_ids:
            continue
        if article.published not in window:
            status = Status.OUTSIDE_WINDOW
            reason = "published outside the window"
        elif _matches(article, excluded):
            status, reason = Status.EXCLUDED, "excluded by the editor"
        elif article.canonical_url in already_published:
            status, reason = Status.ALREADY_PUBLISHED, "featured in an earlier published issue"
            featured.update({topic_key(topic) for topic in article.topics})
        elif article.quality < config.min_quality:
            status = Status.BELOW_MIN_QUALITY
            reason = f"quality {article.quality} is below min_quality {config.min_quality}"
        if reason is None:
            eligible.append(article)
        else:
            verdicts[article.path] = _verdict(article, status, reason)

    eligible.sort(key=rank_key)
    topic_names = {topic_key(t.name) for t in config.topics}
    by_topic: dict[str, list[Article]] = {topic_key(t.name): [] for t in config.topics}
    tally = TopicTally(t.name for t in config.topics)  # for a configured topic left empty
    for article in eligible:
        keys = {topic_key(t) for t in article.topics}
        tally.add(article.topics)
        keys &= topic_names
        if not keys:
            verdicts[article.path] = _verdict(article, Status.NO_TOPIC,
                                            _no_topic(article.topics, topic_names))
        for key in keys:
            by_topic[key].append(article)

    # Placement (rule 6).
    placed: list[tuple[str, Article]] = []  # (configured topic, article) in placement order
    folded_into: dict[int, list[tuple[Article, Fold]]] = {}
    index = PlacedStories()
    if config.same_story_content:
        # Word weights from the window's eligible articles (and the pinned ones, which are
        # placed): what every article says counts little.
        texts = {a.id: (a.title, a.excerpt) for a in (*pinned, *eligible)}
        threshold = config.same_story_threshold
        index.text = StoryIndex(StoryVectors(texts), threshold, threshold * LINKED_SHARE)
    done: set[str] = set()  # placed or folded
    cut: dict[str, list[tuple[str, int, int]]] = {}
    counts: dict[str, int] = {}
    for article in pinned:
        topic_name = pin_topic(article, config)
        if topic_name is None or article.id in done:
            continue
        done.add(article.id)
        index.add(article, len(placed))
        placed.append((topic_name, article))
        counts[topic_name] = counts.get(topic_name, 0) + 1
    for topic in config.topics:
        candidates = by_topic[topic_key(topic.name)]
        count = counts.get(topic.name, 0)
        for rank, article in enumerate(candidates, start=1):
            if count >= topic.max_articles:
                for later_rank, later in enumerate(candidates[rank - 1:], start=rank):
                    if later.id not in done:
                        cut.setdefault(later.id, []).append(
                            (topic.name, later_rank, len(candidates)))
                break
            if article.id in done:
                continue
            done.add(article.id)
            same = index.first_same_story(article)
            if same is not None:
                position, fold = same
                folded_into.setdefault(position, []).append((article, fold))
                index.join(article, position)
                continue
            index.add(article, len(placed))
            placed.append((topic.name, article))
            count += 1

    placed_urls = frozenset(a.canonical_url for _, a in placed)
    sections: dict[str, list[PlacedArticle]] = {}
    for position, (topic_name, article) in enumerate(placed):
        folded = folded_into.get(position, [])
        unshown: dict[str, str] = {}
        related = related_coverage(article, [other for other, _ in folded], placed_urls,
                                   frozenset(excluded_urls), config.related_max_per_article,
                                   unshown)
        in_section = sections.setdefault(topic_name, [])
        in_section.append(PlacedArticle(article, related))
        pin = "pinned by the editor; " if article.id in pinned_ids else ""
        verdicts[article.path] = _verdict(
            article, Status.PLACED, f"{pin}placed in {topic_name} at #{len(in_section)}",
            topic=topic_name, position=len(in_section), pinned=article.id in pinned_ids)
        for other, fold in folded:
            why = unshown.get(other.id)
            verdicts[other.path] = _verdict(
                other, Status.FOLDED,
                f"same story as {article.id} ({fold}), {why or 'shown in its related coverage'}",
                folded_into=article.id, fold=fold)
    for article in eligible:
        if article.id in cut and article.id not in done:
            ranks = tuple(cut[article.id])
            where = "; ".join(f"{t} rank {r} of {n}" for t, r, n in ranks)
            verdicts[article.path] = _verdict(article, Status.BELOW_CUT,
                                            f"below the cut: {where}", ranks=ranks)

    for problem in problems:
        where = f"line {problem.line}: " if problem.line else ""
        verdicts[problem.path] = Verdict(
            id=article_id(problem.path), path=problem.path, status=Status.INVALID,
            reason=f"invalid: {where}{problem.message}")

    issue = Issue(
        slug=issue_date.isoformat(),
        date=issue_date,
        title=config.title,
        window=window,
        sections=tuple(Section(t.name, tuple(sections[t.name]))
                       for t in config.topics if t.name in sections),
    )
    ordered = tuple(sorted(verdicts.values(), key=lambda v: v.path))
    empty = tuple(replace(topic, featured=featured[topic_key(topic.name)]) for topic in
                  tally.empty_topics(t.name for t in config.topics if t.name not in sections))
    return Selection(issue, ordered, empty)


def _no_topic(topics: Sequence[str], configured: set[str]) -> str:
    """Why an article has no configured topic; a topic written as ``Portals, Power Apps``
    (a string, not a list) is one topic, which no configured one matches."""
    if not topics:
        return "it has no topics"
    quoted = ", ".join(f'"{topic}"' for topic in topics)
    reason = f"none of its topics ({quoted}) is configured"
    for topic in topics:
        parts = [part.strip() for part in topic.split(",")]
        if len(parts) > 1 and any(topic_key(part) in configured for part in parts):
            return (f'{reason}; "{topic}" is one topic: write several as a list, '
                    f"topics: [{', '.join(parts)}]")
    return reason


def _verdict(article: Article, status: str, reason: str, **details) -> Verdict:
    return Verdict(id=article.id, path=article.path, status=status, title=article.title,
                   published=article.published, quality=article.quality, reason=reason,
                   **details)
