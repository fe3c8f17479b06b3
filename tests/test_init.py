"""`newsletter init`: a new newsletter that `check` guides to completion and that builds,
prompts only on a terminal, never overwrites; `init --templates` to start overriding."""

from __future__ import annotations

import datetime as dt
import os
import pty
import subprocess
import sys
from email import policy
from email.parser import BytesParser
from email.utils import parseaddr
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from newsletter.cli import cli, init_command
from newsletter.publishing.starter import Settings, config_text
from newsletter.rendering.templating import TEMPLATES


def init(*args: str, today: str = "2021-03-01", input: str | None = None):
    return CliRunner().invoke(cli, ["init", *args], env={"NEWSLETTER_TODAY": today},
                              input=input, prog_name="newsletter")


def newsletter(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """`newsletter ARGS` run in ``folder`` as a user runs it: no terminal, this checkout."""
    env = {k: v for k, v in os.environ.items() if k != "NEWSLETTER_CONFIG"}
    return subprocess.run([sys.executable, "-m", "newsletter", *args], cwd=folder, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)


def test_init_without_answers_writes_placeholders_that_check_lists(tmp_path: Path) -> None:
    folder = tmp_path / "x"
    made = newsletter(tmp_path, "init", "x")
    assert made.returncode == 0, made.stderr
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == [
        ".gitignore", "articles",
        f"articles/{dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)}-welcome.md",
        "issues", "newsletter.yaml"]
    assert list((folder / "issues").iterdir()) == []
    assert "/.newsletter/" in (folder / ".gitignore").read_text("utf-8").splitlines()
    lines = made.stdout.splitlines()
    assert lines[-3:] == ["  newsletter check      # says what is left to fill in",
                          "  newsletter build      # today's issue, from the example article",
                          "  newsletter preview    # look at it in your browser"]
    assert "Next, in x (cd x):" in lines

    checked = newsletter(folder, "check")
    assert checked.returncode == 1
    for key, what in [("title", "the newsletter's name"), ("site_url", "the https URL"),
                      ("timezone", "an IANA time zone"), ("topics[0]", "your topics")]:
        assert f"{key}: fill in {what}" in checked.stderr, key
    assert "4 problems" in checked.stderr

    # Filled in, it builds today's issue from the example article.
    config = folder / "newsletter.yaml"
    text = config.read_text("utf-8")
    for old, new in [("<fill in: the newsletter's name, e.g. AI Weekly>", "My News"),
                     ("<fill in: the https URL where issues/ is published, e.g. "
                      "https://news.example.org/ai/>", "https://my.example/news/"),
                     ("<fill in: an IANA time zone such as America/New_York or UTC>", "UTC")]:
        assert old in text
        text = text.replace(old, new)
    text = text.replace('"<fill in: your topics, one per line; the example article is in '
                        '\\"News\\">"', '"News"')
    config.write_text(text, "utf-8")
    assert newsletter(folder, "check").returncode == 0
    built = newsletter(folder, "build")
    assert built.returncode == 0, built.stderr
    assert "1 article," in built.stdout
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert "Welcome to your newsletter" in (folder / "issues" / today / "email.html").read_text(
        "utf-8")


def test_init_with_options_is_ready_to_build(tmp_path: Path) -> None:
    result = init(str(tmp_path), "--title", 'AI "Weekly"', "--site-url",
                  "https://news.example.org/ai/", "--timezone", "America/New_York",
                  "--topics", "AI; Robotics ;")
    assert result.exit_code == 0, result.output
    data = yaml.safe_load((tmp_path / "newsletter.yaml").read_text("utf-8"))
    assert data["title"] == 'AI "Weekly"'
    assert data["topics"] == ["AI", "Robotics"]
    assert data["email"]["from"] == r'"AI \"Weekly\"" <newsletter@news.example.org>'
    article = tmp_path / "articles" / "2021-02-28-welcome.md"  # the day before "today"
    assert "publishedDateTime: 2021-02-28T12:00:00-05:00" in article.read_text("utf-8")
    runner = CliRunner()
    config = ["--config", str(tmp_path / "newsletter.yaml")]
    assert runner.invoke(cli, [*config, "check"]).exit_code == 0
    built = runner.invoke(cli, [*config, "build", "2021-03-01"])
    assert built.exit_code == 0, built.output
    assert "AI: 1" in built.stdout


def test_init_asks_on_a_terminal_only(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(init_command, "interactive", lambda: True)
    result = init(str(tmp_path / "asked"), "--title", "Given",
                  input="https://my.example/\n\nA;B\n")
    assert result.exit_code == 0, result.output
    assert "The newsletter's name" not in result.output  # given as an option: not asked
    assert "Where it is published" in result.output
    data = yaml.safe_load((tmp_path / "asked" / "newsletter.yaml").read_text("utf-8"))
    assert (data["title"], data["site_url"], data["topics"]) == ("Given", "https://my.example/",
                                                                 ["A", "B"])
    assert data["timezone"].startswith("<fill in:")  # Enter: filled in later
    assert "nothing was asked" not in result.output  # it was, and the answer was Enter

    monkeypatch.setattr(init_command, "interactive", lambda: False)
    quiet = init(str(tmp_path / "quiet"), input="ignored\n")
    assert quiet.exit_code == 0
    assert "(Enter: fill in later)" not in quiet.output


def test_answers_piped_to_init_are_not_read_and_it_says_so(tmp_path: Path) -> None:
    """`printf ... | newsletter init`: no terminal, so nothing is asked and the answers are
    not read (as in a script); one line on stderr says so, which values are placeholders,
    and how to give them. Every value given: nothing to say."""
    env = {k: v for k, v in os.environ.items() if k != "NEWSLETTER_CONFIG"}
    command = [sys.executable, "-m", "newsletter", "init"]
    piped = subprocess.run([*command, "piped", "--title", "AI Weekly"], cwd=tmp_path, env=env,
                           input="https://my.example/\nUTC\nAI\n", capture_output=True,
                           text=True, timeout=120)
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == (
        "note: standard input is not a terminal, so nothing was asked and standard input "
        "was not read: site_url, timezone, topics are <fill in: ...> placeholders in "
        "piped/newsletter.yaml; fill them in there (`newsletter check` lists them); in a "
        "script, give them to `newsletter init` as options: --site-url ... --timezone ... "
        '--topics "A;B"\n')
    data = yaml.safe_load((tmp_path / "piped" / "newsletter.yaml").read_text("utf-8"))
    assert (data["title"], data["site_url"][:9]) == ("AI Weekly", "<fill in:")
    given = subprocess.run([*command, "given", "--title", "AI Weekly", "--site-url",
                            "https://my.example/", "--timezone", "UTC", "--topics", "AI"],
                           cwd=tmp_path, env=env, input="ignored\n", capture_output=True,
                           text=True, timeout=120)
    assert (given.returncode, given.stderr) == (0, "")


def test_init_with_a_terminal_for_input_only_neither_asks_nor_reads_it(tmp_path: Path) -> None:
    """Standard input a terminal but the output piped (`newsletter init | tee log`): nothing
    is asked, the terminal is not read (the command does not wait for it), and the note
    names standard output."""
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NEWSLETTER_CONFIG"}
    try:
        made = subprocess.run([sys.executable, "-m", "newsletter", "init", "tty"],
                              cwd=tmp_path, env=env, stdin=follower, capture_output=True,
                              text=True, timeout=120)
    finally:
        os.close(follower)
        os.close(leader)
    assert made.returncode == 0, made.stderr
    assert made.stderr.startswith("note: standard output is not a terminal, so nothing was "
                                  "asked and standard input was not read: title, site_url, "
                                  "timezone, topics are"), made.stderr
    assert "(Enter: fill in later)" not in made.stdout


def test_a_wrong_option_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    folder = tmp_path / "typo"
    result = init(str(folder), "--title", "AI Weekly", "--timezone", "Europe/Pariss",
                  "--site-url", "news.example.org", "--topics", "AI;ai")
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[-3:] == [
        'Error: --site-url: site_url: expected an absolute http(s) URL such as '
        'https://news.example.org/, got "news.example.org"',
        '--timezone: timezone: expected an IANA time zone name such as "America/New_York", '
        'got "Europe/Pariss"; did you mean "Europe/Paris"?',
        '--topics: topics[1]: topic "ai" is already listed as topics[0]']
    assert not folder.exists()


def test_the_machine_s_own_timezone_is_refused_and_a_legacy_one_warned(tmp_path: Path
                                                                        ) -> None:
    refused = init(str(tmp_path / "local"), "--timezone", "localtime")
    assert refused.exit_code == 2, refused.output
    assert ('Error: --timezone: timezone: "localtime" is the time zone of whichever machine '
            "runs the command") in refused.stderr
    assert not (tmp_path / "local").exists()
    rest = ("--title", "AI Weekly", "--site-url", "https://my.example/", "--topics", "AI")
    warned = init(str(tmp_path / "est"), "--timezone", "EST", *rest)
    assert warned.exit_code == 0, warned.output
    assert warned.stderr.splitlines() == [
        'warning: --timezone: timezone: "EST" is a legacy name, not a place, and its rules '
        "differ between tzdata versions; give the IANA name of the newsletter's place, e.g. "
        '"Europe/Paris" or "America/New_York"']
    data = yaml.safe_load((tmp_path / "est" / "newsletter.yaml").read_text("utf-8"))
    assert data["timezone"] == "EST"
    if Path("/usr/share/zoneinfo/tzdata.zi").is_file():  # the links' data (Debian: tzdata)
        linked = init(str(tmp_path / "us"), "--timezone", "US/Eastern", *rest)
        assert linked.exit_code == 0, linked.output
        assert linked.stderr.splitlines() == [
            'warning: --timezone: timezone: "US/Eastern" is an old name tzdata keeps for '
            'compatibility, another name of "America/New_York", and newer systems may lack it '
            '(Debian 13 moved such names to its tzdata-legacy package); give '
            '"America/New_York" instead']


def test_a_wrong_answer_is_asked_again(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(init_command, "interactive", lambda: True)
    result = init(str(tmp_path / "asked"), "--title", "Given", "--site-url",
                  "https://my.example/", input="Mars/Olympus\nEurope/Paris\nAI;ai\nAI\n")
    assert result.exit_code == 0, result.output
    assert 'Error: timezone: expected an IANA time zone name such as "America/New_York", ' \
           'got "Mars/Olympus"' in result.output
    assert 'Error: topics[1]: topic "ai" is already listed as topics[0]' in result.output
    data = yaml.safe_load((tmp_path / "asked" / "newsletter.yaml").read_text("utf-8"))
    assert (data["timezone"], data["topics"]) == ("Europe/Paris", ["AI"])


def test_init_never_overwrites(tmp_path: Path) -> None:
    assert init(str(tmp_path)).exit_code == 0
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    again = init(str(tmp_path), "--title", "Other")
    assert again.exit_code == 1
    assert "newsletter.yaml, articles, issues, .gitignore already exist" in again.output
    assert "never overwrites" in again.output
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before

    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / ".gitignore").write_text("mine\n", "utf-8")
    refused = init(str(lone))
    assert refused.exit_code == 1 and ".gitignore already exists" in refused.output
    assert [p.name for p in lone.iterdir()] == [".gitignore"]  # nothing else was created
    assert "--force" not in CliRunner().invoke(cli, ["init", "--help"]).output


def _refused(result, reason: str) -> None:
    assert result.exit_code == 1
    assert reason in result.output, result.output
    assert "unexpected" not in result.output and "report it" not in result.output


def test_a_file_in_the_way_is_named(tmp_path: Path) -> None:
    (tmp_path / "news").write_text("not a folder\n", "utf-8")
    _refused(init(str(tmp_path / "news" / "ai")),
             f"cannot create files in {tmp_path}/news/ai: {tmp_path}/news is a file, where a "
             "folder has to be; move the file away, or choose another folder")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "templates").write_text("not a folder\n", "utf-8")
    _refused(init(str(tmp_path / "site"), "--templates"),
             f"{tmp_path}/site/templates is a file, where a folder has to be")


def test_a_folder_that_may_not_be_written_is_named(tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root writes anywhere a permission allows: sysfs refuses it
        if not os.path.ismount("/sys"):
            pytest.skip("no /sys to be refused by")
        folder = Path("/sys") / f"newsletter-{tmp_path.name}"
    else:
        tmp_path.chmod(0o500)
        folder = tmp_path / "news"
    try:
        _refused(init(str(folder), "--title", "T"),
                 f"cannot create files in {folder}: permission denied on {folder}; choose a "
                 "folder you can write to, or get write permission on this one")
    finally:
        tmp_path.chmod(0o700)


def test_a_read_only_file_system_is_named(tmp_path: Path) -> None:
    mounted = tmp_path / "ro"
    mounted.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(mounted)],
                           capture_output=True, check=False)
    if mount.returncode != 0:
        pytest.skip("cannot mount a read-only file system here")
    try:
        _refused(init(str(mounted / "news"), "--templates"),
                 f"{mounted}/news is on a read-only file system; choose a folder on a "
                 "writable disk")
    finally:
        subprocess.run(["umount", str(mounted)], check=True)


def test_init_templates_copies_the_packaged_ones_to_start_from(tmp_path: Path) -> None:
    assert init(str(tmp_path), "--title", "T", "--site-url", "https://t.example/",
                "--timezone", "UTC", "--topics", "News").exit_code == 0
    copied = init(str(tmp_path), "--templates")
    assert copied.exit_code == 0, copied.output
    names = sorted(p.name for p in (tmp_path / "templates").iterdir())
    assert "email.mjml.j2" in names and "macros.j2" in names
    assert not any(name.startswith("preview_") for name in names)
    for name in names:
        assert (tmp_path / "templates" / name).read_bytes() == (TEMPLATES / name).read_bytes()
    assert 'add `templates: "templates"` to newsletter.yaml' in copied.output
    refused = init(str(tmp_path), "--templates")
    assert refused.exit_code == 1 and "never overwrites" in refused.output

    # The copies in use give the same email as the packaged templates.
    runner = CliRunner()
    config = tmp_path / "newsletter.yaml"
    runner.invoke(cli, ["--config", str(config), "build", "2021-03-01"])
    packaged = (tmp_path / "issues" / "2021-03-01" / "email.html").read_bytes()
    assert b"Welcome to T" in packaged
    config.write_text(config.read_text("utf-8").replace('# templates: "templates"',
                                                        'templates: "templates"'), "utf-8")
    assert runner.invoke(cli, ["--config", str(config), "check"]).exit_code == 0
    rebuilt = runner.invoke(cli, ["--config", str(config), "build", "2021-03-01"])
    assert "Unchanged" in rebuilt.stdout
    assert (tmp_path / "issues" / "2021-03-01" / "email.html").read_bytes() == packaged


@pytest.mark.parametrize("settings", [Settings(), Settings("T", "https://t.example/", "UTC",
                                                           ("A", "B"))])
def test_the_written_config_is_yaml_with_every_gap_a_placeholder(settings: Settings) -> None:
    data = yaml.safe_load(config_text(settings))
    assert set(data) >= {"title", "site_url", "timezone", "topics", "email", "state_dir"}
    filled = [settings.title, settings.site_url, settings.timezone]
    for key, value in zip(("title", "site_url", "timezone"), filled, strict=True):
        assert data[key] == value if value else data[key].startswith("<fill in: "), key


@pytest.mark.parametrize("title", ["News, Views", "A;B", "Dr. Who's <Weekly>",
                                   'Back\\slash "and" quotes', "Ça va: l'hebdo"])
def test_init_quotes_a_title_that_an_address_cannot_hold_as_it_is(tmp_path: Path,
                                                                   title: str) -> None:
    """The sender `init` writes (the title, newsletter@ the host) passes `check` and names
    the newsletter exactly: a comma or a semicolon in it does not split the address."""
    result = init(str(tmp_path), "--title", title, "--site-url", "https://news.example.org/",
                  "--timezone", "UTC", "--topics", "AI")
    assert result.exit_code == 0, result.output
    config = ["--config", str(tmp_path / "newsletter.yaml")]
    checked = CliRunner().invoke(cli, [*config, "check"])
    assert checked.exit_code == 0, checked.output
    sender = yaml.safe_load((tmp_path / "newsletter.yaml").read_text("utf-8"))["email"]["from"]
    assert parseaddr(sender) == (title, "newsletter@news.example.org")
    built = CliRunner().invoke(cli, [*config, "build", "2021-03-01"])
    assert built.exit_code == 0, built.output
    message = BytesParser(policy=policy.default).parsebytes(
        next((tmp_path / "issues").glob("*/email.eml")).read_bytes())
    assert message["From"].addresses[0].display_name == title


@pytest.mark.parametrize("answer", ['"AI;Robotics"', "'AI;Robotics'", '"AI";"Robotics"',
                                    " 'AI' ; 'Robotics' ", "“AI;Robotics”"])
def test_topics_typed_as_the_example_shows_them_lose_their_quotes(tmp_path: Path, monkeypatch,
                                                                  answer: str) -> None:
    """The prompt's example once read (e.g. "AI;Robotics"): typed as shown, the quotes went
    into the topics ('"AI' and 'Robotics"'), which no article's topic matches, and check
    said nothing of it."""
    monkeypatch.setattr(init_command, "interactive", lambda: True)
    folder = tmp_path / "asked"
    result = init(str(folder), "--title", "Given", "--site-url", "https://my.example/",
                  "--timezone", "UTC", input=f"{answer}\n")
    assert result.exit_code == 0, result.output
    assert '(e.g. AI;Robotics)' in result.output  # the example without quotes to copy
    data = yaml.safe_load((folder / "newsletter.yaml").read_text("utf-8"))
    assert data["topics"] == ["AI", "Robotics"]
    (article,) = (folder / "articles").iterdir()
    front = article.read_text("utf-8").removeprefix("---\n").split("\n---\n")[0]
    assert yaml.safe_load(front)["topics"] == ["AI"]

    monkeypatch.setattr(init_command, "interactive", lambda: False)
    given = init(str(tmp_path / "given"), "--topics", answer)  # the option, quoted twice
    assert given.exit_code == 0, given.output
    data = yaml.safe_load((tmp_path / "given" / "newsletter.yaml").read_text("utf-8"))
    assert data["topics"] == ["AI", "Robotics"]


def test_a_quote_inside_a_topic_stays(tmp_path: Path) -> None:
    result = init(str(tmp_path / "x"), "--topics", "Rock 'n' Roll;\"Quoted\" news")
    assert result.exit_code == 0, result.output
    data = yaml.safe_load((tmp_path / "x" / "newsletter.yaml").read_text("utf-8"))
    assert data["topics"] == ["Rock 'n' Roll", '"Quoted" news']


@pytest.mark.parametrize(("topics", "shown", "mark", "meant"), [
    ('"climate;tech', "'\"climate'", '"', '"climate;tech"'),
    ("it's \"new", "'it's \"new'", '"', "\"it's new\""),
    ("AI;climate\"", "'climate\"'", '"', '"AI;climate"'),
    ("'climate;tech", "\"'climate\"", "'", '"climate;tech"'),
    ("\u201cclimate;\u2018tech", '"\u201cclimate"', "\u201c", '"climate;tech"'),
])
def test_an_unbalanced_quote_in_a_topic_is_refused_naming_it_and_the_fix(
        tmp_path: Path, topics: str, shown: str, mark: str, meant: str) -> None:
    """A quote opened and not closed (or closed and not opened) would stay in the topic's
    name, which no article spells so: refused like a comma, before anything is written,
    with the topics to give instead. An apostrophe inside a word is no quote."""
    folder = tmp_path / "x"
    result = init(str(folder), "--topics", topics)
    assert result.exit_code == 2, result.output
    index = 1 if topics.startswith("AI;") else 0
    assert (f"Error: --topics: topics[{index}]: {shown} has an unbalanced quote ({mark}), "
            f"which would stay in the topic's name; give --topics {meant} (a topic named "
            "with a lone quote goes in newsletter.yaml itself)") in result.stderr, result.stderr
    assert not folder.exists()


@pytest.mark.parametrize(("topics", "index", "shown", "mark", "meant"), [
    ("climate\u201d;tech", 0, '"climate\u201d"', "\u201d", '"climate;tech"'),  # closed only
    ("\u00abclimate;tech", 0, '"\u00abclimate"', "\u00ab", '"climate;tech"'),
    ('" climate;tech', 0, "'\" climate'", '"', '"climate;tech"'),  # no space left in
    # a balanced quote in another topic stays, and the shell is given it to keep
    ('The "AI" Act;"climate', 1, "'\"climate'", '"', "'The \"AI\" Act;climate'"),
])
def test_each_kind_of_lone_quote_is_named_with_the_topics_to_give(
        tmp_path: Path, topics: str, index: int, shown: str, mark: str, meant: str) -> None:
    """The quote named is the one the topic holds (a closing one, a guillemet), and the
    topics to give instead are the ones meant, quoted as a shell keeps them."""
    folder = tmp_path / "x"
    result = init(str(folder), "--topics", topics)
    assert result.exit_code == 2, result.output
    assert (f"Error: --topics: topics[{index}]: {shown} has an unbalanced quote ({mark}), "
            f"which would stay in the topic's name; give --topics {meant} (a topic named "
            "with a lone quote goes in newsletter.yaml itself)") in result.stderr, result.stderr
    assert not folder.exists()


def test_apostrophes_in_topics_are_no_unbalanced_quotes(tmp_path: Path) -> None:
    """Inside a word, closing a possessive or eliding digits, an apostrophe is the name's."""
    result = init(str(tmp_path / "x"), "--topics",
                  "It's AI;it\u2019s;Rock 'n' roll;Investors';Kids\u2019 health;'90s music")
    assert result.exit_code == 0, result.output
    data = yaml.safe_load((tmp_path / "x" / "newsletter.yaml").read_text("utf-8"))
    assert data["topics"] == ["It's AI", "it\u2019s", "Rock 'n' roll", "Investors'",
                              "Kids\u2019 health", "'90s music"]


def test_an_unbalanced_quote_at_the_prompt_is_asked_again(tmp_path: Path, monkeypatch
                                                          ) -> None:
    monkeypatch.setattr(init_command, "interactive", lambda: True)
    result = init(str(tmp_path / "asked"), "--title", "Given", "--site-url",
                  "https://my.example/", "--timezone", "UTC", input='"climate;tech\nclimate\n')
    assert result.exit_code == 0, result.output
    assert ("Error: topics[0]: '\"climate' has an unbalanced quote (\"), which would stay in "
            "the topic's name; type climate;tech (") in result.output, result.output
    assert "--topics" not in result.output
    data = yaml.safe_load((tmp_path / "asked" / "newsletter.yaml").read_text("utf-8"))
    assert data["topics"] == ["climate"]
    lone = init(str(tmp_path / "lone"), "--title", "Given", "--site-url",
                "https://my.example/", "--timezone", "UTC", input='"\nclimate\n')
    assert lone.exit_code == 0, lone.output
    assert "has an unbalanced quote (\"), which would stay in the topic's name; leave it out (" \
        in lone.output, lone.output


def test_commas_at_the_prompt_are_answered_for_the_prompt(tmp_path: Path, monkeypatch) -> None:
    """Told at the prompt, not about an option the user did not type."""
    monkeypatch.setattr(init_command, "interactive", lambda: True)
    result = init(str(tmp_path / "asked"), "--title", "Given", "--site-url",
                  "https://my.example/", "--timezone", "UTC", input="AI, Robotics\nAI;Robotics\n")
    assert result.exit_code == 0, result.output
    assert ('Error: topics[0]: "AI, Robotics" holds a comma, and topics are separated by ";": '
            "AI;Robotics") in result.output
    assert "--topics" not in result.output
    data = yaml.safe_load((tmp_path / "asked" / "newsletter.yaml").read_text("utf-8"))
    assert data["topics"] == ["AI", "Robotics"]
