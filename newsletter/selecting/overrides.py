"""The editor's adjustments to one issue: ``<output>/<date>/overrides.yaml``.

```yaml
intro: |
  First paragraph.

  Second paragraph.
subject: "A special issue"
pin: [2021-02-17-some-article, "https://example.org/story"]   # ids or URLs
exclude: [2021-02-18-other]                                     # ids or URLs
```
Validated like the config: every problem reported at once, unknown keys warn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.config import check_subject
from ..core.errors import ConfigError
from ..core.models import Article
from ..core.safeyaml import load_yaml_file
from ..core.text import clean_text, describe
from ..core.urls import canonical_url

OVERRIDES_FILE = "overrides.yaml"
KEYS = ("intro", "subject", "pin", "exclude")


@dataclass(frozen=True)
class Overrides:
    intro: tuple[str, ...] = ()  # paragraphs
    subject: str | None = None
    pin: tuple[str, ...] = ()  # article ids or URLs, in the editor's order
    exclude: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def _entries(value: Any, key: str, errors: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        errors.append(f"{key}: expected a list of article ids or URLs, got {describe(value)}")
        return ()
    entries = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            errors.append(f"{key}[{index}]: expected an article id or URL, got {describe(item)}")
        else:
            entries.append(item.strip())
    return tuple(entries)


def parse_overrides(data: Any, path: Path) -> Overrides:
    if data is None:
        return Overrides()
    if not isinstance(data, dict):
        raise ConfigError(str(path), [f"the file holds {describe(data)}, expected a mapping "
                                      "with intro, subject, pin or exclude"])
    errors: list[str] = []
    warnings = [f"{key}: unknown key, ignored (known: {', '.join(KEYS)})"
                for key in data if key not in KEYS]
    intro: tuple[str, ...] = ()
    raw_intro = data.get("intro")
    if raw_intro is not None:
        if not isinstance(raw_intro, str):
            errors.append(f"intro: expected plain text, got {describe(raw_intro)}")
        else:
            paragraphs = re.split(r"\n\s*\n", clean_text(raw_intro).strip())
            intro = tuple(" ".join(p.split()) for p in paragraphs if p.strip())
    subject = data.get("subject")
    if subject is not None:
        if not isinstance(subject, str) or not subject.strip():
            errors.append(f"subject: expected a non-empty line of text, got {describe(subject)}")
            subject = None
        else:
            subject = " ".join(clean_text(subject).split())
            problem = check_subject(subject)
            if problem:
                errors.append(f"subject: {problem}")
    pin = _entries(data.get("pin"), "pin", errors)
    exclude = _entries(data.get("exclude"), "exclude", errors)
    if errors:
        raise ConfigError(str(path), errors)
    return Overrides(intro, subject, pin, exclude, tuple(warnings))


def load_overrides(path: Path) -> Overrides:
    """The overrides in ``path``, or none when the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Overrides()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(str(path), [f"cannot be read: {error}"]) from None
    return parse_overrides(load_yaml_file(path, text, holder="overrides files"), path)


def find_article(entry: str, articles: dict[str, Article],
                 by_url: dict[str, Article]) -> Article | None:
    """The article an override entry names: by id, else by canonical URL."""
    if entry in articles:
        return articles[entry]
    url = canonical_url(entry)
    return by_url.get(url) if url else None
