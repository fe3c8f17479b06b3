"""The README's configuration examples and the configuration's schema name the same keys.

Every key the validator accepts appears in one of the README's ```yaml blocks (a key a reader
cannot find is a key nobody sets), and every key those blocks show is one the validator
knows (a renamed key left in the README would be copied, then warned about as unknown).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from newsletter.core import config, same_story, schedule_config, signups, site_url, theme, words

README = Path(__file__).resolve().parent.parent / "README.md"

# Each mapping section of the configuration and the keys the validator accepts in it.
SECTIONS: dict[str, tuple[str, ...]] = {
    "": config.TOP_LEVEL_KEYS,
    "topics[]": config.TOPIC_KEYS,
    "related": config.RELATED_KEYS,
    "same_story": same_story.SAME_STORY_KEYS,
    "email": (*config.EMAIL_KEYS, site_url.ONE_CLICK_KEY),
    "feeds": config.FEEDS_KEYS,
    "smtp": config.SMTP_KEYS,
    "schedule": schedule_config.SCHEDULE_KEYS,
    "subscribe": signups.SUBSCRIBE_KEYS,
    "theme": theme.THEME_KEYS,
    "words": words.WORDS_KEYS,
}


def schema_keys() -> set[str]:
    return {f"{section}.{key}".lstrip(".") for section, keys in SECTIONS.items() for key in keys}


def config_blocks() -> list[dict[str, Any]]:
    """The README's ```yaml blocks that are (parts of) a newsletter.yaml, with comments kept
    out: a key commented out (``# state_url: ...``) is shown to the reader as well."""
    text = README.read_text("utf-8")
    blocks = []
    for body in re.findall(r"^```yaml\n(.*?)^```", text, re.S | re.M):
        if body.startswith("---"):
            continue  # an article file's front matter
        uncommented = re.sub(r"^(\s*)# (\w+:)", r"\1\2", body, flags=re.M)
        data = yaml.load(uncommented, Loader=yaml.CSafeLoader)
        if isinstance(data, dict) and set(data) <= set(config.TOP_LEVEL_KEYS):
            blocks.append(data)
    return blocks


def shown_keys(data: dict[str, Any]) -> set[str]:
    keys = set()
    for key, value in data.items():
        keys.add(key)
        if key == "topics" and isinstance(value, list):
            keys |= {f"topics[].{inner}" for item in value if isinstance(item, dict)
                     for inner in item}
        elif isinstance(value, dict) and key in SECTIONS:
            keys |= {f"{key}.{inner}" for inner in value}
    return keys


def test_readme_shows_every_configuration_key() -> None:
    blocks = config_blocks()
    assert len(blocks) >= 5, "the README's configuration examples were not found"
    shown = set().union(*(shown_keys(block) for block in blocks))
    assert schema_keys() - shown == set(), "keys the README's examples do not show"


def test_readme_shows_no_key_the_configuration_does_not_know() -> None:
    shown = set().union(*(shown_keys(block) for block in config_blocks()))
    assert shown - schema_keys() == set(), "keys the README shows that config would ignore"
