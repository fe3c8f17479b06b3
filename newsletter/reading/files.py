"""Reading article files: one (every failure a Problem, never an exception), or many over
every core."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..core.errors import ArticleError
from ..core.models import Article, Problem
from ..core.urls import canonical_url
from . import cache as corpus_cache
from .article import parse_article
from .frontmatter import scan_front_matter
from .plan import Plan, Progress
from .reads import joined_topics
from .walk import Walked, article_id

MAX_FILE_BYTES = 2 * 1024 * 1024


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


_FILE_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _read_bytes(path: str, size: int) -> bytes:
    """The file's bytes, by plain system calls (a buffered file object costs more than the
    read of a small file); one grown past the limit since its stat is refused."""
    descriptor = os.open(path, _FILE_FLAGS)
    try:
        parts: list[bytes] = []
        total = 0
        while chunk := os.read(descriptor, size + 1 if not parts else 1 << 20):
            parts.append(chunk)
            total += len(chunk)
            if total > MAX_FILE_BYTES:
                raise _too_big(total)
    finally:
        os.close(descriptor)
    return parts[0] if len(parts) == 1 else b"".join(parts)

# What reading one file gave: (kind, published_us, canonical URL, cache payload, result,
# topics). ``result`` is None for a deferred file, and in worker processes (the payload
# travels); ``topics`` is a valid article's (:func:`reads.joined_topics`), "" for the rest.
FileRead = tuple[int, int | None, str | None, str | None, Article | Problem | None, str]


def read_file(relative: str, path: str, size: int, plan: Plan | None, *,
               encode: bool = False, keep: bool = True) -> FileRead:
    """Read one file, or only scan its date when ``plan`` says it cannot matter."""
    result: Article | Problem
    unreadable = False
    try:
        if size > MAX_FILE_BYTES:
            raise _too_big(size)
        text = _decode_utf8(_read_bytes(path, size))
        if plan is not None and plan.start_us is not None:
            # The URL matters only when an editor named files by URL (and costs a parse).
            published, url = scan_front_matter(text, url=bool(plan.wanted_canonical))
            canonical = canonical_url(url) if url is not None else None
            if plan.may_skip(article_id(relative), published, canonical):
                return corpus_cache.KIND_DEFERRED, published, canonical, None, None, ""
        result = parse_article(text, id=article_id(relative), path=relative)
    except ArticleError as error:
        result = Problem(relative, error.message, error.line)
    except OSError as error:
        result = Problem(relative, f"cannot be read: {error.strerror or error}")
        unreadable = True
    except RecursionError:
        result = Problem(relative, "YAML nested too deeply to read")
    kind, payload = corpus_cache.payload_for(result) if encode else (
        corpus_cache.KIND_ARTICLE if isinstance(result, Article) else corpus_cache.KIND_PROBLEM,
        None)
    if unreadable:  # access may come back with the file's stamp unchanged: never trusted
        kind = corpus_cache.KIND_UNREADABLE
    if isinstance(result, Article):
        return (kind, corpus_cache.microseconds(result.published), result.canonical_url,
                payload, result if keep else None, joined_topics(result.topics))
    return kind, None, None, payload, result if keep else None, ""


PARALLEL_MIN_FILES = 2000  # fewer files than this are read in this process

_CHUNK_FILES = 400



def _read_chunk(chunk: list[tuple[str, str, corpus_cache.Stamp]], plan: Plan,
                settled_before_ns: int) -> list[tuple[corpus_cache.Entry, str]]:
    """A worker's share, as cache rows with their topics: payloads travel back, not
    objects, so pickling stays cheap, and the parent has little left to do per file."""
    rows = []
    for relative, path, stamp in chunk:
        kind, published, canonical, payload, _, topics = read_file(
            relative, path, stamp[0], plan, encode=True, keep=False)
        rows.append((corpus_cache.entry(relative, stamp, settled_before_ns, kind, published,
                                        canonical, payload), topics))
    return rows


def _workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


Done = tuple[int, FileRead, "corpus_cache.Entry | None"]


def read_many(root: str, found: Walked, indexes: Sequence[int], plan: Plan, encode: bool,
               settled_before_ns: int, progress: Progress, keep: Keep) -> Iterator[Done]:
    """Read the given files, over every core when there are many (fork: the workers share
    the imported modules; only when no other thread runs, as fork copies no threads).
    Results go through ``keep`` as they come: a reading keeps only what it needs."""
    workers = _workers()
    if (len(indexes) < PARALLEL_MIN_FILES or workers < 2 or threading.active_count() > 1
            or sys.platform == "win32"):
        for index in indexes:
            relative, stamp = found[index]
            kind, published, canonical, payload, result, topics = read_file(
                relative, os.path.join(root, relative), stamp[0], plan, encode=encode)
            yield index, (kind, published, canonical, payload, keep(result, None), topics), None
            progress.advance()
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    size = max(50, min(_CHUNK_FILES, len(indexes) // (workers * 4) or 1))
    chunks = [indexes[i:i + size] for i in range(0, len(indexes), size)]
    paths, base = found.paths, os.path.join(root, "")
    jobs = ([(paths[i], base + paths[i], found.stamp(i)) for i in chunk] for chunk in chunks)
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        # A bounded number of chunks in flight: results wait in memory only that long.
        pending: list[Any] = []
        chunk_iter = iter(chunks)
        for job in jobs:
            pending.append((next(chunk_iter), pool.submit(_read_chunk, job, plan,
                                                           settled_before_ns)))
            if len(pending) < 4 * workers:
                continue
            yield from _collect(pending.pop(0), keep, progress)
        while pending:
            yield from _collect(pending.pop(0), keep, progress)


def _collect(done: tuple[list[int], Any], keep: Keep, progress: Progress) -> Iterator[Done]:
    chunk, future = done
    for index, (row, topics) in zip(chunk, future.result(), strict=True):
        result = keep(None, row) if row.payload is not None else None
        yield index, (row.kind, row.published_us, row.canonical, row.payload, result,
                      topics), row
    progress.advance(len(chunk))


# What a reading keeps of a file's result: the article, a brief of it, or nothing (None);
# a Problem always. Given the result, or else the cache row it can be decoded from.
Keep = Callable[[Article | Problem | None, "corpus_cache.Entry | None"], Article | Problem | None]


