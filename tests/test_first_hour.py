"""What a newcomer runs into in the first hour: each test reproduces one trap as a user
meets it (through the command line), and says what the fix made of it."""

from __future__ import annotations

import datetime as dt
import logging
import urllib.request
from pathlib import Path

import pytest

from browser_support import CHROMIUM, preview_page
from conftest import PROJECT, SECRET, run, write_article, write_config
from newsletter.core.config import load_config
from newsletter.delivery.subscribers import set_status
from newsletter.web.preview import PreviewServer


def test_build_names_a_configured_topic_with_nothing_placed_and_its_near_spelling(
        project: Path) -> None:
    # The config says "Canvas app", the articles "Canvas apps": the topic used to vanish
    # from every issue without a word.
    write_config(project, topics=["AI", "Canvas app", "Robotics"])
    articles = project / "articles"
    write_article(articles, "one", topics=["AI", "Canvas apps"])
    write_article(articles, "two", topics=["Canvas Apps"], webUrl="https://two.example/")
    result = run(project, "build", "2021-02-22")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "Issue 2021-02-22 of AI Weekly (draft): 1 topic, 1 article, 0 related links." in lines
    assert "  Robotics: 0 (no article in the window to place in it)" in lines
    canvas = next(line for line in lines if line.startswith("  Canvas app: 0"))
    assert '2 articles have "Canvas apps"' in canvas
    assert "topics of newsletter.yaml" in canvas
    explained = run(project, "explain", "2021-02-22").stdout
    assert "Configured topics with nothing placed (2)" in explained
    assert '2 articles have "Canvas apps"' in explained


def test_a_corpus_folder_mistyped_is_named_with_the_folder_meant(project: Path) -> None:
    write_config(project, corpus="artciles")
    result = run(project, "check")
    assert result.exit_code == 1
    assert (f'corpus: folder "artciles" not found (looked in {project.resolve()}/artciles); '
            'did you mean "articles"?') in result.stderr


@pytest.mark.parametrize(("corpus", "meant"), [
    ("content/artciles", "content/articles"),  # the folder meant, where it is
    ("posts", None),  # no folder spelt like it: "issues" is not offered
    ("notes", None),  # notes.txt beside it is a file, not a corpus
])
def test_a_corpus_folder_is_guessed_only_among_folders_spelt_close_to_it(
        project: Path, corpus: str, meant: str | None) -> None:
    (project / "content" / "articles").mkdir(parents=True)
    (project / "issues").mkdir(exist_ok=True)
    (project / "notes.txt").write_text("notes\n", "utf-8")
    write_config(project, corpus=corpus)
    result = run(project, "check")
    assert result.exit_code == 1
    assert f'corpus: folder "{corpus}" not found' in result.stderr, result.stderr
    if meant is None:
        assert "did you mean" not in result.stderr, result.stderr
    else:
        assert f'did you mean "{meant}"?' in result.stderr, result.stderr


def test_a_configured_topic_is_offered_only_spellings_close_to_it(project: Path) -> None:
    write_config(project, topics=["AI", "Canvas app", "Robotics"])
    articles = project / "articles"
    write_article(articles, "one", topics=["AI", "Canvas apps", "Rockets"])
    write_article(articles, "two", topics=["Canvas ap"], webUrl="https://two.example/")
    lines = run(project, "build", "2021-02-22").stdout.splitlines()
    assert "  Robotics: 0 (no article in the window to place in it)" in lines, lines
    canvas = next(line for line in lines if line.startswith("  Canvas app: 0"))
    assert '1 article has "Canvas apps" or 1 article has "Canvas ap"' in canvas, canvas
    # A case apart is no spelling apart; a topic configured is not offered as one to add.
    write_config(project, topics=["GPU", "Canvas app", "Canvas apps"])
    write_article(articles, "three", topics=["GPUs"], webUrl="https://three.example/")
    lines = run(project, "build", "2021-02-22").stdout.splitlines()
    gpu = next(line for line in lines if line.startswith("  GPU: 0"))
    assert '1 article has "GPUs"' in gpu, gpu
    canvas = next(line for line in lines if line.startswith("  Canvas app: 0"))
    assert '"Canvas apps"' not in canvas and '"Canvas ap"' in canvas, canvas


def test_check_names_a_configured_topic_no_article_of_the_corpus_has(project: Path) -> None:
    # "Robotcs" (a typo) and "Quantum" match no article at all: check said all was fine, and
    # the topics only showed up empty issue after issue. The line is build's, the corpus's.
    write_config(project, topics=["AI", "Robotcs", "Quantum"])
    articles = project / "articles"
    write_article(articles, "one", topics=["AI", "Robotics"])
    write_article(articles, "two", topics=["Robotics"], webUrl="https://two.example/",
                  publishedDateTime="2020-06-01T10:00:00Z")
    result = run(project, "check")
    assert result.exit_code == 0, result.output  # no error: the corpus may yet grow
    lines = result.stdout.splitlines()
    assert "Configured topics no article in the corpus has (2):" in lines, lines
    robotcs = next(line for line in lines if line.startswith("  Robotcs: 0"))
    assert robotcs.startswith("  Robotcs: 0 (no article in the corpus to place in it; "
                              '2 articles have "Robotics": '), robotcs
    assert "  Quantum: 0 (no article in the corpus to place in it)" in lines, lines
    assert not any(line.startswith("  AI:") for line in lines), lines
    again = run(project, "check", "--strict")  # the topics read from the cache this time
    assert again.exit_code == 0 and robotcs in again.stdout.splitlines(), again.output
    write_config(project, topics=["AI", "Robotics"])
    result = run(project, "check")
    assert result.exit_code == 0 and "Configured topics" not in result.output, result.output


def test_a_corpus_naming_an_article_file_says_it_is_a_file(project: Path) -> None:
    write_article(project / "articles", "one")
    write_config(project, corpus="articles/one.md")
    result = run(project, "build", "2021-02-22")
    assert result.exit_code == 1
    assert ('corpus: "articles/one.md" is a file, not a folder' in result.stderr
            and 'e.g. corpus: "articles"' in result.stderr), result.stderr


def test_an_output_inside_the_corpus_folder_is_told_to_move_out_not_to_stay(
        project: Path) -> None:
    # It used to advise corpus: "articles", the value already there.
    write_config(project, output="articles/out")
    result = run(project, "check")
    assert result.exit_code == 1
    assert ('output: "articles/out" is inside the corpus ("articles"), where every build '
            'would read its own files back as articles; put the output beside the corpus '
            'instead, e.g. output: "issues"') in result.stderr


def test_subscribers_of_a_topic_renamed_in_the_config_are_named(
        project: Path, monkeypatch) -> None:
    # Their issues silently lacked the topic ("chose no topic it has") for ever.
    monkeypatch.setenv("NEWSLETTER_SECRET", "test-secret-0123456789-abcdefghij")
    write_config(project, topics=["AI", "Canvas app"])
    write_article(project / "articles", "one", topics=["AI"])
    assert run(project, "subscribers", "add", "dave@example.org",
               "--topics", "Canvas app").exit_code == 0
    assert run(project, "subscribers", "add", "ada@example.org", "--topics", "AI").exit_code == 0
    assert run(project, "build", "2021-02-22", "--publish").exit_code == 0
    warning = ('warning: 1 subscriber(s) chose the topic "Canvas app", which newsletter.yaml '
               'no longer has (renamed "Canvas apps"?), so no issue sends it to them: '
               'dave@example.org.')
    assert warning not in run(project, "subscribers", "list").stderr
    write_config(project, topics=["AI", "Canvas apps"])
    listed = run(project, "subscribers", "list")
    assert listed.exit_code == 0
    assert warning in listed.stderr
    assert 'newsletter subscribers add EMAIL --topics "A;B"' in listed.stderr
    sent = run(project, "send", "2021-02-22", "--outbox", str(project / "outbox"))
    assert sent.exit_code == 0, sent.output
    assert warning in sent.stderr
    # One who unsubscribed is not named: no issue is sent to them anyway.
    assert set_status(load_config(project / "newsletter.yaml"), "dave@example.org",
                      "unsubscribed")
    assert "Canvas app" not in run(project, "subscribers", "list").stderr


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed: `apt-get install "
                                              "chromium` (.ci/run does)")
def test_the_preview_fits_a_phone_the_table_scrolling_on_its_own(tmp_path: Path) -> None:
    # The table of verdicts (ids, the overrides.yaml path) made the whole page scroll
    # sideways on a 375 px phone.
    write_config(tmp_path)
    write_article(tmp_path / "articles", "2021-02-17-a-long-article-id-as-real-corpora-have",
                  title="An article")
    server = PreviewServer(tmp_path / "newsletter.yaml", port=0,
                           default_date=dt.date(2021, 2, 22)).start()
    try:
        with preview_page(server, 375) as page:
            for path in ("", "explain"):
                page.goto(server.draft_url(dt.date(2021, 2, 22)) + path)
                assert page.locator("#explain").is_visible()
                overflow = page.evaluate(
                    "document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"the page scrolls sideways: {path or 'draft'}"
    finally:
        server.close()


def test_an_empty_issue_names_the_command_that_builds_the_newest_article(
        project: Path) -> None:
    # A real corpus is years old: `newsletter build` (today) had nothing and said only
    # the newest article's date, leaving the issue date that holds it to be worked out.
    write_config(project, timezone="America/New_York")
    write_article(project / "articles", "late", title="Late at night",
                  publishedDateTime=dt.datetime(2021, 2, 18, 3, 0, tzinfo=dt.UTC))
    result = run(project, "build")
    assert result.exit_code == 0, result.output
    assert ("the newest article in the corpus is dated 2021-02-17: `newsletter build --date "
            "2021-02-18` makes the issue that holds it.") in result.stdout
    built = run(project, "build", "--date", "2021-02-18")
    assert "1 topic, 1 article," in built.stdout, built.output


def test_the_config_init_writes_shows_how_to_send_and_uncommented_it_is_valid(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # It said nothing of sending: the first `send` answered with a missing secret and the
    # smtp settings were to be found in the README.
    result = run(tmp_path, "init", str(tmp_path / "news"), "--title", "AI Weekly",
                 "--site-url", "https://news.example.org/ai/", "--timezone", "UTC",
                 "--topics", "AI")
    assert result.exit_code == 0, result.output
    path = tmp_path / "news" / "newsletter.yaml"
    text = path.read_text("utf-8")
    assert "NEWSLETTER_SECRET" in text
    lines = text.splitlines()
    start = lines.index("# smtp:")
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("#   ")),
               len(lines))
    lines[start:end] = [line[2:] for line in lines[start:end]]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    monkeypatch.setenv("SMTP_PASSWORD", "x")  # unset, check names it (test_check_sending)
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)
    checked = run(tmp_path / "news", "check")
    assert checked.exit_code == 0, checked.output
    assert "smtp" not in checked.stderr


def test_a_subscriber_csv_separated_by_semicolons_or_without_names_says_how_to_fix_it(
        project: Path, tmp_path: Path) -> None:
    # A spreadsheet in a European locale saves CSV with ';'; a plain list has no name.
    for content, hint in (
            ("email;name;topics\nada@example.org;Ada;AI\n",
             "the file separates its columns with semicolons: save it as CSV with commas"),
            ("email\tname\nada@example.org\tAda\n",
             "the file separates its columns with tabs: save it as CSV with commas"),
            ("email\nada@example.org\n", "add a name column, which may stay empty: email,name")):
        path = tmp_path / "people.csv"
        path.write_text(content, "utf-8")
        result = run(project, "subscribers", "import", str(path))
        assert result.exit_code == 1
        assert "expected the header email,name[,topics]" in result.stderr
        assert hint in result.stderr, result.stderr
    path.write_text("email,name\nada@example.org,\n", "utf-8")
    assert run(project, "subscribers", "import", str(path)).exit_code == 0


@pytest.mark.parametrize(("given", "meant"), [("New York", "America/New_York"),
                                             ("paris", "Europe/Paris"),
                                             ("Europe/Pariss", "Europe/Paris"),
                                             ("utc", "UTC"),
                                             # the old name of a city: its zone's own name
                                             ("Calcutta", "Asia/Kolkata")])
def test_a_time_zone_written_as_people_say_it_names_the_zone_meant(
        project: Path, given: str, meant: str) -> None:
    write_config(project, timezone=given)
    result = run(project, "check")
    assert result.exit_code == 1
    assert (f'timezone: expected an IANA time zone name such as "America/New_York", got '
            f'"{given}"; did you mean "{meant}"?') in result.stderr, result.stderr


@pytest.mark.parametrize("given", ["Mars/Olympus", "Europe/Springfield", "GMT+5"])
def test_a_time_zone_like_no_place_gets_no_guess(project: Path, given: str) -> None:
    # Not Europe/Simferopol for a made-up city; not Etc/GMT+5 for "GMT+5": that zone is
    # five hours behind UTC, not ahead.
    write_config(project, timezone=given)
    result = run(project, "check")
    assert result.exit_code == 1
    assert (f'timezone: expected an IANA time zone name such as "America/New_York", got '
            f'"{given}"') in result.stderr, result.stderr
    assert "did you mean" not in result.stderr, result.stderr


def test_a_yaml_mistake_names_the_line_that_made_it_not_only_where_yaml_gave_up(
        project: Path) -> None:
    # An unclosed quote is read on into the next lines: the error named line 3 for a
    # mistake on line 1, and a tab's error did not say it was a tab.
    config = project / "newsletter.yaml"
    good = config.read_text("utf-8")
    config.write_text(good.replace("title: AI Weekly", 'title: "AI Weekly'), "utf-8")
    result = run(project, "check")
    assert result.exit_code == 1
    assert 'line 1 opens a " that it does not close: is its closing quote missing?' in \
        result.stderr, result.stderr
    # The next value's quote left open too: YAML closes the first string there and gives up
    # on that line, which opens a quote of its own; the first unclosed quote is the one named.
    config.write_text(good.replace("title: AI Weekly", 'title: "AI Weekly').replace(
        "site_url: https://news.example.org/ai/", 'site_url: "https://news.example.org/ai/'),
        "utf-8")
    result = run(project, "check")
    assert result.exit_code == 1
    assert 'line 1 opens a " that it does not close: is its closing quote missing?' in \
        result.stderr, result.stderr
    # A list item's quote left open as well.
    config.write_text(good.replace("- AI", '- "AI'), "utf-8")
    result = run(project, "check")
    assert 'opens a " that it does not close' in result.stderr, result.stderr
    # A quote escaped inside the value is not its closing one.
    config.write_text(good.replace("title: AI Weekly", 'title: "AI \\"Weekly'), "utf-8")
    result = run(project, "check")
    assert 'line 1 opens a " that it does not close' in result.stderr, result.stderr
    # A tab inside a value is not an indentation.
    config.write_text(good.replace("title: AI Weekly", "title: AI\tWeekly: news"), "utf-8")
    result = run(project, "check")
    assert result.exit_code == 1 and "YAML syntax error" in result.stderr, result.stderr
    assert "tab" not in result.stderr, result.stderr
    config.write_text(good.replace("- AI", "\t- AI"), "utf-8")
    result = run(project, "check")
    assert result.exit_code == 1
    tabbed = good.split("\n").index("- AI") + 1
    assert f"line {tabbed} is indented with a tab: YAML indents with spaces" in \
        result.stderr, result.stderr
    config.write_text("\t" + good, "utf-8")  # the very first line
    result = run(project, "check")
    assert "line 1 is indented with a tab: YAML indents with spaces" in result.stderr, \
        result.stderr
    config.write_text(good, "utf-8")
    (project / "articles" / "open.md").write_text(
        '---\ntitle: "Unclosed\nexcerpt: "fine"\npublishedDateTime: 2021-02-17T00:00:00Z\n'
        "webUrl: https://example.org/open\n---\n", "utf-8")
    (project / "articles" / "spans.md").write_text(
        '---\ntitle: "Spans\n  two lines"\npublishedDateTime: 2021-02-17T00:00:00Z\n'
        "webUrl: https://example.org/spans\ntopics: [AI, b\n---\n", "utf-8")
    result = run(project, "check")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    opened = next(line for line in lines if line.startswith("open.md:"))
    assert opened.endswith('line 2 opens a " that it does not close: is its closing quote '
                           "missing?"), opened
    spans = next(line for line in lines if line.startswith("spans.md:"))
    assert "opens a" not in spans, spans  # a quoted value may span lines


def test_the_preview_names_a_configured_topic_with_nothing_placed(tmp_path: Path) -> None:
    write_config(tmp_path, topics=["AI", "Canvas app"])
    write_article(tmp_path / "articles", "one", topics=["AI", "Canvas apps"])
    server = PreviewServer(tmp_path / "newsletter.yaml", port=0,
                           default_date=dt.date(2021, 2, 22)).start()
    try:
        with urllib.request.urlopen(server.draft_url(dt.date(2021, 2, 22)), timeout=10) as page:
            body = page.read().decode("utf-8")
    finally:
        server.close()
    banner = body[body.index('id="empty-topics"'):].split("</div>", 1)[0]
    assert "Canvas app: 0 (no article in the window to place in it; 1 article has " \
           "&#34;Canvas apps&#34;" in banner, banner


def test_topics_written_as_one_string_with_commas_are_explained_as_one_topic(
        project: Path) -> None:
    # explain said 'none of its topics (AI, Robotics) is configured' of an article whose
    # front matter reads `topics: AI, Robotics`, and AI is configured: it looked like a bug.
    write_article(project / "articles", "comma", topics="AI, Robotics")
    text = run(project, "explain", "2021-02-22").stdout
    assert ('comma: none of its topics ("AI, Robotics") is configured; "AI, Robotics" is one '
            "topic: write several as a list, topics: [AI, Robotics]") in text, text


def test_topics_separated_by_commas_on_the_command_line_say_to_use_semicolons(
        tmp_path: Path) -> None:
    # init --topics "AI, Robotics" wrote one topic named "AI, Robotics"; subscribers add
    # --topics "AI,Robotics" asked 'did you mean "Robotics"?'.
    result = run(tmp_path, "init", str(tmp_path / "news"), "--title", "AI Weekly",
                 "--site-url", "https://news.example.org/ai/", "--timezone", "UTC",
                 "--topics", "AI, Robotics")
    assert result.exit_code == 2
    assert ('--topics: topics[0]: "AI, Robotics" holds a comma, and --topics separates topics '
            'with ";": --topics "AI;Robotics"') in result.stderr, result.stderr
    assert not (tmp_path / "news").exists()
    write_config(tmp_path, topics=["AI", "Robotics"])
    added = run(tmp_path, "subscribers", "add", "ada@example.org", "--topics", "AI,Robotics")
    assert added.exit_code != 0
    assert ('unknown topic "AI,Robotics" (configured: AI, Robotics); topics are separated '
            'by ";", as in "AI;Robotics"') in added.stderr, added.stderr
    # With a topic not configured among them, the separator is not the mistake.
    unknown = run(tmp_path, "subscribers", "add", "ada@example.org", "--topics", "AI,Robots")
    assert unknown.exit_code != 0
    assert 'unknown topic "AI,Robots"' in unknown.stderr and '";"' not in unknown.stderr, \
        unknown.stderr


def test_a_scheduler_that_will_send_says_at_start_that_the_secret_is_missing(
        project: Path, monkeypatch, caplog) -> None:
    # Said only when the first run failed at its send, days after the start maybe, its
    # issue already published.
    monkeypatch.delenv("NEWSLETTER_SECRET", raising=False)
    write_config(project, schedule={"cron": "0 7 1 1 *", "send": True},
                 smtp={"host": "127.0.0.1", "port": 2525, "security": "none"})
    with caplog.at_level(logging.INFO, "newsletter"):
        result = run(project, "schedule", "--once")
    assert result.exit_code == 0, result.output
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
            and r.getMessage().startswith("schedule.send is true")]
    assert len(said) == 1, caplog.text
    assert said[0].startswith("schedule.send is true, but the environment variable "
                              "NEWSLETTER_SECRET is not set")
    assert said[0].endswith("until this is fixed and the scheduler restarted")
    caplog.clear()
    monkeypatch.setenv("NEWSLETTER_SECRET", "test-secret-0123456789-abcdefghij")
    with caplog.at_level(logging.INFO, "newsletter"):
        assert run(project, "schedule", "--once").exit_code == 0
    assert "schedule.send is true" not in caplog.text


def test_the_missing_secret_is_said_to_be_made_once_and_kept(project: Path,
                                                             monkeypatch) -> None:
    # The fix it offered made a new secret in each shell, and a serve started with another
    # one than the send answered "Invalid link" to every unsubscribe link mailed.
    monkeypatch.delenv("NEWSLETTER_SECRET", raising=False)
    write_article(project / "articles", "one")
    assert run(project, "build", "2021-02-22", "--publish").exit_code == 0
    result = run(project, "send", "2021-02-22")
    assert result.exit_code == 1
    assert ("a long random string made once and kept, the same for every run and for serve "
            "(a new one makes the links already mailed invalid)") in result.stderr
    readme = (PROJECT / "README.md").read_text("utf-8")
    assert "export NEWSLETTER_SECRET=$(python" not in readme  # a new secret in each shell


def test_a_number_or_true_false_written_in_quotes_is_said_to_be_text(project: Path) -> None:
    # `port: "8025"` got 'smtp.port: expected a positive integer, got "8025"', which reads as
    # nonsense to whoever typed it: the quotes, which make it text, went unsaid.
    write_config(project, window_days="7", min_quality="5",
                 smtp={"host": "127.0.0.1", "port": "8025"},
                 schedule={"cron": "0 7 * * mon", "send": "yes"},
                 same_story={"threshold": "0.4"}, email={
                     "from": "AI Weekly <newsletter@news.example.org>",
                     "postal_address": "100 Example Street, Springfield",
                     "one_click_unsubscribe": "false"})
    result = run(project, "check")
    assert result.exit_code == 1
    for line in (
            'window_days: expected a positive integer, got "7" in quotes, which YAML reads as '
            "text: write window_days: 7",
            'min_quality: expected a number, got "5" in quotes, which YAML reads as text: '
            "write min_quality: 5",
            'smtp.port: expected a positive integer, got "8025" in quotes, which YAML reads as '
            "text: write port: 8025",
            'schedule.send: expected true or false, got "yes" in quotes, which YAML reads as '
            "text: write send: true",
            "same_story.threshold: expected a number above 0 and at most 1 (the default is "
            '0.35), got "0.4" in quotes, which YAML reads as text: write threshold: 0.4',
            'email.one_click_unsubscribe: expected true or false (false: ',
    ):
        assert f"  {line}" in result.stderr, result.stderr
    assert 'https), got "false" in quotes, which YAML reads as text: write ' \
           "one_click_unsubscribe: false\n" in result.stderr, result.stderr
    # A value refused without its quotes as well is told nothing about them.
    write_config(project, window_days="0", smtp={"host": "127.0.0.1", "port": "smtp"},
                 same_story={"threshold": "2"})
    result = run(project, "check")
    assert result.exit_code == 1
    assert '  window_days: expected a positive integer, got "0"\n' in result.stderr
    assert '  smtp.port: expected a positive integer, got "smtp"\n' in result.stderr
    assert "in quotes" not in result.stderr, result.stderr


def test_a_value_holding_a_colon_is_told_to_be_quoted(project: Path) -> None:
    # `title: Frost: a guide` got 'YAML syntax error: mapping values are not allowed in this
    # context', naming the line but neither the colon nor the quotes that fix it.
    config = project / "newsletter.yaml"
    good = config.read_text("utf-8")
    config.write_text(good.replace("title: AI Weekly", "title: AI Weekly: the news"), "utf-8")
    result = run(project, "check")
    assert result.exit_code == 1
    assert ('line 1: YAML syntax error: mapping values are not allowed in this context; the '
            'value of title holds ": ", which YAML reads as another key: put the value in '
            'quotes, title: "AI Weekly: the news"\n') in result.stderr, result.stderr
    config.write_text(good, "utf-8")
    (project / "articles" / "frost.md").write_text(
        '---\ntitle: Frost: how to "protect" plants  # from the feed\n'
        "publishedDateTime: 2021-02-17T00:00:00Z\nwebUrl: https://example.org/frost\n---\n",
        "utf-8")
    result = run(project, "check")
    assert result.exit_code == 1
    assert ('frost.md:2: YAML syntax error: mapping values are not allowed in this context; '
            'the value of title holds ": ", which YAML reads as another key: put the value in '
            'quotes, title: "Frost: how to \\"protect\\" plants"\n') in result.stderr, \
        result.stderr
    # A key indented too far is another mistake, which quotes do not fix.
    (project / "articles" / "frost.md").write_text(
        "---\ntitle: Frost\n  webUrl: https://example.org/frost\n"
        "publishedDateTime: 2021-02-17T00:00:00Z\n---\n", "utf-8")
    result = run(project, "check")
    assert result.exit_code == 1
    assert "mapping values are not allowed" in result.stderr, result.stderr
    assert "quotes" not in result.stderr, result.stderr
