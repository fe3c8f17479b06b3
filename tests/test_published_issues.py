"""A published issue stays as its readers saw it: its date and time in the feeds and the
email, and its web page, do not change when the config or the templates change later."""

from __future__ import annotations

import datetime as dt
import json
from email import message_from_bytes
from pathlib import Path

import feedparser

from conftest import run, tree, write_article, write_config

NEW_YORK = "America/New_York"


def weekly(project: Path, cron: str = "0 7 * * mon") -> None:
    write_config(project, timezone=NEW_YORK, schedule={"cron": cron})
    for day in (10, 17, 24):
        write_article(project / "articles", f"day-{day}",
                      publishedDateTime=dt.datetime(2021, 2, day, 12, tzinfo=dt.UTC))


def build(project: Path, *args: str):
    result = run(project, "build", *args)
    assert result.exit_code == 0, result.output
    return result


def entry_dates(project: Path) -> dict[str, str]:
    """Each issue's date in the RSS feed, by issue URL."""
    feed = feedparser.parse((project / "issues/feed.xml").read_bytes())
    return {entry.link: entry.published for entry in feed.entries}


def test_a_published_issue_keeps_its_time_when_the_schedule_changes(project: Path) -> None:
    weekly(project)
    build(project, "--date", "2021-02-15", "--publish")
    stored = json.loads((project / "issues/2021-02-15/issue.json").read_text("utf-8"))
    assert stored["published_at"] == "2021-02-15T07:00:00-05:00"
    before = tree(project / "issues")
    first = "https://news.example.org/ai/2021-02-15/"
    assert entry_dates(project) == {first: "Mon, 15 Feb 2021 07:00:00 -0500"}

    weekly(project, "30 9 * * mon")  # later on Mondays from now on
    same = build(project, "--date", "2021-02-15")
    assert "a rebuild gives the same files" in same.stdout  # no --force needed
    assert tree(project / "issues") == before
    build(project, "--date", "2021-02-22", "--publish")
    assert entry_dates(project) == {
        "https://news.example.org/ai/2021-02-22/": "Mon, 22 Feb 2021 09:30:00 -0500",
        first: "Mon, 15 Feb 2021 07:00:00 -0500"}
    for name in ("2021-02-15/email.eml", "2021-02-15/issue.json"):
        assert (project / "issues" / name).read_bytes() == before[name], name
    message = message_from_bytes((project / "issues/2021-02-22/email.eml").read_bytes())
    assert message["Date"] == "Mon, 22 Feb 2021 09:30:00 -0500"

    # publish (from issue.json) gives the same bytes as build --publish did
    published = tree(project / "issues")
    assert run(project, "publish", "2021-02-22").exit_code == 0
    assert tree(project / "issues") == published


def test_an_issue_published_before_times_were_stored_keeps_the_schedules(project: Path
                                                                          ) -> None:
    weekly(project)
    build(project, "--date", "2021-02-15", "--publish")
    path = project / "issues/2021-02-15/issue.json"
    data = json.loads(path.read_text("utf-8"))
    del data["published_at"]
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")
    build(project, "--date", "2021-02-22", "--publish")
    assert "published_at" not in json.loads(path.read_text("utf-8"))
    assert entry_dates(project)["https://news.example.org/ai/2021-02-15/"] == (
        "Mon, 15 Feb 2021 07:00:00 -0500")
    weekly(project, "0 8 * * mon")
    build(project, "--date", "2021-03-01", "--publish")
    assert entry_dates(project)["https://news.example.org/ai/2021-02-15/"] == (
        "Mon, 15 Feb 2021 08:00:00 -0500")  # computed, as before


def test_publishing_rewrites_another_issues_page_only_for_its_links(project: Path) -> None:
    weekly(project)
    build(project, "--date", "2021-02-15", "--publish")
    second = build(project, "--date", "2021-02-22", "--publish")
    assert "Updated the previous/next links of 2021-02-15/index.html." in second.stdout
    first_page = (project / "issues/2021-02-15/index.html").read_bytes()
    assert b'rel="next"' in first_page

    # A new footer: the next publication must not slip it into the pages already out.
    write_config(project, timezone=NEW_YORK, schedule={"cron": "0 7 * * mon"},
                 theme={"footer": "A brand new footer."})
    third = build(project, "--date", "2021-03-01", "--publish")
    assert "Updated the previous/next links of 2021-02-22/index.html." in third.stdout
    assert (project / "issues/2021-02-15/index.html").read_bytes() == first_page
    assert b'href="../2021-03-01/index.html"' in (
        project / "issues/2021-02-22/index.html").read_bytes()  # its new next link
    assert b"A brand new footer." in (project / "issues/2021-03-01/index.html").read_bytes()

    again = run(project, "publish", "2021-03-01")  # no link moves: no other page rewritten
    assert again.exit_code == 0, again.output
    assert "previous/next links" not in again.stdout
    assert (project / "issues/2021-02-15/index.html").read_bytes() == first_page
    refused = run(project, "build", "--date", "2021-02-15")  # as published, until --force
    assert refused.exit_code == 1 and "2021-02-15/index.html" in refused.stderr
