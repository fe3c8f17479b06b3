"""The edition of an issue a subscriber receives: the sections of the topics they chose (all
of them without topics), or nothing when the issue has none of theirs.

The same choice is made wherever an issue is prepared for a subscriber: when its recipients
are counted, when a sender builds their message, for the files of ``--outbox``, and when
``state prune`` tells recipients still to be sent from claims older versions left for those
an issue has nothing for; one function for all, so that a subscriber counted as skipped is
never sent a message, nor the reverse.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Sequence

from ..core.config import Config
from ..core.errors import NewsletterError
from ..core.models import Issue, IssueStatus, Section
from ..core.text import topic_key
from ..publishing.issues import IssueStore
from ..state.prune import NothingFor
from .subscribers import stored_topics


def sections_for(issue: Issue, topics: Sequence[str]) -> tuple[Section, ...]:
    """The sections a subscriber receives: all of them without topics, else those whose topic
    they chose (case-insensitively); () means this issue has nothing for them."""
    if not topics:
        return issue.sections
    wanted = {topic_key(t) for t in topics}
    return tuple(s for s in issue.sections if topic_key(s.topic) in wanted)


def edition_for(issue: Issue, topics: Sequence[str]) -> Issue | None:
    """The issue as a subscriber with ``topics`` gets it (None: nothing for them). An
    edition of chosen topics shows their own topic intros, and the editor's intro (which
    talks about the whole issue) only when the overrides say ``intro_in_filtered: true``."""
    sections = sections_for(issue, topics)
    if not sections:
        return None
    if not topics:
        return issue
    intro = issue.intro if issue.intro_in_filtered else ()
    return dataclasses.replace(issue, sections=sections, intro=intro)


EditionKey = tuple[tuple[str, ...], bool]


def edition_key(part: Issue) -> EditionKey:
    """What tells one edition of an issue from another (one message template each): the
    topics of its sections, and whether it shows the editor's intro."""
    return (tuple(s.topic for s in part.sections), bool(part.intro))


def nothing_for(config: Config) -> NothingFor:
    """For ``state prune``: per issue date, whether the published issue has nothing for a
    subscriber of the stored topics given; None for an issue not published here (or whose
    ``issue.json`` is damaged): every claim of it then counts as a recipient."""
    store = IssueStore(config.output)

    def of_issue(slug: str) -> Callable[[str], bool] | None:
        try:
            issue = store.get(dt.date.fromisoformat(slug))
        except (ValueError, NewsletterError):
            return None
        if issue is None or issue.status != IssueStatus.PUBLISHED:
            return None
        published = issue

        @functools.cache
        def gets_nothing(topics: str) -> bool:
            return edition_for(published, stored_topics(topics)) is None
        return gets_nothing

    return of_issue
