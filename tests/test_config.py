"""newsletter.yaml: schema, defaults, relative paths, and validation that reports everything."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conftest import make_config, run, write_article, write_config
from newsletter.core import zones
from newsletter.core.config import Config, TopicConfig, load_config
from newsletter.core.errors import ConfigError, NewsletterError

# The email block only keeps the postal-address warning out of these tests' warnings.
EMAIL = (
    "email:\n"
    "  from: AI Weekly <newsletter@news.example.org>\n"
    "  postal_address: 100 Example Street, Springfield\n"
)
MINIMAL = (
    "title: AI Weekly\n"
    "site_url: https://news.example.org/ai/\n"
    "topics: [AI]\n"
) + EMAIL


def write_text_config(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "articles").mkdir(exist_ok=True)
    path = folder / "newsletter.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def config_errors(path: Path, **kwargs) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, **kwargs)
    assert caught.value.path == str(path.absolute())
    return caught.value.errors


# -- valid files and defaults ----------------------------------------------------------------

def test_full_config_values(project: Path):
    config = load_config(project / "newsletter.yaml")
    assert isinstance(config, Config)
    assert config.path == project / "newsletter.yaml"
    assert config.title == "AI Weekly"
    assert config.site_url == "https://news.example.org/ai/"
    assert config.timezone == ZoneInfo("UTC")
    assert config.corpus == (project / "articles").resolve()
    assert config.output == (project / "issues").resolve()
    assert config.window_days == 7
    assert type(config.window_days) is int
    assert config.min_quality == 0
    assert config.topics == (TopicConfig("AI", 5),)
    assert config.related_max_per_article == 3
    assert config.warnings == ()
    assert config.folder == project


def test_defaults_for_optional_keys(tmp_path: Path):
    path = write_text_config(tmp_path, MINIMAL)
    config = load_config(path)
    assert config.timezone == ZoneInfo("UTC")
    assert config.corpus == (tmp_path / "articles").resolve()
    assert config.output == (tmp_path / "issues").resolve()
    assert config.window_days == 7
    assert config.min_quality == 0
    assert config.related_max_per_article == 3
    assert config.topics == (TopicConfig("AI", 5),)
    assert config.warnings == ()


def test_explicit_values(tmp_path: Path):
    (tmp_path / "content").mkdir()
    config = make_config(
        tmp_path, title="  Robots Weekly  ", timezone="Europe/Berlin", corpus="content",
        output="public/issues", window_days=14, min_quality=2.5,
        related={"max_per_article": 0},
    )
    assert config.title == "Robots Weekly"
    assert config.timezone == ZoneInfo("Europe/Berlin")
    assert config.corpus == (tmp_path / "content").resolve()
    assert config.output == (tmp_path / "public" / "issues").resolve()
    assert config.window_days == 14
    assert config.min_quality == 2.5
    assert config.related_max_per_article == 0


@pytest.mark.parametrize(("given", "expected"), [
    ("https://news.example.org/ai", "https://news.example.org/ai/"),
    ("https://news.example.org", "https://news.example.org/"),
    ("http://localhost:8000/x/", "http://localhost:8000/x/"),
    ("https://news.example.org/ai/", "https://news.example.org/ai/"),
    # a fragment names a place in one page, not the folder: it is dropped
    ("https://news.example.org/ai#latest", "https://news.example.org/ai/"),
    ("https://news.example.org/ai/#", "https://news.example.org/ai/"),
])
def test_site_url_gets_a_trailing_slash(tmp_path: Path, given: str, expected: str):
    assert make_config(tmp_path, site_url=given).site_url == expected


@pytest.mark.parametrize("site_url", [
    "https://" + "h" * 249 + ".org/",                  # a host name of 253 characters
    "https://news.example.org/" + "a" * 774 + "/",     # 800 characters
])
def test_a_site_url_at_the_limits_loads(tmp_path: Path, site_url: str):
    config = load_config(write_config(tmp_path, site_url=site_url), strict=True)
    assert (config.site_url, config.warnings) == (site_url, ())


def test_topics_forms(tmp_path: Path):
    config = make_config(tmp_path, topics=[
        "AI",
        {"name": "Robotics", "max_articles": 2},
        {"name": "Computer Vision"},
        "  Spaced  ",
    ])
    assert config.topics == (
        TopicConfig("AI", 5),
        TopicConfig("Robotics", 2),
        TopicConfig("Computer Vision", 5),
        TopicConfig("Spaced", 5),
    )


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    (site / "content" / "news").mkdir(parents=True)
    path = write_config(site, corpus="content/news", output="out/issues")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "content" / "news").mkdir(parents=True)  # a decoy in the working folder
    monkeypatch.chdir(elsewhere)

    config = load_config(path)

    assert config.corpus == (site / "content" / "news").resolve()
    assert config.output == (site / "out" / "issues").resolve()
    assert config.corpus.is_absolute()
    assert config.output.is_absolute()
    assert config.path == path


def test_relative_config_path_is_made_absolute(tmp_path: Path, monkeypatch):
    write_config(tmp_path)
    monkeypatch.chdir(tmp_path)
    config = load_config(Path("newsletter.yaml"))
    assert config.path == tmp_path / "newsletter.yaml"
    assert config.corpus == (tmp_path / "articles").resolve()


def test_missing_corpus_folder_is_an_error_even_from_another_cwd(tmp_path: Path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    path = write_config(site, corpus="content")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "content").mkdir()  # exists relative to cwd, not to the config
    assert config_errors(path) == [
        f'corpus: folder "content" not found (looked in {(site / "content").resolve()})',
    ]


def test_config_is_frozen(project: Path):
    config = load_config(project / "newsletter.yaml")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.title = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.topics[0].max_articles = 1  # type: ignore[misc]


# -- one mistake at a time -------------------------------------------------------------------

def test_missing_config_file_says_how_to_fix(tmp_path: Path):
    path = tmp_path / "newsletter.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    assert isinstance(error, NewsletterError)
    assert error.path == str(path)
    fix = f"start a newsletter in {tmp_path} with `newsletter init`, or pass --config PATH"
    assert error.errors == [f"file not found; {fix}"]
    assert str(error) == f"{path}: 1 problem in the configuration:\n  file not found; {fix}"
    other = tmp_path / "other.yaml"
    assert config_errors(other) == [
        "file not found; check the path given with --config (or in NEWSLETTER_CONFIG)"]


def test_run_in_a_subfolder_the_newsletter_yaml_above_is_named_not_used(tmp_path: Path):
    config = write_config(tmp_path)
    below = tmp_path / "articles" / "drafts"
    below.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "NEWSLETTER_CONFIG"}
    result = subprocess.run([sys.executable, "-m", "newsletter", "build", "2021-02-22"],
                            cwd=below, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {below / 'newsletter.yaml'}: 1 problem in the configuration:\n"
        f"  file not found; there is one in a parent folder, {config}: run the command "
        f"there (cd {tmp_path}) or pass --config {config}\n")
    assert not (tmp_path / "issues" / "2021-02-22").exists()


def test_run_beside_a_new_newsletter_its_newsletter_yaml_below_is_named(tmp_path: Path):
    """`newsletter init my-newsletter` then `newsletter check` without the `cd` it printed:
    the newsletter one folder down is named, not `init` offered again."""
    (tmp_path / "my-newsletter").mkdir()
    config = write_config(tmp_path / "my-newsletter")
    write_text_config(tmp_path / ".hidden", "title: not this one\n")
    env = {k: v for k, v in os.environ.items() if k != "NEWSLETTER_CONFIG"}
    result = subprocess.run([sys.executable, "-m", "newsletter", "check"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {tmp_path / 'newsletter.yaml'}: 1 problem in the configuration:\n"
        f"  file not found; there is one in a folder here, {config}: run the command there "
        f"(cd {config.parent}, as `newsletter init` said) or pass --config {config}\n")
    (tmp_path / "another").mkdir()
    write_config(tmp_path / "another")
    assert config_errors(tmp_path / "newsletter.yaml") == [
        f"file not found; there is one in a folder here, {tmp_path / 'another' / 'newsletter.yaml'}"
        f" (and 1 more there): run the command there (cd {tmp_path / 'another'}, as "
        f"`newsletter init` said) or pass --config {tmp_path / 'another' / 'newsletter.yaml'}"]


def test_yaml_syntax_error_names_the_line(tmp_path: Path):
    path = write_text_config(tmp_path, (
        "title: AI Weekly\n"                       # line 1
        "site_url: https://news.example.org/\n"    # line 2
        "  timezone: UTC\n"                        # line 3: bad indentation
        "topics: [AI]\n"
    ))
    errors = config_errors(path)
    assert len(errors) == 1
    assert errors[0].startswith("line 3: YAML syntax error: ")
    assert "mapping values are not allowed" in errors[0]


def test_config_that_is_a_list(tmp_path: Path):
    path = write_text_config(tmp_path, "- title: AI Weekly\n- topics: [AI]\n")
    assert config_errors(path) == [
        "the file holds a list, expected a mapping of settings (title: ..., topics: ...)",
    ]


def test_empty_config_reports_all_required_keys(tmp_path: Path):
    path = write_text_config(tmp_path, "")
    assert config_errors(path) == [
        "title: required, but missing",
        "site_url: required, but missing",
        'topics: required, but missing; list the topics in order, e.g. topics: ["AI", "Robotics"]',
    ]


@pytest.mark.parametrize(("settings", "message"), [
    ({"title": None}, "title: required, but missing"),
    ({"title": "   "}, 'title: expected a non-empty string, got "   "'),
    ({"title": 42}, "title: expected a non-empty string, got 42"),
    ({"site_url": None}, "site_url: required, but missing"),
    ({"site_url": "ftp://x"},
     'site_url: expected an absolute http(s) URL such as https://news.example.org/, '
     'got "ftp://x"'),
    ({"site_url": "news.example.org/ai/"},
     'site_url: expected an absolute http(s) URL such as https://news.example.org/, '
     'got "news.example.org/ai/"'),
    ({"site_url": "https://" + "h" * 250 + ".org/"},
     "site_url: the host name has 254 characters; a host name has at most 253"),
    ({"site_url": "https://news.example.org/" + "a" * 775 + "/"},
     "site_url: 801 characters; at most 800, as every email carries it in a header line "
     "(List-Unsubscribe): choose a shorter path"),
    ({"email": {"from": "n" * 65 + "@example.org"}},  # RFC 5321: 64 at most
     f"email.from: '{'n' * 65}@example.org' is not an address a message can be sent to; use "
     "a plain address such as news@example.org (a non-ASCII domain is fine)"),
    ({"timezone": "Mars/Olympus"},
     'timezone: expected an IANA time zone name such as "America/New_York", '
     'got "Mars/Olympus"'),
    ({"timezone": "../../etc/passwd"},
     'timezone: expected an IANA time zone name such as "America/New_York", '
     'got "../../etc/passwd"'),
    ({"timezone": "localtime"},
     'timezone: "localtime" is the time zone of whichever machine runs the command, so '
     "issues would be dated differently on another one; give the IANA name of the "
     'newsletter\'s place, e.g. "Europe/Paris" or "America/New_York"'),
    ({"window_days": 0}, "window_days: expected a positive integer, got 0"),
    ({"window_days": -7}, "window_days: expected a positive integer, got -7"),
    ({"window_days": "7"}, 'window_days: expected a positive integer, got "7" in quotes, '
     "which YAML reads as text: write window_days: 7"),
    ({"window_days": 7.5}, "window_days: expected a positive integer, got 7.5"),
    ({"window_days": True}, "window_days: expected a positive integer, got true"),
    ({"min_quality": "high"}, 'min_quality: expected a number, got "high"'),
    ({"min_quality": True}, "min_quality: expected a number, got true"),
    ({"min_quality": float("nan")}, "min_quality: expected a number, got nan"),
    ({"topics": []}, "topics: expected a non-empty list of topics, got an empty list"),
    ({"topics": "AI"}, 'topics: expected a non-empty list of topics, got "AI"'),
    ({"topics": None},
     'topics: required, but missing; list the topics in order, e.g. topics: ["AI", "Robotics"]'),
    ({"topics": ["AI", 3]},
     "topics[1]: expected a topic name or a mapping {name: ..., max_articles: ...}, got 3"),
    ({"topics": ["AI", {"max_articles": 2}]},
     "topics[1].name: expected a topic name, got nothing (null)"),
    ({"topics": ["AI", "  "]}, 'topics[1]: expected a non-empty topic name, got ""'),
    ({"topics": ["AI", {"name": "Robotics", "max_articles": 0}]},
     "topics[1].max_articles: expected a positive integer, got 0"),
    ({"related": {"max_per_article": -1}},
     "related.max_per_article: expected an integer >= 0, got -1"),
    ({"related": {"max_per_article": "3"}},
     'related.max_per_article: expected an integer >= 0, got "3" in quotes, which YAML reads '
     "as text: write max_per_article: 3"),
    ({"related": [3]}, "related: expected a mapping such as {max_per_article: 3}, got a list"),
])
def test_single_mistake_message(tmp_path: Path, settings: dict, message: str):
    path = write_config(tmp_path, **settings)  # a None setting leaves the key out
    assert config_errors(path) == [message]


@pytest.mark.parametrize("name", ["EST", "EST5EDT", "CET"])
def test_a_legacy_timezone_name_is_a_warning(tmp_path: Path, name: str):
    path = write_text_config(tmp_path, MINIMAL + f"timezone: {name}\n")
    config = load_config(path)
    assert config.timezone == ZoneInfo(name)
    assert config.warnings == (
        f'timezone: "{name}" is a legacy name, not a place, and its rules differ between '
        "tzdata versions; give the IANA name of the newsletter's place, e.g. "
        '"Europe/Paris" or "America/New_York"',)
    assert load_config(write_text_config(tmp_path, MINIMAL + "timezone: America/New_York\n")
                       ).warnings == ()


@pytest.mark.parametrize(("name", "target"), [
    ("US/Eastern", "America/New_York"), ("Japan", "Asia/Tokyo"), ("GB", "Europe/London"),
    ("Asia/Calcutta", "Asia/Kolkata"), ("Europe/Kiev", "Europe/Kyiv"),
    ("Iceland", "Atlantic/Reykjavik")])
def test_an_old_tzdata_link_name_is_a_warning_naming_its_zone(tmp_path: Path, name: str,
                                                               target: str):
    """tzdata's backward links (Debian 13 ships them apart, in tzdata-legacy) warn with the
    zone to use; a country's own link name (zone.tab), UTC and a zone's name do not."""
    if not Path("/usr/share/zoneinfo/tzdata.zi").is_file():
        pytest.skip("needs the system's tzdata (Debian: the tzdata package)")
    config = load_config(write_text_config(tmp_path, MINIMAL + f"timezone: {name}\n"))
    assert config.timezone == ZoneInfo(name)
    assert config.warnings == (
        f'timezone: "{name}" is an old name tzdata keeps for compatibility, another name of '
        f'"{target}", and newer systems may lack it (Debian 13 moved such names to its '
        f'tzdata-legacy package); give "{target}" instead',)
    for fine in ("Europe/Bratislava", "UTC", "GMT", "Asia/Kolkata", "America/New_York"):
        path = write_text_config(tmp_path, MINIMAL + f"timezone: {fine}\n")
        assert load_config(path).warnings == (), fine


def test_a_country_link_keeps_its_target_when_its_own_zone_keeps_other_time(monkeypatch):
    """``Iceland`` is told Atlantic/Reykjavik, the zone.tab name of its own country, only
    because that keeps the time of tzdata's target (Africa/Abidjan) since 1970; a country
    zone that did not would change the newsletter's times, so the target is named."""
    if not Path("/usr/share/zoneinfo/tzdata.zi").is_file():
        pytest.skip("needs the system's tzdata (Debian: the tzdata package)")
    assert zones.old_name_of("Iceland") == "Atlantic/Reykjavik"
    real = zones._since_1970
    monkeypatch.setattr(zones, "_since_1970", lambda zone: (
        "other time" if zone == "Atlantic/Reykjavik" else real(zone)))
    assert zones.old_name_of("Iceland") == "Africa/Abidjan"


@pytest.mark.parametrize(("links", "zone_tab", "expected"), [
    # a link to a link, as zic allows: the zone at the end
    ({"Old/Name": "Mid/Name", "Mid/Name": "Pacific/Auckland"}, {}, "Pacific/Auckland"),
    # a loop of links ends where it closes rather than keep the check waiting
    ({"Old/Name": "Mid/Name", "Mid/Name": "Old/Name"}, {}, "Old/Name"),
    # a country's link name, spelt with "_" for its blanks, gets its country's zone of the
    # same time since 1970 (McMurdo's is Auckland's)...
    ({"New_Zealand": "Antarctica/McMurdo"}, {"NZ": ["Pacific/Chatham", "Pacific/Auckland"]},
     "Pacific/Auckland"),
    # ...and keeps its target when that is one of its country's zones
    ({"New_Zealand": "Pacific/Auckland"}, {"NZ": ["Antarctica/McMurdo", "Pacific/Auckland"]},
     "Pacific/Auckland"),
])
def test_the_zone_an_old_name_stands_for(monkeypatch, links: dict, zone_tab: dict,
                                         expected: str):
    if not Path("/usr/share/zoneinfo/Pacific/Auckland").is_file():
        pytest.skip("needs the system's tzdata (Debian: the tzdata package)")
    monkeypatch.setattr(zones, "_links", lambda: (links, zone_tab, {"new zealand": "NZ"}))
    assert zones.old_name_of(next(iter(links))) == expected


def test_without_tzdata_links_no_link_warns(tmp_path: Path, monkeypatch):
    """Where the links cannot be read (no tzdata.zi, as with some tzdata packages), a link
    name is accepted without a warning rather than refused or guessed at."""
    monkeypatch.setattr(zones, "_tzdata_folders", lambda: iter([tmp_path / "none"]))
    zones._links.cache_clear()
    try:
        config = load_config(write_text_config(tmp_path, MINIMAL + "timezone: US/Eastern\n"))
    finally:
        zones._links.cache_clear()
    assert config.timezone == ZoneInfo("US/Eastern")
    assert config.warnings == ()


def test_topic_max_articles_exact_message(tmp_path: Path):
    path = write_config(tmp_path, topics=[
        "AI",
        {"name": "Robotics", "max_articles": 2},
        {"name": "Vision", "max_articles": "five"},
    ])
    assert config_errors(path) == [
        'topics[2].max_articles: expected a positive integer, got "five"',
    ]


@pytest.mark.parametrize(("topics", "message"), [
    (["AI", "ai"], 'topics[1]: topic "ai" is already listed as topics[0]'),
    (["AI", "Robotics", {"name": "ROBOTICS", "max_articles": 1}],
     'topics[2]: topic "ROBOTICS" is already listed as topics[1]'),
    (["Straße", "STRASSE"], 'topics[1]: topic "STRASSE" is already listed as topics[0]'),
    (["AI", " ai "], 'topics[1]: topic "ai" is already listed as topics[0]'),
])
def test_duplicate_topic_names_casefolded(tmp_path: Path, topics: list, message: str):
    path = write_config(tmp_path, topics=topics)
    assert config_errors(path) == [message]


def test_corpus_must_be_a_folder(tmp_path: Path):
    (tmp_path / "articles.txt").write_text("not a folder")
    path = write_config(tmp_path, corpus="no-such-folder")
    assert config_errors(path) == [
        f'corpus: folder "no-such-folder" not found (looked in '
        f'{(tmp_path / "no-such-folder").resolve()})',
    ]
    path = write_config(tmp_path, corpus="articles.txt")
    assert config_errors(path) == [
        f'corpus: "articles.txt" is a file, not a folder (looked in '
        f'{(tmp_path / "articles.txt").resolve()}); give the folder that holds the article '
        'files, e.g. corpus: "."',
    ]


def test_output_that_is_a_file(tmp_path: Path):
    (tmp_path / "issues").write_text("not a folder")
    path = write_config(tmp_path)
    assert config_errors(path) == ['output: "issues" exists and is not a folder']


def test_output_folder_need_not_exist(tmp_path: Path):
    config = make_config(tmp_path, output="not/yet/there")
    assert config.output == (tmp_path / "not" / "yet" / "there").resolve()
    assert not config.output.exists()


# -- every problem at once -------------------------------------------------------------------

def test_every_problem_is_reported_at_once(tmp_path: Path):
    path = write_text_config(tmp_path, (
        "site_url: ftp://x\n"
        "timezone: Mars/Olympus\n"
        "corpus: missing-folder\n"
        "window_days: 0\n"
        "min_quality: high\n"
        "topics:\n"
        "  - AI\n"
        "  - {name: Robotics, max_articles: 2}\n"
        "  - {name: Vision, max_articles: five}\n"
        "  - ai\n"
        "related:\n"
        "  max_per_article: -1\n"
    ))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    expected = [
        "title: required, but missing",
        'site_url: expected an absolute http(s) URL such as https://news.example.org/, '
        'got "ftp://x"',
        'timezone: expected an IANA time zone name such as "America/New_York", '
        'got "Mars/Olympus"',
        f'corpus: folder "missing-folder" not found '
        f'(looked in {(tmp_path / "missing-folder").resolve()})',
        "window_days: expected a positive integer, got 0",
        'min_quality: expected a number, got "high"',
        'topics[2].max_articles: expected a positive integer, got "five"',
        'topics[3]: topic "ai" is already listed as topics[0]',
        "related.max_per_article: expected an integer >= 0, got -1",
    ]
    assert error.errors == expected
    message = str(error)
    assert message.startswith(f"{path}: 9 problems in the configuration:\n")
    for line in expected:
        assert f"\n  {line}" in message


# -- unknown keys ----------------------------------------------------------------------------

def test_unknown_keys_warn_with_did_you_mean(tmp_path: Path):
    path = write_text_config(tmp_path, (
        "title: AI Weekly\n"
        "titel: AI Weekly typo\n"
        "site_url: https://news.example.org/ai/\n"
        "colour: blue\n"
        "topics:\n"
        "  - {name: AI, max_article: 3}\n"
        "related: {max_per_articles: 2}\n"
    ) + EMAIL)
    config = load_config(path)
    assert config.title == "AI Weekly"
    assert config.topics == (TopicConfig("AI", 5),)
    assert config.related_max_per_article == 3
    assert config.warnings == (
        'titel: unknown key, ignored; did you mean "title"?',
        "colour: unknown key, ignored",
        'topics[0].max_article: unknown key, ignored; did you mean "max_articles"?',
        'related.max_per_articles: unknown key, ignored; did you mean "max_per_article"?',
    )


def test_a_key_given_twice_is_an_error_naming_both_lines(tmp_path: Path):
    # A second email: section would otherwise replace the first one whole, sender included.
    path = write_text_config(tmp_path, MINIMAL + "email:\n  subject: '{title} weekly'\n")
    assert config_errors(path) == [
        "line 7: email: given twice (first on line 4); only the last would count, the first "
        "lost without a word: merge them into one"]
    path = write_text_config(tmp_path, MINIMAL + "related: [{max: 1, max: 2}]\n")
    assert config_errors(path) == [
        "line 7: related[0].max: given twice (first on line 7); only the last would count, "
        "the first lost without a word: merge them into one"]


def test_a_key_given_twice_in_overrides_is_an_error(project: Path):
    write_article(project / "articles", "alpha")
    overrides = project / "issues" / "2021-02-22" / "overrides.yaml"
    overrides.parent.mkdir(parents=True)
    overrides.write_text("pin: [alpha]\nintro: Hello\npin: []\n", encoding="utf-8")
    result = run(project, "build", "2021-02-22")
    assert result.exit_code == 1
    # the editor's file, not the configuration: the message says which
    assert (f"{overrides}: 1 problem in the issue's overrides:\n  line 3: pin: given twice "
            "(first on line 1)") in result.stderr
    assert not (overrides.parent / "issue.json").exists()


def test_strict_turns_warnings_into_errors(tmp_path: Path):
    path = write_text_config(tmp_path, MINIMAL + "titel: typo\nwindow_dayz: 3\n")
    assert load_config(path).warnings == (
        'titel: unknown key, ignored; did you mean "title"?',
        'window_dayz: unknown key, ignored; did you mean "window_days"?',
    )
    assert config_errors(path, strict=True) == [
        'titel: unknown key, ignored; did you mean "title"? (an error with --strict)',
        'window_dayz: unknown key, ignored; did you mean "window_days"? (an error with --strict)',
    ]


def test_strict_without_warnings_loads(tmp_path: Path):
    path = write_text_config(tmp_path, MINIMAL)
    config = load_config(path, strict=True)
    assert config.warnings == ()
    assert config.title == "AI Weekly"


def test_misspelled_required_key_error_mentions_the_near_miss(tmp_path: Path):
    path = write_text_config(tmp_path, (
        "titel: AI Weekly\n"
        "site_url: https://news.example.org/ai/\n"
        "topics: [AI]\n"
    ) + EMAIL)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "title: required, but missing" in caught.value.errors
    assert 'warning: titel: unknown key, ignored; did you mean "title"?' in str(caught.value)


# The configuration and an issue's overrides.yaml go through the articles' safe YAML loader.
@pytest.mark.parametrize("name", ["config", "overrides"])
@pytest.mark.parametrize(("text", "expected"), [
    ("a: &a [x, x]\n" + "".join(f"k{i}: *a\n" for i in range(30)),
     "line 1: more than 20 YAML aliases (*name): refused, as files like this are used to "
     "exhaust memory; write the values out in full"),
    ("intro: !!python/object/apply:os.system [echo]\n",
     "line 1: YAML tag !!python/object/apply:os.system is not allowed: {holder} hold plain "
     "YAML (strings, numbers, dates, lists, mappings)"),
    ("title: x\nintro: " + "[" * 500 + "]" * 500 + "\n",
     "line 2: YAML nested more than 200 levels deep: refused"),
    ("intro: 0x" + "f" * 1000 + "\n",
     "line 1: a number 1002 characters long: refused; write it as text (in quotes) if it is "
     "not a number"),
])
def test_settings_files_use_the_safe_loader(tmp_path: Path, name: str, text: str,
                                            expected: str):
    from newsletter.selecting.overrides import load_overrides

    if name == "config":
        path = write_text_config(tmp_path, text)
        errors = config_errors(path)
        holder = "configuration files"
    else:
        path = tmp_path / "overrides.yaml"
        path.write_text(text, "utf-8")
        with pytest.raises(ConfigError) as caught:
            load_overrides(path)
        errors = caught.value.errors
        holder = "overrides files"
    assert errors == [expected.format(holder=holder)]


def test_an_output_folder_inside_the_corpus_is_refused(tmp_path: Path):
    """Its issues (email.txt) would be read back as article files by the next build."""
    project = tmp_path / "project"
    project.mkdir()
    write_config(project, corpus=".", output="issues")
    write_article(project, "a", body="Text.")
    expected = ('output: "issues" is inside the corpus ("."), where every build would read '
                'its own files back as articles; give the articles a folder of their own, '
                'e.g. corpus: "articles"')
    assert config_errors(project / "newsletter.yaml") == [expected]
    for args in (("check",), ("build", "--date", "2021-02-22")):
        result = run(project, *args)
        assert result.exit_code == 1 and expected in result.stderr, (args, result.output)
    assert not (project / "issues").exists()
    write_config(project, corpus=".", output="../site")  # beside the corpus: fine
    assert run(project, "build", "--date", "2021-02-22").exit_code == 0
    assert (tmp_path / "site/2021-02-22/email.txt").is_file()
