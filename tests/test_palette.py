"""The one palette: every text colour readable (WCAG AA) in both schemes, and the email, the
web pages and the pages the server answers with taking their colours from it and only it."""

from __future__ import annotations

import dataclasses
import re

import pytest

from newsletter.core.config import Config
from newsletter.core.models import Issue
from newsletter.rendering.mail import render_email
from newsletter.rendering.pages import render_archive, render_issue_page
from newsletter.rendering.palette import (
    CONTRAST_PAIRS,
    DEFAULT_PALETTE,
    Palette,
    Scheme,
    contrast,
    contrast_problems,
)
from newsletter.web.public import Site

# a colour where a colour goes: after "color:", "background:", a property's ":", "=" etc.
COLOUR = re.compile(r"(?<=[\s:=\"'(])#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")


def colours(text: str) -> set[str]:
    return {c.lower() for c in COLOUR.findall(text)}


def palette_colours(palette: Palette) -> set[str]:
    return {value for scheme in (palette.light, palette.dark) for _, value in scheme.items()}


def served_page(config: Config, palette: Palette = DEFAULT_PALETTE) -> str:
    """The page the server answers an invalid unsubscribe link with (no HTTP needed)."""
    site = Site(config, secret=b"s" * 32, palette=palette)
    statuses: list[str] = []
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/ai/unsubscribe",
               "QUERY_STRING": "token=not-a-token"}
    body = b"".join(site(environ, lambda status, headers: statuses.append(status)))
    assert statuses == ["400 Bad Request"]
    return body.decode("utf-8")


def renderings(published: list[Issue], config: Config,
               palette: Palette = DEFAULT_PALETTE) -> dict[str, str]:
    issue = published[1]
    return {
        "email": render_email(issue, config, palette).html,
        "issue page": render_issue_page(issue, config, previous=published[0], next=None,
                                        palette=palette).decode("utf-8"),
        "archive": render_archive(published, config, palette).decode("utf-8"),
        "served page": served_page(config, palette),
    }


def test_contrast_formula() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#ffffff", "#000000") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast("#1d4ed8", "#1d4ed8") == pytest.approx(1)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_text_colour_reaches_wcag_aa(scheme: str) -> None:
    colours_of: Scheme = getattr(DEFAULT_PALETTE, scheme)
    for foreground, background in CONTRAST_PAIRS:
        ratio = contrast(getattr(colours_of, foreground), getattr(colours_of, background))
        assert ratio >= 4.5, (scheme, foreground, background, round(ratio, 2))
    assert contrast_problems(DEFAULT_PALETTE) == []


def test_a_low_contrast_palette_is_reported() -> None:
    pale = dataclasses.replace(DEFAULT_PALETTE.light, muted="#b0b0b0")
    problems = contrast_problems(Palette(light=pale))
    assert problems and all(p.startswith("light muted on ") for p in problems)
    with pytest.raises(ValueError, match="accent: expected #rrggbb"):
        dataclasses.replace(DEFAULT_PALETTE.light, accent="red")


def test_every_rendering_takes_its_colours_from_the_palette(published: list[Issue],
                                                            config: Config) -> None:
    allowed = palette_colours(DEFAULT_PALETTE)
    light, dark = DEFAULT_PALETTE.light, DEFAULT_PALETTE.dark
    for name, text in renderings(published, config).items():
        used = colours(text)
        assert used <= allowed, (name, sorted(used - allowed))
        dark_part = text[text.index("prefers-color-scheme: dark"):]
        assert {light.text, light.link, light.card} <= used, name
        assert {dark.text, dark.link, dark.card} <= colours(dark_part), name
    # the email sets every colour of both schemes (a dark one only where it differs)
    email = renderings(published, config)["email"]
    dark_part = email[email.index("prefers-color-scheme: dark"):]
    assert {value for _, value in light.items()} <= colours(email)
    assert {value for role, value in dark.items() if value != getattr(light, role)} <= (
        colours(dark_part))


def test_the_palette_is_a_value_passed_into_rendering(published: list[Issue],
                                                      config: Config) -> None:
    """A different accent (as a configured theme would give) reaches every rendering."""
    palette = Palette(light=dataclasses.replace(DEFAULT_PALETTE.light, accent="#6d28d9"),
                      dark=dataclasses.replace(DEFAULT_PALETTE.dark, accent="#c4b5fd"))
    assert contrast_problems(palette) == []
    for name, text in renderings(published, config, palette).items():
        used = colours(text)
        assert {"#6d28d9", "#c4b5fd"} <= used, name
        assert not {DEFAULT_PALETTE.light.accent, DEFAULT_PALETTE.dark.accent} & used, name

