"""The command line, driven as users drive it: exit codes, messages, files, --help."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from conftest import PROJECT, write_article, write_config
from newsletter.cli import cli

IN_WINDOW = dt.datetime(2021, 2, 17, 12, 0, tzinfo=dt.UTC)


def run(folder: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(folder / "newsletter.yaml"), *args])


@pytest.fixture
def small(project: Path) -> Path:
    """Three AI articles in the 2021-02-22 window, one of them the same story as another."""
    articles = project / "articles"
    write_article(articles, "alpha", quality=90, title="Alpha launches",
                  related=[{"title": "Other take", "webUrl": "https://other.example/take",
                            "provider": {"name": "Other", "domain": "other.example"},
                            "quality": 10}])
    write_article(articles, "beta", quality=80, title="Beta ships")
    write_article(articles, "gamma", quality=70, title="ALPHA launches!",
                  webUrl="https://third.example/alpha",
                  provider={"name": "Third", "domain": "third.example"})
    write_article(articles, "old", publishedDateTime=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    return project


def test_build_writes_issue_json(small: Path) -> None:
    result = run(small, "build", "--date", "2021-02-22")
    assert result.exit_code == 0, result.output
    assert "Issue 2021-02-22 of AI Weekly (draft): 1 topic, 2 articles" in result.stdout
    data = json.loads((small / "issues/2021-02-22/issue.json").read_text("utf-8"))
    assert list(data) == ["slug", "title", "status", "window", "intro", "subject",
                          "sections"]
    assert data["window"] == {"start": "2021-02-15T00:00:00+00:00",
                              "end": "2021-02-22T00:00:00+00:00", "timezone": "UTC"}
    alpha = data["sections"][0]["articles"][0]
    assert list(alpha) == ["id", "url", "title", "excerpt", "type", "provider", "domain",
                           "published", "quality", "heat", "image", "related"]
    assert [a["id"] for a in data["sections"][0]["articles"]] == ["alpha", "beta"]
    assert [r["url"] for r in alpha["related"]] == ["https://third.example/alpha",
                                                     "https://other.example/take"]
    assert alpha["published"] == "2021-02-17T12:00:00+00:00"
    assert not list((small / "issues/2021-02-22").glob(".*")), "temporary file left behind"


def test_rebuild_is_byte_identical_and_says_unchanged(small: Path) -> None:
    assert run(small, "build", "--date", "2021-02-22").exit_code == 0
    first = (small / "issues/2021-02-22/issue.json").read_bytes()
    again = run(small, "build", "--date", "2021-02-22")
    assert again.exit_code == 0
    assert "Unchanged" in again.stdout
    assert (small / "issues/2021-02-22/issue.json").read_bytes() == first


def test_empty_window_writes_nothing_and_names_newest_article(small: Path) -> None:
    result = run(small, "build", "--date", "2019-06-03")
    assert result.exit_code == 0
    assert "nothing to build" in result.stdout
    assert "newest article in the corpus is dated 2021-02-17" in result.stdout
    assert not (small / "issues").exists()


def test_explain_of_an_empty_issue_ends_saying_where_the_articles_are(small: Path) -> None:
    """A date far from the corpus: every file is "outside the window", and the report ends
    with the newest article's date, as build says, so the editor knows where to look."""
    result = run(small, "explain", "1999-01-04")
    assert result.exit_code == 0
    assert result.stdout.endswith(
        "\nNothing to build: no article was published between 1998-12-28 00:00 UTC and "
        "1999-01-04 00:00 UTC; the newest article in the corpus is dated 2021-02-17: "
        "`newsletter build --date 2021-02-18` makes the issue that holds it.\n")
    (small / "issues" / "2021-02-22").mkdir(parents=True)
    (small / "issues" / "2021-02-22" / "overrides.yaml").write_text(
        "exclude: [alpha, beta, gamma]\n", "utf-8")
    excluded = run(small, "explain", "2021-02-22").stdout
    assert excluded.endswith("could be placed; the report above says why.\n")
    assert "Nothing to build" not in run(small, "explain", "2021-02-22", "--json").stdout


def test_published_issue_needs_force(small: Path) -> None:
    assert run(small, "build", "--date", "2021-02-22").exit_code == 0
    path = small / "issues/2021-02-22/issue.json"
    data = json.loads(path.read_text("utf-8"))
    data["status"] = "published"
    path.write_text(json.dumps(data), encoding="utf-8")
    refused = run(small, "build", "--date", "2021-02-22")
    assert refused.exit_code == 1
    assert "already published" in refused.stderr and "--force" in refused.stderr
    forced = run(small, "build", "--date", "2021-02-22", "--force")
    assert forced.exit_code == 0, forced.output
    assert json.loads(path.read_text("utf-8"))["status"] == "published"


def test_article_in_earlier_published_issue_is_not_repeated(small: Path) -> None:
    assert run(small, "build", "--date", "2021-02-22").exit_code == 0
    path = small / "issues/2021-02-22/issue.json"
    data = json.loads(path.read_text("utf-8"))
    data["status"] = "published"
    path.write_text(json.dumps(data), encoding="utf-8")
    # A week later, with a 14-day window, alpha and beta are still in the window.
    write_config(small, window_days=14)
    result = run(small, "explain", "--date", "2021-03-01", "--json")
    statuses = {a["id"]: a["status"] for a in json.loads(result.stdout)["articles"]}
    assert statuses["alpha"] == statuses["beta"] == "already_published"
    assert statuses["gamma"] == "placed"


def test_invalid_file_is_skipped_with_warning_and_strict_fails(small: Path) -> None:
    (small / "articles/broken.md").write_text("---\ntitle: x\n  bad: indent\n---\n", "utf-8")
    result = run(small, "build", "--date", "2021-02-22")
    assert result.exit_code == 0
    assert "skipped 1 invalid article file" in result.stderr
    assert "broken.md:3: YAML syntax error" in result.stderr
    for args in (["--strict", "build", "--date", "2021-02-22"],
                 ["build", "--date", "2021-02-22", "--strict"]):
        strict = run(small, *args)
        assert strict.exit_code == 1
        assert "broken.md:3" in strict.stderr and "--strict" in strict.stderr


def test_check_exit_codes(small: Path) -> None:
    clean = run(small, "check")
    assert clean.exit_code == 0
    assert "4 article files" in clean.stdout and "0 invalid" in clean.stdout
    (small / "articles/nofront.md").write_text("title: x\n", "utf-8")
    dirty = run(small, "check")
    assert dirty.exit_code == 1
    assert "nofront.md:1: no front matter" in dirty.stderr
    assert "4 valid, 1 invalid" in dirty.stdout


def test_unknown_config_key_warns_and_strict_makes_it_an_error(small: Path) -> None:
    write_config(small, titel="oops")
    warned = run(small, "check")
    assert warned.exit_code == 0
    assert 'titel: unknown key, ignored; did you mean "title"?' in warned.stderr
    strict = run(small, "--strict", "check")
    assert strict.exit_code == 1
    assert "titel: unknown key" in strict.stderr and "--strict" in strict.stderr


def test_config_errors_are_listed_together(project: Path) -> None:
    write_config(project, window_days="seven", topics=["AI", {"name": "X", "max_articles": "five"}])
    result = run(project, "build", "--date", "2021-02-22")
    assert result.exit_code == 1
    assert "2 problems in the configuration" in result.stderr
    assert 'window_days: expected a positive integer, got "seven"' in result.stderr
    assert 'topics[1].max_articles: expected a positive integer, got "five"' in result.stderr
    assert "Traceback" not in result.output


def test_missing_config_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "nope.yaml"), "check"])
    assert result.exit_code == 1
    assert "nope.yaml" in result.stderr and "file not found" in result.stderr
    assert "--config" in result.stderr


def test_bad_date_is_a_usage_error(small: Path) -> None:
    result = run(small, "build", "--date", "22/02/2021")
    assert result.exit_code == 2
    assert "Invalid value for '--date'" in result.stderr


def test_unknown_command_is_a_usage_error(small: Path) -> None:
    assert run(small, "publish-everything").exit_code == 2


def test_explain_accounts_for_every_file(small: Path) -> None:
    (small / "articles/broken.md").write_text("", "utf-8")
    write_article(small / "articles", "robots", topics=["Robotics"])
    write_article(small / "articles", "weak", quality=-5)
    write_config(small, min_quality=0)
    text = run(small, "explain", "--date", "2021-02-22")
    assert text.exit_code == 0, text.output
    for expected in ("alpha: placed in AI at #1", "beta: placed in AI at #2",
                     "gamma: same story as alpha", "old: published outside the window",
                     "robots: none of its topics (\"Robotics\") is configured",
                     "weak: quality -5 is below min_quality 0", "broken: invalid: empty file"):
        assert expected in text.stdout
    data = json.loads(run(small, "explain", "--date", "2021-02-22", "--json").stdout)
    assert {a["id"]: a["status"] for a in data["articles"]} == {
        "alpha": "placed", "beta": "placed", "gamma": "folded", "old": "outside_window",
        "robots": "no_topic", "weak": "below_min_quality", "broken": "invalid"}
    gamma = next(a for a in data["articles"] if a["id"] == "gamma")
    assert gamma["folded_into"] == "alpha"
    assert not (small / "issues").exists(), "explain must not write"


def test_explain_shows_rank_below_the_cut(small: Path) -> None:
    write_config(small, topics=[{"name": "AI", "max_articles": 1}])
    data = json.loads(run(small, "explain", "--date", "2021-02-22", "--json").stdout)
    beta = next(a for a in data["articles"] if a["id"] == "beta")
    assert beta["status"] == "below_cut"
    assert beta["ranks"] == [{"topic": "AI", "rank": 2, "of": 3}]


def test_date_defaults_to_today_in_the_config_timezone(small: Path) -> None:
    # A zone whose date is not UTC's right now: UTC+14 is a day ahead from 10:00 UTC on,
    # UTC-12 a day behind until 12:00 UTC.
    name = "Pacific/Kiritimati" if dt.datetime.now(dt.UTC).hour >= 12 else "Etc/GMT+12"
    zone = ZoneInfo(name)
    before = dt.datetime.now(zone).date()
    assert before != dt.datetime.now(dt.UTC).date()
    write_config(small, timezone=name)
    data = json.loads(run(small, "explain", "--json").stdout)
    after = dt.datetime.now(zone).date()
    assert data["slug"] in {before.isoformat(), after.isoformat()}


def every_command() -> list[list[str]]:
    """Every command and subcommand, as the words a user types."""
    import click

    words = []
    for name, command in sorted(cli.commands.items()):
        words.append([name])
        if isinstance(command, click.Group):
            words += [[name, sub] for sub in sorted(command.commands)]
    return words


def test_every_command_has_help_with_an_example_and_a_readme_entry() -> None:
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"])
    assert top.exit_code == 0
    assert "newsletter build --date 2021-02-22" in top.stdout
    readme = (PROJECT / "README.md").read_text("utf-8")
    commands = every_command()
    assert len(commands) >= 13
    for words in commands:
        result = runner.invoke(cli, [*words, "--help"])
        assert result.exit_code == 0, words
        if words == ["subscribers"]:
            continue  # a group: its commands carry the examples
        assert "Example" in result.stdout, words
        assert f"newsletter {' '.join(words)}" in result.stdout, words
        assert f"`newsletter {' '.join(words)}" in readme, f"README lacks {words}"


@pytest.mark.parametrize("command", [["newsletter"], [sys.executable, "-m", "newsletter"]])
def test_console_script_and_module_run(small: Path, command: list[str]) -> None:
    ok = subprocess.run([*command, "--config", str(small / "newsletter.yaml"), "check"],
                        capture_output=True, text=True, cwd=PROJECT)
    assert ok.returncode == 0, ok.stderr
    missing = subprocess.run([*command, "--config", str(small / "missing.yaml"), "check"],
                             capture_output=True, text=True)
    assert missing.returncode == 1
    assert "file not found" in missing.stderr and "Traceback" not in missing.stderr
    usage = subprocess.run([*command, "build", "--date", "nope"], capture_output=True,
                           text=True)
    assert usage.returncode == 2


def test_config_paths_resolve_against_the_config_folder(small: Path, tmp_path_factory,
                                                        monkeypatch) -> None:
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    result = CliRunner().invoke(cli, ["--config", str(small / "newsletter.yaml"), "build",
                                      "--date", "2021-02-22"])
    assert result.exit_code == 0, result.output
    assert (small / "issues/2021-02-22/issue.json").is_file()


def test_ci_runs_the_readme_quick_start() -> None:
    """.ci/run takes the quick start from README.md: two commands, a virtual environment
    first (Debian's Python refuses `pip install` outside one), the test command second."""
    printed = subprocess.run([str(PROJECT / ".ci" / "run"), "--print-quickstart"],
                             capture_output=True, text=True, timeout=30)
    assert printed.returncode == 0, printed.stderr
    first, second = printed.stdout.splitlines()
    assert first.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install -e . ")
    assert "&& newsletter build --date " in first
    assert second == ". .venv/bin/activate && pip install -e '.[test]' && python -m pytest"
    readme = (PROJECT / "README.md").read_text("utf-8").splitlines()
    assert first in readme and second in readme


class InterruptedWhileNamed:
    """A descriptor Ctrl-C interrupts as its class is created: Python 3.11 turns the
    KeyboardInterrupt into a RuntimeError raised from it ("Error calling __set_name__"), as
    it does for every field of a dataclass a module defines while it loads."""

    def __set_name__(self, owner: type, name: str) -> None:
        raise KeyboardInterrupt


@pytest.mark.parametrize("how", ["KeyboardInterrupt", "in a class being created"])
@pytest.mark.parametrize("moment", ["reading the command line", "running the command"])
def test_ctrl_c_at_any_moment_ends_with_one_line_and_status_130(
        small: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        moment: str, how: str) -> None:
    """Ctrl-C while the command line is read (a moment a loaded machine makes long) ends the
    command as it does later: one line and 130, not click's "Aborted!" and 1; so does a
    Ctrl-C that Python hands on wrapped in another exception, not "unexpected RuntimeError"."""
    from newsletter.cli import issue_commands, options

    def interrupted(*args: object, **kwargs: object) -> None:
        if how == "KeyboardInterrupt":
            raise KeyboardInterrupt
        type("Late", (), {"field": InterruptedWhileNamed()})

    if moment == "reading the command line":
        monkeypatch.setattr(options, "_globals_first", interrupted)
    else:
        monkeypatch.setattr(issue_commands, "build_issue", interrupted)
    monkeypatch.setattr(sys, "argv", ["newsletter", "--config", str(small / "newsletter.yaml"),
                                      "build", "--date", "2021-03-08"])
    with pytest.raises(SystemExit) as stopped:
        issue_commands.main()
    assert stopped.value.code == 130
    assert capsys.readouterr().err.splitlines() == [
        "Interrupted: stopped before the end; no file is left half-written. "
        "Run the command again to finish."]


def test_ctrl_c_while_the_commands_load_a_dataclass_ends_with_one_line_and_status_130(
        small: Path) -> None:
    """A real SIGINT landing while a dataclass of the package is being defined, as the
    commands load (on a loaded machine a good part of a short command's time): Python 3.11
    hands it on as a RuntimeError raised from the KeyboardInterrupt; the command still says
    it was interrupted in one line and exits 130, with no traceback."""
    child = (
        "import dataclasses, signal, sys\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "name_field = dataclasses.Field.__set_name__\n"
        "def interrupt_once(field, owner, name):\n"
        "    dataclasses.Field.__set_name__ = name_field\n"
        "    print(f'SIGINT in {owner.__module__}.{owner.__qualname__}.{name}', flush=True)\n"
        "    signal.raise_signal(signal.SIGINT)\n"
        "from newsletter.cli import main\n"
        "dataclasses.Field.__set_name__ = interrupt_once\n"
        "sys.argv = ['newsletter', '--config', sys.argv[1], 'build', '--date', '2021-02-22']\n"
        "main()\n"
    )
    env = {**os.environ,
           "PYTHONPATH": str(PROJECT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", child, str(small / "newsletter.yaml")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.stdout.startswith("SIGINT in newsletter."), (done.stdout, done.stderr)
    assert done.returncode == 130, done.stderr
    assert done.stderr.splitlines() == [
        "Interrupted: stopped before the end; no file is left half-written. "
        "Run the command again to finish."]
    assert not (small / "issues/2021-02-22").exists()
