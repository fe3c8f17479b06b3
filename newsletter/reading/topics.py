"""The topics articles carry, counted against the configured ones: a configured topic that no
article has (a typo in the config, a topic the corpus does not cover) is named, with the
articles' topics spelt close to it, by build, explain and the preview for an issue's window
and by check for the whole corpus."""

from __future__ import annotations

import collections
import difflib
from collections.abc import Iterable, Sequence

from ..core.models import EmptyTopic
from ..core.text import topic_key
from .compact import TOPICS, Known
from .reads import split_topics


class TopicTally:
    """The topics of the articles added, by :func:`topic_key`: which configured topics are
    still ``missing``, and how many articles have each topic not configured (as first
    spelt), for a configured topic spelt close to it."""

    def __init__(self, configured: Iterable[str]) -> None:
        self.configured = frozenset(topic_key(name) for name in configured)
        self.missing = set(self.configured)
        self.unconfigured: dict[str, tuple[str, int]] = {}  # key -> (as first spelt, count)

    def add(self, topics: Sequence[str], articles: int = 1) -> None:
        """The topics of one article, or of as many ``articles`` as have these."""
        for key, spelt in {topic_key(t): t.strip() for t in reversed(topics)}.items():
            if key in self.configured:
                self.missing.discard(key)
            else:
                first, count = self.unconfigured.get(key, (spelt, 0))
                self.unconfigured[key] = (first, count + articles)

    def empty_topics(self, names: Iterable[str]) -> tuple[EmptyTopic, ...]:
        """The configured topics ``names`` (left empty), each with the unconfigured topics
        spelt close to it (``Canvas apps`` for ``Canvas app``)."""
        return tuple(EmptyTopic(name, tuple(
            self.unconfigured[key] for key in difflib.get_close_matches(
                topic_key(name), self.unconfigured, n=3, cutoff=0.8))) for name in names)


def tally_rows(known: Known, rows: Sequence[int], tally: TopicTally) -> None:
    """Add the topics the compact table holds for its ``rows`` (valid articles) to
    ``tally``: the table is what a reading loads anyway, so a configured topic that no
    article has costs check no read of a payload. Each set of topics is added once, with
    the count of the rows that have it, in the order of their first row (a topic's first
    spelling is the one of its first article)."""
    if not rows or not tally.missing:  # every configured topic seen: the counts are not said
        return
    texts = known.texts(TOPICS)
    for text, count in collections.Counter(map(texts.__getitem__, rows)).items():
        tally.add(split_topics(text), count)
