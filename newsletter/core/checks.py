"""What validating a settings file is made of: a report collecting every problem, and the
checks of single values that name the key, what was expected and what was found."""

from __future__ import annotations

import difflib
import math
from typing import Any

from .text import describe


class Report:
    """Collects every error and warning so the user fixes the file in one pass."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def expected(self, key: str, what: str, value: Any) -> None:
        self.errors.append(f"{key}: expected {what}, got {describe(value)}")

    def unknown_keys(self, mapping: dict, known: tuple[str, ...], prefix: str = "") -> None:
        for key in mapping:
            if key in known:
                continue
            hint = difflib.get_close_matches(str(key), known, n=1)
            did_you_mean = f'; did you mean "{hint[0]}"?' if hint else ""
            self.warnings.append(f"{prefix}{key}: unknown key, ignored{did_you_mean}")


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
        report.expected(key, kind, value)
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
        report.expected(key, "true or false", value)
        return False
    return value


def positive_number(report: Report, key: str, value: Any) -> float | None:
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or value <= 0):
        report.expected(key, "a positive number", value)
        return None
    return value
