"""Building, publishing and editor overrides, end to end through the command line."""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import feedparser
import pytest
import yaml

import newsletter
from conftest import GOLDEN, PROJECT, run, sample_site, tree, write_article, write_config

FEEDS = ("feed.xml", "atom.xml")
# A correction's time (the wall clock, unlike every date of the test issues, from 2021): in
# issue.json and the Atom and JSON feeds, and as RSS gives it.
CORRECTION_TIME = re.compile(
    rb"20(?:2[2-9]|[3-9]\d)-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"
    rb"|\w{3}, \d\d \w{3} 20(?:2[2-9]|[3-9]\d) \d\d:\d\d:\d\d [+-]\d{4}")


def without_correction_time(data: bytes) -> bytes:
    return CORRECTION_TIME.sub(b"<corrected>", data)


def test_the_sample_builds_the_golden_site(tmp_path: Path, request) -> None:
    """The sample built into a temporary folder gives tests/golden byte for byte; the
    user's issues/ is never compared: publishing another date there is the user's right."""
    built = sample_site(tmp_path)
    if request.config.getoption("--update-golden"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        shutil.copytree(built, GOLDEN)
    expected, actual = tree(GOLDEN), tree(built)
    hint = ("run `python -m pytest tests/test_publish.py --update-golden` and review "
            "`git diff tests/golden/`")
    assert sorted(actual) == sorted(expected), f"files differ: {hint}"
    changed = [name for name in expected if expected[name] != actual[name]]
    assert changed == [], hint


def test_rebuilds_are_byte_identical(tmp_path: Path) -> None:
    first = tree(sample_site(tmp_path / "a"))
    second = tree(sample_site(tmp_path / "b"))
    assert first == second
    assert {"index.html", "feed.xml", "atom.xml", "feed.json", "2021-02-22/email.eml",
            "2021-02-22/email.html", "2021-02-22/email.txt", "2021-02-22/email.mjml",
            "2021-02-22/index.html", "2021-02-22/issue.json",
            "topics/computer-vision.xml"} <= set(first)


def test_secured_blob_appears_in_no_output(tmp_path: Path) -> None:
    seed = (PROJECT / "articles/000_0a03cd1b7f8cfbac.txt").read_text("utf-8")
    secured = yaml.safe_load(seed.split("---")[1])["secured"]
    for name, data in tree(sample_site(tmp_path)).items():
        for fragment in (secured[:24], secured[-24:]):
            assert fragment.encode() not in data, name


@pytest.fixture
def site(project: Path) -> Path:
    articles = project / "articles"
    # The made-up articles share one title and excerpt but for their names: the similar-text
    # rule would fold them into one story, so only the exact rules apply here.
    write_config(project, topics=["AI", "Robotics"], timezone="America/New_York",
                 same_story={"content": False})
    for week, day in enumerate((10, 17, 24)):
        for n in range(3):
            write_article(articles, f"w{week}-a{n}", quality=90 - n, topics=["AI"],
                          publishedDateTime=dt.datetime(2021, 2, day, 12 + n, tzinfo=dt.UTC))
        write_article(articles, f"w{week}-robot", quality=40, topics=["Robotics", "AI"],
                      publishedDateTime=dt.datetime(2021, 2, day, 9, tzinfo=dt.UTC))
    write_article(articles, "old-robot", quality=99, topics=["Robotics"],
                  publishedDateTime=dt.datetime(2020, 5, 1, tzinfo=dt.UTC))
    return project


def issue_json(folder: Path, date: str) -> dict:
    return json.loads((folder / "issues" / date / "issue.json").read_text("utf-8"))


def test_drafts_stay_out_of_archive_and_feeds(site: Path) -> None:
    assert run(site, "build", "--date", "2021-02-15").exit_code == 0
    assert not (site / "issues/feed.xml").exists(), "a draft published nothing"
    assert (site / "issues/2021-02-15/email.html").is_file()
    published = run(site, "publish", "2021-02-15")
    assert published.exit_code == 0, published.output
    assert issue_json(site, "2021-02-15")["status"] == "published"
    assert run(site, "build", "--date", "2021-02-22", "--publish").exit_code == 0
    assert run(site, "build", "--date", "2021-03-01").exit_code == 0  # a draft
    for name in FEEDS:
        feed = feedparser.parse((site / "issues" / name).read_bytes())
        assert not feed.bozo, feed.bozo_exception
        assert [e.link for e in feed.entries] == [
            "https://news.example.org/ai/2021-02-22/", "https://news.example.org/ai/2021-02-15/"]
    items = json.loads((site / "issues/feed.json").read_text("utf-8"))["items"]
    assert len(items) == 2
    archive = (site / "issues/index.html").read_text("utf-8")
    assert "2021-02-22/" in archive and "2021-02-15/" in archive
    assert "2021-03-01" not in archive
    # Publishing 02-22 gave 02-15's page a link to its next issue.
    assert "2021-02-22/" in (site / "issues/2021-02-15/index.html").read_text("utf-8")


def test_published_issue_is_not_changed_without_force(site: Path) -> None:
    assert run(site, "build", "--date", "2021-02-22", "--publish").exit_code == 0
    same = run(site, "build", "--date", "2021-02-22")
    assert same.exit_code == 0 and "a rebuild gives the same files" in same.stdout
    write_article(site / "articles", "late-breaking", quality=1000,
                  publishedDateTime=dt.datetime(2021, 2, 20, tzinfo=dt.UTC))
    before = (site / "issues/2021-02-22/issue.json").read_bytes()
    refused = run(site, "build", "--date", "2021-02-22")
    assert refused.exit_code == 1
    assert "already published" in refused.stderr and "--force" in refused.stderr
    assert (site / "issues/2021-02-22/issue.json").read_bytes() == before
    forced = run(site, "build", "--date", "2021-02-22", "--force")
    assert forced.exit_code == 0, forced.output
    data = issue_json(site, "2021-02-22")
    assert data["status"] == "published"
    assert data["sections"][0]["articles"][0]["id"] == "late-breaking"


def test_publish_needs_a_built_issue(site: Path) -> None:
    result = run(site, "publish", "2021-02-22")
    assert result.exit_code == 1
    assert "build it first" in result.stderr


def write_overrides(site: Path, date: str, text: str) -> None:
    folder = site / "issues" / date
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "overrides.yaml").write_text(text, "utf-8")


def test_overrides_intro_subject_pin_and_exclude(site: Path) -> None:
    write_overrides(site, "2021-02-22", """\
intro: |
  Welcome to this week's issue.
  It is a short one.

  Second <b>paragraph</b>.
subject: "Special: {title}"
pin: [old-robot, "https://news.example/w1-a2"]
exclude: [w1-a0]
""")
    result = run(site, "build", "--date", "2021-02-22")
    assert result.exit_code == 0, result.output
    data = issue_json(site, "2021-02-22")
    assert data["intro"] == ["Welcome to this week's issue. It is a short one.",
                             "Second <b>paragraph</b>."]
    assert data["subject"] == "Special: {title}"
    sections = {s["topic"]: [a["id"] for a in s["articles"]] for s in data["sections"]}
    # old-robot is outside the window and pinned: first in its first matching topic.
    assert sections["Robotics"][0] == "old-robot"
    # w1-a2 ranks third in AI; pinned, it comes first; w1-a0 is excluded.
    assert sections["AI"][:2] == ["w1-a2", "w1-a1"]
    assert "w1-a0" not in json.dumps(data["sections"])
    # the draft records the entries it was built with, for publish to compare
    assert (data["pin"], data["exclude"]) == (["old-robot", "https://news.example/w1-a2"],
                                              ["w1-a0"])
    html = (site / "issues/2021-02-22/email.html").read_text("utf-8")
    assert "Second &lt;b&gt;paragraph&lt;/b&gt;." in html
    eml = (site / "issues/2021-02-22/email.eml").read_bytes()
    assert b"Subject: Special: AI Weekly" in eml
    explained = json.loads(run(site, "explain", "--date", "2021-02-22", "--json").stdout)
    by_id = {a["id"]: a for a in explained["articles"]}
    assert by_id["old-robot"]["pinned"] is True
    assert by_id["old-robot"]["reason"].startswith("pinned by the editor")
    assert by_id["w1-a0"]["status"] == "excluded"


def test_bad_overrides_are_reported_together(site: Path) -> None:
    write_overrides(site, "2021-02-22", """\
intro: [not, text]
pin: [no-such-article, w1-robot]
exclude: [w1-robot]
colour: blue
""")
    result = run(site, "build", "--date", "2021-02-22")
    assert result.exit_code == 1
    assert "intro: expected plain text, got a list" in result.stderr
    write_overrides(site, "2021-02-22", "pin: [no-such-article, w1-robot]\nexclude: [w1-robot]\n")
    result = run(site, "build", "--date", "2021-02-22")
    assert result.exit_code == 1
    assert 'pin[0]: no valid article has the id or URL "no-such-article"' in result.stderr
    assert 'exclude[0]: "w1-robot" is also pinned' in result.stderr
    assert not (site / "issues/2021-02-22/issue.json").exists()



def test_check_reports_each_drafts_overrides_problems(site: Path) -> None:
    """A broken overrides.yaml shows up in `check`, with its file, line and key, not only
    when the issue is built or published on schedule."""
    assert run(site, "build", "--date", "2021-02-15", "--publish").exit_code == 0
    write_overrides(site, "2021-02-15", "intro: 5\n")  # published: its issue is out
    write_overrides(site, "2021-02-22", "subject: Special\nintro: 5\ncolour: blue\n")
    write_overrides(site, "2021-03-01", "pin: [w1-a0\nexclude: []\n")  # not built yet
    result = run(site, "check")
    assert result.exit_code == 1
    drafts = site / "issues"
    assert f"{drafts / '2021-02-22' / 'overrides.yaml'}:2: intro: expected plain text, got 5" \
        in result.stderr
    assert f"{drafts / '2021-02-22' / 'overrides.yaml'}:3: warning: colour: unknown key" \
        in result.stderr
    assert f"{drafts / '2021-03-01' / 'overrides.yaml'}:2: YAML syntax error" in result.stderr
    assert "2021-02-15" not in result.stderr
    assert (f"Checked the overrides.yaml of 2 draft(s) in {drafts}: 2 problem(s); fix them "
            "before the issue is built or published.") in result.stdout
    # Fixed, the unknown key is a warning; --strict makes it an error.
    write_overrides(site, "2021-02-22", "subject: Special\nintro: Fine.\ncolour: blue\n")
    write_overrides(site, "2021-03-01", "pin: [w1-a0]\n")
    result = run(site, "check")
    assert result.exit_code == 0, result.output
    assert "colour: unknown key" in result.stderr
    assert f"Checked the overrides.yaml of 2 draft(s) in {drafts}: fine." in result.stdout
    assert run(site, "check", "--strict").exit_code == 1


PYTHON_STARTUP_INTERRUPTED = (
    "Fatal Python error: init_import_site: Failed to import the site module\n")


def python_itself_was_starting(returncode: int, err: str) -> bool:
    """Whether a Ctrl-C ended Python itself before it ran the command's first line: before
    Python handles SIGINT, the signal kills it (a shell says 130 too); while it imports its
    site module (the installed packages' .pth files), Python stops with its own fatal error
    and status 1, a traceback in none of the package's files."""
    if returncode == -signal.SIGINT:
        return True
    return (returncode == 1 and err.startswith(PYTHON_STARTUP_INTERRUPTED)
            and err.rstrip().endswith("\nKeyboardInterrupt")
            and str(Path(newsletter.__file__).parent) not in err)


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT])
def test_killed_builds_never_leave_a_half_written_file(site: Path, stop: signal.Signals
                                                        ) -> None:
    """Kill publishing builds at random moments (SIGKILL), or interrupt them (Ctrl-C,
    SIGINT); every file stays its old or new version (but for the time of the correction
    each of them is). Interrupted, the command says so in one line, exits 130 as shells
    expect after Ctrl-C, and leaves no temporary file."""
    config = str(site / "newsletter.yaml")
    command = [sys.executable, "-m", "newsletter", "--config", config, "build",
               "--date", "2021-02-22", "--publish", "--force"]
    versions: dict[str, set[bytes]] = {}

    def settle(intro: str) -> float:
        write_overrides(site, "2021-02-22", f"intro: {intro}\n")
        started = time.monotonic()
        subprocess.run(command, check=True, capture_output=True)
        for name, data in tree(site / "issues").items():
            versions.setdefault(name, set()).add(without_correction_time(data))
        return time.monotonic() - started

    assert run(site, "build", "--date", "2021-02-15", "--publish").exit_code == 0
    # A again: corrected, as it is from now on. The moments to stop builds at are drawn
    # from the median time of the whole builds so far, these and those that finish before
    # their moment: it follows the load of the machine, where one slow build would put most
    # moments past the end of the next builds.
    durations = [settle("Version A"), settle("Version B"), settle("Version A")]
    rng = random.Random(20210222)
    interrupted = 0
    for attempt in range(30):
        write_overrides(site, "2021-02-22", f"intro: Version {'AB'[attempt % 2]}\n")
        started = time.monotonic()
        # SIGINT as a terminal sends it, even when these tests run where it is ignored
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT,
                                                                    signal.SIG_DFL))
        moment = rng.uniform(0.3, 1.0) * statistics.median(durations)  # mostly past start-up
        try:
            process.wait(timeout=moment)
            durations.append(time.monotonic() - started)  # it finished first: a whole build
        except subprocess.TimeoutExpired:
            process.send_signal(stop)
        _out, err = process.communicate(timeout=120)
        if stop == signal.SIGINT and not python_itself_was_starting(process.returncode, err):
            # 0: it had finished; 130: the command was stopped
            assert process.returncode in (0, 130), (process.returncode, err)
            interrupted += process.returncode == 130
            if process.returncode == 130:
                assert err.splitlines()[-1:] == [
                    "Interrupted: stopped before the end; no file is left half-written. "
                    "Run the command again to finish."], err
                assert "Traceback" not in err and "Aborted" not in err
        for name, data in tree(site / "issues").items():
            if name == ".newsletter-publishing":  # a stopped publish names its issue, for the
                assert data == b"2021-02-22\n"  # next publish to finish what it left
                continue
            if name.endswith(".tmp") or "/." in f"/{name}":
                # a temporary file a killed writer left: never served; an interrupted
                # writer removes its own
                assert stop == signal.SIGKILL, f"{name} left by an interrupted build"
                continue
            assert without_correction_time(data) in versions.get(name, ()), (
                f"{name} is neither old nor new")
        for name in FEEDS:
            assert not feedparser.parse((site / "issues" / name).read_bytes()).bozo
        json.loads((site / "issues/feed.json").read_text("utf-8"))
    finished = run(site, "build", "--date", "2021-02-22", "--publish", "--force")
    assert finished.exit_code == 0, finished.output
    assert not (site / "issues/.newsletter-publishing").exists()
    if stop == signal.SIGINT:
        assert interrupted >= 5, (
            f"{interrupted} of 30 builds were interrupted ({len(durations) - 3} finished "
            "first): too few to tell anything")


def test_a_write_that_fails_midway_leaves_the_old_file_whole(tmp_path: Path) -> None:
    """The disk fills up halfway through a write (a file size limit, the way the kernel
    refuses a write past it): the old file is untouched and no temporary file is left."""
    target = tmp_path / "issue.html"
    old = b"<p>the old version</p>\n" * 100
    target.write_bytes(old)
    limit = 64 * 1024
    child = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "from newsletter.publishing.output import write_atomic\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed writer\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
        "try:\n"
        f"    write_atomic(Path(sys.argv[1]), b'n' * {4 * limit})\n"
        "except OSError as error:\n"
        "    print(error.errno)\n"
    )
    env = {**os.environ,
           "PYTHONPATH": str(PROJECT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", child, str(target)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(errno.EFBIG), done.stdout  # the write did fail
    assert target.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["issue.html"]


def test_an_email_over_90_kb_warns_and_strict_refuses(project: Path) -> None:
    # A hundred made-up articles that differ only by a figure tell one story to the
    # similar-text rule: it is turned off so that all hundred are placed.
    write_config(project, topics=[{"name": "AI", "max_articles": 100}],
                 same_story={"content": False})
    for n in range(100):
        write_article(project / "articles", f"long-{n:02d}", quality=n,
                      title=f"A fairly long headline about story number {n} in this issue",
                      excerpt="Words that fill the excerpt. " * 12,
                      related=[{"title": f"Coverage {n}-{k}", "quality": k,
                                "webUrl": f"https://outlet{k}.example/{n}",
                                "provider": {"name": f"Outlet {k}",
                                             "domain": f"outlet{k}.example"}}
                               for k in range(3)])
    warned = run(project, "build", "--date", "2021-02-22")
    assert warned.exit_code == 0, warned.output
    assert "warning: issue 2021-02-22: " in warned.stderr
    assert "KB" in warned.stderr and "102" in warned.stderr
    html = (project / "issues/2021-02-22/email.html").read_bytes()
    assert len(html) > 90 * 1024
    shutil.rmtree(project / "issues")
    strict = run(project, "--strict", "build", "--date", "2021-02-22")
    assert strict.exit_code == 1
    assert "(an error with --strict)" in strict.stderr
    assert not (project / "issues").exists()


def test_temporary_files_of_a_killed_writer_are_cleaned_up_later(site: Path) -> None:
    folder = site / "issues" / "2021-02-22"
    folder.mkdir(parents=True)
    stale, fresh = folder / ".email.html.abc123.tmp", folder / ".index.html.def456.tmp"
    stale.write_bytes(b"<html><body>half a")
    fresh.write_bytes(b"<html><body>being writ")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    assert run(site, "build", "--date", "2021-02-22").exit_code == 0
    assert not stale.exists(), "an hour-old temporary file is a killed writer's leftover"
    assert fresh.exists(), "a young one may belong to a writer still at work"


def test_a_build_reads_each_issue_file_once(site: Path, monkeypatch) -> None:
    from newsletter.core.models import IssueStatus
    from newsletter.publishing import issues

    for date in ("2021-02-15", "2021-02-22"):
        assert run(site, "build", "--date", date, "--publish").exit_code == 0
    loaded: list[Path] = []
    real = issues.load_issue

    def counting(path: Path):
        loaded.append(path)
        return real(path)

    monkeypatch.setattr(issues, "load_issue", counting)
    result = run(site, "build", "--date", "2021-03-01", "--publish")
    assert result.exit_code == 0, result.output
    assert sorted(p.parent.name for p in loaded) == ["2021-02-15", "2021-02-22"]

    store = issues.IssueStore(site / "issues")
    assert store.status(dt.date(2021, 2, 22)) is IssueStatus.PUBLISHED
    assert store.status(dt.date(2021, 3, 8)) is None
    assert [i.slug for i in store.published()] == ["2021-02-15", "2021-02-22", "2021-03-01"]


def test_publishing_again_rewrites_no_file_whatever_the_articles_offsets(project: Path
                                                                          ) -> None:
    """issue.json keeps instants in UTC: the files of ``build --publish`` (from the issue in
    memory) and of a later ``publish`` (from issue.json) are the same bytes."""
    write_config(project, timezone="America/New_York")
    write_article(project / "articles", "offset", publishedDateTime="2021-02-19T10:00:00-05:00")
    write_article(project / "articles", "east", quality=40,
                  publishedDateTime="2021-02-18T23:30:00+09:00")
    assert run(project, "build", "--date", "2021-02-22", "--publish").exit_code == 0
    built = tree(project / "issues")
    again = run(project, "publish", "2021-02-22")
    assert again.exit_code == 0, again.output
    assert tree(project / "issues") == built
    assert b"<pubDate>Fri, 19 Feb 2021 15:00:00 +0000</pubDate>" in built["topics/ai.xml"]


def _advice(stderr: str) -> list[str]:
    """The command a damaged issue's error says to run, as arguments after `newsletter`."""
    command = stderr.split("rebuild it from the corpus with `")[1].split("`")[0]
    words = command.split()
    assert words[0] == "newsletter", stderr
    if "(with --publish if it was published)" in stderr:
        words.append("--publish")
    return words[1:]


@pytest.mark.parametrize("damage", ["truncated", "no window"])
def test_a_damaged_issue_file_is_rebuilt_as_its_error_advises(site: Path, damage: str) -> None:
    for date in ("2021-02-15", "2021-02-22"):
        assert run(site, "build", "--date", date, "--publish").exit_code == 0
    published = tree(site / "issues")
    path = site / "issues/2021-02-22/issue.json"
    if damage == "truncated":
        path.write_bytes(published["2021-02-22/issue.json"][:200])
    else:
        path.write_text(json.dumps({"slug": "2021-02-22", "status": "published",
                                    "sections": []}), "utf-8")
    for args in (("build", "--date", "2021-03-01"), ("publish", "2021-02-22"),
                 ("build", "--date", "2021-02-22")):
        failed = run(site, *args)
        assert failed.exit_code == 1, (args, failed.output)
        assert f"{path}: " in failed.stderr and "restore it, or rebuild it" in failed.stderr
    advice = _advice(failed.stderr)
    assert advice[:4] == ["build", "--date", "2021-02-22", "--force"]
    assert ("--publish" in advice) == (damage == "truncated")  # the status is lost with it
    rebuilt = run(site, *advice)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "replaced by the issue rebuilt from the corpus, published" in rebuilt.stderr
    assert tree(site / "issues") == published


def test_a_damaged_issue_rebuilt_as_a_draft_says_how_to_publish_it(site: Path) -> None:
    for date in ("2021-02-15", "2021-02-22"):
        assert run(site, "build", "--date", date, "--publish").exit_code == 0
    published = tree(site / "issues")
    (site / "issues/2021-02-22/issue.json").write_text("{", "utf-8")
    rebuilt = run(site, "build", "--date", "2021-02-22", "--force")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert ("replaced by the issue rebuilt from the corpus, as a draft: "
            "`newsletter publish 2021-02-22` publishes it") in rebuilt.stderr
    assert issue_json(site, "2021-02-22")["status"] == "draft"
    assert run(site, "publish", "2021-02-22").exit_code == 0
    assert tree(site / "issues") == published


# Kills the command at the page given (relative to the output folder), as kill -9 would
# when the issue it publishes is written whole, its issue.json included, and that page of
# another issue (its new "next" link) not yet.
KILLED_AT = (
    "import os, runpy, signal, sys\n"
    "from newsletter.publishing import output\n"
    "real, page = output.write_atomic, sys.argv[1]\n"
    "def write_atomic(path, data):\n"
    "    if path.as_posix().endswith(page):\n"
    "        os.kill(os.getpid(), signal.SIGKILL)\n"
    "    return real(path, data)\n"
    "output.write_atomic = write_atomic\n"
    "sys.argv = ['newsletter', *sys.argv[2:]]\n"
    "runpy.run_module('newsletter', run_name='__main__')\n"
)


@pytest.mark.parametrize("marked", [True, False], ids=["templates", "links-without-rel"])
def test_publishing_again_after_a_kill_gives_the_previous_issue_its_next_link(
        tmp_path: Path, marked: bool) -> None:
    """Publishing an issue is killed once its issue.json says published, before the page
    of the issue before it has its "next" link: publishing it again writes that link,
    rewriting nothing else of the earlier issue (its email files as they went out). So too
    with a template of the editor's whose links say nothing of where they lead (no rel)."""
    for day in (3, 10, 17):
        write_article(tmp_path / "articles", f"story-{day}",
                      publishedDateTime=dt.datetime(2021, 2, day, 12, tzinfo=dt.UTC))
    write_config(tmp_path, templates=None if marked else "templates")
    if not marked:
        packaged = (PROJECT / "templates" / "issue.html.j2").read_text("utf-8")
        assert ' rel="next"' in packaged
        (tmp_path / "templates").mkdir()
        (tmp_path / "templates" / "issue.html.j2").write_text(
            packaged.replace(' rel="prev"', "").replace(' rel="next"', ""), "utf-8")
    for date in ("2021-02-08", "2021-02-15"):
        assert run(tmp_path, "build", "--date", date, "--publish").exit_code == 0
    assert run(tmp_path, "build", "--date", "2021-02-22").exit_code == 0
    output = tmp_path / "issues"
    earlier = output / "2021-02-15"
    emails = {p.name: p.read_bytes() for p in earlier.glob("email.*")}
    env = {**os.environ,
           "PYTHONPATH": str(PROJECT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AT, "2021-02-15/index.html", "--config",
         str(tmp_path / "newsletter.yaml"), "publish", "2021-02-22"],
        env=env, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    record = json.loads((output / "2021-02-22" / "issue.json").read_text("utf-8"))
    assert record["status"] == "published"
    assert "../2021-02-08/index.html" in (earlier / "index.html").read_text("utf-8")
    assert "../2021-02-22/" not in (earlier / "index.html").read_text("utf-8")

    again = run(tmp_path, "publish", "2021-02-22")
    assert again.exit_code == 0, again.output
    page = (earlier / "index.html").read_text("utf-8")
    rel = ' rel="next"' if marked else ""
    assert f'<a href="../2021-02-22/index.html"{rel}>' in page
    assert "../2021-02-08/index.html" in page
    assert "Updated the previous/next links of 2021-02-15/index.html." in again.output
    assert {p.name: p.read_bytes() for p in earlier.glob("email.*")} == emails
    assert "../2021-02-15/index.html" in (output / "2021-02-22/index.html").read_text("utf-8")
    # Nothing left to repair: publishing once more writes nothing, and after a theme change
    # the pages around the issue, which lead where they should, stay as they are too.
    before = tree(output)
    assert run(tmp_path, "publish", "2021-02-22").exit_code == 0
    assert tree(output) == before
    config = yaml.safe_load((tmp_path / "newsletter.yaml").read_text("utf-8"))
    config["theme"] = {"footer": "A theme changed since"}
    (tmp_path / "newsletter.yaml").write_text(yaml.safe_dump(config), "utf-8")
    page = (earlier / "index.html").read_bytes()
    again = run(tmp_path, "publish", "2021-02-22")
    assert again.exit_code == 0, again.output
    assert "Updated the previous/next links" not in again.output
    assert (earlier / "index.html").read_bytes() == page


# A publish killed halfway, then never repeated: the next publish is of another issue.
# (the articles' days, the issues published first, the kill: the page being written and the
# command, the issue published next, the pages that must then lead to the killed issue)
STOPPED_THEN_ANOTHER = {
    "next issue": (
        [dt.date(2021, 2, d) for d in (3, 10, 17, 24)], ["2021-02-08", "2021-02-15"],
        ("2021-02-15/index.html", "build", "--date", "2021-02-22", "--publish"),
        "2021-03-01",
        {"2021-02-15/index.html": ['<a href="../2021-02-22/index.html" rel="next">']}),
    "between two": (  # the issue published next is nowhere near the pages left stale
        [dt.date(2021, 2, d) for d in (3, 10, 17, 24)] + [dt.date(2021, 3, 3)],
        ["2021-02-08", "2021-02-22", "2021-03-01"],
        ("2021-02-08/index.html", "publish", "2021-02-15"),
        "2021-03-08",
        {"2021-02-08/index.html": ['<a href="../2021-02-15/index.html" rel="next">'],
         "2021-02-22/index.html": ['<a href="../2021-02-15/index.html" rel="prev">']}),
    "new year": (  # the page of the year before, for its link to the new year's
        [dt.date(2021, 12, 22), dt.date(2021, 12, 29), dt.date(2022, 1, 5)], ["2021-12-27"],
        ("archive/2021.html", "build", "--date", "2022-01-03", "--publish"),
        "2022-01-10", {"archive/2021.html": ['href="2022.html"']}),
}


@pytest.mark.parametrize("case", list(STOPPED_THEN_ANOTHER))
def test_a_publish_killed_halfway_is_finished_by_the_next_publish_of_any_issue(
        tmp_path: Path, case: str) -> None:
    """kill -9 once the issue's issue.json says published, before a page of the site shows
    it; the issue is never published again, another is: that publish writes what the
    killed one left (a page leading past the killed issue stayed so for ever), and `check`
    names it meanwhile, with the command that writes it."""
    days, first, (killed_at, *killed), later, expected = STOPPED_THEN_ANOTHER[case]
    for day in days:
        write_article(tmp_path / "articles", f"story-{day}",
                      publishedDateTime=dt.datetime.combine(day, dt.time(12), dt.UTC))
    write_config(tmp_path)
    for date in first:
        assert run(tmp_path, "build", "--date", date, "--publish").exit_code == 0
    stopped = killed[2] if killed[0] == "build" else killed[1]
    if killed[0] == "publish":
        assert run(tmp_path, "build", "--date", stopped).exit_code == 0
    output = tmp_path / "issues"
    env = {**os.environ,
           "PYTHONPATH": str(PROJECT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run(
        [sys.executable, "-c", KILLED_AT, killed_at, "--config",
         str(tmp_path / "newsletter.yaml"), *killed],
        env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert issue_json(tmp_path, stopped)["status"] == "published"
    for page, links in expected.items():
        assert not any(link in (output / page).read_text("utf-8") for link in links), page

    checked = run(tmp_path, "check")
    assert checked.exit_code == 0, checked.output
    assert (f"warning: {output / '.newsletter-publishing'}: the publish of issue {stopped} "
            "stopped before it wrote everything") in checked.stderr
    assert f"`newsletter publish {stopped}` writes them" in checked.stderr
    assert run(tmp_path, "check", "--strict").exit_code == 1

    published = run(tmp_path, "build", "--date", later, "--publish")
    assert published.exit_code == 0, published.output
    for page, links in expected.items():
        assert all(link in (output / page).read_text("utf-8") for link in links), page
    assert not (output / ".newsletter-publishing").exists()
    checked = run(tmp_path, "check", "--strict")
    assert checked.exit_code == 0 and ".newsletter-publishing" not in checked.stderr
    # Byte for byte the site a publish never stopped gives.
    whole = tmp_path / "whole"
    shutil.copytree(tmp_path / "articles", whole / "articles")
    write_config(whole)
    for date in sorted([*first, stopped, later]):
        assert run(whole, "build", "--date", date, "--publish").exit_code == 0
    assert tree(output) == tree(whole / "issues")
