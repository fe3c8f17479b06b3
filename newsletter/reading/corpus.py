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

import contextlib
import gc
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..core.codec import decode_article, decode_problem
from ..core.errors import ArticleError
from ..core.models import Article, Problem, Window
from ..core.urls import canonical_url
from . import cache as corpus_cache
from .article import parse_article
from .cache import CANONICAL, KIND, PROBLEM, PUBLISHED_US, TRUSTED
from .frontmatter import scan_front_matter
from .plan import Plan, Progress, make_plan
from .walk import Found, article_id, walk_corpus

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

    @property
    def file_count(self) -> int:
        return len(self.articles) + len(self.problems) + self.unread



# -- reading one file ----------------------------------------------------------------------

def _decode_utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ArticleError(
            f"not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}): "
            "save the file as UTF-8",
            line=data.count(b"\n", 0, error.start) + 1,
        ) from None


def _too_big(size: int) -> ArticleError:
    return ArticleError(
        f"file is {size / 1024 / 1024:.1f} MB, over the "
        f"{MAX_FILE_BYTES // 1024 // 1024} MB limit for an article: not read; "
        "is it really an article?"
    )



# What reading one file gave: (kind, published_us, canonical URL, cache payload, result).
# ``result`` is None for a deferred file, and in worker processes (the payload travels).
_Read = tuple[int, int | None, str | None, str | None, Article | Problem | None]


def _read_file(relative: str, path: str, size: int, plan: Plan | None, *,
               encode: bool = False, keep: bool = True) -> _Read:
    """Read one file, or only scan its date when ``plan`` says it cannot matter."""
    result: Article | Problem
    try:
        if size > MAX_FILE_BYTES:
            raise _too_big(size)
        with open(path, "rb") as handle:
            text = _decode_utf8(handle.read())
        if plan is not None and plan.start_us is not None:
            # The URL matters only when an editor named files by URL (and costs a parse).
            published, url = scan_front_matter(text, url=bool(plan.wanted_canonical))
            canonical = canonical_url(url) if url is not None else None
            if plan.may_skip(article_id(relative), published, canonical):
                return corpus_cache.KIND_DEFERRED, published, canonical, None, None
        result = parse_article(text, id=article_id(relative), path=relative)
    except ArticleError as error:
        result = Problem(relative, error.message, error.line)
    except OSError as error:
        result = Problem(relative, f"cannot be read: {error.strerror or error}")
    except RecursionError:
        result = Problem(relative, "YAML nested too deeply to read")
    kind, payload = corpus_cache.payload_for(result) if encode else (
        corpus_cache.KIND_ARTICLE if isinstance(result, Article) else corpus_cache.KIND_PROBLEM,
        None)
    if isinstance(result, Article):
        return (kind, corpus_cache.microseconds(result.published), result.canonical_url,
                payload, result if keep else None)
    return kind, None, None, payload, result if keep else None


# -- the cheap date scan -------------------------------------------------------------------
#
# Sound, not clever: it answers only for front matter whose top level is plainly a block
# mapping of simple keys, where a `publishedDateTime:` line at column 0 can only be that key.
# Anything unusual (quoted or complex keys, flow or indentless collections at column 0,
# YAML's other line breaks, a value that could continue on the next line, a second
# `publishedDateTime` key, a date in another spelling) gets no answer, and the file is parsed.
# The promise is one-way: *if* the file is valid, its publishedDateTime is the scanned one.
PARALLEL_MIN_FILES = 2000  # fewer files than this are read in this process

_CHUNK_FILES = 400

VALIDATE_ALL_BELOW = 2_000  # files


def _read_chunk(chunk: list[Found], plan: Plan, settled_before_ns: int
                ) -> list[corpus_cache.Entry]:
    """A worker's share, as cache rows: payloads travel back, not objects, so pickling
    stays cheap, and the parent has little left to do per file."""
    rows = []
    for relative, path, stamp in chunk:
        kind, published, canonical, payload, _ = _read_file(relative, path, stamp[0], plan,
                                                            encode=True, keep=False)
        rows.append(corpus_cache.entry(relative, stamp, settled_before_ns, kind, published,
                                       canonical, payload))
    return rows


def _workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


_Done = tuple[int, _Read, "corpus_cache.Entry | None"]


def _read_many(found: list[Found], indexes: list[int], plan: Plan, encode: bool,
               settled_before_ns: int, progress: Progress) -> Iterator[_Done]:
    """Read the given files, over every core when there are many (fork: the workers share
    the imported modules; only when no other thread runs, as fork copies no threads)."""
    workers = _workers()
    if (len(indexes) < PARALLEL_MIN_FILES or workers < 2 or threading.active_count() > 1
            or sys.platform == "win32"):
        for index in indexes:
            relative, path, stamp = found[index]
            yield index, _read_file(relative, path, stamp[0], plan, encode=encode), None
            progress.advance()
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    size = max(50, min(_CHUNK_FILES, len(indexes) // (workers * 4) or 1))
    chunks = [indexes[i:i + size] for i in range(0, len(indexes), size)]
    jobs = [[found[i] for i in chunk] for chunk in chunks]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        results = pool.map(_read_chunk, jobs, [plan] * len(jobs),
                           [settled_before_ns] * len(jobs))
        for chunk, rows in zip(chunks, results, strict=True):
            for index, row in zip(chunk, rows, strict=True):
                result = None if row.payload is None else corpus_cache.decode(row.kind,
                                                                               row.payload)
                yield index, (row.kind, row.published_us, row.canonical, row.payload,
                              result), row
            progress.advance(len(chunk))


def read_corpus(root: Path, *, cache_dir: Path | None = None, window: Window | None = None,
                wanted: Iterable[str] = (), progress: bool | None = None) -> CorpusReading:
    """See :func:`_read_corpus`; the cyclic garbage collector is paused meanwhile, as the
    hundreds of thousands of small objects it would scan over and over hold no cycles."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _read_corpus(root, cache_dir=cache_dir, window=window, wanted=wanted,
                            progress=progress)
    finally:
        if collecting:
            gc.enable()


def _read_corpus(root: Path, *, cache_dir: Path | None, window: Window | None,
                 wanted: Iterable[str], progress: bool | None) -> CorpusReading:
    """Read every article file below ``root``; the first file to claim an id keeps it.

    With ``cache_dir``, what each file read as is kept there (``cache.py``) and only new or
    changed files are read again. With ``window``, a file whose publishedDateTime is known,
    without a full parse, to lie outside it may be left unvalidated: valid or not it cannot
    be in the issue. Files named by ``wanted`` (an editor's pins and excludes: ids or URLs)
    and the newest valid article (an empty issue names its date) are always read. Without
    ``window`` every file is validated, as ``check``, ``explain`` and ``--strict`` need.
    """
    # A file changed this close to now could change again within its timestamp's tick.
    settled_before_ns = time.time_ns() - corpus_cache.RACY_MARGIN_NS
    found, walk_problems = walk_corpus(root)
    # A small corpus is validated whole, even for a build: it costs next to nothing and every
    # invalid file is reported at once. Skipping files outside the window pays off at scale.
    plan = make_plan(window if len(found) >= VALIDATE_ALL_BELOW else None, wanted)
    cache = corpus_cache.CorpusCache.open(cache_dir, root) if cache_dir is not None else None
    known = cache.load(canonical=bool(plan.wanted_canonical)) if cache is not None else {}
    slots: list[Article | Problem | None] = [None] * len(found)
    skipped: list[tuple[int, int, int]] = []  # (published_us, index, kind) left unread
    to_read: list[int] = []
    to_decode: dict[str, int] = {}
    seen: dict[str, str] = {}
    pop, may_skip = known.pop, plan.may_skip  # (this loop runs for every file, every build)
    for index, (relative, _path, stamp) in enumerate(found):
        id = relative.rpartition(".")[0]  # article_id(), inlined
        if id in seen:
            slots[index] = Problem(relative, f"same id {id!r} as {seen[id]}: rename one of them")
            continue
        seen[id] = relative
        row = pop(relative, None)  # what is left at the end has vanished
        # Equal stamps, all four fields (never ordered: mtimes can go backwards), trusted.
        if row is None or not row[TRUSTED] or row[1:5] != stamp:
            to_read.append(index)
        elif row[KIND] == corpus_cache.KIND_PROBLEM:
            try:
                slots[index] = decode_problem(row[PROBLEM])  # type: ignore[arg-type]  # a problem row has one
            except (ValueError, TypeError):
                to_read.append(index)
        elif may_skip(id, row[PUBLISHED_US], row[CANONICAL]):
            skipped.append((row[PUBLISHED_US], index, row[KIND]))  # type: ignore[arg-type]  # may_skip: set
        elif row[KIND] == corpus_cache.KIND_ARTICLE:
            to_decode[relative] = index
        else:
            to_read.append(index)  # deferred before, needed now

    writer = cache.writer() if cache is not None and cache.usable else None

    def record(index: int, read: _Read, row: corpus_cache.Entry | None = None) -> None:
        kind, published, canonical, payload, result = read
        if kind == corpus_cache.KIND_DEFERRED:
            skipped.append((published, index, kind))  # type: ignore[arg-type]  # deferred: has a date
        else:
            slots[index] = result
        if writer is not None:
            writer.add(row or corpus_cache.entry(found[index][0], found[index][2],
                                                 settled_before_ns, kind, published,
                                                 canonical, payload))

    if cache is not None and to_decode:
        for relative, payload in cache.payloads(to_decode):
            try:
                slots[to_decode[relative]] = decode_article(payload)
            except (ValueError, TypeError, KeyError):
                continue
            del to_decode[relative]
        to_read.extend(to_decode.values())  # rows gone or unreadable since: read the files
        to_read.sort()

    meter = Progress(len(to_read), progress)
    try:
        for index, read, row in _read_many(found, to_read, plan, writer is not None,
                                           settled_before_ns, meter):
            record(index, read, row)
    finally:
        meter.close()

    # The newest valid article must be known (an empty issue names its date): read unread
    # files newest first until one is valid or none can be newer than a valid one.
    newest = max((corpus_cache.microseconds(a.published) for a in slots
                  if isinstance(a, Article)), default=None)
    skipped.sort(reverse=True)
    while skipped and (newest is None or skipped[0][0] > newest):
        _published, index, kind = skipped.pop(0)
        relative, path, stamp = found[index]
        if kind == corpus_cache.KIND_ARTICLE and cache is not None:  # valid: its row will do
            with contextlib.suppress(ValueError, TypeError, KeyError):
                for _relative, payload in cache.payloads([relative]):
                    slots[index] = article = decode_article(payload)
                    newest = corpus_cache.microseconds(article.published)
            if slots[index] is not None:
                continue
        read = _read_file(relative, path, stamp[0], None, encode=writer is not None)
        record(index, read)
        if isinstance(read[4], Article):
            newest = corpus_cache.microseconds(read[4].published)

    if writer is not None:
        writer.close(list(known))
    return CorpusReading(
        tuple(a for a in slots if isinstance(a, Article)),
        tuple(p for p in slots if isinstance(p, Problem)) + tuple(walk_problems),
        unread=len(skipped),
        unvalidated=sum(1 for _p, _i, kind in skipped if kind == corpus_cache.KIND_DEFERRED),
    )


def read_article_file(root: Path, relative: str) -> Article | Problem | None:
    """The one file ``root/relative`` read as :func:`read_corpus` reads it (no cache, no
    date scan): None when it is not there any more or is not a regular file."""
    path = root / relative
    try:
        info = path.stat()
    except OSError:
        return None
    if not path.is_file():
        return None
    return _read_file(relative, str(path), info.st_size, None)[4]
