"""Correcting a published issue (``build --date D --force`` after its articles changed): the
feeds carry the correction, under the same ids, with its time as the entries' modification
date, so that feed readers show the corrected issue again; a forced rebuild that changes
nothing changes no byte and no date."""

from __future__ import annotations

import calendar
import datetime as dt
import json
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import pytest
import yaml
from lxml import etree

from conftest import GOLDEN, PROJECT, SAMPLE_DATES, run, sample_site, tree
from newsletter.core.config import Config, load_config
from newsletter.publishing.build import build_issue

SITE = "https://news.example.org/ai/"
FIRST, SECOND = (dt.date.fromisoformat(date) for date in SAMPLE_DATES)
ARTICLE = "2021-02-09-eu-draft-high-risk-ai-rules.md"  # featured in the first issue
OLD_TITLE = "EU Lawmakers Circulate Draft Rules for &#39;High-Risk&#39; AI Systems"
NEW_TITLE = "EU Lawmakers Circulate Draft Rules for High-Risk AI Systems, Leaked Text Shows"
CORRECTED = dt.datetime(2021, 3, 3, 15, 30, 12, 345678, tzinfo=dt.UTC)
CORRECTED_AT = "2021-03-03T10:30:12-05:00"  # in the sample's timezone, to the second
LATER = CORRECTED + dt.timedelta(days=2)
NS = {"atom": "http://www.w3.org/2005/Atom"}
FEEDS = ("feed.xml", "atom.xml", "feed.json")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The sample newsletter with its own copy of the corpus (to correct), its two issues
    built and published as in tests/golden."""
    shutil.copytree(PROJECT / "articles", tmp_path / "articles")
    sample_site(tmp_path, corpus=tmp_path / "articles")
    return tmp_path


def load(site: Path) -> Config:
    return load_config(site / "newsletter.yaml")


def correct_title(site: Path) -> None:
    path = site / "articles" / ARTICLE
    text = path.read_text("utf-8")
    assert OLD_TITLE in text
    path.write_text(text.replace(OLD_TITLE, NEW_TITLE), "utf-8")


def stored(site: Path, date: dt.date) -> dict[str, object]:
    return json.loads((site / "issues" / date.isoformat() / "issue.json").read_text("utf-8"))


def atom_entries(site: Path) -> dict[str, etree._Element]:
    atom = etree.fromstring((site / "issues/atom.xml").read_bytes())
    return {entry.findtext("atom:id", namespaces=NS): entry
            for entry in atom.iterfind("atom:entry", NS)}


def test_a_corrected_issue_is_updated_in_every_feed_under_the_same_ids(site: Path) -> None:
    first, second = f"{SITE}{FIRST}/", f"{SITE}{SECOND}/"
    before = tree(site / "issues")
    published_at = stored(site, FIRST)["published_at"]
    old_rss = etree.fromstring(before["feed.xml"])
    old_json = json.loads(before["feed.json"])

    correct_title(site)
    result = build_issue(load(site), FIRST, force=True, now=CORRECTED)
    assert result.written

    data = stored(site, FIRST)
    assert data["updated_at"] == CORRECTED_AT
    assert data["published_at"] == published_at
    assert "updated_at" not in stored(site, SECOND)

    atom = etree.fromstring((site / "issues/atom.xml").read_bytes())
    assert atom.findtext("atom:updated", namespaces=NS) == CORRECTED_AT  # the newest change
    entries = atom_entries(site)
    assert list(entries) == [second, first]  # the same ids, in the same order
    assert entries[first].findtext("atom:updated", namespaces=NS) == CORRECTED_AT
    assert entries[first].findtext("atom:published", namespaces=NS) == published_at
    assert NEW_TITLE in entries[first].findtext("atom:content", namespaces=NS)
    assert entries[second].findtext("atom:updated", namespaces=NS) == (
        entries[second].findtext("atom:published", namespaces=NS))  # not corrected

    rss = etree.fromstring((site / "issues/feed.xml").read_bytes())
    assert rss.findtext("channel/lastBuildDate") == "Wed, 03 Mar 2021 10:30:12 -0500"
    assert [i.findtext("guid") for i in rss.iter("item")] == (
        [i.findtext("guid") for i in old_rss.iter("item")])
    assert [i.findtext("pubDate") for i in rss.iter("item")] == (
        [i.findtext("pubDate") for i in old_rss.iter("item")])

    items = json.loads((site / "issues/feed.json").read_bytes())["items"]
    assert [item["id"] for item in items] == [item["id"] for item in old_json["items"]]
    assert [item.get("date_modified") for item in items] == [None, CORRECTED_AT]
    assert NEW_TITLE in items[1]["content_html"]

    parsed = feedparser.parse((site / "issues/atom.xml").read_bytes())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    entry = next(e for e in parsed.entries if e.id == first)
    moment = calendar.timegm(CORRECTED.replace(microsecond=0).timetuple())
    assert calendar.timegm(entry.updated_parsed) == moment
    assert calendar.timegm(entry.published_parsed) < moment
    assert calendar.timegm(parsed.feed.updated_parsed) == moment
    rss_parsed = feedparser.parse((site / "issues/feed.xml").read_bytes())
    assert rss_parsed.bozo == 0, rss_parsed.get("bozo_exception")
    assert [e.id for e in rss_parsed.entries] == [second, first]
    assert calendar.timegm(rss_parsed.feed.updated_parsed) == moment


def test_rebuilding_a_corrected_issue_unchanged_moves_no_date_and_no_byte(site: Path) -> None:
    correct_title(site)
    build_issue(load(site), FIRST, force=True, now=CORRECTED)
    assert stored(site, FIRST)["updated_at"] == CORRECTED_AT
    corrected = tree(site / "issues")

    result = build_issue(load(site), FIRST, force=True, now=LATER)  # nothing changed
    assert tree(site / "issues") == corrected
    assert not [path for path in result.written if path.name in FEEDS]
    # Without --force, and publishing it again, it is up to date as well.
    assert build_issue(load(site), FIRST, now=LATER).up_to_date
    assert run(site, "publish", FIRST.isoformat()).exit_code == 0
    assert tree(site / "issues") == corrected
    # The feeds still give the time of the correction, not of the rebuilds after it.
    assert atom_entries(site)[f"{SITE}{FIRST}/"].findtext(
        "atom:updated", namespaces=NS) == CORRECTED_AT


def test_build_force_records_the_time_of_a_correction(site: Path) -> None:
    correct_title(site)
    start = dt.datetime.now(dt.UTC).replace(microsecond=0)
    result = run(site, "build", "--date", FIRST.isoformat(), "--force")
    end = dt.datetime.now(dt.UTC)
    assert result.exit_code == 0, result.output
    updated = dt.datetime.fromisoformat(str(stored(site, FIRST)["updated_at"]))
    assert start <= updated <= end
    in_new_york = updated.astimezone(ZoneInfo("America/New_York"))  # the sample's timezone
    assert updated.isoformat() == in_new_york.isoformat()
    assert atom_entries(site)[f"{SITE}{FIRST}/"].findtext(
        "atom:updated", namespaces=NS) == updated.isoformat()
    same = run(site, "build", "--date", FIRST.isoformat())
    assert "a rebuild gives the same files" in same.output


def test_a_correction_before_the_issues_own_time_does_not_date_the_entry_earlier(
        site: Path) -> None:
    """Published by hand ahead of its scheduled time, then corrected before that time: the
    entry's modification date is no earlier than its publication date."""
    published_at = dt.datetime.fromisoformat(str(stored(site, FIRST)["published_at"]))
    correct_title(site)
    build_issue(load(site), FIRST, force=True, now=published_at - dt.timedelta(hours=3))
    entry = atom_entries(site)[f"{SITE}{FIRST}/"]
    assert entry.findtext("atom:updated", namespaces=NS) == published_at.isoformat()
    assert entry.findtext("atom:published", namespaces=NS) == published_at.isoformat()
    items = json.loads((site / "issues/feed.json").read_bytes())["items"]
    assert items[1]["date_modified"] == items[1]["date_published"]


def test_the_command_says_a_correction_is_not_sent_again(site: Path) -> None:
    """After `build --force` of an issue that is out, the next step is not "send it": the
    command says what readers see of the correction and that the email is not sent again."""
    correct_title(site)
    result = run(site, "build", "--date", FIRST.isoformat(), "--force")
    assert result.exit_code == 0, result.output
    last = result.stdout.splitlines()[-1]
    assert last.startswith(f"Corrected issue {FIRST}, published already: its web page, the "
                           "archive and the feeds show the correction (updated_at 20")
    assert last.endswith(f"Its email is not sent again: `newsletter send {FIRST}` sends only "
                         "to subscribers who have not had it.")
    again = run(site, "build", "--date", FIRST.isoformat(), "--force")
    assert again.stdout.splitlines()[-1] == (
        f"Issue {FIRST} was published already and the rebuild changes nothing.")
    assert "send it with" not in result.stdout + again.stdout


def test_publishing_again_after_editing_a_published_issues_overrides_says_it_applies_nothing(
        site: Path) -> None:
    """A typo fixed in the intro of an issue that is out, then `publish`: the issue out
    there keeps the typo, and the command must say so and how to correct it, not only
    "published"."""
    path = site / "issues" / SECOND.isoformat() / "overrides.yaml"
    text = path.read_text("utf-8")
    path.write_text(text.replace("Three stories", "Three big stories"), "utf-8")
    before = tree(site / "issues")
    result = run(site, "publish", SECOND.isoformat())
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Issue {SECOND} was published already: 0 file(s)")
    assert (f"warning: {path}: changed since issue {SECOND} was published (intro not in it); "
            "publishing again does not apply it: `newsletter build --date "
            f"{SECOND} --force` corrects the published issue (its email is not sent again)"
            ) in result.stderr
    assert tree(site / "issues") == before
    refused = run(site, "build", SECOND.isoformat())
    assert refused.exit_code == 1 and "pass --force to correct it" in refused.stderr
    assert run(site, "build", SECOND.isoformat(), "--force").exit_code == 0
    assert "Three big stories" in stored(site, SECOND)["intro"][0]
    assert "warning" not in run(site, "publish", SECOND.isoformat()).stderr
    path.write_text("intro: [\n", "utf-8")  # mid-edit: the publish stands, the file is named
    broken = run(site, "publish", SECOND.isoformat())
    assert broken.exit_code == 0, broken.output
    assert broken.stderr.startswith(f"warning: {path}: 1 problem")


EMAIL_FILES = ("email.mjml", "email.html", "email.txt", "email.eml")
FOOTER = "Written in Springfield by people, with a theme changed since"


def add_footer(site: Path) -> None:
    """A theme changed after the issues went out: every file of theirs would render anew."""
    path = site / "newsletter.yaml"
    config = yaml.safe_load(path.read_text("utf-8"))
    config.setdefault("theme", {})["footer"] = FOOTER
    path.write_text(yaml.safe_dump(config, sort_keys=False), "utf-8")


def files_of(site: Path, date: dt.date) -> dict[str, bytes]:
    folder = site / "issues" / date.isoformat()
    return {name: (folder / name).read_bytes()
            for name in (*EMAIL_FILES, "index.html", "issue.json")}


def test_publishing_an_issue_out_again_after_a_theme_change_leaves_it_as_it_was(
        site: Path) -> None:
    """`publish` of an issue already out, after a theme change, brings the archive up to
    date and leaves the issue as subscribers and readers got it (its email.eml is the
    record of what was sent): it says that `build --force` corrects it, as build says."""
    add_footer(site)
    kept = files_of(site, SECOND)
    refused = run(site, "build", "--date", SECOND.isoformat())
    assert refused.exit_code == 1 and f"{SECOND}/email.eml" in refused.stderr
    result = run(site, "publish", SECOND.isoformat())
    assert result.exit_code == 0, result.output
    assert files_of(site, SECOND) == kept  # byte for byte, the email files above all
    changed = ", ".join(f"{SECOND}/{name}" for name in (*EMAIL_FILES, "index.html"))
    first, said = result.stdout.splitlines()
    assert first.startswith(f"Issue {SECOND} was published already: ")
    assert first.endswith(f"file(s) brought up to date in {site / 'issues'} (the archive and "
                          "the feeds; the issue stays as it was).")
    assert said == (
        f"Issue {SECOND}: it stays as it was, though rebuilding it would change {changed}: "
        f"`newsletter build --date {SECOND} --force` corrects the published issue (its "
        "email is not sent again).")
    assert FOOTER in (site / "issues" / "index.html").read_text("utf-8")  # the archive's page
    assert "updated_at" not in stored(site, SECOND)
    again = run(site, "build", "--date", SECOND.isoformat())  # still to correct, as said
    assert again.exit_code == 1 and "pass --force to correct it" in again.stderr
    assert run(site, "build", "--date", SECOND.isoformat(), "--force").exit_code == 0
    assert FOOTER in (site / "issues" / SECOND.isoformat() / "email.txt").read_text("utf-8")
    assert "rebuilding it" not in run(site, "publish", SECOND.isoformat()).stdout


def test_publishing_the_next_issue_after_a_theme_change_rewrites_only_its_neighbours_page(
        site: Path) -> None:
    """The one file of an issue out already that publishing another rewrites is its page,
    for its new link (with the current templates); never its email files."""
    shutil.rmtree(site / "issues" / SECOND.isoformat())
    (site / "issues" / SECOND.isoformat()).mkdir()
    shutil.copy(GOLDEN / SECOND.isoformat() / "overrides.yaml",
                site / "issues" / SECOND.isoformat() / "overrides.yaml")
    add_footer(site)
    assert run(site, "build", "--date", SECOND.isoformat()).exit_code == 0  # a draft
    kept = files_of(site, FIRST)
    result = run(site, "publish", SECOND.isoformat())
    assert result.exit_code == 0, result.output
    assert f"Updated the previous/next links of {FIRST}/index.html." in result.stdout
    now = files_of(site, FIRST)
    assert {name for name in kept if now[name] != kept[name]} == {"index.html"}
    page = now["index.html"].decode("utf-8")
    assert FOOTER in page and f'href="../{SECOND}/index.html" rel="next"' in page


@pytest.mark.parametrize("takedown", ["excluded", "deleted"])
def test_a_published_issue_is_never_emptied_and_no_advice_loops_back(
        tmp_path: Path, takedown: str) -> None:
    """The editor takes down every article of a published issue (excluded in overrides.yaml,
    or its file deleted). build --force used to say "nothing to build" and exit 0, leaving
    the articles on the page and in the feeds, while publish and explain kept naming that
    same command. Now build refuses (exit 1), writing nothing, naming the issue and the ways
    out; publish and explain say the edit empties it instead of naming --force as the fix."""
    from conftest import write_article, write_config

    write_article(tmp_path / "articles", "story-17",
                  publishedDateTime=dt.datetime(2021, 2, 17, 12, tzinfo=dt.UTC))
    write_config(tmp_path)
    assert run(tmp_path, "build", "--date", "2021-02-22", "--publish").exit_code == 0
    output = tmp_path / "issues"
    overrides = output / "2021-02-22" / "overrides.yaml"
    if takedown == "excluded":
        overrides.write_text("exclude: [story-17]\n", "utf-8")
    else:
        (tmp_path / "articles" / "story-17.md").unlink()
    before = tree(output)
    for command in (["build", "--date", "2021-02-22", "--force"],
                    ["build", "--date", "2021-02-22"]):
        refused = run(tmp_path, *command)
        assert refused.exit_code == 1, refused.output
        assert ("Error: issue 2021-02-22 is published (1 article) and rebuilding it would "
                "leave no article in it (") in refused.stderr
        assert ("so nothing was written: its page and the feeds still show it as published. "
                "A published issue is corrected, never emptied: keep at least one article "
                f"(take an entry out of exclude in {overrides}, or pin another article of "
                "its window), then `newsletter build --date 2021-02-22 --force` corrects "
                "it; or undo the edit") in refused.stderr
        assert "nothing to build" not in refused.output
        assert tree(output) == before
    if takedown == "excluded":  # the edit publish and explain compare with the issue
        loop = "`newsletter build --date 2021-02-22 --force` corrects the published issue"
        emptied = ("the edits leave no article in it, and a published issue is corrected, "
                   "never emptied (`newsletter build --date 2021-02-22 --force` refuses it)")
        published = run(tmp_path, "publish", "2021-02-22")
        assert published.exit_code == 0, published.output
        assert emptied in published.stderr and loop not in published.stderr
        explained = run(tmp_path, "explain", "2021-02-22")
        assert emptied in explained.output and loop not in explained.output
        overrides.write_text("exclude: []\n", "utf-8")  # undone: the issue as it was
        assert run(tmp_path, "build", "--date", "2021-02-22", "--force").exit_code == 0
        assert tree(output) == {**before, "2021-02-22/overrides.yaml": b"exclude: []\n"}
