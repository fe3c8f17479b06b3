"""The commands behave alike: the date as an argument or --date, global options before or
after the command, dates explained in words, the whole summary of each command in --help,
help for a bare `newsletter`, the next step after a build, and how to add subscribers."""

from __future__ import annotations

import contextlib
import datetime as dt
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import PROJECT, write_article, write_config
from newsletter.cli import cli
from newsletter.core.timing import parse_issue_date


@pytest.fixture
def one(project: Path) -> Path:
    write_article(project / "articles", "alpha", title="Alpha launches")
    return project


def invoke(folder: Path, *args: str):
    """In ``folder``, as a person runs it: the commands named by hand are the short ones."""
    with contextlib.chdir(folder):
        return CliRunner().invoke(cli, list(args), env={
            "NEWSLETTER_CONFIG": str(folder / "newsletter.yaml"),
            "NEWSLETTER_SECRET": "a test secret of enough length for the tokens"},
            catch_exceptions=False, prog_name="newsletter")


@pytest.mark.parametrize("form", [["2021-02-22"], ["--date", "2021-02-22"]])
def test_build_publish_explain_send_take_the_date_either_way(one: Path, form: list[str]):
    assert "2021-02-22" in invoke(one, "explain", *form).stdout.splitlines()[0]
    built = invoke(one, "build", *form)
    assert built.exit_code == 0, built.output
    assert (one / "issues" / "2021-02-22" / "issue.json").is_file()
    published = invoke(one, "publish", *form)
    assert published.exit_code == 0, published.output
    assert "Published issue 2021-02-22" in published.stdout
    sent = invoke(one, "send", *form, "--outbox", str(one / "outbox"))
    assert sent.exit_code == 0, sent.output
    assert "Issue 2021-02-22: 0 written to" in sent.stdout


@pytest.mark.parametrize("command", ["build", "publish", "explain", "preview", "send"])
def test_the_date_twice_is_a_usage_error(one: Path, command: str) -> None:
    result = invoke(one, command, "2021-02-22", "--date", "2021-02-22")
    assert result.exit_code == 2
    assert "the date is given twice" in result.stderr
    assert f"newsletter {command} 2021-02-22" in result.stderr


def test_a_command_that_needs_a_date_asks_for_it(one: Path) -> None:
    # publish names the latest draft (tests/test_publish_lock.py), and publishes nothing
    result = invoke(one, "publish")
    assert result.exit_code == 2
    assert "newsletter publish needs the date of a built issue (YYYY-MM-DD)" in result.stderr
    # send names the latest published issue (tests/test_by_hand.py), and sends nothing
    result = invoke(one, "send")
    assert result.exit_code == 2
    assert "newsletter send needs the date of a published issue (YYYY-MM-DD)" in result.stderr


@pytest.mark.parametrize(("text", "expected"), [
    ("2021-02-30", "2021-02-30 is not a date: February 2021 has 28 days; use YYYY-MM-DD"),
    ("2024-02-30", "2024-02-30 is not a date: February 2024 has 29 days; use YYYY-MM-DD"),
    ("2021-04-31", "2021-04-31 is not a date: April 2021 has 30 days; use YYYY-MM-DD"),
    ("2021-13-01", "2021-13-01 is not a date: there is no month 13"),
    ("22/02/2021", '"22/02/2021" is not a date: use YYYY-MM-DD, e.g. 2021-02-22'),
    ("2021-2-22", '"2021-2-22" is not a date: use YYYY-MM-DD, e.g. 2021-02-22 '
                  "(did you mean 2021-02-22?)"),
    ("2026-12-2", '"2026-12-2" is not a date: use YYYY-MM-DD, e.g. 2021-02-22 '
                  "(did you mean 2026-12-02?)"),
    ("2021-2-30", '"2021-2-30" is not a date: use YYYY-MM-DD, e.g. 2021-02-22'),
])
def test_a_bad_date_says_what_is_wrong(one: Path, text: str, expected: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_issue_date(text)
    assert expected in str(raised.value)
    for args in (["build", text], ["build", "--date", text], ["send", text]):
        result = invoke(one, *args)
        assert result.exit_code == 2
        assert expected in " ".join(result.stderr.split()), args


def test_only_a_real_date_written_without_its_zeros_gets_a_guess() -> None:
    for text in ("2021-2-30", "2021-13-1", "21-2-2", "2021-002-01"):
        with pytest.raises(ValueError) as raised:
            parse_issue_date(text)
        assert "did you mean" not in str(raised.value), text


@pytest.mark.parametrize("text", ["0001-01-01", "0001-01-02", "0999-12-31", "9990-01-01",
                                  "9999-12-31"])
@pytest.mark.parametrize("command", ["build", "explain", "publish", "send"])
def test_a_date_beyond_the_calendars_reach_is_a_usage_error(one: Path, text: str,
                                                            command: str) -> None:
    """An issue's window reaches back window_days and its schedule looks ahead: near years 1
    and 9999 that arithmetic cannot be done, so the date is refused up front."""
    for args in ([command, text], [command, "--date", text]):
        result = invoke(one, *args)
        assert result.exit_code == 2, result.output
        said = " ".join(result.stderr.split())
        assert "unexpected" not in said
        argument = "'--date'" if "--date" in args else "'[YYYY-MM-DD]'"
        assert (f"Invalid value for {argument}: {text} is out of range: issue dates go from "
                "1000-01-01 to 9989-12-31") in said


# No article is dated before the year 1000 (UTC), so the first issue to hold one is the next
# day's; 1000-01-01 itself builds nothing and says which issue holds the article. Nor is one
# dated from 9989-12-30 10:00 UTC (the last issue date's 00:00 in UTC+14) on.
@pytest.mark.parametrize(("timezone", "cron", "date", "published"), [
    ("Asia/Tokyo", "0 0 * * *", dt.date(1000, 1, 2), dt.datetime(1000, 1, 1, 12)),
    ("Etc/GMT+12", "59 23 * * *", dt.date(9989, 12, 31), dt.datetime(9989, 12, 30, 9)),
    ("America/New_York", "0 7 29 2 *", dt.date(9989, 12, 31),
     dt.datetime(9989, 12, 30, 9)),
])
def test_the_first_and_last_issue_dates_build_and_publish(
        project: Path, timezone: str, cron: str, date: dt.date,
        published: dt.datetime) -> None:
    write_config(project, timezone=timezone, window_days=36525 if date.year == 1000 else 7,
                 schedule={"cron": cron})
    write_article(project / "articles", "edge", publishedDateTime=published.replace(
        tzinfo=dt.UTC).isoformat())
    if date.year == 1000:
        first = invoke(project, "build", "1000-01-01", "--publish")
        assert first.exit_code == 0, first.output
        assert "no article was published between 0899-12-31 00:00 LMT and 1000-01-01 00:00 " \
               "LMT; the newest article in the corpus is dated 1000-01-01: `newsletter build " \
               "--date 1000-01-02` makes the issue that holds it" in first.stdout, first.stdout
    built = invoke(project, "build", date.isoformat(), "--publish")
    assert built.exit_code == 0, built.output
    assert "1 article," in built.stdout
    explained = invoke(project, "explain", date.isoformat())
    assert explained.exit_code == 0, explained.output


def test_a_window_longer_than_a_century_is_a_config_error(one: Path) -> None:
    write_config(one, window_days=36526)
    result = invoke(one, "build", "2021-02-22")
    assert result.exit_code == 1
    assert "window_days: 36526 days reach back beyond the calendar for some issues; give " \
        "at most 36525 (a century)" in " ".join(result.stderr.split())


def test_a_good_date_parses() -> None:
    assert parse_issue_date("2024-02-29") == dt.date(2024, 2, 29)


def test_global_options_work_before_or_after_the_command(one: Path, tmp_path: Path) -> None:
    config = str(one / "newsletter.yaml")
    runner = CliRunner()
    before = runner.invoke(cli, ["--config", config, "explain", "2021-02-22"])
    after = runner.invoke(cli, ["explain", "2021-02-22", "--config", config])
    joined = runner.invoke(cli, ["explain", f"--config={config}", "2021-02-22"])
    assert before.exit_code == after.exit_code == joined.exit_code == 0, after.output
    assert before.stdout == after.stdout == joined.stdout
    # --strict after a command that has no --strict of its own
    write_config(one, unknown_key=1)
    assert runner.invoke(cli, ["--config", config, "explain", "2021-02-22"]).exit_code == 0
    strict = runner.invoke(cli, ["explain", "2021-02-22", "--strict", "--config", config])
    assert strict.exit_code == 1
    assert "unknown_key: unknown key" in strict.stderr
    strict = runner.invoke(cli, ["subscribers", "list", "--strict", "--config", config])
    assert strict.exit_code == 1
    # after "--", nothing is an option
    literal = runner.invoke(cli, ["--config", config, "subscribers", "add", "--",
                                  "--strict"])
    assert "'--strict': An email address must have an @-sign" in literal.output
    assert "an error with --strict" not in literal.output


def test_help_shows_each_commands_whole_summary() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "..." not in result.stdout.split("Commands:")[1]
    for name, command in cli.commands.items():
        first = " ".join(inspect.cleandoc(command.help or "").split("\n\n")[0].split())
        summary = command.short_help or first.split(". ")[0]
        summary = " ".join(summary.split()).rstrip(".")
        assert f"{name} {summary}" in text, name


def test_bare_newsletter_prints_help_and_exits_0(tmp_path: Path) -> None:
    for args in ([], ["subscribers"]):
        result = CliRunner().invoke(cli, args, prog_name="newsletter")
        assert result.exit_code == 0
        assert "Usage: newsletter" in result.stdout and "Commands:" in result.stdout
    run = subprocess.run([sys.executable, "-m", "newsletter"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=60)
    assert run.returncode == 0
    assert run.stdout.startswith("Usage: newsletter [OPTIONS] COMMAND")
    assert "build" in run.stdout and run.stderr == ""


def test_build_ends_with_the_next_step(one: Path) -> None:
    folder = one / "issues" / "2021-02-22"
    draft = invoke(one, "build", "2021-02-22")
    assert draft.stdout.splitlines()[-1] == (
        f"Next: open {folder / 'email.html'} in a browser (or `newsletter preview "
        "2021-02-22`), then `newsletter publish 2021-02-22`.")
    published = invoke(one, "build", "2021-02-22", "--publish")
    assert published.stdout.splitlines()[-1] == (
        f"Next: open {one / 'issues' / 'index.html'} in a browser, and send it with "
        "`newsletter send 2021-02-22`.")


def test_no_subscribers_says_how_to_add_some(one: Path) -> None:
    listed = invoke(one, "subscribers", "list")
    assert listed.exit_code == 0
    assert listed.stdout == ""
    assert "No subscribers yet: add one with `newsletter subscribers add EMAIL`" in \
        listed.stderr
    assert "`newsletter subscribers import FILE.csv`" in listed.stderr
    assert invoke(one, "subscribers", "list", "--json").stdout.strip() == "[]"
    invoke(one, "build", "2021-02-22", "--publish")
    sent = invoke(one, "send", "2021-02-22", "--outbox", str(one / "outbox"))
    assert "No active subscribers: add one with `newsletter subscribers add EMAIL`" in \
        sent.output
    invoke(one, "subscribers", "add", "ada@example.org")
    assert "No subscribers" not in invoke(one, "subscribers", "list").output


def test_the_readme_shows_the_date_either_way() -> None:
    readme = (PROJECT / "README.md").read_text("utf-8")
    assert "newsletter build [D \\| --date D]" in readme
    assert "before or after the command" in readme


SECRET = "a test secret of enough length for the tokens"


@pytest.mark.parametrize("args", [
    ["build", "2021-02-22", "--publish"],
    ["explain", "2021-02-22"],
    ["explain", "2021-02-22", "--json"],
    ["subscribers", "list"],
    ["subscribers", "list", "--json"],
])
def test_a_reader_that_went_away_ends_the_command_quietly(one: Path, args: list[str]) -> None:
    """`newsletter build | head -1`: once the reader has gone, the command stops without a
    word, as a Unix tool stopped by SIGPIPE does (status 141), and what it did stays done."""
    for n in range(3):
        assert invoke(one, "subscribers", "add", f"reader{n}@example.org").exit_code == 0
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line is written
    try:
        done = subprocess.run(
            [sys.executable, "-m", "newsletter", "--config", str(one / "newsletter.yaml"),
             *args], stdout=write, stderr=subprocess.PIPE, text=True, timeout=120,
            env={**os.environ, "NEWSLETTER_SECRET": SECRET})
    finally:
        os.close(write)
    assert done.returncode == 141, done.stderr
    assert done.stderr == ""
    if args[0] == "build":  # written and published before the summary was printed
        issue = json.loads((one / "issues" / "2021-02-22" / "issue.json").read_text("utf-8"))
        assert issue["status"] == "published"
        assert (one / "issues" / "feed.xml").is_file()


def test_a_broken_pipe_elsewhere_is_still_an_error(one: Path, monkeypatch) -> None:
    """Only the command's own output closing is quiet: a connection that breaks inside the
    work (an SMTP server hanging up) is reported."""
    from newsletter.cli import issue_commands

    def hang_up(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(issue_commands, "read_and_select", hang_up)
    result = invoke(one, "explain", "2021-02-22")
    assert result.exit_code == 1
    assert "unexpected BrokenPipeError" in result.stderr
