"""The one colour palette of everything a reader sees: the email, the web pages and the
pages the server answers with (unsubscribe).

A :class:`Palette` is a value passed into rendering, not constants in the templates, so a
configured accent can replace the default one. Every (text, background) pair a rendering
uses is listed in ``CONTRAST_PAIRS`` and reaches WCAG AA (4.5:1) in both schemes; the tests
check it with :func:`contrast`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace

from ..core.colors import DARK_CARD, DARK_PAGE, LIGHT_CARD, LIGHT_PAGE, WCAG_AA, contrast
from ..core.config import Config

_HEX = re.compile(r"#[0-9a-f]{6}")


@dataclass(frozen=True)
class Scheme:
    """The colours of one colour scheme, by role; values are "#rrggbb", lower case."""

    page: str  # behind the email's card; the web pages' panels (coverage, chips)
    card: str  # the email's card; the web pages' background
    text: str
    muted: str  # dates, outlets, labels
    title: str  # article titles in the email; headings of the served pages
    link: str
    accent: str  # topic headings, the card's top border, focus rings
    rule: str  # separators (never carries text)
    label_bg: str  # the "Video" label
    label_text: str

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not _HEX.fullmatch(value):
                raise ValueError(f"palette colour {field.name}: expected #rrggbb in lower "
                                 f"case, got {value!r}")

    def items(self) -> list[tuple[str, str]]:
        return [(field.name, getattr(self, field.name)) for field in fields(self)]


LIGHT = Scheme(
    page=LIGHT_PAGE, card=LIGHT_CARD, text="#1f2937", muted="#4b5563", title="#1e3a8a",
    link="#1d4ed8", accent="#4338ca", rule="#e5e7eb", label_bg="#b91c1c",
    label_text="#ffffff",
)
DARK = Scheme(
    page=DARK_PAGE, card=DARK_CARD, text="#e6e8eb", muted="#aab2bf", title="#c7d2fe",
    link="#93b4ff", accent="#a5b4fc", rule="#323846", label_bg="#b91c1c",
    label_text="#ffffff",
)


@dataclass(frozen=True)
class Palette:
    light: Scheme = LIGHT
    dark: Scheme = DARK


DEFAULT_PALETTE = Palette()


def palette_for(config: Config) -> Palette:
    """The palette of ``config``: the default one with the theme's accent, when it has one
    (the configuration has checked its contrast against both schemes' backgrounds)."""
    theme = config.theme
    if theme.accent is None and theme.accent_dark is None:
        return DEFAULT_PALETTE
    return Palette(light=replace(LIGHT, accent=theme.accent or LIGHT.accent),
                   dark=replace(DARK, accent=theme.accent_dark or DARK.accent))

# (foreground, background) pairs that carry text, in either scheme: text sits on the card
# and on the page colour (the web pages' panels, the email's footer), buttons are card on link
CONTRAST_PAIRS: tuple[tuple[str, str], ...] = (
    *((foreground, background)
      for foreground in ("text", "muted", "title", "link", "accent")
      for background in ("card", "page")),
    ("card", "link"),
    ("label_text", "label_bg"),
)


def contrast_problems(palette: Palette) -> list[str]:
    """Every pair of ``palette`` that a reader could not read well, as a sentence each
    (empty when the palette reaches WCAG AA throughout)."""
    problems = []
    for scheme_name, scheme in (("light", palette.light), ("dark", palette.dark)):
        for foreground, background in CONTRAST_PAIRS:
            ratio = contrast(getattr(scheme, foreground), getattr(scheme, background))
            if ratio < WCAG_AA:
                problems.append(f"{scheme_name} {foreground} on {background}: contrast "
                                f"{ratio:.2f}:1, below {WCAG_AA}:1")
    return problems
