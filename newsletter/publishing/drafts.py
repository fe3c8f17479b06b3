"""The editor's overrides.yaml of every draft, checked ahead of time: a broken one must show
up in ``newsletter check``, not when the issue is built or, worse, at the scheduled publish.

A pin or exclude is resolved against the corpus as the build resolves it. ``check`` reads the
corpus once for every draft, keeping only the articles their entries name (:func:`wanted_by`)
and, for a draft that pins or excludes, its window's articles (:func:`windows_to_keep`): an
excluded URL may name another outlet's coverage, a mistyped id is spelt like one of them."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.config import Config
from ..core.errors import ConfigError, NewsletterError
from ..core.models import Article, Issue, Window
from ..selecting.overrides import (
    OVERRIDES_FILE,
    Overrides,
    load_overrides,
    resolve_entries,
    unapplied,
    unknown_topics,
)
from ..selecting.select import issue_window
from .issues import IssueStore

# "line 3: ..." is how a YAML syntax error already names its line (core/safeyaml.py).
_LINE = re.compile(r"line (\d+): ")
# A problem starts with the key it is about: "intro: ...", "pin[0]: ...", "topic_intros.AI: "
_KEY = re.compile(r"([A-Za-z_][\w-]*)(?=[\[.:])")
_ENTRY = re.compile(r"(pin|exclude)\[(\d+)\]: ")
_TOPIC = re.compile(r'topic_intros: "([^"]*)" ')


@dataclass(frozen=True)
class OverridesProblem:
    path: Path
    line: int | None
    message: str  # "key: what is wrong, and what is expected"
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        kind = "warning: " if self.warning else ""
        return f"{where}: {kind}{self.message}"


@dataclass(frozen=True)
class DraftsCheck:
    checked: int  # the drafts' overrides.yaml files read
    problems: tuple[OverridesProblem, ...]


@dataclass(frozen=True)
class Draft:
    date: dt.date
    path: Path  # its overrides.yaml
    overrides: Overrides | None  # None when the file is invalid
    problems: tuple[OverridesProblem, ...]


def find_drafts(output: Path) -> tuple[Draft, ...]:
    """The overrides.yaml of every draft in ``output`` (an issue folder whose issue is not
    published, or not built yet), each validated on its own. A published issue's file is
    left alone: its issue is out, and a rebuild with --force reports it anyway."""
    store = IssueStore(output)
    folders = sorted(output.iterdir()) if output.is_dir() else []
    drafts = []
    for folder in folders:
        path = folder / OVERRIDES_FILE
        if not _is_issue_folder(folder) or not path.is_file():
            continue
        date = dt.date.fromisoformat(folder.name)
        try:
            if store.status(date) == "published":
                continue
        except NewsletterError:  # a damaged issue.json: still a draft to the editor
            pass
        overrides, problems = _problems(path)
        drafts.append(Draft(date, path, overrides, tuple(problems)))
    return tuple(drafts)


def wanted_by(drafts: Sequence[Draft]) -> tuple[str, ...]:
    """The ids and URLs the drafts' pins and excludes name: the articles check keeps."""
    return tuple(entry for draft in drafts if draft.overrides
                 for entry in draft.overrides.pin + draft.overrides.exclude)


def windows_to_keep(config: Config, drafts: Sequence[Draft]) -> tuple[Window, ...]:
    """The windows of the drafts that pin or exclude: an excluded URL may name no article
    file but another outlet's coverage of an article in the window, which only the window's
    articles tell, and an entry naming nothing (a typo) is told the id it is spelt like
    among them, as the build tells it."""
    return tuple(issue_window(draft.date, config.timezone, config.window_days)
                 for draft in drafts if draft.overrides
                 and (draft.overrides.pin or draft.overrides.exclude))


def check_draft_overrides(config: Config, drafts: Sequence[Draft],
                          named: Sequence[Article]) -> DraftsCheck:
    """The drafts' problems, with those of their pins and excludes as the build would find
    them. ``named``: every valid article an entry of :func:`wanted_by` names and those of
    the :func:`windows_to_keep` (check's reading keeps them)."""
    problems: list[OverridesProblem] = []
    for draft in drafts:
        problems += draft.problems
        if draft.overrides is not None:
            problems += _unresolved(config, draft, draft.overrides, named)
    return DraftsCheck(len(drafts), tuple(problems))


def _unresolved(config: Config, draft: Draft, overrides: Overrides,
                named: Sequence[Article]) -> list[OverridesProblem]:
    window = issue_window(draft.date, config.timezone, config.window_days)
    errors = resolve_entries(overrides, named, config, window, draft.date).errors
    lines = _key_lines(draft.path) if errors else {}
    return [_problem(draft.path, message, lines, overrides) for message in errors]


def stale_keys(config: Config, draft: Issue) -> list[str]:
    """The keys of the ``draft``'s overrides.yaml that it does not reflect (the file edited
    since the build, so publishing it would send out what the editor took away, or without
    what they added), an intro of a topic not configured among them: it shows in no
    section, so that the draft seems to lack nothing, and build refuses the file."""
    overrides = load_overrides(config.output / draft.slug / OVERRIDES_FILE)
    stale = unapplied(draft, overrides)
    if unknown_topics(overrides, config) and "topic_intros" not in stale:
        stale.append("topic_intros")
    return stale


def numbered(path: Path, overrides: Overrides, errors: Sequence[str]
             ) -> list[OverridesProblem]:
    """``errors`` of the file ``path`` (every problem it has, as :func:`resolve_entries`
    gives them), each with its line, as check names them."""
    lines = _key_lines(path) if errors else {}
    return [_problem(path, message, lines, overrides) for message in errors]


def _is_issue_folder(folder: Path) -> bool:
    try:
        return dt.date.fromisoformat(folder.name).isoformat() == folder.name
    except ValueError:
        return False


def _problems(path: Path) -> tuple[Overrides | None, list[OverridesProblem]]:
    try:  # the values' problems come with the pins' (check_draft_overrides)
        overrides = load_overrides(path, partial=True)
    except ConfigError as error:
        lines = _key_lines(path)
        return None, [
            *(_problem(path, message, lines) for message in error.errors),
            *(_problem(path, message, lines, warning=True) for message in error.warnings)]
    lines = _key_lines(path)
    return overrides, [_problem(path, message, lines, warning=True)
                       for message in overrides.warnings]


def _problem(path: Path, message: str, lines: dict[str, int],
             overrides: Overrides | None = None, *, warning: bool = False) -> OverridesProblem:
    numbered = _LINE.match(message)
    if numbered:
        return OverridesProblem(path, int(numbered[1]), message[numbered.end():], warning)
    entry = _ENTRY.match(message)
    text = overrides.entry(entry[1], int(entry[2])) if entry and overrides else None
    if entry and text is not None:  # the line of the entry itself, in a list of them
        line = _entry_line(path, lines.get(entry[1]), text)
        return OverridesProblem(path, line, message, warning)
    topic = _TOPIC.match(message)
    if topic:  # the line of the topic's own intro, under topic_intros
        line = _topic_line(path, lines.get("topic_intros"), topic[1])
        return OverridesProblem(path, line, message, warning)
    key = _KEY.match(message)
    return OverridesProblem(path, lines.get(key[1]) if key else None, message, warning)


def _topic_line(path: Path, key_line: int | None, topic: str) -> int | None:
    """The line of ``topic``'s intro in the block mapping under topic_intros (starting on
    ``key_line``); the key's own line in a flow mapping ``{AI: ...}`` or when not found."""
    if key_line is None:
        return None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()[key_line - 1:]
    except (OSError, UnicodeDecodeError):
        return key_line
    for number, line in enumerate(lines[1:], start=key_line + 1):
        if line[:1] not in ("", " ", "\t", "#"):
            break  # the next top-level key: the mapping has ended
        name = line.strip().split(":", 1)[0].strip().strip("'\"")
        if line[:1] in (" ", "\t") and ":" in line and name == topic:
            return number
    return key_line


def _entry_line(path: Path, key_line: int | None, entry: str) -> int | None:
    """The line of ``entry`` under the key starting on ``key_line``: the key's own line in a
    flow list (``pin: [a, b]``), the item's in a block list (``- a``)."""
    if key_line is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return key_line
    lines = text.splitlines()[key_line - 1:]
    if lines and "[" in lines[0]:
        return key_line  # a flow list: its entries share the key's line
    for number, line in enumerate(lines[1:], start=key_line + 1):
        if line[:1] not in ("", " ", "\t", "-", "#"):
            break  # the next top-level key: the list has ended
        item = line.strip()
        if item.startswith("-"):
            # the whole item, so that an error about "ai-1" never names the line of "ai-10"
            value = item[1:].split(" #", 1)[0].strip()
            if value.strip("'\"") == entry:
                return number
    return key_line


def _key_lines(path: Path) -> dict[str, int]:
    """The line each top-level key starts on (a mapping's keys start in column 1)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        found = re.match(r"""["']?([A-Za-z_][\w-]*)["']?\s*:""", line)
        if found:
            lines.setdefault(found[1], number)
    return lines


def which_draft(output: Path) -> str:
    """What ``newsletter publish`` without a date says: it publishes nothing then (the wrong
    issue published cannot be taken back), but names the latest draft, a built issue after
    the latest published one, and the command that publishes it; as ``send`` names the
    latest published issue."""
    needs = "newsletter publish needs the date of a built issue (YYYY-MM-DD)"
    latest, draft = IssueStore(output).latest_published()
    after = f"; the latest published is {latest.slug}" if latest is not None else ""
    if draft is not None:
        slug = draft.isoformat()
        return (f"{needs}; the latest draft is {slug} (built, not published{after}): look "
                f"at it (newsletter preview {slug}), then newsletter publish {slug}")
    if latest is not None:
        return (f"{needs}; {output} has no draft after the latest published issue, "
                f"{latest.slug}: build the next with newsletter build --date YYYY-MM-DD, "
                "look at it, then newsletter publish YYYY-MM-DD")
    return (f"{needs}, and there is no issue in {output} yet: build one with newsletter "
            "build --date YYYY-MM-DD, look at it, then newsletter publish YYYY-MM-DD")
