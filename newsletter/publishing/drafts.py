"""The editor's overrides.yaml of every draft, checked ahead of time: a broken one must show
up in ``newsletter check``, not when the issue is built or, worse, at the scheduled publish."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ConfigError, NewsletterError
from ..selecting.overrides import OVERRIDES_FILE, load_overrides
from .issues import IssueStore

# "line 3: ..." is how a YAML syntax error already names its line (core/safeyaml.py).
_LINE = re.compile(r"line (\d+): ")
# A problem starts with the key it is about: "intro: ...", "pin[0]: ...", "topic_intros.AI: "
_KEY = re.compile(r"([A-Za-z_][\w-]*)(?=[\[.:])")


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


def check_draft_overrides(output: Path) -> DraftsCheck:
    """Validate the overrides.yaml of every draft in ``output``: an issue folder whose issue
    is not published (or not built yet). A published issue's file is left alone: its
    issue is out, and a rebuild with --force reports it anyway."""
    store = IssueStore(output)
    folders = sorted(output.iterdir()) if output.is_dir() else []
    checked = 0
    problems: list[OverridesProblem] = []
    for folder in folders:
        path = folder / OVERRIDES_FILE
        if not _is_issue_folder(folder) or not path.is_file():
            continue
        try:
            if store.status(dt.date.fromisoformat(folder.name)) == "published":
                continue
        except NewsletterError:  # a damaged issue.json: still a draft to the editor
            pass
        checked += 1
        problems += _problems(path)
    return DraftsCheck(checked, tuple(problems))


def _is_issue_folder(folder: Path) -> bool:
    try:
        return dt.date.fromisoformat(folder.name).isoformat() == folder.name
    except ValueError:
        return False


def _problems(path: Path) -> list[OverridesProblem]:
    try:
        overrides = load_overrides(path)
    except ConfigError as error:
        lines = _key_lines(path)
        return [*(_problem(path, message, lines) for message in error.errors),
                *(_problem(path, message, lines, warning=True) for message in error.warnings)]
    lines = _key_lines(path)
    return [_problem(path, message, lines, warning=True) for message in overrides.warnings]


def _problem(path: Path, message: str, lines: dict[str, int], *,
             warning: bool = False) -> OverridesProblem:
    numbered = _LINE.match(message)
    if numbered:
        return OverridesProblem(path, int(numbered[1]), message[numbered.end():], warning)
    key = _KEY.match(message)
    return OverridesProblem(path, lines.get(key[1]) if key else None, message, warning)


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
