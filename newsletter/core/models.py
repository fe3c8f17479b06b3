"""The data the pipeline passes along: frozen, typed, no I/O.

Articles are read once (``reading``), selected into an :class:`Issue` (``selecting``),
and every later stage only reads these objects.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from zoneinfo import ZoneInfo

from .urls import canonical_url

Number = int | float


@dataclass(frozen=True)
class Provider:
    name: str = ""
    domain: str = ""


@dataclass(frozen=True)
class Image:
    url: str
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class RelatedItem:
    """Another outlet's coverage of an article's story, as listed in its ``related``."""

    title: str
    url: str
    canonical_url: str | None  # None when ``url`` is not an absolute http(s) URL
    domain: str
    provider: Provider = Provider()
    excerpt: str = ""
    type: str = "article"
    quality: Number | None = None
    published: dt.datetime | None = None


# Slots, not a dictionary per instance: explain holds one Article (a brief) and one Verdict
# per article file, a million of them in a large corpus.
@dataclass(frozen=True, slots=True)
class Article:
    id: str  # path below the corpus folder, without the suffix, with "/" separators
    path: str  # path below the corpus folder, as found
    title: str
    url: str  # webUrl as written
    canonical_url: str
    domain: str
    published: dt.datetime  # timezone-aware
    quality: Number = 0
    heat: Number = -1
    excerpt: str = ""
    type: str = "article"
    provider: Provider = Provider()
    topics: tuple[str, ...] = ()
    images: tuple[Image, ...] = ()
    related: tuple[RelatedItem, ...] = ()
    body: str = field(default="", repr=False, compare=False)

    @property
    def image(self) -> Image | None:
        return self.images[0] if self.images else None


@dataclass(frozen=True)
class Problem:
    """Why an input file could not be used; ``line`` is 1-based when known."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Window:
    """Half-open interval [start, end) of publication instants an issue covers."""

    start: dt.datetime
    end: dt.datetime
    timezone: ZoneInfo

    def __contains__(self, instant: dt.datetime) -> bool:
        return self.start <= instant < self.end


@dataclass(frozen=True)
class Coverage:
    """One entry of "Also covered by" under a placed article."""

    title: str
    url: str
    provider: str
    domain: str
    quality: Number | None
    published: dt.datetime | None

    # Computed when asked, not when built: a publish reads back the coverage of every
    # published issue to render a few of them, and only selection and the draft's overrides
    # check compare these URLs (computing them all took 3.35 s of a 5.2 s publish after
    # 1,000 daily issues holding 94,500 links).
    @cached_property
    def canonical_url(self) -> str:
        """The form two URLs of the same page share (``url`` itself when not http(s))."""
        return canonical_url(self.url) or self.url


@dataclass(frozen=True)
class PlacedArticle:
    article: Article
    related: tuple[Coverage, ...] = ()


@dataclass(frozen=True)
class Section:
    topic: str  # as configured
    articles: tuple[PlacedArticle, ...]
    intro: tuple[str, ...] = ()  # the editor's paragraphs about this topic (topic_intros)


class IssueStatus(StrEnum):
    """Where an issue stands; its value is what ``issue.json`` stores."""

    DRAFT = "draft"
    PUBLISHED = "published"


@dataclass(frozen=True)
class Issue:
    slug: str  # the issue date, YYYY-MM-DD
    date: dt.date
    title: str
    window: Window
    sections: tuple[Section, ...]
    status: IssueStatus = IssueStatus.DRAFT
    intro: tuple[str, ...] = ()  # the editor's paragraphs, plain text
    subject: str | None = None  # the editor's subject line, replacing the configured one
    intro_in_filtered: bool = False  # an edition of some topics only shows ``intro`` too
    # The issue's date and time in feeds and emails, fixed when it was published, so that a
    # later change of the schedule or the timezone does not move it (core/timing.issue_time).
    published_at: dt.datetime | None = None
    # When a forced rebuild last changed the published issue (a correction): feeds give it as
    # the entry's modification date so that readers show the corrected issue again.
    updated_at: dt.datetime | None = None
    # The pin and exclude entries of overrides.yaml as the build applied them: publish finds
    # an entry taken out since (an article the editor wants back), and explain and the
    # preview of a published issue say what shaped it. None: a published issue.json written
    # before issues kept them (no record, which is not the same as no entries).
    pins: tuple[str, ...] | None = ()
    excludes: tuple[str, ...] | None = ()

    @property
    def placed(self) -> tuple[PlacedArticle, ...]:
        return tuple(p for s in self.sections for p in s.articles)


class Status:
    """What happened to one article file in one issue (see ``newsletter explain``)."""

    PLACED = "placed"
    FOLDED = "folded"
    BELOW_CUT = "below_cut"
    BELOW_MIN_QUALITY = "below_min_quality"
    NO_TOPIC = "no_topic"
    ALREADY_PUBLISHED = "already_published"
    EXCLUDED = "excluded"
    OUTSIDE_WINDOW = "outside_window"
    INVALID = "invalid"


class FoldRule:
    """Why a folded article tells the same story as the placed one (README, rule 6)."""

    SAME_URL = "same_url"
    SAME_TITLE = "same_title"
    RELATED_LINK = "related_link"
    SIMILAR_TEXT = "similar_text"


@dataclass(frozen=True)
class Fold:
    rule: str  # a FoldRule
    score: float | None = None  # similar_text: the cosine of the two texts
    terms: tuple[str, ...] = ()  # similar_text: the words that weighed most

    def __str__(self) -> str:
        if self.rule == FoldRule.SIMILAR_TEXT:
            return f"similar text {self.score:.2f} ({', '.join(self.terms)})"
        return {FoldRule.SAME_URL: "same URL", FoldRule.SAME_TITLE: "same title",
                FoldRule.RELATED_LINK: "linked as related"}[self.rule]


@dataclass(frozen=True, slots=True)
class Verdict:
    id: str
    path: str
    status: str
    title: str = ""
    published: dt.datetime | None = None
    quality: Number | None = None
    topic: str | None = None  # placed: its section
    position: int | None = None  # placed: 1-based place within the section
    folded_into: str | None = None  # folded: id of the placed article
    fold: Fold | None = None  # folded: the rule that folded it
    ranks: tuple[tuple[str, int, int], ...] = ()  # below the cut: (topic, rank, candidates)
    pinned: bool = False  # placed because the editor pinned it
    reason: str = ""  # a sentence an editor can read


@dataclass(frozen=True)
class EmptyTopic:
    """A configured topic that no article of the window could fill, and the topics of the
    window's articles, not configured, spelt close to it (a misspelt name in the config)."""
    name: str
    near: tuple[tuple[str, int], ...] = ()  # (an article topic as written, how many have it)
    featured: int = 0  # the window's articles with it featured in earlier issues already


@dataclass(frozen=True)
class Selection:
    issue: Issue
    verdicts: tuple[Verdict, ...]
    empty_topics: tuple[EmptyTopic, ...] = ()  # configured topics without a section
