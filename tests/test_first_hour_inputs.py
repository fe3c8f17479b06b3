"""What a newcomer's own files run into (first hour, round 12), each on a project made by
`newsletter init` as a user makes one: an overrides.yaml entry that YAML reads as no text,
a date that does not exist, article files with another suffix, a duplicate file folded."""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import run, tree
from newsletter.cli import cli
from newsletter.core.models import Status, Verdict
from newsletter.core.safeyaml import parse_yaml
from newsletter.web.preview import PreviewServer
from newsletter.web.preview.view import override_hint

ISSUE = "2026-12-09"  # its window: 2026-12-02 to 2026-12-09


@pytest.fixture
def t1(tmp_path: Path) -> Path:
    """`newsletter init t1 --title T --site-url https://t.example.org/ --timezone UTC
    --topics A`, with an article file named by its date, as the review's."""
    result = CliRunner().invoke(cli, [
        "init", str(tmp_path / "t1"), "--title", "T", "--site-url", "https://t.example.org/",
        "--timezone", "UTC", "--topics", "A"], env={"NEWSLETTER_TODAY": "2026-12-02"})
    assert result.exit_code == 0, result.output
    project = tmp_path / "t1"
    article(project, "2026-12-06", "Dated file", "https://t.example.org/dated")
    return project


def article(project: Path, name: str, title: str, url: str, *, when: str = "2026-12-06T09:00:00Z",
            more: str = "") -> Path:
    path = project / "articles" / f"{name}.md"
    path.write_text(f'---\ntitle: "{title}"\npublishedDateTime: {when}\nwebUrl: "{url}"\n'
                    f"topics: [A]\n{more}---\n", "utf-8")
    return path


def overrides(project: Path, text: str, issue: str = ISSUE) -> Path:
    path = project / "issues" / issue / "overrides.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    return path


# -- finding 1: a pin or exclude entry YAML reads as no text ---------------------------------

@pytest.mark.parametrize(("written", "problem"), [
    ("exclude: [2026-12-06]", 'exclude[0]: 2026-12-06 reads as a date in YAML; write it in '
                              'quotes: exclude: ["2026-12-06"]'),
    ("exclude: [1]", 'exclude[0]: 1 reads as a number in YAML; write it in quotes: '
                     'exclude: ["1"]'),
    ("exclude: [~]", 'exclude[0]: ~ reads as nothing (null) in YAML; write it in quotes: '
                     'exclude: ["~"]'),
    ('pin: [""]', "pin[0]: empty: write an article id or URL, or remove the entry"),
    ("pin: [[a]]", 'pin[0]: [a] reads as a list in YAML; write it in quotes: pin: ["[a]"]'),
    ("pin: [x: y]", 'pin[0]: x: y reads as a mapping (key: value) in YAML; write it in '
                    'quotes: pin: ["x: y"]'),
    ("exclude: [2026-12-06, {b: c}]",
     'exclude[1]: {b: c} reads as a mapping (key: value) in YAML; write it in quotes: '
     'exclude: ["2026-12-06", "{b: c}"]'),
    ("exclude: [Breaking: big]", 'exclude[0]: Breaking: big reads as a mapping (key: value) '
                                 'in YAML; write it in quotes: exclude: ["Breaking: big"]'),
])
def test_an_entry_yaml_reads_as_no_text_is_named_with_its_line_and_the_quotes_to_write(
        t1: Path, written: str, problem: str) -> None:
    # build, check and explain stopped with "unexpected IndexError: tuple index out of range"
    path = overrides(t1, f"# the editor's\n{written}\n")
    built = run(t1, "build", ISSUE)
    assert built.exit_code == 1
    assert f"  line 2: {problem}\n" in built.stderr, built.output
    checked = run(t1, "check")
    assert checked.exit_code == 1
    assert f"{path}:2: {problem}\n" in checked.stderr, checked.output
    explained = run(t1, "explain", ISSUE)  # the report, and the entry as an error
    assert explained.exit_code == 1, explained.output
    assert "Placed (1)" in explained.stdout, explained.output
    assert f"error: {path}:2: {problem} (not applied here;" in explained.stderr, \
        explained.output
    assert "IndexError" not in built.output + checked.output + explained.output


def test_a_block_list_and_the_entries_around_a_bad_one_keep_their_own_numbers(
        t1: Path) -> None:
    path = overrides(t1, "exclude:\n  - 2026-12-06\n  - yes\n  -\n  - typo\n")
    checked = run(t1, "check")
    assert checked.exit_code == 1
    assert (f'{path}:3: exclude[1]: yes reads as true or false (a yes/no value) in YAML; '
            'write it in quotes: - "yes"\n') in checked.stderr, checked.stderr
    assert (f"{path}:4: exclude[2]: empty: write an article id or URL, or remove the "
            "entry\n") in checked.stderr, checked.stderr
    # "typo" is the file's exclude[3] (not the third text entry) on its own line
    assert f'{path}:5: exclude[3]: no article file and no related coverage in this issue\'s ' \
           'window has the id or URL "typo"' in checked.stderr, checked.stderr


def test_a_published_issue_s_entry_and_subject_are_named_alike_by_publish_and_force(
        t1: Path) -> None:
    article(t1, "other", "Other", "https://t.example.org/other")
    published = run(t1, "build", "--date", ISSUE, "--publish")
    assert published.exit_code == 0, published.output
    for written, problem in (
            ("exclude: [2026-12-06]", 'exclude[0]: 2026-12-06 reads as a date in YAML; write '
                                      'it in quotes: exclude: ["2026-12-06"]'),
            ("pin: 2026-12-06", 'pin: 2026-12-06 reads as a date in YAML; write it in quotes: '
                                'pin: ["2026-12-06"]'),
            ("subject: 2026-12-06", 'subject: 2026-12-06 reads as a date in YAML; write it in '
                                    'quotes: subject: "2026-12-06"')):
        overrides(t1, written + "\n")
        again = run(t1, "publish", ISSUE)
        assert f"  line 1: {problem}\n" in again.stderr, again.output
        forced = run(t1, "build", "--date", ISSUE, "--force")
        assert forced.exit_code == 1
        assert f"  line 1: {problem}\n" in forced.stderr, forced.output
        explained = run(t1, "explain", ISSUE)
        assert "IndexError" not in explained.output, explained.output
    overrides(t1, 'exclude: ["2026-12-06"]\n')  # as told: the quotes make it the file's id
    forced = run(t1, "build", "--date", ISSUE, "--force")
    assert forced.exit_code == 0, forced.output
    issue = (t1 / "issues" / ISSUE / "issue.json").read_text("utf-8")
    assert "Dated file" not in issue and "Other" in issue, issue
    assert json.loads(issue)["exclude"] == ["2026-12-06"]


@pytest.mark.parametrize("id", ["2026-12-06", "a, b", "c #1", "Breaking: big", "no", "1.50",
                                "~", "[x]", "-x", "?x", 'say "hi"', "briefs/2021-02-20-dogs",
                                "https://example.org/a?b=1#c"])
def test_the_preview_hint_is_yaml_that_reads_back_as_the_id(id: str) -> None:
    for status, key in ((Status.PLACED, "exclude"), (Status.BELOW_CUT, "pin")):
        hint = override_hint(Verdict(id=id, path=f"{id}.md", status=status), "o.yaml")
        written = re.fullmatch(r"to (?:leave it out|place it), add `(.*)` to o\.yaml", hint)
        assert written is not None, hint
        assert parse_yaml(written[1], first_line=1) == {key: [id]}, written[1]
    plain = override_hint(Verdict(id="a-b", path="a-b.md", status=Status.PLACED), "o.yaml")
    assert "`exclude: [a-b]`" in plain  # quotes only where YAML needs them


def test_the_preview_table_hint_for_a_file_named_by_its_date_builds(t1: Path) -> None:
    # The table of the preview said to add `exclude: [2026-12-06]`: a date to YAML.
    date = dt.date(2026, 12, 9)
    server = PreviewServer(t1 / "newsletter.yaml", port=0, default_date=date).start()
    try:
        body = urllib.request.urlopen(server.draft_url(date), timeout=10).read().decode()
    finally:
        server.close()
    assert "add `exclude: [&#34;2026-12-06&#34;]`" in body, body
    overrides(t1, 'exclude: ["2026-12-06"]\n')
    built = run(t1, "build", ISSUE)
    assert built.exit_code == 0, built.output
    assert "nothing to build: none of the" in built.stdout, built.output  # excluded


# -- finding 6: a date that does not exist -----------------------------------------------------

def test_a_date_that_does_not_exist_is_named_with_its_line_key_and_value(t1: Path) -> None:
    article(t1, "bad-date", "Bad date", "https://t.example.org/x", when="2026-11-31T09:00:00Z")
    article(t1, "bad-date2", "Bad 2", "https://t.example.org/y", when="2026-11-30T09:00:00Z",
            more='related:\n  - {title: "R", webUrl: "https://r.example.org/", '
                 "publishedDateTime: 2026-02-30}\n")
    article(t1, "bad-date3", "Bad 3", "https://t.example.org/z", when="2026-11-30T25:00:00Z")
    article(t1, "bad-date4", "Bad 4", "https://t.example.org/w", when='"2026-11-31T09:00:00Z"')
    expected = [
        "bad-date.md:3: publishedDateTime: 2026-11-31T09:00:00Z is not a date: November "
        "2026 has 30 days",
        "bad-date2.md:7: related[0].publishedDateTime: 2026-02-30 is not a date: February "
        "2026 has 28 days",
        "bad-date3.md:3: publishedDateTime: 2026-11-30T25:00:00Z is not a date and time: "
        "there is no hour 25 (hours go from 00 to 23)",
        "bad-date4.md:3: publishedDateTime: 2026-11-31T09:00:00Z is not a date: November "
        "2026 has 30 days",  # in quotes: said alike
    ]
    for attempt in ("cold", "from the corpus cache"):
        checked = run(t1, "check")
        assert checked.exit_code == 1, attempt
        assert [line for line in checked.stderr.splitlines()
                if line.startswith("bad-date")] == expected, (attempt, checked.stderr)
    built = run(t1, "build", "2026-12-02")
    for line in expected:
        assert f"  {line}\n" in built.stderr, built.stderr
    assert "cannot be read" not in built.stderr
    wrong_issue = run(t1, "build", "2021-02-30")  # the command line's own wording, unchanged
    assert "2021-02-30 is not a date: February 2021 has 28 days; use YYYY-MM-DD" in \
        wrong_issue.output


# -- finding 11: files with another suffix -----------------------------------------------------

def test_files_that_look_like_articles_but_are_not_read_are_named_in_one_line(
        t1: Path) -> None:
    articles = t1 / "articles"
    text = (articles / "2026-12-06.md").read_text("utf-8")
    for name in ("retro.markdown", "retro2.MD", "sub/old.Md", "sub/notes.TXT",
                 # noise: an editor's backups, a hidden file, a picture
                 "story.md~", "story.md.swp", ".story.md.swp", "#story.md#", "pic.png"):
        (articles / name).parent.mkdir(exist_ok=True)
        (articles / name).write_text(text, "utf-8")
    line = (f"note: 4 files in {articles} are not read (only *.md and *.txt are articles): "
            "retro.markdown, retro2.MD, sub/notes.TXT, sub/old.Md; rename those that are "
            "articles to end in .md (or .txt)\n")
    checked = run(t1, "check")
    assert checked.exit_code == 0, checked.output
    assert line in checked.stderr, checked.stderr
    built = run(t1, "build", ISSUE)
    assert built.exit_code == 0, built.output
    assert line in built.stderr, built.stderr
    for name in ("retro.markdown", "retro2.MD", "sub/notes.TXT", "sub/old.Md"):
        (articles / name).unlink()
    assert "not read" not in run(t1, "check").stderr


# -- finding 10: a folded duplicate is not said to be shown ------------------------------------

def test_a_duplicate_folded_and_left_out_of_the_related_coverage_is_said_so(
        t1: Path) -> None:
    story = article(t1, "story", "A story", "https://t.example.org/story")
    (story.parent / "story (copy).md").write_text(story.read_text("utf-8"), "utf-8")
    built = run(t1, "build", ISSUE)
    assert "0 related links" in built.stdout, built.output
    first = tree(t1 / "issues" / ISSUE)
    explained = run(t1, "explain", ISSUE).stdout
    assert "story: same story as story (copy) (same URL), a duplicate of it, not shown" in \
        explained, explained
    assert "shown in its related coverage" not in explained
    # Folded into another outlet's article: one copy is its related link, the other is not.
    article(t1, "story-other", "A story elsewhere", "https://other.example.net/x",
            more='quality: 9\nrelated:\n  - {title: "A story", webUrl: '
                 '"https://t.example.org/story"}\n')
    assert "1 related link" in run(t1, "build", ISSUE).stdout
    explained = run(t1, "explain", ISSUE).stdout
    assert ("story (copy): same story as story-other (linked as related), shown in its "
            "related coverage") in explained, explained
    assert ("story: same story as story-other (linked as related), not shown: a duplicate "
            "(same URL) of story (copy), which is shown") in explained, explained
    (t1 / "articles" / "story-other.md").unlink()
    assert run(t1, "build", ISSUE).exit_code == 0
    assert tree(t1 / "issues" / ISSUE) == first  # the selection as it was, byte for byte
