"""The index of the published issues (publishing/issueindex.py): a publish after years of
issues reads the issue.json of the issues it renders, not of every issue, and writes what it
wrote when it read them all, byte for byte; the index is never trusted over the files."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from pathlib import Path

import pytest

from conftest import PROJECT, make_article, make_issue, run, tree, write_article, write_config
from newsletter.core.config import Config, load_config
from newsletter.core.models import Issue, PlacedArticle
from newsletter.publishing import issues as issues_module
from newsletter.publishing.issuefile import issue_json
from newsletter.publishing.issueindex import index_path, load_index, save_index
from newsletter.publishing.issues import IssueStore
from newsletter.publishing.output import write_files
from newsletter.publishing.site import render_site_files

TOPICS = ["AI", "Robotics", "Rare"]
FIRST = dt.date(2020, 3, 2)
COUNT = 120  # every third day: to 2021-03-29, over two years
NEW = dt.date(2021, 4, 5)  # the issue published after them (its window: 2021-03-29 to 04-05)
MIDDLE = dt.date(2020, 9, 2)  # one published between two of them later, a draft until then


def past_issues(config: Config) -> list[Issue]:
    """Every issue features AI, every other Robotics, and only the first three Rare: its
    feed reaches back past every issue a publish renders otherwise."""
    found = []
    for n in range(COUNT):
        date = FIRST + dt.timedelta(days=3 * n)
        sections = {"AI": [PlacedArticle(make_article(f"{date}-ai-{k}", topics=("AI",)))
                           for k in range(2)]}
        if n % 2 == 0:
            sections["Robotics"] = [PlacedArticle(make_article(f"{date}-robot",
                                                               topics=("Robotics",)))]
        if n < 3:
            sections["Rare"] = [PlacedArticle(make_article(f"{date}-rare", topics=("Rare",)))]
        found.append(make_issue(config, date, sections))
    return found


def index_files(folder: Path) -> list[Path]:
    return sorted((folder / ".newsletter").glob("issue-index-*.json"))


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """A project whose output folder holds COUNT published issues, as publishing them left
    them, all modified an hour ago; an editor's issue template shows how many articles the
    previous and next issues have (a page rendered with a light issue would say 0)."""
    folder = tmp_path / "archive"
    folder.mkdir()
    (folder / "templates").mkdir()
    packaged = (PROJECT / "templates" / "issue.html.j2").read_text("utf-8")
    marker = '<a href="../{{ previous.slug }}/index.html" rel="prev">'
    assert marker in packaged
    (folder / "templates" / "issue.html.j2").write_text(packaged.replace(
        marker, "{{ previous.placed|length }} articles " + marker), "utf-8")
    write_config(folder, topics=TOPICS, templates="templates")
    config = load_config(folder / "newsletter.yaml")
    issues = past_issues(config)
    files = {f"{issue.slug}/issue.json": issue_json(issue) for issue in issues}
    files.update(render_site_files(issues, config))
    write_files(config.output, files)
    for day in (NEW - dt.timedelta(days=2), MIDDLE - dt.timedelta(days=1)):
        write_article(folder / "articles", f"story-{day}", topics=["AI", "Rare"],
                      publishedDateTime=dt.datetime.combine(day, dt.time(12), dt.UTC))
    assert run(folder, "build", "--date", MIDDLE.isoformat()).exit_code == 0
    an_hour_ago = time.time() - 3600
    for path in config.output.rglob("*"):
        os.utime(path, (an_hour_ago, an_hour_ago))
    return folder


def test_a_publish_with_the_index_writes_what_reading_every_issue_writes(
        archive: Path, tmp_path: Path, monkeypatch) -> None:
    """Two copies of the archive, one keeping the index between commands and one without
    it: every step leaves the same files. With the index, a publish reads the issue.json
    of the issues it renders (the year's, the feeds', the front page's, the pages around
    it) and no other; the Rare topic's feed, whose issues are the oldest, is rendered from
    them whole."""
    plain = tmp_path / "plain"
    shutil.copytree(archive, plain, symlinks=True)
    read: list[str] = []
    real = issues_module.load_issue

    def counting(path: Path) -> Issue:
        read.append(path.parent.name)
        return real(path)

    monkeypatch.setattr(issues_module, "load_issue", counting)
    steps = [("explain", "--json", "--date", NEW.isoformat()),  # makes the index
             ("build", "--date", NEW.isoformat(), "--publish"),
             ("publish", MIDDLE.isoformat()),  # between two: both pages get their link
             ("publish", NEW.isoformat())]  # again, with every year's page deleted
    for number, step in enumerate(steps):
        if step[0] == "publish" and step[1] == NEW.isoformat():
            for folder in (archive, plain):
                shutil.rmtree(folder / "issues" / "archive")
        for path in index_files(plain):
            path.unlink()
        read.clear()
        indexed = run(archive, *step)
        assert indexed.exit_code == 0, indexed.output
        with_index = list(read)
        read.clear()
        every = run(plain, *step)
        assert every.exit_code == 0, every.output
        assert indexed.output == every.output.replace(str(plain), str(archive))
        assert tree(archive / "issues") == tree(plain / "issues"), step
        assert len(read) >= COUNT, step  # without the index: every issue.json
        if number == 1:  # the newest 30, the feeds (Robotics: 40 back; Rare: the oldest 3)
            assert len(with_index) < 45, with_index
            assert "2020-03-02" in with_index  # the Rare topic's feed
    assert index_files(archive) and load_index(index_files(archive)[0])
    page = (archive / "issues" / NEW.isoformat() / "index.html").read_text("utf-8")
    assert "2 articles" in page  # its previous issue's, whole


def test_an_issue_file_changed_since_the_index_was_made_is_read_again(archive: Path) -> None:
    """An issue.json rewritten with its size and modification time kept (a URL of the
    same length, the time set back): its inode and change time tell it, and the article
    it no longer features may be featured again."""
    config = load_config(archive / "newsletter.yaml")
    store = IssueStore.of(config)
    last = FIRST + dt.timedelta(days=3 * (COUNT - 1))
    old = f"https://outlet.example/{last}-ai-0"
    assert old[len("https://"):] in store.featured_before(NEW)
    assert index_files(archive)
    path = config.output / last.isoformat() / "issue.json"
    info = path.stat()
    data = path.read_bytes()
    assert data.count(old.encode()) == 1
    replacement = data.replace(old.encode(), old.replace("ai-0", "ai-9").encode())
    write_files(config.output, {f"{last}/issue.json": replacement})
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (info.st_size, info.st_mtime_ns)
    featured = IssueStore.of(config).featured_before(NEW)
    assert old[len("https://"):] not in featured
    assert old.replace("ai-0", "ai-9")[len("https://"):] in featured


def test_the_index_keeps_no_entry_of_a_file_modified_just_before(tmp_path: Path,
                                                                  config: Config) -> None:
    """A file written within RACY_SECONDS of the index could be written again within the
    same tick of the file system's clock, unseen: its entry waits for the next run."""
    write_files(tmp_path, {"2021-02-22/issue.json": issue_json(
        make_issue(config, dt.date(2021, 2, 22), {"AI": [PlacedArticle(make_article("a"))]}))})
    index = tmp_path / "index.json"
    store = IssueStore(tmp_path, index=index)
    entries = {date.isoformat(): entry for date, entry in store.summaries().items()}
    assert load_index(index) == {}  # written this very moment: not kept
    save_index(index, entries, now=time.time() + 3)
    assert load_index(index) == entries


def test_a_damaged_index_is_made_again_from_the_files(archive: Path) -> None:
    config = load_config(archive / "newsletter.yaml")
    path = index_path(config.state_dir, config.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'{"format": "newsletter issue index 1", "issues": {"2020-03-02": 7}}')
    featured = IssueStore.of(config).featured_before(NEW)
    assert featured == IssueStore(config.output).featured_before(NEW)
    assert len(load_index(path)) == COUNT + 1  # and the draft's
