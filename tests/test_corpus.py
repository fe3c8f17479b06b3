"""The article reader: walking the corpus, front matter, safe YAML, field validation.

Every bad input becomes a :class:`Problem` (path, line when known, message) and never stops
the other files from loading.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import PROJECT, article_fields, article_text, write_article
from newsletter.core.models import Article, Image, Problem, Provider, RelatedItem
from newsletter.reading.corpus import read_corpus

# The seed article, copied byte for byte from ../shared/seeds into the sample corpus.
SEED = PROJECT / "articles" / "000_0a03cd1b7f8cfbac.txt"
SEED_SECURED_PREFIX = "e4tIhhMxWayIZkYSaJi0yKjfa8M11+Yu8A7XiBpd56ar97le+opuzfRCOQpoSy1PyaPp"

UTC = dt.UTC


# -- helpers ---------------------------------------------------------------------------------

def write_raw(folder: Path, name: str, content: str | bytes) -> Path:
    """Write a file exactly as given (str as UTF-8, no newline translation)."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def front(yaml_text: str, body: str = "") -> str:
    """An article file whose front matter is ``yaml_text`` verbatim (file line 2 onwards)."""
    return f"---\n{yaml_text}---\n{body}"


VALID_HEAD = (
    "title: A story\n"                                   # line 2
    "webUrl: https://news.example/story\n"               # line 3
    "publishedDateTime: 2021-02-18T16:24:00Z\n"          # line 4
)


def read_one(folder: Path) -> Article | Problem:
    """Read a corpus expected to hold exactly one file; return its article or problem."""
    reading = read_corpus(folder)
    assert reading.file_count == 1, reading
    return (reading.articles or reading.problems)[0]


def only_article(folder: Path) -> Article:
    result = read_one(folder)
    assert isinstance(result, Article), result
    return result


def only_problem(folder: Path) -> Problem:
    result = read_one(folder)
    assert isinstance(result, Problem), result
    return result


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    folder.mkdir()
    return folder


# -- walking the corpus folder ---------------------------------------------------------------

def test_reads_md_and_txt_recursively_and_skips_hidden_and_other_suffixes(corpus: Path):
    write_article(corpus, "top", suffix=".md")
    write_article(corpus, "plain", suffix=".txt")
    write_article(corpus, "briefs/x", suffix=".md")
    write_article(corpus, "briefs/deeper/y", suffix=".txt")
    write_article(corpus, ".draft", suffix=".md")
    write_article(corpus, ".git/x", suffix=".md")
    write_article(corpus, "briefs/.hidden/z", suffix=".md")
    write_article(corpus, "notes", suffix=".markdown")
    write_article(corpus, "data", suffix=".yaml")
    write_article(corpus, "readme", suffix=".rst")
    write_article(corpus, "backup", suffix=".md.bak")

    reading = read_corpus(corpus)

    assert reading.problems == ()
    assert [a.id for a in reading.articles] == [
        "briefs/deeper/y", "briefs/x", "plain", "top",
    ]
    assert [a.path for a in reading.articles] == [
        "briefs/deeper/y.txt", "briefs/x.md", "plain.txt", "top.md",
    ]
    assert reading.file_count == 4


def test_empty_corpus_folder_reads_nothing(corpus: Path):
    reading = read_corpus(corpus)
    assert reading.articles == ()
    assert reading.problems == ()
    assert reading.file_count == 0


def test_article_id_is_path_below_corpus_without_suffix(corpus: Path):
    write_article(corpus, "000_0a03cd1b7f8cfbac", suffix=".txt")
    write_article(corpus, "briefs/x", suffix=".md")
    reading = read_corpus(corpus)
    assert {a.id: a.path for a in reading.articles} == {
        "000_0a03cd1b7f8cfbac": "000_0a03cd1b7f8cfbac.txt",
        "briefs/x": "briefs/x.md",
    }


def test_same_id_twice_second_file_is_a_problem(corpus: Path):
    write_article(corpus, "x", suffix=".md", title="From md")
    write_article(corpus, "x", suffix=".txt", title="From txt")

    reading = read_corpus(corpus)

    assert [(a.id, a.path, a.title) for a in reading.articles] == [("x", "x.md", "From md")]
    assert reading.problems == (
        Problem("x.txt", "same id 'x' as x.md: rename one of them"),
    )


# -- front matter ----------------------------------------------------------------------------

def test_front_matter_split_keeps_body(corpus: Path):
    write_raw(corpus, "a.md", front(VALID_HEAD, "First paragraph.\n\nSecond.\n"))
    article = only_article(corpus)
    assert article.title == "A story"
    assert article.body == "First paragraph.\n\nSecond.\n"


def test_bom_and_crlf_line_ends_are_fine(corpus: Path):
    text = "\ufeff" + front(VALID_HEAD, "Body line\n").replace("\n", "\r\n")
    write_raw(corpus, "crlf.md", text)
    article = only_article(corpus)
    assert article.title == "A story"
    assert article.url == "https://news.example/story"
    assert article.published == dt.datetime(2021, 2, 18, 16, 24, tzinfo=UTC)
    assert article.body == "Body line\r\n"


def test_front_matter_may_close_with_three_dots(corpus: Path):
    write_raw(corpus, "dots.md", "---\n" + VALID_HEAD + "...\nThe body\n---\nmore\n")
    article = only_article(corpus)
    assert article.title == "A story"
    assert article.body == "The body\n---\nmore\n"


def test_dashes_inside_values_do_not_close_front_matter(corpus: Path):
    text = (
        "---\n"
        'title: "a --- b"\n'
        "excerpt: |\n"
        "  one\n"
        "  ---\n"
        "  two\n"
        "webUrl: https://news.example/dashes\n"
        "publishedDateTime: 2021-02-18T16:24:00Z\n"
        "---\n"
        "body\n"
    )
    write_raw(corpus, "dashes.md", text)
    article = only_article(corpus)
    assert article.title == "a --- b"
    assert article.excerpt == "one\n---\ntwo"
    assert article.url == "https://news.example/dashes"
    assert article.body == "body\n"


# -- bad input: each one a Problem with a useful message -------------------------------------

def test_no_front_matter(corpus: Path):
    write_raw(corpus, "plain.md", "Just some text\ntitle: not front matter\n")
    assert only_problem(corpus) == Problem(
        "plain.md",
        "no front matter: the file must start with a line containing only '---', "
        "followed by the article's fields and a closing '---' line",
        1,
    )


def test_unterminated_front_matter(corpus: Path):
    write_raw(corpus, "open.md", "---\n" + VALID_HEAD + "body but no closing line\n")
    problem = only_problem(corpus)
    assert problem.path == "open.md"
    assert problem.line == 1
    assert problem.message == (
        "front matter opened on line 1 is never closed: add a line containing only "
        "'---' after the last field"
    )


def test_yaml_syntax_error_reports_file_line(corpus: Path):
    # Front matter starts at file line 2; the bad indentation is on file line 4.
    write_raw(corpus, "syntax.md", front(
        "title: A story\n"                      # line 2
        "webUrl: https://news.example/s\n"      # line 3
        "  oops: 1\n"                           # line 4
        "publishedDateTime: 2021-02-18\n"       # line 5
    ))
    problem = only_problem(corpus)
    assert problem.path == "syntax.md"
    assert problem.line == 4
    assert problem.message.startswith("YAML syntax error: ")
    assert "mapping values are not allowed" in problem.message


def test_yaml_syntax_error_in_later_line_counts_file_lines(corpus: Path):
    write_raw(corpus, "tabs.md", front(
        "title: A story\n"                      # line 2
        "webUrl: https://news.example/s\n"      # line 3
        "publishedDateTime: 2021-02-18\n"       # line 4
        "topics: [AI, Robotics\n"               # line 5: never closed
        "quality: 3\n"                          # line 6
    ))
    problem = only_problem(corpus)
    assert problem.line == 6
    assert problem.message.startswith("YAML syntax error: ")
    assert "did not find expected ',' or ']'" in problem.message
    assert "flow sequence started on line 5" in problem.message


def test_front_matter_that_is_a_list(corpus: Path):
    write_raw(corpus, "list.md", front("- title: A\n- webUrl: https://news.example/\n"))
    problem = only_problem(corpus)
    assert problem.path == "list.md"
    assert problem.message == (
        "front matter is a list, expected a mapping of fields (title: ..., webUrl: ..., ...)"
    )


def test_missing_title(corpus: Path):
    write_article(corpus, "notitle", title=None)
    problem = only_problem(corpus)
    assert problem.path == "notitle.md"
    assert problem.message == "title: missing or empty; every article needs a title"
    assert problem.line is None  # there is no title line to point at


@pytest.mark.parametrize("title", ["", "   ", "\t"])
def test_empty_or_whitespace_title(corpus: Path, title: str):
    write_raw(corpus, "blank.md", front(
        "excerpt: x\n"                                      # line 2
        f'title: "{title}"\n'                               # line 3
        "webUrl: https://news.example/s\n"
        "publishedDateTime: 2021-02-18T16:24:00Z\n"
    ))
    problem = only_problem(corpus)
    assert problem == Problem(
        "blank.md", "title: missing or empty; every article needs a title", 3)


def test_javascript_web_url_is_refused(corpus: Path):
    write_raw(corpus, "js.md", front(
        "title: A story\n"
        'webUrl: "javascript:alert(1)"\n'                   # line 3
        "publishedDateTime: 2021-02-18T16:24:00Z\n"
    ))
    assert only_problem(corpus) == Problem(
        "js.md",
        "webUrl: expected an absolute http(s) URL such as https://example.org/story, "
        'got "javascript:alert(1)"',
        3,
    )


@pytest.mark.parametrize(("raw", "url", "canonical", "domain"), [
    # blanks around the URL, as feeds leave them, are not part of it
    ('" https://news.example/story\\t"', "https://news.example/story", "news.example/story",
     "news.example"),
    # the scheme, like the host, in any case
    ("HTTPS://News.Example/story", "https://news.example/story", "news.example/story",
     "news.example"),
    # an IPv6 host keeps its brackets in the canonical form, before its port
    ('"http://[2001:DB8::1]:8080/story/"', "http://[2001:db8::1]:8080/story/",
     "[2001:db8::1]:8080/story", "2001:db8::1"),
])
def test_web_url_spellings_browsers_accept(corpus: Path, raw: str, url: str, canonical: str,
                                           domain: str):
    write_raw(corpus, "spelt.md", front(
        f"title: A story\nwebUrl: {raw}\npublishedDateTime: 2021-02-18T16:24:00Z\n"))
    article = only_article(corpus)
    assert (article.url, article.canonical_url, article.domain) == (url, canonical, domain)


def test_missing_web_url(corpus: Path):
    write_article(corpus, "nourl", webUrl=None)
    problem = only_problem(corpus)
    assert problem.path == "nourl.md"
    assert problem.message == (
        "webUrl: expected an absolute http(s) URL such as https://example.org/story, "
        "got nothing"
    )


def test_missing_published_date_time(corpus: Path):
    write_article(corpus, "nodate", publishedDateTime=None)
    problem = only_problem(corpus)
    assert problem.message == (
        "publishedDateTime: missing; give the publication time, e.g. 2021-02-18T16:24:00Z"
    )


@pytest.mark.parametrize(("raw", "shown"), [
    ('"high"', '"high"'),
    ("true", "true"),
    (".nan", "nan"),
    (".inf", "inf"),
    ("[1, 2]", "a list"),
])
def test_bad_quality(corpus: Path, raw: str, shown: str):
    write_raw(corpus, "q.md", front(VALID_HEAD + f"quality: {raw}\n"))  # quality: line 5
    assert only_problem(corpus) == Problem(
        "q.md", f"quality: expected a number, got {shown}", 5)


def test_bad_heat(corpus: Path):
    write_raw(corpus, "h.md", front(VALID_HEAD + "quality: 3\nheat: lots\n"))  # heat: line 6
    assert only_problem(corpus) == Problem("h.md", 'heat: expected a number, got "lots"', 6)


def test_published_date_time_not_a_date(corpus: Path):
    write_raw(corpus, "d.md", front(
        "title: A story\n"
        "webUrl: https://news.example/s\n"
        'publishedDateTime: "yesterday"\n'                  # line 4
    ))
    assert only_problem(corpus) == Problem(
        "d.md",
        "publishedDateTime: expected an ISO 8601 date and time such as 2021-02-18T16:24:00Z, "
        'got "yesterday"',
        4,
    )


def test_invalid_utf8_reports_line_of_bad_byte(corpus: Path):
    content = (
        b"---\n"
        b"webUrl: https://news.example/s\n"                 # line 2
        b"publishedDateTime: 2021-02-18T16:24:00Z\n"        # line 3
        b'title: "bad \xff\xfe here"\n'                     # line 4
        b"---\n"
    )
    write_raw(corpus, "bad.md", content)
    offset = content.index(b"\xff")
    assert only_problem(corpus) == Problem(
        "bad.md",
        f"not valid UTF-8 (byte 0xff at offset {offset}): save the file as UTF-8",
        4,
    )


@pytest.mark.parametrize("content", ["", "\n\n  \n", "\ufeff"])
def test_empty_file(corpus: Path, content: str):
    write_raw(corpus, "empty.md", content)
    problem = only_problem(corpus)
    assert problem.path == "empty.md"
    assert problem.message == (
        "empty file: an article is a '---' line, YAML fields, and a closing '---' line"
    )


def test_empty_front_matter(corpus: Path):
    write_raw(corpus, "nothing.md", "---\n---\nbody\n")
    assert only_problem(corpus).message == (
        "front matter is nothing (null), expected a mapping of fields "
        "(title: ..., webUrl: ..., ...)"
    )


def test_huge_file_refused_by_size_without_being_read(corpus: Path, monkeypatch):
    huge = corpus / "huge.md"
    with huge.open("wb") as f:
        f.truncate(50 * 1024 * 1024)  # sparse: no 50 MB written
    write_article(corpus, "fine")

    # Articles are read by plain system calls: a file read is a file opened with os.open.
    opened: list[str] = []
    original = os.open

    def spy(path, flags, *args, **kwargs):
        opened.append(os.path.basename(os.fsdecode(path)))
        return original(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    started = time.perf_counter()
    reading = read_corpus(corpus)
    elapsed = time.perf_counter() - started

    assert elapsed < 1.0
    assert "fine.md" in opened  # the spy sees the reads the corpus does
    assert "huge.md" not in opened
    assert [a.id for a in reading.articles] == ["fine"]
    assert reading.problems == (Problem(
        "huge.md",
        "file is 50.0 MB, over the 2 MB limit for an article: not read; "
        "is it really an article?",
    ),)


def test_size_limit_is_two_mebibytes(corpus: Path):
    limit = 2 * 1024 * 1024
    text = article_text(article_fields("exact"))
    padding = limit - len(text.encode("utf-8"))
    write_raw(corpus, "exact.md", text + "x" * padding)
    write_raw(corpus, "over.md", article_text(article_fields("over")) + "x" * (limit + 1))
    assert (corpus / "exact.md").stat().st_size == limit

    reading = read_corpus(corpus)

    assert [a.id for a in reading.articles] == ["exact"]
    assert len(reading.articles[0].body) == padding
    assert [p.path for p in reading.problems] == ["over.md"]
    assert "MB limit" in reading.problems[0].message
    assert "over the 2 MB limit" in reading.problems[0].message


BILLION_LAUGHS = (
    "---\n"
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
    "title: lol\n"
    "webUrl: https://news.example/lol\n"
    "publishedDateTime: 2021-02-18T16:24:00Z\n"
    "topics: *i\n"
    "---\n"
)


def test_alias_bomb_is_refused_quickly(corpus: Path):
    write_raw(corpus, "bomb.md", BILLION_LAUGHS)
    write_article(corpus, "fine")

    started = time.perf_counter()
    reading = read_corpus(corpus)
    elapsed = time.perf_counter() - started

    assert elapsed < 1.0
    assert [a.id for a in reading.articles] == ["fine"]
    assert len(reading.problems) == 1
    problem = reading.problems[0]
    assert problem.path == "bomb.md"
    assert problem.message == (
        "more than 20 YAML aliases (*name): refused, as files like this are used to exhaust "
        "memory; write the values out in full"
    )
    assert problem.line is not None and 2 <= problem.line <= 10


def test_a_few_aliases_are_tolerated(corpus: Path):
    write_raw(corpus, "alias.md", front(
        "title: &t Shared title\n"
        "excerpt: *t\n"
        "webUrl: https://news.example/alias\n"
        "publishedDateTime: 2021-02-18T16:24:00Z\n"
        "topics: &topics [AI]\n"
        "related:\n"
        "  - title: *t\n"
        "    webUrl: https://other.example/alias\n"
    ))
    article = only_article(corpus)
    assert article.title == "Shared title"
    assert article.excerpt == "Shared title"
    assert article.related[0].title == "Shared title"


def test_python_tag_is_refused_and_not_executed(corpus: Path, tmp_path: Path):
    marker = tmp_path / "pwned"
    write_raw(corpus, "evil.md", front(
        "title: A story\n"
        "webUrl: https://news.example/evil\n"
        "publishedDateTime: 2021-02-18T16:24:00Z\n"
        f'excerpt: !!python/object/apply:os.system ["touch {marker}"]\n'  # line 5
    ))
    write_article(corpus, "fine")

    reading = read_corpus(corpus)

    assert not marker.exists()
    assert [a.id for a in reading.articles] == ["fine"]
    assert reading.problems == (Problem(
        "evil.md",
        "YAML tag !!python/object/apply:os.system is not allowed: article files hold plain "
        "YAML (strings, numbers, dates, lists, mappings)",
        5,
    ),)


def test_python_name_tag_is_refused(corpus: Path):
    write_raw(corpus, "evil.md", front(VALID_HEAD + "excerpt: !!python/name:os.system ''\n"))
    problem = only_problem(corpus)
    assert problem.message.startswith("YAML tag !!python/name:os.system is not allowed")
    assert problem.line == 5


def test_deeply_nested_yaml_is_a_problem_not_a_crash(corpus: Path):
    depth = 400_000
    write_raw(corpus, "deep.md", front(VALID_HEAD + "topics: " + "[" * depth + "]" * depth + "\n"))
    assert (corpus / "deep.md").stat().st_size < 2 * 1024 * 1024
    write_article(corpus, "fine")
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from newsletter.reading.corpus import read_corpus\n"
        "reading = read_corpus(Path(sys.argv[1]))\n"
        "print([a.id for a in reading.articles])\n"
        "print([p.path for p in reading.problems])\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(corpus)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"reader crashed with exit status {done.returncode}"
    assert done.stdout.splitlines() == ["['fine']", "['deep.md']"]


def test_topics_as_a_mapping(corpus: Path):
    write_raw(corpus, "t.md", front(VALID_HEAD + "topics:\n  AI: yes\n"))  # topics: line 5
    assert only_problem(corpus) == Problem(
        "t.md", "topics: expected a list of topic names, got a mapping", 5)


def test_related_not_a_list(corpus: Path):
    write_raw(corpus, "r.md", front(VALID_HEAD + "quality: 1\nrelated: nope\n"))  # line 6
    assert only_problem(corpus) == Problem(
        "r.md", 'related: expected a list, got "nope"', 6)


def test_related_item_not_a_mapping(corpus: Path):
    write_raw(corpus, "r.md", front(VALID_HEAD + "related:\n  - just a title\n"))
    assert only_problem(corpus) == Problem(
        "r.md",
        'related[0]: expected a mapping with title and webUrl, got "just a title"',
        5,
    )


def test_one_bad_file_never_stops_the_others(corpus: Path, tmp_path: Path):
    write_article(corpus, "a_good")
    write_raw(corpus, "b_bad.md", "no front matter here\n")
    write_article(corpus, "c_good", suffix=".txt")
    write_raw(corpus, "d_bad.txt", front(VALID_HEAD + 'quality: "high"\n'))
    write_raw(corpus, "e_bad.md", "")
    write_raw(corpus, "f_bad.md", BILLION_LAUGHS)
    write_raw(corpus, "g_bad.md", b"---\ntitle: \xff\n---\n")
    write_article(corpus, "h_good")
    write_raw(corpus, "sub/i_bad.md", front("- a list\n"))
    write_article(corpus, "sub/j_good")
    write_raw(corpus, "sub/k_bad.md", front(VALID_HEAD + "related: 3\n"))
    with (corpus / "sub" / "l_huge.md").open("wb") as f:
        f.truncate(50 * 1024 * 1024)
    write_article(corpus, "z_good")

    reading = read_corpus(corpus)

    assert [a.id for a in reading.articles] == [
        "a_good", "c_good", "h_good", "sub/j_good", "z_good"]
    paths = [p.path for p in reading.problems]
    assert paths == [
        "b_bad.md", "d_bad.txt", "e_bad.md", "f_bad.md", "g_bad.md",
        "sub/i_bad.md", "sub/k_bad.md", "sub/l_huge.md",
    ]
    assert paths == sorted(paths)
    messages = [p.message for p in reading.problems]
    assert messages[0].startswith("no front matter")
    assert messages[1] == 'quality: expected a number, got "high"'
    assert messages[2].startswith("empty file")
    assert messages[3].startswith("more than 20 YAML aliases")
    assert messages[4].startswith("not valid UTF-8")
    assert messages[5].startswith("front matter is a list")
    assert messages[6] == "related: expected a list, got 3"
    assert messages[7].startswith("file is 50.0 MB, over the 2 MB limit")
    assert reading.file_count == 13


def test_problem_str_names_path_and_line():
    assert str(Problem("a/b.md", "quality: expected a number, got true", 5)) == (
        "a/b.md:5: quality: expected a number, got true")
    assert str(Problem("a/b.md", "empty file")) == "a/b.md: empty file"


# -- valid variations ------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected", "kind"), [
    ('"42"', 42, int),
    ('"4.5"', 4.5, float),
    ("42", 42, int),
    ("4.5", 4.5, float),
    ('" 7 "', 7, int),
    ("-3", -3, int),
])
def test_quality_numbers_and_numeric_strings(corpus: Path, raw: str, expected, kind):
    write_raw(corpus, "q.md", front(VALID_HEAD + f"quality: {raw}\n"))
    article = only_article(corpus)
    assert article.quality == expected
    assert type(article.quality) is kind


def test_heat_numeric_string(corpus: Path):
    write_raw(corpus, "h.md", front(VALID_HEAD + 'heat: "12"\n'))
    article = only_article(corpus)
    assert article.heat == 12
    assert type(article.heat) is int


def test_missing_quality_is_zero_and_missing_heat_is_minus_one(corpus: Path):
    write_article(corpus, "bare", quality=None, heat=None)
    article = only_article(corpus)
    assert article.quality == 0
    assert article.heat == -1


def test_minimal_article_defaults(corpus: Path):
    write_raw(corpus, "min.md", front(VALID_HEAD))
    article = only_article(corpus)
    assert article == Article(
        id="min",
        path="min.md",
        title="A story",
        url="https://news.example/story",
        canonical_url="news.example/story",
        domain="news.example",
        published=dt.datetime(2021, 2, 18, 16, 24, tzinfo=UTC),
    )
    assert article.excerpt == ""
    assert article.type == "article"
    assert article.provider == Provider()
    assert article.topics == ()
    assert article.images == ()
    assert article.image is None
    assert article.related == ()
    assert article.body == ""


EXPECTED_INSTANT = dt.datetime(2021, 2, 18, 16, 24, tzinfo=UTC)


@pytest.mark.parametrize("raw", [
    "2021-02-18T16:24:00Z",                 # YAML timestamp, UTC
    "2021-02-18T18:24:00+02:00",            # YAML timestamp with offset
    "2021-02-18T11:24:00-05:00",
    '"2021-02-18T16:24:00Z"',               # ISO string
    '"2021-02-18T18:24:00+02:00"',          # ISO string with offset
    "2021-02-18 16:24:00",                  # naive YAML timestamp -> UTC
    '"2021-02-18T16:24:00"',                # naive ISO string -> UTC
])
def test_published_date_time_forms(corpus: Path, raw: str):
    write_raw(corpus, "p.md", front(
        "title: A story\nwebUrl: https://news.example/s\n" f"publishedDateTime: {raw}\n"))
    article = only_article(corpus)
    assert article.published.tzinfo is not None
    assert article.published.utcoffset() is not None
    assert article.published == EXPECTED_INSTANT


def test_offset_is_kept_as_the_same_instant(corpus: Path):
    write_raw(corpus, "p.md", front(
        "title: A story\nwebUrl: https://news.example/s\n"
        "publishedDateTime: 2021-02-18T18:24:00+02:00\n"))
    published = only_article(corpus).published
    assert published.utcoffset() == dt.timedelta(hours=2)
    assert published.astimezone(UTC) == EXPECTED_INSTANT
    assert published.astimezone(UTC).hour == 16


@pytest.mark.parametrize("raw", ["2021-02-18T16:24:00", '"2021-02-18 16:24:00"'])
def test_naive_date_time_is_utc(corpus: Path, raw: str):
    write_raw(corpus, "p.md", front(
        "title: A story\nwebUrl: https://news.example/s\n" f"publishedDateTime: {raw}\n"))
    published = only_article(corpus).published
    assert published.utcoffset() == dt.timedelta(0)
    assert published == EXPECTED_INSTANT


@pytest.mark.parametrize("raw", ["2021-02-18", '"2021-02-18"'])
def test_date_only_is_midnight_utc(corpus: Path, raw: str):
    write_raw(corpus, "p.md", front(
        "title: A story\nwebUrl: https://news.example/s\n" f"publishedDateTime: {raw}\n"))
    published = only_article(corpus).published
    assert isinstance(published, dt.datetime)
    assert published == dt.datetime(2021, 2, 18, 0, 0, tzinfo=UTC)
    assert published.utcoffset() == dt.timedelta(0)


def test_related_dates_are_timezone_aware(corpus: Path):
    write_raw(corpus, "r.md", front(VALID_HEAD + (
        "related:\n"
        "  - title: One\n"
        "    webUrl: https://one.example/a\n"
        "    publishedDateTime: 2021-02-17\n"
        "  - title: Two\n"
        "    webUrl: https://two.example/b\n"
        "    publishedDateTime: 2021-02-17T10:00:00+01:00\n"
        "  - title: Three\n"
        "    webUrl: https://three.example/c\n"
    )))
    related = only_article(corpus).related
    assert [r.published for r in related] == [
        dt.datetime(2021, 2, 17, 0, 0, tzinfo=UTC),
        dt.datetime(2021, 2, 17, 9, 0, tzinfo=UTC),
        None,
    ]
    assert all(r.published.tzinfo is not None for r in related[:2])


def test_topics_as_single_string_is_one_topic(corpus: Path):
    write_article(corpus, "one", topics="Robotics")
    assert only_article(corpus).topics == ("Robotics",)


def test_topics_list_is_kept_in_order(corpus: Path):
    write_article(corpus, "many", topics=["Robotics", "AI", "Computer Vision"])
    assert only_article(corpus).topics == ("Robotics", "AI", "Computer Vision")


def test_missing_topics_is_empty_tuple(corpus: Path):
    write_article(corpus, "none", topics=None)
    assert only_article(corpus).topics == ()


def test_html_entities_are_decoded_exactly_once(corpus: Path):
    write_article(
        corpus, "ent",
        title="The state&#39;s AT&amp;T deal &amp;amp; more",
        excerpt="Q&amp;A: &lt;b&gt;bold&lt;/b&gt; &amp;amp;",
        provider={"name": "AT&amp;T News", "domain": "att.example"},
        related=[{
            "title": "Rival&#39;s take &amp;amp; more",
            "webUrl": "https://rival.example/take",
            "excerpt": "Tom &amp; Jerry",
            "provider": {"name": "Ben &amp; Jerry&#39;s", "domain": "bj.example"},
        }],
    )
    article = only_article(corpus)
    assert article.title == "The state's AT&T deal &amp; more"
    assert article.excerpt == "Q&A: <b>bold</b> &amp;"
    assert article.provider == Provider("AT&T News", "att.example")
    assert article.related[0].title == "Rival's take &amp; more"
    assert article.related[0].excerpt == "Tom & Jerry"
    assert article.related[0].provider.name == "Ben & Jerry's"


def test_related_items_are_parsed(corpus: Path):
    write_article(corpus, "rel", related=[{
        "title": "Other take",
        "webUrl": "https://www.Other.example/take/?utm_source=x&id=3",
        "quality": "12",
        "type": "video",
        "publishedDateTime": "2021-02-17T17:45:00Z",
    }])
    assert only_article(corpus).related == (RelatedItem(
        title="Other take",
        url="https://www.other.example/take/?utm_source=x&id=3",  # normalized: host lowercase
        canonical_url="other.example/take?id=3",
        domain="other.example",
        provider=Provider(),
        excerpt="",
        type="video",
        quality=12,
        published=dt.datetime(2021, 2, 17, 17, 45, tzinfo=UTC),
    ),)


def test_secured_is_never_kept(corpus: Path):
    secret = "S3CR3T-opaque-blob+/=="
    write_article(corpus, "sec", secured=secret, body="A body.\n",
                  related=[{"title": "R", "webUrl": "https://r.example/", "secured": secret}])
    article = only_article(corpus)
    assert secret not in repr(article)
    assert secret not in repr(dataclasses.asdict(article))
    assert secret not in article.body
    assert not hasattr(article, "secured")


def test_seed_file_loads(tmp_path: Path):
    corpus = tmp_path / "articles"
    write_raw(corpus, SEED.name, SEED.read_bytes())
    article = only_article(corpus)

    assert article.id == "000_0a03cd1b7f8cfbac"
    assert article.path == "000_0a03cd1b7f8cfbac.txt"
    assert article.title == "Why Tech Companies Are Limiting Police Use of Facial Recognition"
    assert article.url == (
        "https://cyber.harvard.edu/story/2021-02/"
        "why-tech-companies-are-limiting-police-use-facial-recognition"
    )
    assert article.published == dt.datetime(2021, 2, 18, 16, 24, tzinfo=UTC)
    assert article.quality == 39
    assert article.heat == -1
    assert article.topics == ("Computer Vision", "AI")
    assert article.provider == Provider("Harvard Medical School", "harvard.edu")
    assert article.provider.domain == "harvard.edu"
    assert article.domain == "harvard.edu"
    assert len(article.related) == 11
    assert article.images[0] == Image(
        "https://cyber.harvard.edu/modules/custom/bkc_home/images/"
        "bkc_logo_social_share_default.jpg", 1000, 500)
    assert article.image is not None and article.image.width == 1000
    assert article.related[0].title == (
        "ACLU, civil rights groups urge Biden to halt use of facial recognition technology")
    assert article.related[0].provider == Provider("The Hill", "thehill.com")
    assert article.related[0].quality == 134
    assert all(r.published is None or r.published.tzinfo is not None for r in article.related)
    # the opaque "secured" blob never reaches the Article
    assert SEED_SECURED_PREFIX in SEED.read_text(encoding="utf-8")
    assert SEED_SECURED_PREFIX not in repr(article)
    assert SEED_SECURED_PREFIX not in repr(dataclasses.asdict(article))
    assert SEED_SECURED_PREFIX not in article.body


def test_seed_folder_reads_without_problems():
    reading = read_corpus(SEED.parent)
    assert reading.problems == ()
    assert "000_0a03cd1b7f8cfbac" in [a.id for a in reading.articles]


def test_models_are_frozen(corpus: Path):
    write_article(corpus, "frozen", related=[{"title": "R", "webUrl": "https://r.example/"}],
                  images=[{"url": "https://img.example/a.jpg", "width": 10, "height": 5}])
    article = only_article(corpus)
    with pytest.raises(dataclasses.FrozenInstanceError):
        article.title = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        article.provider.name = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        article.related[0].title = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        article.images[0].width = 1  # type: ignore[misc]
    problem = Problem("x.md", "m", 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        problem.line = 2  # type: ignore[misc]
    assert isinstance(article.topics, tuple)
    assert isinstance(article.related, tuple)
    assert isinstance(article.images, tuple)


@pytest.mark.parametrize("spelling", [
    "0x" + "f" * 400_000,             # hexadecimal: int() builds it, but printing it takes ages
    "0b" + "1" * 400_000,             # binary
    "0" + "7" * 400_000,              # octal (YAML 1.1)
    ":".join(["59"] * 100_000),       # sexagesimal: built digit by digit, quadratic
    "9" * 400_000,                    # decimal
])
def test_huge_integers_are_refused_quickly(corpus: Path, spelling: str):
    write_raw(corpus, "huge.md", front(VALID_HEAD + f"quality: {spelling}\n"))

    started = time.perf_counter()
    problem = only_problem(corpus)

    assert time.perf_counter() - started < 1.0
    assert problem.message == (f"a number {len(spelling)} characters long: refused; write it "
                               "as text (in quotes) if it is not a number")
    assert problem.line == 5


def test_ordinary_integer_spellings_still_read(corpus: Path):
    write_raw(corpus, "ok.md", front(VALID_HEAD + "quality: 0x1F\nheat: 1:30\n"))
    article = only_article(corpus)
    assert (article.quality, article.heat) == (31, 90)
