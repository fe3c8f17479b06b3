"""Drafts rendered in memory, and the cache that keeps them until something they are made
of changes.

A draft is :func:`newsletter.publishing.build.read_and_select` and
:func:`newsletter.publishing.rendered.render_issue_files` without the writing: previewing never
writes to the output folder and never publishes. The cache holds the latest configuration
and one draft per date; the watcher calls :meth:`DraftCache.changed` when a file changes,
which empties it and moves the version token on; the next request renders again.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...core.config import Config, load_config
from ...core.errors import NewsletterError
from ...core.models import Problem, Selection
from ...publishing.build import read_and_select, why_empty
from ...publishing.editing import (
    NOT_APPLIED,
    correcting,
    edits_since_published,
    placing_nothing,
    published_with,
)
from ...publishing.issues import IssueStore
from ...publishing.rendered import render_issue_files
from ...reading.corpus import CorpusReading
from ...rendering.mail import preheader, subject_line
from ...selecting.overrides import OVERRIDES_FILE
from .tracking import CorpusTracker

log = logging.getLogger("newsletter.preview")


@dataclass(frozen=True)
class Draft:
    """One issue rendered in memory, with what the editor's page shows about it."""

    slug: str
    version: str  # the version token it was rendered at
    selection: Selection
    files: dict[str, bytes] = field(default_factory=dict)  # email.html, email.txt, ...
    subject: str = ""
    preheader: str = ""
    size_warning: str | None = None
    empty_reason: str = ""
    published: bool = False  # this date is published: the draft shows what a rebuild gives
    edits_not_published: tuple[str, ...] = ()  # overrides.yaml's keys the published issue lacks
    edits_placing_nothing: str = ""  # what explain says when those place nothing differently
    correcting: str = ""  # how the published issue gets those edits, as explain and publish say
    published_with: str = ""  # the pin and exclude entries the published issue was built with
    problems: tuple[Problem, ...] = ()
    warnings: tuple[str, ...] = ()
    unapplied: tuple[str, ...] = ()  # overrides.yaml's entries that name nothing: left out
    reading: CorpusReading | None = field(default=None, repr=False, compare=False)
    unread: int = 0  # files outside the window that were not read (they cannot matter)
    newest: dt.datetime | None = None  # the newest valid article's date, in any window

    @property
    def html_bytes(self) -> int:
        return len(self.files.get("email.html", b""))


def render_draft(config: Config, issue_date: dt.date, *, strict: bool = False,
                 version: str = "", reading: CorpusReading | None = None) -> Draft:
    """Select and render the issue dated ``issue_date`` in memory; writes nothing.

    Like ``build``, files a cheap scan puts outside the window are not parsed (with
    ``strict``, every file is): at 100,000 articles that is the difference between a
    fraction of a second and several. ``reading``: the corpus as already read for this
    date (see :mod:`.tracking`)."""
    store = IssueStore(config.output)
    result = read_and_select(config, issue_date, strict=strict, complete=strict, store=store,
                             reading=reading, lenient=True)
    issue = result.selection.issue
    published = issue_date in store.published_dates()
    stored = store.get(issue_date) if published else None
    # What the editor changed in overrides.yaml after the issue went out (a scheduled run
    # published it while they were still at it): the preview shows it, the issue lacks it.
    edits = edits_since_published(config, stored) if stored else ()
    # ... or only a new record of them, when they place nothing differently (as explain says)
    same = (placing_nothing(config, stored, edits, None if result.unapplied else issue)
            if stored else "")
    common: dict[str, Any] = dict(slug=issue.slug, version=version,
                                  selection=result.selection, published=published,
                                  edits_not_published=edits, edits_placing_nothing=same,
                                  correcting=correcting(config.path, issue.slug,
                                                        len(result.unapplied),
                                                        emptied=not issue.sections)
                                  if edits else "",
                                  published_with=published_with(stored) if stored else "",
                                  reading=result.reading,
                                  problems=result.problems, warnings=result.warnings,
                                  unapplied=tuple(f"{p} ({NOT_APPLIED})"
                                                  for p in result.unapplied),
                                  unread=result.reading.unread,
                                  newest=max((a.published for a in result.reading.articles),
                                             default=None))
    if not issue.sections:
        return Draft(empty_reason=why_empty(result), **common)
    others = [p for p in store.published() if p.slug != issue.slug]
    files, warning = render_issue_files(issue, config, others)
    if warning and strict:
        raise NewsletterError(f"issue {issue.slug}: {warning} (an error with --strict)")
    prefix = f"{issue.slug}/"
    return Draft(files={k.removeprefix(prefix): v for k, v in files.items()},
                 subject=subject_line(config, issue), preheader=preheader(issue, config.words),
                 size_warning=warning, **common)


class DraftCache:
    """The latest configuration, the version token, and the drafts rendered at it.

    Shared by the request threads and the watcher thread. One lock keeps two requests from
    rendering the same draft twice; a condition wakes the event streams on a change.
    """

    def __init__(self, config_path: Path, *, strict: bool = False) -> None:
        self.config_path = config_path
        self.strict = strict
        self._config: Config | None = None
        self._config_error: str | None = None
        self._drafts: dict[str, Draft | str] = {}  # slug -> draft, or the error's message
        self._readings: dict[str, CorpusReading] = {}  # slug -> the corpus as read for it
        self._tracker: CorpusTracker | None = None
        self._lock = threading.RLock()
        self._changed = threading.Condition()
        # A token no earlier run of the server used: a page rendered before a restart
        # reloads when its event stream reconnects to the new server.
        self._boot = secrets.token_hex(4)
        self._generation = 0
        self.closed = False
        self._load_config()

    @property
    def version(self) -> str:
        return f"{self._boot}-{self._generation}"

    def _load_config(self) -> None:
        try:
            self._config = load_config(self.config_path, strict=self.strict)
            self._config_error = None
        except NewsletterError as error:
            self._config_error = str(error)

    def changed(self, paths: Iterable[str] | None = None) -> str:
        """Something a draft is made of changed (``paths``; None: anything may have): read
        the config again, forget the drafts, move the version on and wake the event
        streams. The corpus files among ``paths`` are read again now, one by one, where
        that is sure to give what reading the whole corpus would. The new version token."""
        with self._lock:
            corpus = self._config.corpus if self._config is not None else None
            self._load_config()
            moved = self._config is None or self._config.corpus != corpus
            if paths is None or moved:
                self._readings.clear()
                self._tracker = None
            else:
                self._patch_readings(list(paths))
            self._drafts.clear()
            self._generation += 1
            version = self.version
        with self._changed:
            self._changed.notify_all()
        return version

    def _patch_readings(self, paths: list[str]) -> None:
        tracker = self._tracker
        if tracker is None or any(Path(p).name == OVERRIDES_FILE for p in paths):
            self._readings.clear()  # pins and excludes decide which files are read
            return
        inside = [tracker.relative(p) for p in paths]
        files = tracker.patchable(r for r in inside if r is not None)
        if files is None:
            self._readings.clear()
            self._tracker = None
            return
        if files:
            now = tracker.read(files)
            for slug, reading in self._readings.items():
                self._readings[slug] = tracker.patch(reading, now)
            tracker.settle(now)

    @property
    def config(self) -> Config:
        """The current configuration; raises NewsletterError (the page shows it) when the
        config file is broken."""
        with self._lock:
            if self._config_error is not None or self._config is None:
                raise NewsletterError(self._config_error or "no configuration")
            return self._config

    @property
    def last_good_config(self) -> Config | None:
        """The configuration as last loaded without error (the watcher keeps watching its
        folders while the config file is broken)."""
        return self._config

    def draft(self, issue_date: dt.date) -> Draft:
        """The draft for the current files, rendered now if they changed since; raises
        NewsletterError (with the message the page shows) when it cannot be built."""
        slug = issue_date.isoformat()
        with self._lock:
            cached = self._drafts.get(slug)
            if cached is None:
                try:
                    config = self.config
                    if self._tracker is None:  # which files exist, to patch readings later
                        self._tracker = CorpusTracker(config.corpus)
                        self._readings.clear()
                    cached = render_draft(config, issue_date, strict=self.strict,
                                          version=self.version,
                                          reading=self._readings.get(slug))
                    if cached.reading is not None:
                        self._readings[slug] = cached.reading
                except NewsletterError as error:
                    cached = str(error)
                except Exception as error:  # a broken template: show it, keep serving
                    log.exception("rendering draft %s failed", slug)
                    cached = f"unexpected {type(error).__name__}: {error}"
                self._drafts[slug] = cached
            if isinstance(cached, str):
                raise NewsletterError(cached)
            return cached

    def wait_for_change(self, version: str, timeout: float) -> str:
        """Block until the version is no longer ``version`` (or ``timeout`` seconds pass, or
        the cache is closed); the version then."""
        with self._changed:
            self._changed.wait_for(lambda: self.version != version or self.closed, timeout)
        return self.version

    def close(self) -> None:
        with self._changed:
            self.closed = True
            self._changed.notify_all()
