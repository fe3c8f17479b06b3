"""Editing an issue: a mistyped exclude is an error like a mistyped pin; every problem of an
article file at once; the general and per-topic intros, and which editions show them;
pinning an article an earlier issue featured warns (an error with --strict)."""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from conftest import write_article, write_config
from newsletter.cli import cli
from newsletter.core.config import load_config
from newsletter.web.preview.drafts import Draft, render_draft
from newsletter.web.preview.view import draft_page

SECRET = {"NEWSLETTER_SECRET": "a test secret of enough length for the tokens"}


def run(folder: Path, *args: str):
    """In ``folder``, as a person runs it: the commands named by hand are the short ones."""
    with contextlib.chdir(folder):
        return CliRunner().invoke(cli, ["--config", str(folder / "newsletter.yaml"), *args],
                                  env=SECRET)


def overrides(folder: Path, text: str, date: str = "2021-02-22") -> Path:
    path = folder / "issues" / date / "overrides.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    return path


@pytest.fixture
def two_topics(project: Path) -> Path:
    write_config(project, topics=["AI", "Robotics"])
    articles = project / "articles"
    write_article(articles, "alpha", title="Alpha launches", quality=90,
                  related=[{"title": "Other take", "webUrl": "https://other.example/take",
                            "provider": {"name": "Other", "domain": "other.example"}}])
    write_article(articles, "beta", title="Beta ships", quality=80)
    write_article(articles, "robot", title="Robot walks", topics=["Robotics"])
    return project


# -- exclude ---------------------------------------------------------------------------------

def test_a_mistyped_exclude_is_an_error_like_a_mistyped_pin(two_topics: Path) -> None:
    path = overrides(two_topics, "exclude: [alpah]\npin: [btea]\n")
    for args in (["build", "2021-02-22"], ["--strict", "build", "2021-02-22"],
                 ["explain", "2021-02-22"]):
        result = run(two_topics, *args)
        assert result.exit_code == 1, args
        assert str(path) in result.stderr
        assert 'exclude[0]: no article file and no related coverage in this issue\'s window ' \
               'has the id or URL "alpah"' in result.stderr
        assert 'pin[0]: no valid article has the id or URL "btea"' in result.stderr
    assert "2 problems in the issue's overrides:" in run(two_topics, "build", "2021-02-22").stderr
    assert not (two_topics / "issues" / "2021-02-22" / "issue.json").exists()


def test_excluding_an_article_or_another_outlets_coverage_is_fine(two_topics: Path) -> None:
    overrides(two_topics, 'exclude: [beta, "https://other.example/take/?utm_source=x"]\n')
    result = run(two_topics, "build", "2021-02-22")
    assert result.exit_code == 0, result.output
    issue = json.loads((two_topics / "issues" / "2021-02-22" / "issue.json").read_text())
    ai = issue["sections"][0]["articles"]
    assert [a["id"] for a in ai] == ["alpha"]
    assert ai[0]["related"] == []  # the excluded coverage is not shown


def test_a_pin_or_exclude_names_its_url_with_any_spelling_of_its_escapes(two_topics: Path
                                                                         ) -> None:
    """A pin written with lower-case escapes (%c3%a9 for the article's %C3%A9) or with an
    escaped unreserved character (%7E for ~, %2D for -) names the article; an escaped "/" does
    not stand for a "/"."""
    articles = two_topics / "articles"
    write_article(articles, "cafe", title="Cafe opens", quality=10,
                  webUrl="https://news.example/caf%C3%A9-story")
    write_article(articles, "tilde", title="Tilde page", quality=5,
                  webUrl="https://news.example/~ed/a-b")
    overrides(two_topics, 'pin: ["https://news.example/caf%c3%a9-story"]\n'
                          'exclude: ["https://news.example/%7Eed/a%2Db"]\n')
    result = run(two_topics, "build", "2021-02-22")
    assert result.exit_code == 0, result.output
    issue = json.loads((two_topics / "issues" / "2021-02-22" / "issue.json").read_text())
    assert [a["id"] for a in issue["sections"][0]["articles"]] == ["cafe", "alpha", "beta"]
    overrides(two_topics, 'pin: ["https://news.example/%7Eed%2Fa-b"]\n')
    refused = run(two_topics, "build", "2021-02-22")
    assert refused.exit_code == 1
    assert 'pin[0]: no valid article has the id or URL "https://news.example/%7Eed%2Fa-b"' \
        in refused.stderr


def test_check_resolves_the_drafts_pins_and_excludes_as_the_build_does(two_topics: Path
                                                                       ) -> None:
    """A pin or exclude naming no article (a typo, a deleted file) shows up in `check` as the
    build reports it, with the file, the entry's line and the fix; so do an article with no
    configured topic, an entry both pinned and excluded and an unknown topic_intros topic.
    Another outlet's coverage in the window, an article by URL or outside the window, are
    fine. The second check reads the corpus from its cache."""
    write_article(two_topics / "articles", "space", topics=["Space"])
    write_article(two_topics / "articles", "old", publishedDateTime="2020-06-01T12:00:00Z")
    path = overrides(two_topics, "intro: Hello.\npin:\n  - alpha\n  - btea\n  - space\n"
                                 "exclude: [alpah, alpha, https://other.example/take]\n"
                                 "topic_intros: {Spaec: Hi.}\n")
    built = run(two_topics, "build", "2021-02-22")
    assert built.exit_code == 1
    explain = "`newsletter explain --date 2021-02-22` lists the ids"
    expected = [
        f'{path}:4: pin[1]: no valid article has the id or URL "btea"; {explain} and '
        "`newsletter check` the invalid files: fix the entry or remove the pin",
        f'{path}:5: pin[2]: "space" has no configured topic (its topics: Space), so there '
        "is no section to pin it in",
        f'{path}:6: exclude[0]: no article file and no related coverage in this issue\'s '
        f'window has the id or URL "alpah" (did you mean "alpha"?); {explain}: fix the entry '
        "or remove it",
        f'{path}:6: exclude[1]: "alpha" is also pinned; keep one of the two',
        f'{path}:7: topic_intros: "Spaec" is not a configured topic (the topics: AI, Robotics)',
    ]
    for message in expected:  # the build's message, without the file and line
        assert message.split(": ", 2)[2] in built.stderr
    for _ in range(2):
        checked = run(two_topics, "check")
        assert checked.exit_code == 1
        assert checked.stderr.splitlines() == expected
        assert "1 draft(s) in" in checked.stdout and "5 problem(s)" in checked.stdout
    overrides(two_topics, "pin: [old, https://news.example/beta]\n"  # alpha: in the window
                          "exclude: [https://other.example/take, robot]\n")
    for _ in range(2):
        checked = run(two_topics, "check")
        assert checked.exit_code == 0, checked.output
        assert "1 draft(s) in" in checked.stdout and "fine." in checked.stdout
    assert run(two_topics, "build", "2021-02-22").exit_code == 0


def test_every_problem_of_an_overrides_file_in_one_run_each_with_its_line(
        two_topics: Path) -> None:
    """A wrong value and a mistyped pin in the same file: both were there, but check and
    build named the value only, and the pin once the value was fixed."""
    path = overrides(two_topics, 'intro: "Hello"\nintro_in_filtered: maybe\nsubject: ""\n'
                                 "pin: [btea]\nexclude: [alpah]\n"
                                 'topic_intros:\n  Robotix: "x"\n')
    expected = [
        (2, 'intro_in_filtered: expected true or false, got "maybe"'),
        (3, 'subject: expected a non-empty line of text, got ""'),
        (4, 'pin[0]: no valid article has the id or URL "btea"'),
        (5, "exclude[0]: no article file and no related coverage in this issue's window "
            'has the id or URL "alpah"'),
        (7, 'topic_intros: "Robotix" is not a configured topic'),
    ]
    checked = run(two_topics, "check")
    assert checked.exit_code == 1
    assert "1 draft(s) in" in checked.stdout and "5 problem(s)" in checked.stdout
    for line, message in expected:
        assert f"{path}:{line}: {message}" in checked.stderr, checked.stderr
    built = run(two_topics, "build", "2021-02-22")
    assert built.exit_code == 1
    assert f"{path}: 5 problems in the issue's overrides:" in built.stderr, built.stderr
    for line, message in expected:
        assert f"  line {line}: {message}" in built.stderr, built.stderr
    explained = run(two_topics, "explain", "2021-02-22")  # the ids to choose from, and all
    assert explained.exit_code == 1 and "alpha" in explained.stdout
    for line, message in expected:
        assert f"error: {path}:{line}: {message}" in explained.stderr, explained.stderr


def test_a_problem_names_the_line_of_its_own_entry_not_one_that_contains_it(
        two_topics: Path) -> None:
    """An entry's line is found by the whole list item: "alph" is not the line of "alpha",
    and an entry after the list's end is not looked for in the next key's lines."""
    path = overrides(two_topics, "pin:\n  - alpha  # the lead\n  - 'alph'\n"
                                 "exclude:\n  - alph\n")
    checked = run(two_topics, "check")
    assert checked.exit_code == 1
    assert f'{path}:3: pin[1]: no valid article has the id or URL "alph"' in checked.stderr
    assert f'{path}:5: exclude[0]: no article file' in checked.stderr


# -- every problem of an article file at once ---------------------------------------------

def test_excluding_every_article_deletes_the_earlier_draft_so_it_cannot_go_out(
        two_topics: Path) -> None:
    assert run(two_topics, "build", "2021-02-22").exit_code == 0
    folder = two_topics / "issues" / "2021-02-22"
    assert "Alpha launches" in (folder / "email.txt").read_text("utf-8")
    overrides(two_topics, "exclude: [alpha, beta, robot]\n")
    emptied = run(two_topics, "build", "2021-02-22")
    assert emptied.exit_code == 0, emptied.output
    assert "nothing to build" in emptied.stdout
    assert f"Deleted the draft an earlier build wrote in {folder} (overrides.yaml stays)" \
        in emptied.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["overrides.yaml"]
    refused = run(two_topics, "publish", "2021-02-22")
    assert refused.exit_code == 1 and "build it first" in refused.stderr
    assert not (two_topics / "issues" / "feed.xml").exists()


@pytest.mark.parametrize("edit", ["exclude: [alpha]", "exclude: [https://other.example/take]",
                                  # the coverage read back from the draft, by its canonical URL
                                  'exclude: ["https://www.other.example/take/?utm_source=x"]',
                                  "intro: Hello", "subject: Special", "pin: [robot]",
                                  "topic_intros: {AI: Hello}", "intro_in_filtered: true"])
def test_publishing_a_draft_built_before_overrides_changed_is_refused(two_topics: Path,
                                                                       edit: str) -> None:
    write_article(two_topics / "articles", "robot2", title="Robot runs", quality=99,
                  topics=["Robotics"])
    write_config(two_topics, topics=["AI", {"name": "Robotics", "max_articles": 1}])
    assert run(two_topics, "build", "2021-02-22").exit_code == 0
    path = overrides(two_topics, edit + "\n")
    refused = run(two_topics, "publish", "2021-02-22")
    assert refused.exit_code == 1
    key = edit.split(":", 1)[0]
    assert f"{path}: changed since issue 2021-02-22 was built (the draft's {key} not as " \
           "the file says now)" in refused.stderr
    assert "`newsletter build 2021-02-22`" in refused.stderr
    assert not (two_topics / "issues" / "feed.xml").exists()
    assert run(two_topics, "build", "2021-02-22").exit_code == 0
    published = run(two_topics, "publish", "2021-02-22")
    assert published.exit_code == 0, published.output


@pytest.mark.parametrize("before", ["intro: Hello", "subject: Special"])
def test_publishing_a_draft_whose_intro_was_taken_out_since_is_refused(two_topics: Path,
                                                                       before: str) -> None:
    """The editor emptied overrides.yaml after the build: the draft still has the intro,
    and the refusal says the draft's intro is not the file's, not that it is missing."""
    path = overrides(two_topics, before + "\n")
    assert run(two_topics, "build", "2021-02-22").exit_code == 0
    path.write_text("", "utf-8")
    refused = run(two_topics, "publish", "2021-02-22")
    assert refused.exit_code == 1
    key = before.split(":", 1)[0]
    assert f"(the draft's {key} not as the file says now)" in refused.stderr
    assert "not in the draft" not in refused.stderr


@pytest.mark.parametrize("before, after, key", [
    ("exclude: [alpha]", "", "exclude"),  # the editor wants alpha back
    ("pin: [robot]", "", "pin"),  # robot was placed anyway: the pin only moved it
    ("pin: [beta, alpha]", "pin: [alpha, beta]", "pin"),  # the order of the pinned
    ("pin: [beta]\nexclude: [alpha]", "pin: [beta]\nexclude: []", "exclude"),
])
def test_publishing_a_draft_whose_pin_or_exclude_was_taken_out_since_is_refused(
        two_topics: Path, before: str, after: str, key: str) -> None:
    """A pin or exclude taken out (or pins reordered) after the build: every article of
    the file is still as the draft has it, yet the draft is not what the editor asked for.
    The draft's issue.json records the entries it was built with; the published one too."""
    path = overrides(two_topics, before + "\n")
    assert run(two_topics, "build", "2021-02-22").exit_code == 0
    path.write_text(after + "\n", "utf-8")
    refused = run(two_topics, "publish", "2021-02-22")
    assert refused.exit_code == 1
    assert f"(the draft's {key} not as the file says now)" in refused.stderr
    assert run(two_topics, "build", "2021-02-22").exit_code == 0
    assert run(two_topics, "publish", "2021-02-22").exit_code == 0
    issue = json.loads((two_topics / "issues" / "2021-02-22" / "issue.json").read_text())
    entries = yaml.safe_load(after) or {}
    assert (issue["pin"], issue["exclude"]) == (entries.get("pin", []),
                                                entries.get("exclude", []))


def test_an_empty_rebuild_leaves_a_published_issue_as_it_is(two_topics: Path) -> None:
    """Refused (tests/test_corrections.py says how): the published issue is never emptied,
    and its files are not deleted as an empty draft's are."""
    assert run(two_topics, "build", "2021-02-22", "--publish").exit_code == 0
    folder = two_topics / "issues" / "2021-02-22"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    overrides(two_topics, "exclude: [alpha, beta, robot]\n")
    emptied = run(two_topics, "build", "2021-02-22", "--force")
    assert emptied.exit_code == 1, emptied.output
    assert "a published issue is corrected, never emptied" in emptied.stderr.lower()
    assert "Deleted" not in emptied.stdout
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name in before} == before


def test_every_problem_of_an_article_file_in_one_check(project: Path) -> None:
    (project / "articles" / "bad.md").write_text(
        '---\ntitle: ""\nwebUrl: not a url\npublishedDateTime: 2021-02-18T16:24:00Z\n'
        "quality: high\ntopics: 5\n---\n", "utf-8")
    write_article(project / "articles", "one-problem", quality="high")
    result = run(project, "check")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    bad = next(line for line in lines if line.startswith("bad.md"))
    assert bad == ('bad.md: 4 problems: line 2: title: missing or empty; every article needs a '
                   'title; line 3: webUrl: expected an absolute http(s) URL such as '
                   'https://example.org/story, got "not a url"; line 5: quality: expected a '
                   'number, got "high"; line 6: topics: expected a list of topic names, got 5')
    assert any(line.startswith("one-problem.md:") and line.endswith(
        'quality: expected a number, got "high"') for line in lines)
    assert "2 invalid" in result.stdout  # files, not problems


# -- intros ------------------------------------------------------------------------------------

INTROS = """\
intro: The week in one sentence.
topic_intros:
  ai: |
    Two launches.

    And a second paragraph.
  Robotics: A robot learned to walk.
"""


def test_topic_intros_show_under_their_headings_and_in_issue_json(two_topics: Path) -> None:
    overrides(two_topics, INTROS)
    assert run(two_topics, "build", "2021-02-22").exit_code == 0
    folder = two_topics / "issues" / "2021-02-22"
    issue = json.loads((folder / "issue.json").read_text("utf-8"))
    assert issue["intro"] == ["The week in one sentence."]
    assert [s.get("intro") for s in issue["sections"]] == [
        ["Two launches.", "And a second paragraph."], ["A robot learned to walk."]]
    assert "intro_in_filtered" not in issue
    text = (folder / "email.txt").read_text("utf-8")
    assert text.index("AI\n---") < text.index("Two launches.") < text.index("Alpha launches")
    assert text.index("Robotics\n---") < text.index("A robot learned to walk.")
    for name in ("email.html", "index.html"):
        html = (folder / name).read_text("utf-8")
        assert html.index(">AI</h2>") < html.index("Two launches.") < html.index(
            "A robot learned to walk.")


def _edition_texts(folder: Path) -> dict[str, str]:
    texts = {}
    for path in sorted((folder / "outbox").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        texts[str(message["To"])] = message.get_body(("plain",)).get_content()
    return texts


@pytest.mark.parametrize("in_filtered", [False, True])
def test_a_filtered_edition_shows_its_own_topic_intros(two_topics: Path,
                                                        in_filtered: bool) -> None:
    overrides(two_topics, INTROS + f"intro_in_filtered: {str(in_filtered).lower()}\n")
    assert run(two_topics, "build", "2021-02-22", "--publish").exit_code == 0
    issue = json.loads((two_topics / "issues" / "2021-02-22" / "issue.json").read_text())
    assert issue.get("intro_in_filtered", False) is in_filtered
    run(two_topics, "subscribers", "add", "all@example.org")
    run(two_topics, "subscribers", "add", "robots@example.org", "--topics", "Robotics")
    result = run(two_topics, "send", "2021-02-22", "--outbox", str(two_topics / "outbox"))
    assert result.exit_code == 0, result.output
    texts = _edition_texts(two_topics)
    everything, robots = texts["all@example.org"], texts["robots@example.org"]
    assert "The week in one sentence." in everything
    assert "Two launches." in everything and "A robot learned to walk." in everything
    assert "A robot learned to walk." in robots and "Two launches." not in robots
    assert ("The week in one sentence." in robots) is in_filtered


def test_an_intro_for_an_unknown_topic_is_an_error(two_topics: Path) -> None:
    overrides(two_topics, "topic_intros: {Robotix: text}\nintro_in_filtered: yes please\n")
    result = run(two_topics, "build", "2021-02-22")
    assert result.exit_code == 1
    assert "intro_in_filtered: expected true or false" in result.stderr
    overrides(two_topics, "topic_intros: {Robotix: text}\n")
    result = run(two_topics, "build", "2021-02-22")
    assert result.exit_code == 1
    assert 'topic_intros: "Robotix" is not a configured topic (the topics: AI, Robotics)' in \
        result.stderr


def test_check_names_the_line_of_the_unknown_topics_own_intro(two_topics: Path) -> None:
    """Under a topic_intros block of several topics, the line is the unknown topic's own,
    not the key's: a long intro above it would leave the editor searching."""
    path = overrides(two_topics, "topic_intros:\n  AI: |\n    Two launches.\n\n    Both big.\n"
                                 '  "Robotix": "A robot."\npin: []\n')
    checked = run(two_topics, "check")
    assert checked.exit_code == 1
    assert f'{path}:6: topic_intros: "Robotix" is not a configured topic' in checked.stderr


def test_an_intro_kept_under_a_topics_old_name_suggests_the_new_one(two_topics: Path) -> None:
    """The config renamed a topic ("Robotics" to "Robots") after the editor wrote its intro:
    the error names the configured topic it most likely means; nothing close, no guess."""
    write_config(two_topics, topics=["AI", "Robots"])
    (two_topics / "articles" / "robot.md").unlink()
    overrides(two_topics, "topic_intros: {Robotics: text}\n")
    result = run(two_topics, "build", "2021-02-22")
    assert result.exit_code == 1
    assert ('topic_intros: "Robotics" is not a configured topic (the topics: AI, Robots); '
            'did you mean "Robots"?') in result.stderr
    overrides(two_topics, "topic_intros: {Space: text}\n")
    assert "did you mean" not in run(two_topics, "build", "2021-02-22").stderr
    write_article(two_topics / "articles", "robot", title="Robot walks", topics=["Robotics"])
    overrides(two_topics, "pin: [robot]\n")  # an article still under the old name
    assert ('pin[0]: "robot" has no configured topic (its topics: Robotics), so there is no '
            'section to pin it in; its topic "Robotics" is spelt like the configured "Robots" '
            "(renamed in the config?): change one or the other") in run(
                two_topics, "build", "2021-02-22").stderr


# -- pinning what an earlier issue featured ---------------------------------------------------

def test_pinning_an_article_featured_before_warns_and_strict_refuses(two_topics: Path) -> None:
    assert run(two_topics, "build", "2021-02-22", "--publish").exit_code == 0
    path = overrides(two_topics, "pin: [beta]\n", date="2021-03-01")
    result = run(two_topics, "build", "2021-03-01")
    assert result.exit_code == 0, result.output
    assert f'warning: {path}: pin[0]: "beta" was featured in issue 2021-02-22 already; it ' \
           "is placed again" in result.stderr
    issue = json.loads((two_topics / "issues" / "2021-03-01" / "issue.json").read_text())
    assert [a["id"] for s in issue["sections"] for a in s["articles"]] == ["beta"]
    explained = run(two_topics, "explain", "2021-03-01")
    assert "was featured in issue 2021-02-22 already" in explained.stderr
    assert "pinned" in explained.stdout
    strict = run(two_topics, "build", "2021-03-01", "--strict")
    assert strict.exit_code == 1
    assert "was featured in issue 2021-02-22 already; it is placed again (an error with " \
           "--strict)" in strict.stderr
    # a pin of an article never featured says nothing
    write_article(two_topics / "articles", "fresh", title="Fresh")
    overrides(two_topics, "pin: [fresh]\n", date="2021-03-01")
    assert "featured" not in run(two_topics, "build", "2021-03-01", "--strict").stderr


# -- explain with a broken overrides.yaml ------------------------------------------------------

def test_explain_still_lists_the_ids_when_a_pin_or_exclude_names_nothing(two_topics: Path
                                                                         ) -> None:
    """The message of a mistyped pin sends the editor to `newsletter explain` for the ids:
    explain accounts for every article with the entries that apply, names each one left out
    after the report (it stays an error: exit 1, and build still refuses the file)."""
    path = overrides(two_topics, "pin: [robot, btea]\nexclude: [alpah, beta]\n"
                                 "topic_intros: {Robotix: text}\n")
    for args in (["explain", "2021-02-22"], ["explain", "2021-02-22", "--json"]):
        result = run(two_topics, *args)
        assert result.exit_code == 1, args
        assert "alpha" in result.stdout and "btea" not in result.stdout
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert [line.split(": ", 3)[1:3] for line in errors] == [
            [f"{path}:1", "pin[1]"], [f"{path}:2", "exclude[0]"], [f"{path}:3", "topic_intros"]]
        assert all(line.startswith(f"error: {path}:") and line.endswith(
            "(not applied here; `build`, `publish` and the schedule refuse the file until "
            "it is fixed)") for line in errors)
    data = json.loads(run(two_topics, "explain", "2021-02-22", "--json").stdout)
    status = {a["id"]: (a["status"], a["pinned"]) for a in data["articles"]}
    assert status == {"robot": ("placed", True), "alpha": ("placed", False),
                      "beta": ("excluded", False)}
    assert run(two_topics, "build", "2021-02-22").exit_code == 1


def test_several_entries_written_as_one_are_told_to_be_a_list(two_topics: Path) -> None:
    overrides(two_topics, "pin: alpha, robot\nexclude: 'beta,alpha'\n")
    result = run(two_topics, "build", "2021-02-22")
    assert result.exit_code == 1
    assert ('pin[0]: no valid article has the id or URL "alpha, robot"; it reads as one '
            "entry: to pin several articles, write a YAML list, `pin: [alpha, robot]`"
            in result.stderr)
    assert "to exclude several articles, write a YAML list, `exclude: [beta, alpha]`" \
        in result.stderr
    overrides(two_topics, "pin: 'alpha, nothing'\n")  # not all of them articles: no guess
    assert "YAML list" not in run(two_topics, "build", "2021-02-22").stderr


# -- a topic's intro with no section to go under -----------------------------------------------

def test_an_intro_of_a_topic_without_a_section_in_the_issue_warns(two_topics: Path) -> None:
    """The editor wrote an intro for a topic that has no article in this issue: it would
    go out nowhere without a word; build, explain and --strict say so."""
    path = overrides(two_topics, "topic_intros:\n  AI: Two launches.\n  Robotics: Robots.\n",
                     date="2021-03-01")
    write_article(two_topics / "articles", "late", title="Late news",
                  publishedDateTime="2021-02-25T12:00:00Z")
    result = run(two_topics, "build", "2021-03-01")
    assert result.exit_code == 0, result.output
    warning = (f'warning: {path}: topic_intros: "Robotics" has no section in this issue (no '
               "article is placed under it), so its intro is shown nowhere; pin an article "
               "of the topic to give it one, or remove the intro")
    assert result.stderr.splitlines() == [warning]
    assert run(two_topics, "explain", "2021-03-01").stderr.splitlines() == [warning]
    strict = run(two_topics, "build", "2021-03-01", "--strict")
    assert strict.exit_code == 1 and "(an error with --strict)" in strict.stderr
    overrides(two_topics, "topic_intros:\n  Robotics: Robots.\npin: [robot]\n",
              date="2021-03-01")
    pinned = run(two_topics, "build", "2021-03-01", "--strict")
    assert pinned.exit_code == 0 and "topic_intros" not in pinned.stderr


def test_a_pin_by_url_names_the_article_in_the_window_when_files_share_it(two_topics: Path
                                                                          ) -> None:
    """A story published again under the same URL (a January file and a February one): a
    pin or exclude by that URL names the one in this issue's window, the one the editor saw
    in the explain table, not whichever file the walk read last (a real corpus has such
    pairs: powerapps' 000_2587... and 000_c1da...)."""
    articles = two_topics / "articles"
    url = "https://news.example/portal-walkthrough/"
    write_article(articles, "b-february", title="Walkthrough, updated", quality=1, webUrl=url)
    write_article(articles, "z-january", title="Walkthrough", quality=1, webUrl=url,
                  publishedDateTime="2021-01-14T10:30:00Z")
    overrides(two_topics, 'pin: ["https://news.example/portal-walkthrough?utm_source=x"]\n')
    result = run(two_topics, "build", "2021-02-22")
    assert result.exit_code == 0, result.output
    issue = json.loads((two_topics / "issues" / "2021-02-22" / "issue.json").read_text())
    assert issue["sections"][0]["articles"][0]["id"] == "b-february"
    assert "b-february: pinned by the editor" in run(two_topics, "explain", "2021-02-22").stdout
    # outside every window of theirs, the newest of them
    overrides(two_topics, f'pin: ["{url}"]\n', date="2021-04-05")
    later = run(two_topics, "build", "2021-04-05")
    assert later.exit_code == 0, later.output
    issue = json.loads((two_topics / "issues" / "2021-04-05" / "issue.json").read_text())
    assert [a["id"] for s in issue["sections"] for a in s["articles"]] == ["b-february"]


# -- what a published issue records of its pins and excludes -------------------------------

def _preview(folder: Path) -> tuple[Draft, str]:
    """The preview as `newsletter preview` serves it from ``folder``."""
    config = load_config(folder / "newsletter.yaml")
    with contextlib.chdir(folder):
        draft = render_draft(config, dt.date(2021, 2, 22))
        return draft, draft_page(draft, config).decode("utf-8")


def test_a_published_issue_records_its_pins_and_excludes_and_names_one_taken_out(
        two_topics: Path) -> None:
    """The published issue.json keeps the entries it was built with: explain and the preview
    name them, and a pin or exclude taken out after publishing is named as not in it."""
    path = overrides(two_topics, 'pin: [beta]\nexclude: ["https://other.example/take"]\n')
    assert run(two_topics, "build", "2021-02-22", "--publish").exit_code == 0
    issue = json.loads((two_topics / "issues" / "2021-02-22" / "issue.json").read_text())
    assert (issue["pin"], issue["exclude"]) == (["beta"], ["https://other.example/take"])
    applied = "with pin: [beta]; exclude: [https://other.example/take]"
    explained = run(two_topics, "explain", "2021-02-22")
    assert f"\n3 article files\nPublished {applied}\n\n" in explained.stdout
    assert "changed since" not in explained.stdout
    data = json.loads(run(two_topics, "explain", "2021-02-22", "--json").stdout)
    assert data["published_with"] == {"pin": ["beta"], "exclude": ["https://other.example/take"]}
    draft, page = _preview(two_topics)
    assert draft.published_with == applied and draft.edits_not_published == ()
    assert f'<span id="published-with">{applied}</span>' in page

    path.write_text("", "utf-8")  # the editor takes both out after the issue went out
    published = run(two_topics, "publish", "2021-02-22")
    assert "(pin, exclude not in it)" in published.stderr
    explained = run(two_topics, "explain", "2021-02-22")
    assert (f"Published {applied}\n  overrides.yaml changed since (pin, exclude): this report "
            "is what rebuilding it gives; `newsletter build --date 2021-02-22 --force` "
            "corrects the published issue\n") in explained.stdout
    draft, page = _preview(two_topics)
    assert draft.edits_not_published == ("pin", "exclude")
    assert "and not in it: pin, exclude;" in page
    assert run(two_topics, "build", "2021-02-22", "--force").exit_code == 0
    issue = json.loads((two_topics / "issues" / "2021-02-22" / "issue.json").read_text())
    assert (issue["pin"], issue["exclude"], "updated_at" in issue) == ([], [], True)
    assert "Published with no pin or exclude\n" in run(two_topics, "explain", "2021-02-22").stdout
    assert _preview(two_topics)[0].edits_not_published == ()


def test_an_issue_published_without_the_record_loads_and_rebuilds_byte_for_byte(
        two_topics: Path) -> None:
    """An issue.json written before published issues kept their pins and excludes: it
    loads, a rebuild leaves it as it is (with or without --force), explain and the preview say
    there is no record, and a pin still in overrides.yaml is not taken for an edit since."""
    overrides(two_topics, "pin: [beta]\n")
    assert run(two_topics, "build", "2021-02-22", "--publish").exit_code == 0
    path = two_topics / "issues" / "2021-02-22" / "issue.json"
    data = json.loads(path.read_text("utf-8"))
    del data["pin"], data["exclude"]
    old = (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    path.write_bytes(old)
    rebuilt = run(two_topics, "build", "2021-02-22")
    assert "a rebuild gives the same files: nothing to do" in rebuilt.stdout, rebuilt.output
    forced = run(two_topics, "build", "2021-02-22", "--force")
    assert "published already and the rebuild changes nothing" in forced.stdout, forced.output
    assert path.read_bytes() == old
    assert "not in it" not in run(two_topics, "publish", "2021-02-22").stderr
    assert path.read_bytes() == old
    none = "by a version that kept no record of its pins and excludes"
    explained = run(two_topics, "explain", "2021-02-22")
    assert f"Published {none}\n\n" in explained.stdout
    assert json.loads(run(two_topics, "explain", "2021-02-22", "--json").stdout
                      )["published_with"] == {"pin": None, "exclude": None}
    draft, page = _preview(two_topics)
    assert (draft.published_with, draft.edits_not_published) == (none, ())
    overrides(two_topics, "")  # a correction: the pin taken out moves beta back
    assert "Corrected issue" in run(two_topics, "build", "2021-02-22", "--force").stdout
    data = json.loads(path.read_text("utf-8"))
    assert (data["pin"], data["exclude"]) == ([], [])


def test_a_forced_rebuild_that_changes_only_the_record_is_no_correction(two_topics: Path
                                                                       ) -> None:
    """alpha is first anyway: its pin taken out changes nothing readers see. A plain build,
    explain, publish and the preview say that only the record differs and what --force does,
    offering no correction (build and publish write nothing); with --force the record
    follows and updated_at does not (feed readers are not told of a correction)."""
    overrides(two_topics, "pin: [alpha]\n")
    assert run(two_topics, "build", "2021-02-22", "--publish").exit_code == 0
    path = two_topics / "issues" / "2021-02-22" / "issue.json"
    published = path.read_bytes()
    overrides(two_topics, "")
    plain = run(two_topics, "build", "2021-02-22")
    said = " ".join(plain.stdout.split())
    assert plain.exit_code == 0 and "pass --force" not in plain.output, plain.output
    assert ("Issue 2021-02-22 is published and a rebuild gives the same email, pages and "
            "feeds; only the record of the overrides in its issue.json differs (published "
            "with pin: [alpha]; overrides.yaml now gives no pin or exclude), as they place "
            "nothing differently: nothing to correct. `newsletter build --date 2021-02-22 "
            "--force` updates the record, dating no correction.") in said, plain.output
    republished = run(two_topics, "build", "2021-02-22", "--publish")
    assert republished.exit_code == 0, republished.output
    assert ("Issue 2021-02-22: only the record of the overrides in its issue.json differs"
            in " ".join(republished.stdout.split())), republished.output
    assert path.read_bytes() == published
    explained = run(two_topics, "explain", "2021-02-22").stdout
    assert ("Published with pin: [alpha]\n  overrides.yaml changed since (pin), placing nothing "
            "differently: rebuilding it gives the same issue; `newsletter build --date "
            "2021-02-22 --force` updates the record, dating no correction\n") in explained
    published_again = run(two_topics, "publish", "2021-02-22")
    assert published_again.exit_code == 0, published_again.output
    assert "corrects" not in published_again.output and published_again.stderr == ""
    assert ("Issue 2021-02-22: only the record of the overrides in its issue.json differs "
            "(published with pin: [alpha]; overrides.yaml now gives no pin or exclude), as "
            "they place nothing differently: nothing to correct. `newsletter build --date "
            "2021-02-22 --force` updates the record, dating no correction."
            ) in " ".join(published_again.stdout.split()), published_again.output
    assert path.read_bytes() == published
    draft, page = _preview(two_topics)
    assert draft.edits_not_published == ("pin",)
    assert ('<div class="banner" id="placing-nothing">overrides.yaml changed since (pin), '
            "placing nothing differently: rebuilding it gives the same issue; `newsletter "
            "build --date 2021-02-22 --force` updates the record, dating no correction.</div>"
            ) in page
    assert 'id="not-published"' not in page and "corrects" not in page
    overrides(two_topics, "pin: [alpah]\n")  # a typo build refuses: no rebuild to compare
    for said in (run(two_topics, "explain", "2021-02-22").stdout, _preview(two_topics)[1],
                 run(two_topics, "publish", "2021-02-22").output):
        assert "placing nothing" not in said and "only the record" not in said, said
        assert ("corrects the published issue" in said or 'id="not-published"' in said
                or '"alpah" (did you mean "alpha"?)' in said), said
    overrides(two_topics, "")
    forced = run(two_topics, "build", "2021-02-22", "--force")
    assert "published already and is unchanged" in forced.stdout, forced.output
    data = json.loads((two_topics / "issues" / "2021-02-22" / "issue.json").read_text())
    assert (data["pin"], "updated_at" in data) == ([], False)
    overrides(two_topics, "pin: [beta]\n")  # beta moves up: readers would see a correction
    moved = run(two_topics, "build", "2021-02-22")
    assert moved.exit_code == 1 and "pass --force to correct it" in moved.stderr, moved.output
    assert "only the record" not in moved.output
    published_again = run(two_topics, "publish", "2021-02-22")
    assert "only the record" not in published_again.output
    assert ("(pin not in it); publishing again does not apply it: `newsletter build --date "
            "2021-02-22 --force` corrects the published issue") in published_again.stderr
    draft, page = _preview(two_topics)
    assert 'id="not-published"' in page and 'id="placing-nothing"' not in page


def test_a_record_edit_beside_another_change_is_a_correction_to_force(two_topics: Path
                                                                     ) -> None:
    """The pin taken out places nothing differently, but something else changed with it: a
    postal address every email shows, or a score issue.json keeps. The build does not take
    that for the record alone: it names what would change and asks for --force."""
    overrides(two_topics, "pin: [alpha]\n")
    assert run(two_topics, "build", "2021-02-22", "--publish").exit_code == 0
    overrides(two_topics, "")
    write_config(two_topics, topics=["AI", "Robotics"],
                 email={"from": "AI Weekly <newsletter@news.example.org>",
                        "postal_address": "200 Other Street, Springfield"})
    moved = run(two_topics, "build", "2021-02-22")
    assert moved.exit_code == 1, moved.output
    assert ("rebuilding it would change 2021-02-22/issue.json, 2021-02-22/email.mjml, "
            "2021-02-22/email.html, 2021-02-22/email.txt, 2021-02-22/email.eml: pass --force"
            in moved.stderr), moved.output
    assert "only the record" not in moved.output
    write_config(two_topics, topics=["AI", "Robotics"])
    write_article(two_topics / "articles", "alpha", title="Alpha launches", quality=95,
                  related=[{"title": "Other take", "webUrl": "https://other.example/take",
                            "provider": {"name": "Other", "domain": "other.example"}}])
    scored = run(two_topics, "build", "2021-02-22")
    assert scored.exit_code == 1, scored.output
    assert ("rebuilding it would change 2021-02-22/issue.json: pass --force"
            in scored.stderr), scored.output
    assert "only the record" not in scored.output


def test_a_mistyped_entry_is_named_with_the_id_meant_by_publish_as_by_build_and_explain(
        two_topics: Path) -> None:
    """publish of an issue already out, meeting a typo in its overrides.yaml, named no typo:
    it said the edit was not in the issue and that `build --force` corrects it, which
    refuses the file. It names each entry as build, explain and check do, with the id of
    the window's article it is spelt like."""
    overrides(two_topics, "pin: [beta]\n")
    assert run(two_topics, "build", "2021-02-22", "--publish").exit_code == 0
    path = overrides(two_topics, "pin: [alpah]\nexclude: [robto]\n")
    problems = [
        f'{path}:1: pin[0]: no valid article has the id or URL "alpah" (did you mean '
        '"alpha"?); `newsletter explain --date 2021-02-22` lists the ids',
        f"{path}:2: exclude[0]: no article file and no related coverage in this issue's "
        'window has the id or URL "robto" (did you mean "robot"?); `newsletter explain',
    ]
    published = run(two_topics, "publish", "2021-02-22")
    assert published.exit_code == 0, published.output
    said = published.stderr
    for problem in problems:
        assert f"warning: {problem}" in said, said
    assert ("publishing again does not apply it: fix the 2 entries `build` refuses (each "
            "named with its problem) first: `newsletter build --date 2021-02-22 --force` "
            "refuses the file until then") in said, said
    forced = run(two_topics, "build", "2021-02-22", "--force")
    assert forced.exit_code == 1, forced.output
    explained = run(two_topics, "explain", "2021-02-22")
    assert explained.exit_code == 1, explained.output
    for problem in problems:
        assert problem.replace(f"{path}:", "line ", 1) in forced.stderr, forced.stderr
        assert f"error: {problem}" in explained.stderr, explained.stderr
    overrides(two_topics, "pin: [alpah]\n", date="2021-02-23")  # a draft's: check names it
    checked = run(two_topics, "check")
    assert checked.exit_code == 1
    assert '"alpah" (did you mean "alpha"?)' in checked.stderr, checked.stderr


def test_explain_the_preview_and_publish_say_alike_to_fix_a_refused_entry_before_forcing(
        two_topics: Path) -> None:
    """A published issue whose overrides.yaml has a typo: explain and the preview offered
    `build --force` to correct it, which refuses the file, while publish said to fix it
    first. All three now say it in the same words: fix the entry, then --force corrects."""
    overrides(two_topics, "pin: [beta]\n")
    assert run(two_topics, "build", "2021-02-22", "--publish").exit_code == 0
    path = overrides(two_topics, "pin: [alpah]\n")
    fix = ("fix the entry `build` refuses (named with its problem) first: `newsletter build "
           "--date 2021-02-22 --force` refuses the file until then, and then corrects the "
           "published issue")
    problem = (f'{path}:1: pin[0]: no valid article has the id or URL "alpah" (did you mean '
               '"alpha"?)')
    explained = run(two_topics, "explain", "2021-02-22")
    assert f"\n  overrides.yaml changed since (pin): {fix}\n" in explained.stdout, explained.output
    assert f"error: {problem}" in explained.stderr, explained.stderr
    published = run(two_topics, "publish", "2021-02-22")
    assert published.exit_code == 0, published.output
    assert (f"(pin not in it); publishing again does not apply it: {fix} (its email is not "
            "sent again)\n") in published.stderr, published.stderr
    assert f"warning: {problem}" in published.stderr, published.stderr
    draft, page = _preview(two_topics)
    assert draft.correcting == fix
    assert ("and not in it: pin; fix the entry <code>build</code> refuses (named with its "
            "problem) first: <code>newsletter build --date 2021-02-22 --force</code> refuses "
            "the file until then, and then corrects the published issue (its web page") in page
    assert "&#34;alpah&#34; (did you mean &#34;alpha&#34;?)" in page
    for said in (explained.stdout, published.stderr, page):
        assert "2021-02-22 --force` corrects" not in said, said
        assert "2021-02-22 --force</code> corrects" not in said, said
    forced = run(two_topics, "build", "2021-02-22", "--force")  # as they say: refused ...
    assert forced.exit_code == 1 and "did you mean" in forced.stderr, forced.output
    overrides(two_topics, "pin: [alpha]\n")  # ... until the entry is fixed
    forced = run(two_topics, "build", "2021-02-22", "--force")
    assert forced.exit_code == 0, forced.output
    assert "changed since" not in run(two_topics, "explain", "2021-02-22").stdout


def _publish_refuses_naming_as_build(folder: Path, path: Path, stale: str,
                                     count: str) -> list[str]:
    """The lines in which build refuses the overrides.yaml ``path`` of the draft of
    2021-02-22, once publish has refused the draft naming the keys ``stale``, the ``count``
    of problems, and those lines."""
    built = run(folder, "build", "2021-02-22")
    assert built.exit_code == 1, built.output
    lines = [line for line in built.stderr.splitlines() if line.startswith("  line ")]
    refused = run(folder, "publish", "2021-02-22")
    assert refused.exit_code == 1, refused.output
    assert (f"{path}: changed since issue 2021-02-22 was built (the draft's {stale} not as "
            "the file says now), so the draft is not what the editor asked for: fix the file "
            f"(`build` refuses it: {count}, below), rebuild it with `newsletter build "
            "2021-02-22`, look at it, then publish it\n" + "\n".join(lines) + "\n"
            ) in refused.stderr, refused.stderr
    return lines


def test_the_id_meant_is_one_of_the_windows_articles_in_build_as_in_check(two_topics: Path
                                                                         ) -> None:
    """The id suggested for a typo is that of an article in the issue's window, the ids
    explain lists: an article of months before spelt alike is not offered, by build as by
    check (which reads only the drafts' windows)."""
    write_article(two_topics / "articles", "gamma", publishedDateTime="2020-11-02T12:00:00Z")
    overrides(two_topics, "pin: [gamm]\n")
    built = run(two_topics, "build", "2021-02-22")
    checked = run(two_topics, "check")
    assert built.exit_code == 1 and checked.exit_code == 1, (built.output, checked.output)
    for said in (built.stderr, checked.stderr):
        assert 'no valid article has the id or URL "gamm"' in said, said
        assert "did you mean" not in said, said
    overrides(two_topics, "pin: [alpah]\n")  # one in the window is
    assert '"alpah" (did you mean "alpha"?)' in run(two_topics, "build", "2021-02-22").stderr


def test_publish_of_a_stale_draft_names_the_entry_build_refuses(two_topics: Path) -> None:
    """A draft whose overrides.yaml was edited since, with a typo: publish said only that the
    draft is stale and to rebuild it, and the rebuild then named the typo. publish names
    it itself, in the line build names it with, so that one edit of the file fixes it."""
    overrides(two_topics, "pin: [beta]\n")
    assert run(two_topics, "build", "2021-02-22").exit_code == 0
    path = overrides(two_topics, "pin: [beta, alpah]\nexclude: [robto]\n")
    lines = _publish_refuses_naming_as_build(two_topics, path, "pin, exclude", "2 problems")
    assert len(lines) == 2 and '(did you mean "alpha"?)' in lines[0], lines
    overrides(two_topics, "intro: Hello.\npin: [beta]\n")  # stale, and nothing refused
    refused = run(two_topics, "publish", "2021-02-22")
    assert refused.exit_code == 1, refused.output
    assert "(the draft's intro not as the file says now)" in refused.stderr, refused.stderr
    assert "fix the file" not in refused.stderr and "  line " not in refused.stderr
    assert json.loads((path.parent / "issue.json").read_text())["status"] == "draft"


def test_publish_of_a_draft_refuses_an_intro_of_a_mistyped_topic_added_since(
        two_topics: Path) -> None:
    """An intro of a topic the config does not have shows in no section, so the draft seemed
    to lack nothing and publish sent it without the intro, while build refuses the file
    naming the topic meant: publish refuses it as it refuses a stale pin, naming it alike."""
    assert run(two_topics, "build", "2021-02-22").exit_code == 0
    path = overrides(two_topics, "topic_intros:\n  Robotcs: Robots, this week.\n")
    lines = _publish_refuses_naming_as_build(two_topics, path, "topic_intros", "1 problem")
    assert len(lines) == 1 and 'did you mean "Robotics"?' in lines[0], lines
    assert json.loads((path.parent / "issue.json").read_text())["status"] == "draft"
    overrides(two_topics, "topic_intros:\n  Robotics: Robots, this week.\n")
    assert run(two_topics, "publish", "2021-02-22").exit_code == 1  # stale still: rebuild
    assert run(two_topics, "build", "2021-02-22").exit_code == 0
    published = run(two_topics, "publish", "2021-02-22")
    assert published.exit_code == 0, published.output
    assert "Robots, this week." in (path.parent / "email.txt").read_text("utf-8")


def test_publish_warns_of_an_unknown_key_added_since_the_build_as_build_does(
        two_topics: Path) -> None:
    """A key overrides.yaml does not know (a typo of `intro`) added after the build: build
    and explain warn that it is ignored, and publish said nothing of it."""
    assert run(two_topics, "build", "2021-02-22").exit_code == 0
    path = overrides(two_topics, "intor: Hello.\n")
    warning = (f"warning: {path}: intor: unknown key, ignored (known: intro, topic_intros, "
               "intro_in_filtered, subject, pin, exclude)")
    assert warning in run(two_topics, "explain", "2021-02-22").stderr
    published = run(two_topics, "publish", "2021-02-22")
    assert published.exit_code == 0, published.output
    assert published.stderr.splitlines() == [warning], published.stderr
    again = run(two_topics, "publish", "2021-02-22")  # out already: the same warning
    assert again.exit_code == 0 and again.stderr.splitlines() == [warning], again.output
    assert warning in run(two_topics, "build", "2021-02-22").stderr


@pytest.mark.parametrize("change", ["theme", "template", "a file gone"])
def test_a_record_edit_beside_a_template_or_theme_change_is_no_same_issue(
        two_topics: Path, change: str) -> None:
    """The pin taken out places nothing differently, but the theme's footer, or the
    project's own copy of a template, changed since the issue went out, or one of its files
    is gone: rebuilding it changes what readers see, as build says in asking for --force,
    so explain and the preview do not call it the same issue either. Its page links to the
    issues published just before and after it (a draft between them is no link)."""
    overrides(two_topics, "pin: [alpha]\n")
    assert run(two_topics, "build", "2021-02-22", "--publish").exit_code == 0
    write_article(two_topics / "articles", "earliest", publishedDateTime="2021-02-03T12:00:00Z")
    write_article(two_topics / "articles", "earlier", publishedDateTime="2021-02-10T12:00:00Z")
    write_article(two_topics / "articles", "later", publishedDateTime="2021-02-25T12:00:00Z")
    for date, publish in (("2021-02-08", True), ("2021-02-15", True), ("2021-02-28", False),
                          ("2021-03-01", True)):
        built = run(two_topics, "build", date, *(["--publish"] if publish else []))
        assert built.exit_code == 0, built.output
    page = (two_topics / "issues" / "2021-02-22" / "index.html").read_text("utf-8")
    assert "2021-02-15/" in page and "2021-03-01/" in page and "2021-02-28/" not in page
    overrides(two_topics, "")
    said = run(two_topics, "explain", "2021-02-22").stdout  # nothing else changed yet
    assert "placing nothing differently: rebuilding it gives the same issue" in said, said
    if change == "theme":
        write_config(two_topics, topics=["AI", "Robotics"],
                     theme={"footer": "Made in Springfield by the AI Weekly team."})
        changed = "2021-02-22/email.mjml, 2021-02-22/email.html, 2021-02-22/email.txt"
    elif change == "a file gone":
        (two_topics / "issues" / "2021-02-22" / "email.txt").unlink()
        changed = "2021-02-22/email.txt"
    else:
        packaged = (Path(__file__).parent.parent / "templates" / "email.txt.j2").read_text()
        (two_topics / "templates").mkdir()
        (two_topics / "templates" / "email.txt.j2").write_text(packaged + "\nThanks!\n")
        write_config(two_topics, topics=["AI", "Robotics"], templates="templates")
        changed = "2021-02-22/email.txt"
    built = run(two_topics, "build", "2021-02-22")
    assert built.exit_code == 1 and "pass --force" in built.stderr, built.output
    assert changed in built.stderr, built.stderr
    explained = run(two_topics, "explain", "2021-02-22").stdout
    assert "same issue" not in explained and "placing nothing" not in explained, explained
    assert ("Published with pin: [alpha]\n  overrides.yaml changed since (pin): this report "
            "is what rebuilding it gives; `newsletter build --date 2021-02-22 --force` "
            "corrects the published issue\n") in explained, explained
    draft, page = _preview(two_topics)
    assert draft.edits_not_published == ("pin",) and draft.edits_placing_nothing == ""
    assert 'id="placing-nothing"' not in page and "same issue" not in page
    assert 'id="not-published"' in page


def test_only_an_earlier_issue_featuring_a_pin_warns_whatever_the_urls_spelling(
        two_topics: Path) -> None:
    """The warning looks at issues published before the one built: not a later one, not
    the issue itself rebuilt; a pin by URL is matched whatever the URL's spelling."""
    overrides(two_topics, "pin: [beta]\n", date="2021-03-01")
    assert run(two_topics, "build", "2021-03-01", "--publish").exit_code == 0
    by_url = "pin: ['https://news.example/beta']\n"
    overrides(two_topics, by_url, date="2021-02-22")
    earlier = run(two_topics, "build", "2021-02-22", "--strict")
    assert earlier.exit_code == 0 and "featured" not in earlier.stderr, earlier.output
    overrides(two_topics, by_url, date="2021-03-01")
    again = run(two_topics, "build", "2021-03-01", "--force", "--strict")
    assert again.exit_code == 0 and "featured" not in again.stderr, again.output
    path = overrides(two_topics, "pin: ['HTTPS://News.Example/beta']\n", date="2021-03-08")
    later = run(two_topics, "build", "2021-03-08")
    assert later.exit_code == 0, later.output
    assert (f'warning: {path}: pin[0]: "HTTPS://News.Example/beta" was featured in issue '
            "2021-03-01 already; it is placed again") in later.stderr, later.stderr
