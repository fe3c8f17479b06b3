"""The configuration's ``same_story:`` (selection rule 6): whether two articles whose title and
excerpt say the same are one story too, and from which text score."""

from __future__ import annotations

import math
from typing import Any

from .checks import Report, boolean, is_number, mapping
from .settings import DEFAULT_SAME_STORY_THRESHOLD

SAME_STORY_KEYS = ("content", "threshold")


def check_same_story(report: Report, value: Any) -> tuple[bool, float]:
    """``same_story:``: whether similar texts fold too, and from which score."""
    data = mapping(report, value, "same_story", SAME_STORY_KEYS) or {}
    content = boolean(report, "same_story.content", data.get("content", True))
    threshold = data.get("threshold", DEFAULT_SAME_STORY_THRESHOLD)
    if (isinstance(threshold, bool) or not isinstance(threshold, int | float)
            or not math.isfinite(threshold) or not 0 < threshold <= 1):
        report.expected("same_story.threshold", "a number above 0 and at most 1 (the "
                        f"default is {DEFAULT_SAME_STORY_THRESHOLD})", threshold,
                        unquoted=lambda plain: is_number(plain) and 0 < plain <= 1)
        threshold = DEFAULT_SAME_STORY_THRESHOLD
    return content, float(threshold)
