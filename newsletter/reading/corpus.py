"""Read the article corpus: walk the folder, split front matter, parse it safely, validate.

One bad file never stops the others: :func:`read_corpus` returns the articles it could read
and a :class:`Problem` for each file it could not, naming the file, the line when known, and
what to fix.

Corpora grow to 100,000 files and more, so :func:`read_corpus` can keep what it read in a
cache (``cache.py``) and re-read only changed files, can leave unparsed the files a cheap,
sound scan of their ``publishedDateTime:`` line puts outside the issue's window, and reads
the rest over every core. None of this may change a result (``tests/test_cache.py``).
"""

from __future__ import annotations

import array
import contextlib
import gc
import itertools
import operator
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..core.codec import decode_article, decode_brief, decode_problem
from ..core.models import Article, Problem, Window
from . import cache as corpus_cache
from . import files
from .compact import CompactBuilder, Known, differing_rows, encode_changes, later_rows
from .plan import Plan, Progress, make_plan, wanted_names
from .reads import NO_DATE, FreshRows, Unread
from .topics import TopicTally, tally_rows
from .walk import Walked, article_id, unreadable_corpus, walk_corpus, walked_file

MAX_FILE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class CorpusReading:
    articles: tuple[Article, ...]
    problems: tuple[Problem, ...]
    # Files outside the window left out (see read_corpus): valid or not, they cannot change
    # the issue. ``unvalidated`` of them were never parsed, so an invalid one among them is
    # not in ``problems`` until a complete reading (check, explain, --strict) validates it.
    unread: int = 0
    unvalidated: int = 0
    # Valid files counted but not kept (``keep_articles=False``: check needs no article).
    counted: int = 0
    lookalikes: tuple[str, ...] = ()  # files not read for their suffix: walk.py says which

    @property
    def valid_count(self) -> int:
        return len(self.articles) + self.counted

    @property
    def file_count(self) -> int:
        return len(self.articles) + len(self.problems) + self.unread + self.counted



VALIDATE_ALL_BELOW = 2_000  # files


_SUFFIX = operator.itemgetter(slice(-3, None))  # ".md" or "txt"

def read_corpus(root: Path, *, cache_dir: Path | None = None, window: Window | None = None,
                wanted: Iterable[str] = (), progress: bool | None = None,
                brief_outside: Window | None = None, keep_articles: bool = True,
                keep_open: tuple[Path, ...] = (), keep_within: Iterable[Window] = (),
                tally: TopicTally | None = None) -> CorpusReading:
    """See :func:`_read_corpus`; the cyclic garbage collector is paused meanwhile, as the
    hundreds of thousands of small objects it would scan over and over hold no cycles, and
    what was read is then moved out of its reach for good (``gc.freeze``): it lives as long
    as the run, and collecting it once would cost more than all the rest."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _read_corpus(root, cache_dir=cache_dir, window=window, wanted=wanted,
                            progress=progress, brief_outside=brief_outside,
                            keep_articles=keep_articles, keep_open=keep_open,
                            keep_within=keep_within, tally=tally)
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


def _read_corpus(root: Path, *, cache_dir: Path | None, window: Window | None,
                 wanted: Iterable[str], progress: bool | None, brief_outside: Window | None,
                 keep_articles: bool, keep_open: tuple[Path, ...],
                 keep_within: Iterable[Window], tally: TopicTally | None) -> CorpusReading:
    """Read every article file below ``root``; the first file to claim an id keeps it.

    With ``cache_dir``, what each file read as is kept there (``cache.py``; the folder made
    private unless it holds one of ``keep_open``) and only new or changed files are read
    again. With ``window``, a file whose publishedDateTime is known, without a full parse,
    to lie outside it may be left unvalidated: valid or not it cannot be in the issue.
    Files named by ``wanted`` (an editor's pins and excludes: ids or URLs) and the newest
    valid article (an empty issue names its date) are always read. Without ``window`` every
    file is validated, as ``check``, ``explain`` and ``--strict`` need.

    Memory stays bounded by what the caller keeps: with ``brief_outside``, a valid article
    published outside that window (and not wanted) is kept as a brief (:func:`brief`: what
    explain reports of it); with ``keep_articles=False`` valid articles are only counted,
    but for those ``wanted`` names and those published within ``keep_within`` (check
    resolves the drafts' pins and excludes with them). With ``tally``, the topics of the
    valid articles are added to it (check's configured topics no article has): those of
    the rows counted unread are taken from the compact table, not from their payloads.
    """
    # A file changed this close to now could change again within its timestamp's tick.
    settled_before_ns = time.time_ns() - corpus_cache.RACY_MARGIN_NS
    try:
        found, walk_problems = walk_corpus(root)
    except OSError as error:
        raise unreadable_corpus(root, error) from error
    root_path = str(root)
    # A small corpus is validated whole, even for a build: it costs next to nothing and every
    # invalid file is reported at once. Skipping files outside the window pays off at scale.
    plan = make_plan(window if len(found) >= VALIDATE_ALL_BELOW else None, wanted)
    wanted_plan = make_plan(brief_outside, wanted) if brief_outside is not None else plan
    cache = (corpus_cache.CorpusCache.open(cache_dir, root, keep_open)
             if cache_dir is not None else None)
    known = cache.load() if cache is not None else Known.empty()
    slots: list[Article | Problem | None] = [None] * len(found)
    same = array.array("q", [-1]) * len(found)  # the compact row a file matched, or -1
    skipped = Unread()  # files left unread
    to_read = array.array("q")  # files to read (an array: a million on a cold build)
    to_fetch: dict[str, int] = {}  # cached rows to decode: relative path -> index
    counted = 0
    untallied = array.array("q")  # the table's rows of valid articles counted unread
    # Without keep_articles, the articles an editor's pin or exclude names are kept all the
    # same (a handful), and those of keep_within's windows (a week's each): looked for only
    # when there is one.
    keep_ids, keep_urls = (frozenset(), frozenset()) if keep_articles else wanted_names(wanted)
    spans = [] if keep_articles else [(corpus_cache.microseconds(w.start),
                                       corpus_cache.microseconds(w.end)) for w in keep_within]

    def within(published_us: int) -> bool:
        return any(start <= published_us < end for start, end in spans)

    def named(article: Article) -> bool:
        return (article.id in keep_ids or article.canonical_url in keep_urls
                or within(corpus_cache.microseconds(article.published)))

    def keep(result: Article | Problem | None, row: corpus_cache.Entry | None
             ) -> Article | Problem | None:
        nonlocal counted
        if result is None:
            if row is None or row.payload is None:
                return None
            if row.kind == corpus_cache.KIND_PROBLEM:
                return decode_problem(row.payload)
            if not keep_articles:
                article = decode_article(row.payload)
                if tally is not None:
                    tally.add(article.topics)
                if named(article):
                    return article
                counted += 1
                return None
            if brief_outside is not None and wanted_plan.may_skip(
                    article_id(row.path), row.published_us, row.canonical):
                return decode_brief(row.payload, row.path)
            return decode_article(row.payload)
        if isinstance(result, Problem):
            return result
        if tally is not None:
            tally.add(result.topics)
        if not keep_articles:
            if named(result):
                return result
            counted += 1
            return None
        if brief_outside is not None and wanted_plan.may_skip(
                article_id(result.path), corpus_cache.microseconds(result.published),
                result.canonical_url):
            return brief(result)
        return result

    # Which ids are claimed twice: only files of both suffixes can share one.
    paths = found.paths
    suffixes = set(map(_SUFFIX, paths))
    claims: dict[str, str] | None = {} if len(suffixes) > 1 else None
    # A build of a folder walked as the table lists it (the common case: nothing added,
    # removed or renamed) decides at C speed which rows can be left as they are: unchanged,
    # settled, valid or deferred, outside the window and not wanted. The loop below then
    # sees only the others; ``bulk`` counts the rest, unread, and how many were deferred.
    bulk = bulk_deferred = 0
    rows: Iterable[int] = range(len(found))
    listed = known.lists(paths)  # asked once: at scale the comparison takes a while
    if claims is None and plan.start_us is not None and listed:
        known.paths = paths  # equal: one copy of a million paths is enough
        rows = _rows_to_decide(found, known, plan)
        same = array.array("q", range(len(found)))
        for index in rows:
            same[index] = -1
        flags = known.flags
        bulk = len(found) - len(rows)
        bulk_deferred = flags.count(_DEFERRED_SETTLED) - sum(
            flags[index] == _DEFERRED_SETTLED for index in rows)
    # The table's row of each walked file, where it is not the file's own index.
    table_rows: array.array | None = None
    vanished: list[str] = []  # the table's files no longer walked
    if not listed:
        table_rows, vanished = known.rows_of(paths)
    # This loop runs for every file on every build: the plan's test is inlined.
    sizes, mtimes, inos, ctimes = known.sizes, known.mtimes, known.inos, known.ctimes
    flags, published_of = known.flags, known.published
    start_us, end_us = plan.start_us, plan.end_us
    by_id, by_url = plan.wanted_ids, plan.wanted_canonical
    for index in rows:
        relative, stamp = found[index]
        if claims is not None:
            id = relative.rpartition(".")[0]  # article_id(), inlined
            if id in claims:
                slots[index] = Problem(relative,
                                       f"same id {id!r} as {claims[id]}: rename one of them")
                if table_rows is None or table_rows[index] >= 0:
                    vanished.append(relative)  # not read under that id: its row goes
                continue
            claims[id] = relative
        at = index if table_rows is None else table_rows[index]
        # Equal stamps, all four fields (never ordered: mtimes can go backwards), trusted.
        if (at < 0 or not flags[at] & 1 or mtimes[at] != stamp[1] or sizes[at] != stamp[0]
                or inos[at] != stamp[2] or ctimes[at] != stamp[3]):
            to_read.append(index)
            continue
        same[index] = at
        kind = flags[at] >> 1
        if kind == corpus_cache.KIND_PROBLEM:
            to_fetch[relative] = index
            continue
        published = published_of[at]
        if (start_us is not None and published != NO_DATE
                and not start_us <= published < end_us
                and not (by_id and relative.rpartition(".")[0] in by_id)
                and not (by_url and ((url := known.canonical(at)) is None or url in by_url))):
            skipped.add(published, index, kind)
        elif kind != corpus_cache.KIND_ARTICLE:
            to_read.append(index)  # deferred before, needed now
        elif keep_articles or (keep_ids and relative.rpartition(".")[0] in keep_ids) or (
                keep_urls and ((url := known.canonical(at)) is None or url in keep_urls)) or (
                spans and within(published)):
            to_fetch[relative] = index  # check: decoded only when a pin or exclude may name it
        else:
            counted += 1
            if tally is not None:
                untallied.append(at)

    writer = cache.writer() if cache is not None and cache.usable else None
    fresh = FreshRows(len(found))  # rows written: the compact table needs them

    def record(index: int, read: files.FileRead, row: corpus_cache.Entry | None = None
               ) -> None:
        kind, published, canonical, payload, result, topics = read
        if kind == corpus_cache.KIND_DEFERRED:
            skipped.add(published, index, kind)  # type: ignore[arg-type]  # deferred: has a date
        else:
            slots[index] = result
        same[index] = -1  # the compact table takes the new row
        if writer is not None:
            if row is None:
                relative, stamp = found[index]
                row = corpus_cache.entry(relative, stamp, settled_before_ns, kind, published,
                                         canonical, payload)
            if row.payload is not None:  # a deferred file's row is all in the compact table
                writer.add(row)
            fresh.add(index, *row[1:9], topics)

    # A row's canonical URL matters only to an editor's pin or exclude naming a URL: without
    # one, the table's URLs (a million strings at scale) are not decoded for the rows.
    urls = brief_outside is not None and bool(wanted_plan.wanted_canonical)
    if cache is not None and to_fetch:
        for relative, kind, payload in cache.payloads(
                list(to_fetch), lambda relative: found.stamp(to_fetch[relative])):
            index = to_fetch[relative]
            try:
                if kind == corpus_cache.KIND_PROBLEM:
                    slots[index] = decode_problem(payload)
                else:  # the walk's path: a brief keeps it, not a second copy per file
                    slots[index] = keep(None, corpus_cache.known_row(
                        known, same[index], paths[index], kind, payload, url=urls))
            except (ValueError, TypeError, KeyError):
                continue
            del to_fetch[relative]
        to_read.extend(to_fetch.values())  # rows gone or unreadable since: read the files
        to_read = array.array("q", sorted(to_read))

    meter = Progress(len(to_read), progress)
    try:
        for index, read, done in files.read_many(root_path, found, to_read, plan,
                                            writer is not None, settled_before_ns, meter, keep):
            record(index, read, done)
    finally:
        meter.close()

    # The newest valid article must be known (an empty issue names its date): read unread
    # files newest first until one is valid or none can be newer than a valid one.
    newest = max((corpus_cache.microseconds(a.published) for a in filter(None, slots)
                  if isinstance(a, Article)), default=None)
    newer = skipped.take_newer(newest)
    if bulk:  # the rows left as they were that could be newer join the loop below
        later = later_rows(known, newest, set(rows))
        newer = sorted(newer + later, reverse=True)
        bulk -= len(later)
        bulk_deferred -= sum(kind == corpus_cache.KIND_DEFERRED for _, _, kind in later)
    newer.reverse()  # oldest first: the newest is popped from the end
    while newer and (newest is None or newer[-1][0] > newest):
        _published, index, kind = newer.pop()
        relative, stamp = found[index]
        if kind == corpus_cache.KIND_ARTICLE and cache is not None:  # valid: its row will do
            with contextlib.suppress(ValueError, TypeError, KeyError):
                row_of = cache.payloads([relative], {relative: stamp}.__getitem__)
                for _relative, _kind, payload in row_of:
                    slots[index] = article = decode_article(payload)
                    newest = corpus_cache.microseconds(article.published)
            if slots[index] is not None:
                continue
        read = files.read_file(relative, os.path.join(root_path, relative), stamp[0], None,
                          encode=writer is not None)
        record(index, read)
        if isinstance(read[4], Article):
            newest = corpus_cache.microseconds(read[4].published)

    if tally is not None:
        tally_rows(known, untallied, tally)
    if writer is not None:
        compact = changes = None
        if fresh or vanished or not listed:
            # The same files in the same order, each kept or read again: a few changed
            # rows are written on their own, not the whole table.
            if not vanished and listed and same.count(-1) == len(fresh):
                changes = encode_changes(known, fresh, writer.cache.format)
            if changes is None:
                compact = CompactBuilder.from_walk(known, paths, same, fresh, same_paths=listed)
        writer.close(vanished, compact, changes)
    kept = list(filter(None, slots))  # (most slots are empty on a warm build)
    return CorpusReading(
        tuple(a for a in kept if isinstance(a, Article)),
        tuple(p for p in kept if isinstance(p, Problem)) + tuple(walk_problems),
        unread=len(skipped) + len(newer) + bulk,
        unvalidated=(skipped.count(corpus_cache.KIND_DEFERRED) + bulk_deferred
                     + sum(kind == corpus_cache.KIND_DEFERRED for _, _, kind in newer)),
        counted=counted, lookalikes=tuple(found.lookalikes),
    )


_DEFERRED_SETTLED = 1 | corpus_cache.KIND_DEFERRED << 1  # the flags of such a row
_ARTICLE_SETTLED = 1 | corpus_cache.KIND_ARTICLE << 1


def _rows_to_decide(found: Walked, known: Known, plan: Plan) -> list[int]:
    """The rows of a table listing the walk's files in its order that a reading must look
    at one by one: changed files, rows not settled or holding a problem, files in the
    window or wanted by an editor. Each test runs at C speed over the columns."""
    count = len(found)
    decide = set(itertools.compress(range(count), differing_rows(found.stamps,
                                                                  known.columns[:4])))
    flags = known.flags
    decide.update(index for index in itertools.compress(
        range(count), map(operator.ne, flags, itertools.repeat(_ARTICLE_SETTLED)))
        if flags[index] != _DEFERRED_SETTLED)
    published, start_us, end_us = known.published, plan.start_us, plan.end_us
    assert start_us is not None and end_us is not None  # the caller's plan has a window
    decide.update(index for index in itertools.compress(
        range(count), map(operator.le, itertools.repeat(start_us), published))
        if published[index] < end_us)
    if plan.wanted_ids:
        decide.update(row for id in plan.wanted_ids for suffix in (".md", ".txt")
                      if (row := known.index.get(id + suffix)) is not None)
    if plan.wanted_canonical:  # a row without a URL may be the one named
        decide.update(index for index, url in enumerate(known.canonical_list())
                      if not url or url in plan.wanted_canonical)
    return sorted(decide)


def read_article_file(root: Path, relative: str) -> Article | Problem | None:
    """The one file ``root/relative`` read as :func:`read_corpus` reads it (no cache, no
    date scan; links followed by the walk's rule): None when the walk would not list it."""
    found = walked_file(root, relative)
    if not isinstance(found, os.stat_result):
        return found
    return files.read_file(relative, str(root / relative), found.st_size, None)[4]


def brief(article: Article) -> Article:
    """What explain reports of an article outside the issue's window (its id, title, date,
    quality): the rest is left out, so that a million of them fit in memory. Never rendered:
    selection places nothing outside the window. Its URLs are left out too: an editor's pin
    or exclude can name only an article the reading kept whole (``wanted``)."""
    return Article(id=article.id, path=article.path, title=article.title, url="",
                   canonical_url="", domain="", published=article.published,
                   quality=article.quality, heat=article.heat)
