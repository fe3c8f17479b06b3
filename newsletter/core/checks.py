"""What validating a settings file is made of: a report collecting every problem, and the
checks of single values that name the key, what was expected and what was found."""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from typing import Any

from .errors import ArticleError
from .safeyaml import parse_yaml
from .text import describe


class Report:
    """Collects every error and warning so the user fixes the file in one pass."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def expected(self, key: str, what: str, value: Any,
                 unquoted: Callable[[Any], bool] | None = None) -> None:
        """``unquoted``: whether the value, written without its quotes, would be taken; a
        number or true/false written in quotes ("7") is text to YAML, and "expected a
        positive integer, got "7"" alone reads as nonsense."""
        hint = ""
        plain = _unquoted(value) if unquoted is not None else None
        if plain is not None and unquoted is not None and unquoted(plain):
            shown = ("true" if plain else "false") if isinstance(plain, bool) else value.strip()
            hint = (f" in quotes, which YAML reads as text: write "
                    f"{key.rsplit('.', 1)[-1]}: {shown}")
        self.errors.append(f"{key}: expected {what}, got {describe(value)}{hint}")

    def unknown_keys(self, mapping: dict, known: tuple[str, ...], prefix: str = "") -> None:
        for key in mapping:
            if key in known:
                continue
            hint = difflib.get_close_matches(str(key), known, n=1)
            did_you_mean = f'; did you mean "{hint[0]}"?' if hint else ""
            self.warnings.append(f"{prefix}{key}: unknown key, ignored{did_you_mean}")


def _unquoted(value: Any) -> bool | int | float | None:
    """The number or true/false YAML reads from ``value``'s text without its quotes; None
    when ``value`` is no such text."""
    if not isinstance(value, str) or len(value) > 40 or "\n" in value or not value.strip():
        return None
    try:
        plain = parse_yaml(value.strip(), first_line=1)
    except ArticleError:
        return None
    return plain if isinstance(plain, bool | int | float) else None


def string(report: Report, data: dict, key: str, default: str | None = None) -> str | None:
    value = data.get(key, default)
    if value is None:
        report.errors.append(f"{key}: required, but missing")
        return None
    if not isinstance(value, str) or not value.strip():
        report.expected(key, "a non-empty string", value)
        return None
    return value.strip()


def integer(report: Report, key: str, value: Any, *, minimum: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        report.expected(key, kind, value, unquoted=lambda plain: _is_integer(plain, minimum))
        return None
    return value


def mapping(report: Report, value: Any, key: str, known: tuple[str, ...]) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        report.expected(key, f"a mapping with {', '.join(known)}", value)
        return None
    report.unknown_keys(value, known, prefix=f"{key}.")
    return {k: v for k, v in value.items() if v is not None}


def boolean(report: Report, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        report.expected(key, "true or false", value, unquoted=is_boolean)
        return False
    return value


def positive_number(report: Report, key: str, value: Any) -> float | None:
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or value <= 0):
        report.expected(key, "a positive number", value,
                        unquoted=lambda plain: is_number(plain) and plain > 0)
        return None
    return value


def _is_integer(value: Any, minimum: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= minimum


def is_boolean(value: Any) -> bool:
    return isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite int or float, not a boolean (YAML's true is an int to Python)."""
    return (not isinstance(value, bool) and isinstance(value, int | float)
            and math.isfinite(value))
