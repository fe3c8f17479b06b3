"""The topics articles carry, counted against the configured ones: a configured topic that no
article has (a typo in the config, a topic the corpus does not cover) is named, with the
articles' topics spelt close to it, by build, explain and the preview for an issue's window
and by check for the whole corpus."""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterable, Sequence

from ..core.codec import decode_topics
from ..core.models import EmptyTopic
from ..core.text import topic_key
from .cache import CorpusCache
from .walk import Walked


class TopicTally:
    """The topics of the articles added, by :func:`topic_key`: which configured topics are
    still ``missing``, and how many articles have each topic not configured (as first
    spelt), for a configured topic spelt close to it."""

    def __init__(self, configured: Iterable[str]) -> None:
        self.configured = frozenset(topic_key(name) for name in configured)
        self.missing = set(self.configured)
        self.unconfigured: dict[str, tuple[str, int]] = {}  # key -> (as first spelt, count)

    def add(self, topics: Sequence[str]) -> None:
        for key, spelt in {topic_key(t): t.strip() for t in reversed(topics)}.items():
            if key in self.configured:
                self.missing.discard(key)
            else:
                first, count = self.unconfigured.get(key, (spelt, 0))
                self.unconfigured[key] = (first, count + 1)

    def empty_topics(self, names: Iterable[str]) -> tuple[EmptyTopic, ...]:
        """The configured topics ``names`` (left empty), each with the unconfigured topics
        spelt close to it (``Canvas apps`` for ``Canvas app``)."""
        return tuple(EmptyTopic(name, tuple(
            self.unconfigured[key] for key in difflib.get_close_matches(
                topic_key(name), self.unconfigured, n=3, cutoff=0.8))) for name in names)


def tally_rows(cache: CorpusCache, found: Walked, rows: Sequence[int], tally: TopicTally,
               chunk: int = 2_000) -> None:
    """Add the topics of the valid articles cached for the ``rows`` of ``found`` to
    ``tally``, a chunk at a time, until every configured topic has been seen: a corpus has
    them all within its first chunks as a rule, so check stays as quick as it was; a
    configured topic no article has reads every row, once (the fix is to the config)."""
    for start in range(0, len(rows), chunk):
        if not tally.missing:
            return
        stamps = {found[index][0]: found.stamp(index) for index in rows[start:start + chunk]}
        for _relative, _kind, payload in cache.payloads(list(stamps), stamps.__getitem__):
            with contextlib.suppress(ValueError, TypeError, KeyError, IndexError):
                tally.add(decode_topics(payload))
