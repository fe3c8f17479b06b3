"""Colours as the configuration and the palette write them, and the WCAG 2 contrast ratio.

Here, below both, because the configuration checks a theme's accent when it is loaded
(``config.py``) and the rendering palette checks every pair it uses (``rendering/palette.py``).
"""

from __future__ import annotations

import re

WCAG_AA = 4.5  # normal-size text
_HEX = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


def parse_hex_color(value: str) -> str | None:
    """"#rgb" or "#rrggbb" (any case) as "#rrggbb" in lower case; None when it is neither."""
    value = value.strip()
    if not _HEX.fullmatch(value):
        return None
    digits = value[1:].lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return f"#{digits}"


def _luminance(color: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(foreground: str, background: str) -> float:
    """The WCAG 2 contrast ratio of two "#rrggbb" colours, from 1 to 21."""
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


# The backgrounds text sits on in each colour scheme (the rendering palette's "card" and
# "page"), here so that the configuration can check a theme's accent against them.
LIGHT_CARD, LIGHT_PAGE = "#ffffff", "#eef1f5"
DARK_CARD, DARK_PAGE = "#1a1d24", "#0f1115"
BACKGROUNDS = {"light": (LIGHT_CARD, LIGHT_PAGE), "dark": (DARK_CARD, DARK_PAGE)}


def contrast_problem(color: str, scheme: str) -> str | None:
    """Why text in ``color`` is hard to read on the ``scheme``'s backgrounds, or None."""
    worst = min(BACKGROUNDS[scheme], key=lambda background: contrast(color, background))
    ratio = contrast(color, worst)
    if ratio >= WCAG_AA:
        return None
    darker = "darker" if scheme == "light" else "lighter"
    return (f"{color} has a contrast of {ratio:.2f}:1 against the {scheme} background "
            f"{worst}; WCAG AA needs {WCAG_AA}:1 for text, so pick a {darker} colour")
