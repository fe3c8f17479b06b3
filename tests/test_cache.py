"""The corpus cache and the cold-build shortcuts never change a result.

The reference is the plain reading: every file read and validated, no cache, no window
(``read_corpus(root)``). Builds with the cache (cold, warm, after any edit) and with the
shortcut that leaves out-of-window files unvalidated must give byte-identical issue.json,
explain output and empty-issue message.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import PROJECT, make_config, run, write_article, write_config
from newsletter.core.codec import decode_article, encode_article
from newsletter.core.config import Config, load_config
from newsletter.core.errors import NewsletterError
from newsletter.core.models import Article, Image, Provider, RelatedItem
from newsletter.core.safeyaml import parse_yaml
from newsletter.publishing import build as build_module
from newsletter.publishing.build import read_and_select, why_empty
from newsletter.publishing.issuefile import issue_json
from newsletter.reading import cache as corpus_cache
from newsletter.reading import compact, corpus, files
from newsletter.reading.article import parse_instant
from newsletter.reading.frontmatter import scan_front_matter
from newsletter.reading.tablefiles import TableFiles
from newsletter.reading.topics import TopicTally
from newsletter.selecting.explain import explain_json
from newsletter.selecting.select import issue_window

DATE = dt.date(2021, 2, 22)  # window [2021-02-15, 2021-02-22) UTC
MARGIN_NS = 10_000_000  # tests wait this out instead of the real 2 s (see settle())

# Date spellings: in and out of the window, on its edges, and spellings the cheap scan must
# refuse (a value continued on the next line, a second key, a quoted key).
DATES = [
    "2021-02-17T12:00:00Z", '"2021-02-16T08:30:00Z"', "'2021-02-18'", "2021-02-15",
    "2021-02-15T00:00:00Z", "2021-02-14T23:59:59.999999Z", "2021-02-22T00:00:00Z",
    "2021-02-21T23:00:00-05:00", "2021-02-15 03:00:00+05:00", "2021-01-03T10:00:00Z",
    "2020-12-31", "2021-03-09T10:00:00Z", "2021-02-14\n  10:00:00",
    "2021-02-10T10:00:00Z\npublishedDateTime: 2021-02-17T10:00:00Z",
    "2021-02-10T10:00:00Z # comment", "yesterday", "2021-02-30",
]
TITLES = ["Robots walk", "Robots Walk!", "Chips shortage", "Vision models", ""]
URLS = ["https://a.example/1", "https://www.a.example/1/", "https://b.example/2",
        "https://c.example/3?utm_source=x", "not a url"]
NAMES = [f"{folder}{name}.md" for folder in ("", "sub/") for name in "abcdefg"]


@st.composite
def article_texts(draw: st.DrawFn) -> str:
    """An article file, valid or not, in the spellings the scan meets."""
    date = draw(st.sampled_from(DATES))
    title = draw(st.sampled_from(TITLES))
    url = draw(st.sampled_from(URLS))
    quality = draw(st.integers(10, 99))  # two digits: a same-size edit changes only these
    topic = draw(st.sampled_from(["AI", "Robotics", "Gardening"]))
    related = draw(st.sampled_from(["", "related:\n  - {title: Other, webUrl: "
                                        "'https://b.example/2', quality: 10}\n"]))
    key = draw(st.sampled_from(["publishedDateTime", '"publishedDateTime"']))
    closing = draw(st.sampled_from(["---", "---", "---", "..."]))
    return (f"---\ntitle: \"{title}\"\n{key}: {date}\nwebUrl: {url}\nquality: {quality}\n"
            f"topics: [{topic}]\n{related}{closing}\nbody\n")


Edit = tuple[str, int, str]  # (kind, file number, new text)
EDITS = st.tuples(
    st.sampled_from(["add", "modify", "delete", "rename", "touch", "backwards",
                     "same_size", "overrides", "twin"]),
    st.integers(0, len(NAMES) - 1), article_texts())


def settle() -> None:
    """Wait out the (test-sized) racy margin, as edits made well before a build would."""
    time.sleep(2 * MARGIN_NS / 1e9)


def apply(root: Path, folder: Path, edit: Edit) -> None:
    kind, number, text = edit
    path = root / NAMES[number]
    existing = sorted(p for p in root.rglob("*.md"))
    if kind == "add" or not existing:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    target = existing[number % len(existing)]
    info = target.stat()
    if kind == "modify":
        target.write_text(text, encoding="utf-8")
    elif kind == "delete":
        target.unlink()
    elif kind == "rename":
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(target, path)
    elif kind == "touch":
        os.utime(target)
    elif kind == "backwards":  # new content, and an mtime older than before
        target.write_text(text, encoding="utf-8")
        os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns - 10**9))
    elif kind == "same_size":  # replaced by another file of the same size and the same mtime
        old = target.read_text(encoding="utf-8")
        new = old.replace(f"quality: {old.split('quality: ')[1][:2]}",
                          f"quality: {text.split('quality: ')[1][:2]}")
        replacement = target.with_suffix(".tmp")
        replacement.write_text(new, encoding="utf-8")
        os.utime(replacement, ns=(info.st_atime_ns, info.st_mtime_ns))
        os.replace(replacement, target)
    elif kind == "twin":  # a .txt file claiming the id of a .md one, or no longer
        twin = target.with_suffix(".txt")
        if twin.exists():
            twin.unlink()
        else:
            twin.write_text(text, encoding="utf-8")
    elif kind == "overrides":  # the editor pins or excludes a file, by id or by URL
        entry = target.relative_to(root).with_suffix("").as_posix() if number % 2 else \
            URLS[number % len(URLS)]
        overrides = folder / "issues" / DATE.isoformat() / "overrides.yaml"
        overrides.parent.mkdir(parents=True, exist_ok=True)
        verb = "pin" if number % 3 == 0 else "exclude"
        overrides.write_text(f'{verb}: ["{entry}"]\n', encoding="utf-8")


def outcome(config: Config, *, complete: bool) -> tuple[str, ...]:
    """Everything a reader of the build or of explain sees, or the error it raised."""
    try:
        result = read_and_select(config, DATE, complete=complete)
    except NewsletterError as error:
        return ("error", str(error))
    seen = [issue_json(result.selection.issue).decode(), why_empty(result)
            if not result.selection.issue.sections else ""]
    if complete:
        seen.append(explain_json(result.selection))
        seen.append(str(result.problems))
    return tuple(seen)


def reference(config: Config, *, complete: bool, monkeypatch: pytest.MonkeyPatch) -> tuple:
    with monkeypatch.context() as patch:
        patch.setattr(build_module, "read_corpus", lambda root, **_: corpus.read_corpus(root))
        return outcome(config, complete=complete)


def _text(date: str = "2021-02-17T12:00:00Z", quality: int = 10) -> str:
    return (f'---\ntitle: "Robots walk"\npublishedDateTime: {date}\n'
            f"webUrl: https://a.example/1\nquality: {quality}\ntopics: [AI]\n---\nbody\n")


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
# The traps, always tried: a same-size replacement under the same mtime, an mtime moved
# back, a file moved into the window by a rename, a second key the scan must not trust.
@example(initial=[_text()], edits=[[("same_size", 0, _text(quality=55))]])
@example(initial=[_text(), _text("2021-01-01")], edits=[[("twin", 1, _text())], [("twin", 1, "")]])
@example(initial=[_text()], edits=[[("backwards", 0, _text(quality=55))]])
@example(initial=[_text(), _text("2021-01-01")],
         edits=[[("delete", 0, ""), ("rename", 0, _text())]])
@example(initial=[_text(DATES[13]), _text("2021-02-18")], edits=[[("touch", 1, "")]])
@example(initial=[_text("2021-01-01")], edits=[[("modify", 0, _text(DATES[13]))],
                                                [("overrides", 1, "")]])
@given(initial=st.lists(article_texts(), min_size=0, max_size=6),
       edits=st.lists(st.lists(EDITS, min_size=1, max_size=3), min_size=1, max_size=5))
def test_cached_builds_equal_uncached_builds_after_any_edits(initial, edits, monkeypatch):
    with tempfile.TemporaryDirectory() as temporary, monkeypatch.context() as patch:
        patch.setattr(corpus_cache, "RACY_MARGIN_NS", MARGIN_NS)
        folder = Path(temporary)
        config = make_config(folder, topics=["AI", "Robotics"])
        root = config.corpus
        for number, text in enumerate(initial):
            (root / NAMES[number]).parent.mkdir(parents=True, exist_ok=True)
            (root / NAMES[number]).write_text(text, encoding="utf-8")
        for batch in [[], *edits]:
            for edit in batch:
                apply(root, folder, edit)
            settle()
            for complete in (False, True, False):  # the build, explain, a warm build again
                expected = reference(config, complete=complete, monkeypatch=patch)
                assert outcome(config, complete=complete) == expected, (batch, complete)
            assert_lazily_decoded_equals_parsed(config)
            assert_table_fast_path_equals_file_by_file(config, patch)


def assert_table_fast_path_equals_file_by_file(config: Config,
                                               patch: pytest.MonkeyPatch) -> None:
    """A build's reading that decides at C speed which rows of the compact table stay as
    they are reads what deciding file by file reads, counts included."""
    window = issue_window(DATE, config.timezone, config.window_days)

    def reading() -> tuple:
        found = corpus.read_corpus(config.corpus, cache_dir=config.state_dir, window=window)
        return found.articles, found.problems, found.unread, found.unvalidated

    fast = reading()
    with patch.context() as inner:
        inner.setattr(corpus, "_rows_to_decide", lambda found, known, plan: range(len(found)))
        assert reading() == fast
    assert reading() == fast


def assert_lazily_decoded_equals_parsed(config: Config) -> None:
    """What the compact table leads a reading to decode from the cache (whole articles,
    briefs of those outside the window, or only a count) is what parsing the files gives."""
    plain = corpus.read_corpus(config.corpus)
    window = issue_window(DATE, config.timezone, config.window_days)
    cached = corpus.read_corpus(config.corpus, cache_dir=config.state_dir)
    assert cached.articles == plain.articles and cached.problems == plain.problems
    assert [a.body for a in cached.articles] == [a.body for a in plain.articles]
    briefs = corpus.read_corpus(config.corpus, cache_dir=config.state_dir, brief_outside=window)
    assert briefs.articles == tuple(a if a.published in window else corpus.brief(a)
                                    for a in plain.articles)
    assert all(a.body == "" and a.related == () for a in briefs.articles
               if a.published not in window)
    counted = corpus.read_corpus(config.corpus, cache_dir=config.state_dir,
                                 keep_articles=False)
    assert (counted.articles, counted.problems) == ((), plain.problems)
    assert counted.valid_count == len(plain.articles)
    assert counted.file_count == plain.file_count

    def tallied(**cache: Path) -> tuple:  # "Quantum" is in no article: every row counts
        tally = TopicTally(["AI", "Robotics", "Quantum"])
        corpus.read_corpus(config.corpus, keep_articles=False, tally=tally, **cache)
        return tally.missing, tally.unconfigured

    assert tallied(cache_dir=config.state_dir) == tallied()


# -- the cheap scan ---------------------------------------------------------------------------

def _micro(text: str) -> int:
    return corpus_cache.microseconds(dt.datetime.fromisoformat(text))


@pytest.mark.parametrize(("front_matter", "expected"), [
    ("title: x\npublishedDateTime: 2021-02-18T16:24:00Z\nwebUrl: https://a.example/\n",
     (_micro("2021-02-18T16:24:00+00:00"), "https://a.example/")),
    ('publishedDateTime: "2021-02-18"\r\nwebUrl: "https://a.example/x"\r\n',
     (_micro("2021-02-18T00:00:00+00:00"), "https://a.example/x")),
    ("publishedDateTime: 2021-02-18 10:00:00-05:00\n", (_micro("2021-02-18T15:00:00+00:00"),
                                                        None)),
    # A value that goes on on the next line: YAML reads "2021-02-18 10:00:00".
    ("publishedDateTime: 2021-02-18\n  10:00:00\n", (None, None)),
    # Two keys (the last wins in YAML), a quoted key, a merge key, a flow mapping.
    ("publishedDateTime: 2021-02-18\npublishedDateTime: 2020-01-01\n", (None, None)),
    ('publishedDateTime: 2021-02-18\n"publishedDateTime": 2020-01-01\n', (None, None)),
    ("<<: {publishedDateTime: 2020-01-01}\npublishedDateTime: 2021-02-18\n", (None, None)),
    ("{title: x,\npublishedDateTime: 2021-02-18}\n", (None, None)),
    # The top level indented, so a column-0 line can sit inside a quoted scalar.
    ('  title: "a\npublishedDateTime: 2021-02-18\n"\n', (None, None)),
    # Line breaks only YAML sees.
    ("title: x\rpublishedDateTime: 2021-02-18\n", (None, None)),
    ("title: x\u2028publishedDateTime: 2021-02-18\n", (None, None)),
    # Spellings left to the parser.
    ("publishedDateTime: 2021-02-18T16:24:00z\n", (None, None)),
    ("publishedDateTime: !!str 2021-02-18\n", (None, None)),
    ("publishedDateTime: 2021-02-30\n", (None, None)),
    ("webUrl: https://a.example/x # note\n", (None, None)),
    ("webUrl: https://a.example/x:\n", (None, None)),
])
def test_the_scan_answers_only_when_it_is_sure(front_matter, expected):
    assert scan_front_matter(f"---\n{front_matter}---\nbody\n") == expected


@pytest.mark.parametrize("front_matter", [
    "title: x\npublishedDateTime: 2021-02-18T16:24:00Z\nwebUrl: https://a.example/\n",
    'publishedDateTime: "2021-02-18"\nwebUrl: "https://a.example/x"\n',
    "publishedDateTime: '2021-02-18 10:00:00.5+05:30'\ntitle: x\n",
])
def test_what_the_scan_says_is_what_the_parser_reads(front_matter):
    published, url = scan_front_matter(f"---\n{front_matter}---\n")
    fields = parse_yaml(front_matter)
    assert published == corpus_cache.microseconds(
        parse_instant(fields["publishedDateTime"], "publishedDateTime"))
    assert url == fields.get("webUrl")


# -- the cache file ---------------------------------------------------------------------------

def _corpus(folder: Path, count: int) -> Config:
    config = make_config(folder, topics=["AI"])
    for number in range(count):
        day = 1 + number % 28
        (config.corpus / f"a{number:04d}.md").write_text(
            f"---\ntitle: Story {number}\npublishedDateTime: 2021-02-{day:02d}T10:00:00Z\n"
            f"webUrl: https://news.example/{number}\nquality: {number % 90}\ntopics: [AI]\n"
            "---\n", encoding="utf-8")
    (config.corpus / "broken.md").write_text("---\ntitle: [\n---\n", encoding="utf-8")
    return config


@pytest.fixture(autouse=True)
def skip_outside_the_window_at_any_size(monkeypatch):
    """Builds validate small corpora whole; these tests' small corpora must still take the
    large-corpus path that leaves files outside the window unparsed."""
    monkeypatch.setattr(corpus, "VALIDATE_ALL_BELOW", 0)


@pytest.fixture
def settled(monkeypatch):
    monkeypatch.setattr(corpus_cache, "RACY_MARGIN_NS", MARGIN_NS)


def _cache_file(config: Config) -> Path:
    return corpus_cache.cache_path(config.state_dir, config.corpus)


def test_a_warm_build_reads_only_what_changed(tmp_path, settled, monkeypatch):
    config = _corpus(tmp_path, 40)
    settle()
    expected = reference(config, complete=True, monkeypatch=monkeypatch)
    assert outcome(config, complete=True) == expected  # cold: fills the cache
    read: list[str] = []
    original = files.read_file
    monkeypatch.setattr(files, "read_file", lambda relative, *a, **k: (
        read.append(relative), original(relative, *a, **k))[1])
    assert outcome(config, complete=True) == expected
    assert read == []
    (config.corpus / "a0003.md").write_text(
        (config.corpus / "a0003.md").read_text().replace("Story 3", "Story 3!"))
    settle()
    assert outcome(config, complete=False) != ()
    assert read == ["a0003.md"]


def test_a_counting_reading_keeps_the_named_articles_and_those_of_the_windows(
        tmp_path, settled):
    """check counts the articles, keeping only those the drafts' pins and excludes name (by
    id or URL) and those of the windows of drafts excluding a URL: the same, cold (every
    file read) and warm (rows from the cache), as a whole reading filtered."""
    config = _corpus(tmp_path, 60)
    settle()
    plain = corpus.read_corpus(config.corpus)
    window = issue_window(DATE, config.timezone, config.window_days)
    wanted = ("a0003", "https://news.example/40/", "a9999")
    expected = tuple(a for a in plain.articles if a.id == "a0003" or a.published in window
                     or a.canonical_url == "news.example/40")
    assert 0 < len(expected) < len(plain.articles) - 2
    for _ in ("cold", "warm"):
        kept = corpus.read_corpus(config.corpus, cache_dir=config.state_dir,
                                  keep_articles=False, wanted=wanted, keep_within=(window,))
        assert kept.articles == expected
        assert (kept.problems, kept.valid_count) == (plain.problems, len(plain.articles))
    named = corpus.read_corpus(config.corpus, cache_dir=config.state_dir, keep_articles=False,
                               wanted=wanted)
    assert [a.id for a in named.articles] == ["a0003", "a0040"]
    week = corpus.read_corpus(config.corpus, cache_dir=config.state_dir, keep_articles=False,
                              keep_within=(window,))
    assert week.articles == tuple(a for a in plain.articles if a.published in window)


def test_a_file_changed_just_before_a_build_is_read_again_next_time(tmp_path, monkeypatch):
    """Racy files: a change within the same timestamp tick as the read would leave the
    stamp equal, so a row for a file younger than the margin is never trusted."""
    config = _corpus(tmp_path, 5)
    monkeypatch.setattr(corpus_cache, "RACY_MARGIN_NS", 3_600 * 10**9)  # everything is young
    outcome(config, complete=True)
    read: list[str] = []
    original = files.read_file
    monkeypatch.setattr(files, "read_file", lambda relative, *a, **k: (
        read.append(relative), original(relative, *a, **k))[1])
    outcome(config, complete=True)
    assert sorted(read) == sorted(p.name for p in config.corpus.iterdir())


def test_a_corrupt_cache_is_rebuilt_with_a_note(tmp_path, settled, monkeypatch, capsys):
    config = _corpus(tmp_path, 30)
    settle()
    expected = reference(config, complete=True, monkeypatch=monkeypatch)
    outcome(config, complete=True)
    _cache_file(config).write_bytes(b"this is not a database" * 100)
    capsys.readouterr()
    assert outcome(config, complete=True) == expected
    notes = capsys.readouterr().err.strip().splitlines()
    assert len(notes) == 1 and "unreadable" in notes[0] and "rebuilding" in notes[0], notes
    assert outcome(config, complete=True) == expected
    assert capsys.readouterr().err == ""  # rebuilt, and used again


def test_a_truncated_cache_never_changes_a_result(tmp_path, settled, monkeypatch, capsys):
    config = _corpus(tmp_path, 300)
    settle()
    expected = reference(config, complete=True, monkeypatch=monkeypatch)
    outcome(config, complete=True)
    path = _cache_file(config)
    for name in (f"{path}-wal", f"{path}-shm"):  # a copied or half-synced cache
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size // 2)
    assert outcome(config, complete=True) == expected
    assert outcome(config, complete=False) == reference(config, complete=False,
                                                         monkeypatch=monkeypatch)
    assert len(capsys.readouterr().err.strip().splitlines()) <= 1


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "other version"])
def test_a_damaged_compact_table_is_rebuilt_and_never_changes_a_result(
        tmp_path, settled, monkeypatch, capsys, damage):
    """The table is written without waiting for the disk (a cache): a power cut may leave
    it torn, which its length and checksum must catch."""
    config = _corpus(tmp_path, 40)
    settle()
    expected = reference(config, complete=False, monkeypatch=monkeypatch)
    assert outcome(config, complete=False) == expected
    table = corpus_cache.CorpusCache(_cache_file(config)).tables.table_path
    data = table.read_bytes()
    if damage == "truncate":
        table.write_bytes(data[:len(data) // 2])
    elif damage == "flip":  # one bit of a stamp: the length still matches
        head = data.index(b"\n") + 1
        middle = head + (len(data) - head) // 2
        table.write_bytes(data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1:])
    elif damage == "garbage":
        table.write_bytes(b"\x00" * len(data))
    else:
        table.write_bytes(data.replace(data.split(b" ")[1], b"0" * 64, 1))
    read: list[str] = []
    original = files.read_file
    monkeypatch.setattr(files, "read_file", lambda relative, *a, **k: (
        read.append(relative), original(relative, *a, **k))[1])
    capsys.readouterr()
    assert outcome(config, complete=False) == expected
    notes = capsys.readouterr().err.strip().splitlines()
    assert set(read) == {  # every file read again
        path.relative_to(config.corpus).as_posix() for path in config.corpus.iterdir()}
    assert (notes == []) if damage == "other version" else (
        len(notes) == 1 and "unreadable" in notes[0]), notes
    read.clear()
    assert outcome(config, complete=False) == expected and read == []  # rebuilt, used again


@contextlib.contextmanager
def counting_reads() -> Iterator[list[str]]:
    """The files read meanwhile, by relative path."""
    read: list[str] = []
    original = files.read_file
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(files, "read_file", lambda relative, *a, **k: (
            read.append(relative), original(relative, *a, **k))[1])
        yield read


def _edit(config: Config, number: int) -> None:
    path = config.corpus / f"a{number:04d}.md"
    path.write_text(path.read_text().replace(f"Story {number}\n", f"Story {number}!\n"))


def assert_table_written_whole(config: Config, tables: TableFiles, table: bytes,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """After the edits just made, a build writes the table (not ``table`` any more) and no
    changes, and the build after it reads nothing."""
    settle()
    expected = reference(config, complete=False, monkeypatch=monkeypatch)
    assert outcome(config, complete=False) == expected
    assert tables.table_path.read_bytes() != table and not tables.changes_path.exists()
    with counting_reads() as read:
        assert outcome(config, complete=False) == expected and read == []


def test_a_few_changed_rows_are_written_beside_the_table_not_the_table(
        tmp_path, settled, monkeypatch):
    """A build after a few edits writes only their rows (the table of a large corpus is
    tens of megabytes); the next build takes table and changes together and reads nothing.
    A build that adds or removes a file writes the whole table, and the changes go."""
    config = _corpus(tmp_path, 40)
    settle()
    outcome(config, complete=False)
    cache = corpus_cache.CorpusCache(_cache_file(config))
    table = cache.tables.table_path.read_bytes()
    assert not cache.tables.changes_path.exists()
    for round_of_edits in ((3, 17), (17, 30)):  # a row changed twice is kept once, newest
        for number in round_of_edits:
            _edit(config, number)
        settle()
        expected = reference(config, complete=False, monkeypatch=monkeypatch)
        assert outcome(config, complete=False) == expected
        assert cache.tables.table_path.read_bytes() == table
        with counting_reads() as read:
            assert outcome(config, complete=False) == expected and read == []
    assert cache.tables.changes_path.read_bytes().split(b" ")[3] == b"3"  # rows 3, 17 and 30
    (config.corpus / "a0005.md").unlink()
    assert_table_written_whole(config, cache.tables, table, monkeypatch)


def test_too_many_changed_rows_make_the_whole_table_written_again(tmp_path, settled,
                                                                  monkeypatch):
    config = _corpus(tmp_path, 40)
    settle()
    outcome(config, complete=False)
    cache = corpus_cache.CorpusCache(_cache_file(config))
    table = cache.tables.table_path.read_bytes()
    monkeypatch.setattr(compact, "MAX_CHANGED_ROWS", 2)  # and 40 // 16 is 2
    for number in (1, 2, 3):
        _edit(config, number)
    assert_table_written_whole(config, cache.tables, table, monkeypatch)


@pytest.mark.parametrize("damage", ["truncate", "flip", "another table", "other version"])
def test_a_damaged_changes_file_costs_only_the_reads_of_its_rows(
        tmp_path, settled, monkeypatch, capsys, damage):
    config = _corpus(tmp_path, 40)
    settle()
    outcome(config, complete=False)
    for number in (3, 17):
        _edit(config, number)
    settle()
    expected = reference(config, complete=False, monkeypatch=monkeypatch)
    assert outcome(config, complete=False) == expected
    changes = corpus_cache.CorpusCache(_cache_file(config)).tables.changes_path
    data = changes.read_bytes()
    fields = data.split(b" ")
    if damage == "truncate":
        changes.write_bytes(data[:len(data) // 2])
    elif damage == "flip":  # one bit of a stamp: the length still matches
        head = data.index(b"\n") + 1
        changes.write_bytes(data[:head + 9] + bytes([data[head + 9] ^ 1]) + data[head + 10:])
    elif damage == "another table":
        changes.write_bytes(data.replace(fields[2], b"0" * len(fields[2]), 1))
    else:
        changes.write_bytes(data.replace(fields[1], b"0" * 64, 1))
    capsys.readouterr()
    with counting_reads() as read:
        assert outcome(config, complete=False) == expected
    assert sorted(read) == ["a0003.md", "a0017.md"]  # the table's rows are still good
    notes = capsys.readouterr().err.strip().splitlines()
    assert (notes == []) if damage in ("another table", "other version") else (
        len(notes) == 1 and "unreadable" in notes[0]), notes
    with counting_reads() as read:
        assert outcome(config, complete=False) == expected and read == []  # written again


def test_a_cache_from_an_older_format_is_rebuilt_with_a_note(tmp_path, settled, monkeypatch,
                                                              capsys):
    config = _corpus(tmp_path, 30)
    settle()
    expected = reference(config, complete=True, monkeypatch=monkeypatch)
    outcome(config, complete=True)
    with sqlite3.connect(_cache_file(config)) as connection:
        connection.execute("UPDATE meta SET value = 'format 0' WHERE key = 'format'")
        # A row an older version could have written differently, under a matching stamp.
        connection.execute("UPDATE files SET payload = replace(payload, 'Story 1', 'Old')")
        # Old rows taking room: the pages they leave must go back to the disk.
        connection.execute("UPDATE files SET payload = payload || printf('%.*c', 200000, ' ')")
    connection.close()
    assert _cache_file(config).stat().st_size > 5_000_000  # (the last close checkpoints)
    capsys.readouterr()
    assert outcome(config, complete=True) == expected
    notes = capsys.readouterr().err.strip().splitlines()
    assert len(notes) == 1 and "another version" in notes[0], notes
    assert _cache_file(config).stat().st_size < 1_000_000
    with sqlite3.connect(_cache_file(config)) as connection:
        stored = connection.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    connection.close()
    assert stored[0] == corpus_cache.CorpusCache(_cache_file(config)).format


def test_two_builds_at_once_share_the_cache(tmp_path, monkeypatch):
    config = _corpus(tmp_path, 3000)  # enough for both to read in parallel, and overlap
    time.sleep(corpus_cache.RACY_MARGIN_NS / 1e9 + 0.1)
    command = [sys.executable, "-m", "newsletter", "--config", str(config.path)]
    environment = {**os.environ, "PYTHONPATH": str(PROJECT)}
    runs = [subprocess.Popen([*command, *arguments], cwd=tmp_path, env=environment,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for arguments in (["build", "--date", "2021-02-22"], ["explain", "--json",
                                                                  "--date", "2021-02-22"])]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert all(b"note: corpus cache" not in err for _out, err in outputs), outputs
    with sqlite3.connect(_cache_file(config)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    connection.close()
    expected = reference(config, complete=True, monkeypatch=monkeypatch)
    assert outputs[1][0].decode() == expected[2]
    assert outcome(config, complete=True) == expected
    assert outcome(config, complete=False) == reference(config, complete=False,
                                                         monkeypatch=monkeypatch)


def test_reading_over_every_core_gives_the_same_articles(tmp_path, settled, monkeypatch):
    config = _corpus(tmp_path, 120)
    settle()
    monkeypatch.setattr(files, "PARALLEL_MIN_FILES", 1)
    for complete in (True, False):
        assert outcome(config, complete=complete) == reference(
            config, complete=complete, monkeypatch=monkeypatch)


def test_the_cache_encodes_every_field(tmp_path):
    article = Article(
        id="x", path="x.md", title="T", url="https://a.example/x", canonical_url="a.example/x",
        domain="a.example", published=dt.datetime(2021, 2, 3, 4, 5, 6, 789,
                                                  tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        quality=1.5, heat=7, excerpt="E", type="video", provider=Provider("P", "p.example"),
        topics=("AI", "B"), images=(Image("https://i", 10, None),),
        related=(RelatedItem("R", "u", None, "d", Provider("Q", "q"), "e", "t", 3,
                             dt.datetime(2020, 1, 1, tzinfo=dt.UTC)),), body="\ud800 body")
    decoded = decode_article(encode_article(article))
    assert decoded == article and decoded.body == article.body
    assert decoded.published.utcoffset() == article.published.utcoffset()


def test_progress_shows_on_a_terminal_only(tmp_path, capsys, monkeypatch):
    from newsletter.reading import plan

    config = _corpus(tmp_path, 20)
    corpus.read_corpus(config.corpus, progress=True)
    assert "indexing articles" in capsys.readouterr().err
    terminal = {"yes": True}
    monkeypatch.setattr(sys.stderr, "isatty", lambda: terminal["yes"])
    corpus.read_corpus(config.corpus)  # 21 files: too few for a bar, even on a terminal
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(plan, "PROGRESS_MIN_FILES", 10)
    corpus.read_corpus(config.corpus)  # enough files, on a terminal
    assert "indexing articles" in capsys.readouterr().err
    terminal["yes"] = False
    corpus.read_corpus(config.corpus)  # enough files, but no terminal
    assert capsys.readouterr().err == ""


def test_only_a_complete_reading_validates_files_outside_the_window(tmp_path, settled):
    config = make_config(tmp_path, topics=["AI"])
    (config.corpus / "old.md").write_text(
        "---\ntitle: ''\npublishedDateTime: 2020-01-01T00:00:00Z\nwebUrl: https://a.example/1\n"
        "---\n", encoding="utf-8")
    (config.corpus / "new.md").write_text(
        "---\ntitle: New\npublishedDateTime: 2021-02-17T00:00:00Z\nwebUrl: https://a.example/2"
        "\ntopics: [AI]\n---\n", encoding="utf-8")
    settle()
    build = read_and_select(config, DATE, complete=False)
    assert build.problems == () and build.reading.unvalidated == 1
    assert build.reading.file_count == 2
    with pytest.raises(NewsletterError, match="old.md"):
        read_and_select(config, DATE, strict=True, complete=False)
    explained = read_and_select(config, DATE)  # explain: every file accounted for
    assert [p.path for p in explained.problems] == ["old.md"]
    # Once validated (and cached), builds report it too.
    assert [p.path for p in read_and_select(config, DATE, complete=False).problems] == [
        "old.md"]


def test_check_names_a_topic_no_article_has_from_the_table_as_the_corpus_changes(
        tmp_path, settled, monkeypatch):
    """check names a configured topic that no article has from the topics the compact
    table keeps (reading no payload: it used to read every cached article's, once per
    check), and stays right as the cache is updated: an article edited to gain the topic
    (its row in the changes file), losing it again, a new article with it (the table
    written whole)."""
    write_config(tmp_path, topics=["AI", "Robotics"])
    articles = tmp_path / "articles"
    for number in range(30):  # most outside the window: a build leaves them unparsed
        write_article(articles, f"a{number:02d}", topics=["AI", "Robotcs"][:1 + number % 2],
                      publishedDateTime=dt.datetime(2021, 1, 1 + number, tzinfo=dt.UTC))
    settle()
    assert run(tmp_path, "build", "2021-02-22").exit_code == 0  # the cache built without it
    fetched: list[int] = []
    original = corpus_cache.CorpusCache.payloads

    def payloads(self, paths, stamp):
        fetched.append(len(paths))
        return original(self, paths, stamp)

    monkeypatch.setattr(corpus_cache.CorpusCache, "payloads", payloads)

    def check(reads: list[str] | None = None) -> list[str]:
        with counting_reads() as read:
            result = run(tmp_path, "check")
        assert result.exit_code == 0, result.output
        if reads is not None:
            assert sorted(read) == reads
        return [line for line in result.stdout.splitlines()
                if line.startswith(("Configured topics", "  "))]

    named = check()  # the files the build left unparsed read now
    assert named[0] == "Configured topics no article in the corpus has (1):", named
    assert named[1].startswith("  Robotics: 0 (no article in the corpus to place in it; "
                               '15 articles have "Robotcs"'), named
    assert len(named) == 2 and check(reads=[]) == named and fetched == []
    write_article(articles, "a04", topics=["AI", "Robotics"],
                  publishedDateTime=dt.datetime(2021, 1, 5, tzinfo=dt.UTC))
    settle()
    assert check(reads=["a04.md"]) == [] and check(reads=[]) == []
    tables = corpus_cache.CorpusCache(_cache_file(load_config(tmp_path / "newsletter.yaml"))
                                      ).tables
    assert tables.changes_path.exists()  # the edit went to the changes file
    write_article(articles, "a04", topics=["AI"],
                  publishedDateTime=dt.datetime(2021, 1, 5, tzinfo=dt.UTC))
    settle()
    assert check(reads=["a04.md"]) == named and check(reads=[]) == named
    write_article(articles, "new", topics=["Robotics"])
    settle()
    assert check(reads=["new.md"]) == [] and check(reads=[]) == []
    assert not tables.changes_path.exists()  # the table written whole
    assert fetched == []
