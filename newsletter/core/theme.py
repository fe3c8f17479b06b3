"""The configuration's look: ``theme:`` (accent, logo, footer), ``templates:`` (a folder of
template overrides), and the ``<fill in: ...>`` placeholders `newsletter init` writes for
settings it was not given, which the configuration refuses until they are filled in."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .checks import Report, integer, mapping
from .colors import contrast_problem, parse_hex_color
from .settings import ThemeSettings
from .urls import is_http_url

THEME_KEYS = ("accent", "accent_dark", "logo", "footer")
LOGO_MAX_WIDTH = 600  # px: the email's column
FOOTER_MAX_LENGTH = 200  # characters: a line, not a page
PLACEHOLDER = re.compile(r"<fill in: ([^<>]*)>")


def placeholder(what: str) -> str:
    """The value `newsletter init` writes for a setting it was not given."""
    return f"<fill in: {what}>"


def placeholders(value: Any, key: str = "") -> list[tuple[str, str]]:
    """(key, what to fill in) for every placeholder left in ``value``, at any depth."""
    if isinstance(value, str):
        match = PLACEHOLDER.fullmatch(value.strip())
        return [(key, match.group(1))] if match else []
    if isinstance(value, dict):
        return [found for k, v in value.items()
                for found in placeholders(v, f"{key}.{k}" if key else str(k))]
    if isinstance(value, list):
        return [found for i, v in enumerate(value) for found in placeholders(v, f"{key}[{i}]")]
    return []


def report_placeholders(report: Report, data: dict) -> None:
    """Say what to fill in for each placeholder, instead of any other error about its key
    ("not a URL" about a placeholder says nothing new)."""
    unfilled = placeholders(data)
    if not unfilled:
        return
    keys = {key for key, _ in unfilled}
    others = [error for error in report.errors
              if not any(error.startswith((f"{key}:", f"{key}.", f"{key}[")) for key in keys)]
    report.errors = [f"{key}: fill in {what} (still the placeholder that `newsletter init` "
                     "wrote)" for key, what in unfilled] + others


def _accent(report: Report, data: dict, key: str, scheme: str) -> str | None:
    raw = data.get(key)
    if raw is None:
        return None
    color = parse_hex_color(raw) if isinstance(raw, str) else None
    if color is None:
        report.expected(f"theme.{key}", 'a colour such as "#0f766e"', raw)
        return None
    problem = contrast_problem(color, scheme)
    if problem:
        report.errors.append(f"theme.{key}: {problem}")
        return None
    return color


def _logo(report: Report, logo: Any) -> tuple[str | None, int | None]:
    if logo is None:
        return None, None
    if not isinstance(logo, dict) or set(logo) - {"url", "width"}:
        report.expected("theme.logo", 'a mapping {url: "https://...", width: 120}', logo)
        return None, None
    url, width = logo.get("url"), logo.get("width")
    if not (isinstance(url, str) and url.strip().lower().startswith("https://")
            and is_http_url(url.strip())):
        report.expected("theme.logo.url", "an https URL (mail clients block images over "
                        "http)", url)
        url = None
    checked = integer(report, "theme.logo.width", width, minimum=1)
    if checked is not None and checked > LOGO_MAX_WIDTH:
        report.expected("theme.logo.width", f"a width in px of at most {LOGO_MAX_WIDTH} (the "
                        "email's column)", checked)
        checked = None
    return (url.strip() if url else None), checked


def check_theme(report: Report, value: Any) -> ThemeSettings:
    data = mapping(report, value, "theme", THEME_KEYS)
    if data is None:
        return ThemeSettings()
    footer = data.get("footer", "")
    if not isinstance(footer, str):
        report.expected("theme.footer", "a short line of text", footer)
        footer = ""
    footer = " ".join(footer.split())
    if len(footer) > FOOTER_MAX_LENGTH:
        report.expected("theme.footer", f"a short line of at most {FOOTER_MAX_LENGTH} "
                        f"characters ({len(footer)} given)", footer[:40] + "...")
        footer = ""
    logo_url, logo_width = _logo(report, data.get("logo"))
    return ThemeSettings(_accent(report, data, "accent", "light"),
                         _accent(report, data, "accent_dark", "dark"),
                         logo_url, logo_width, footer)


def check_templates(report: Report, data: dict, folder: Path) -> Path | None:
    """``templates:``, the folder of overrides, resolved against the config's folder."""
    name = data.get("templates")
    if name is None:
        return None
    if not isinstance(name, str) or not name.strip():
        report.expected("templates", "a folder of template overrides, relative to the config",
                        name)
        return None
    templates = (folder / name.strip()).resolve()
    if not templates.is_dir():
        report.errors.append(f'templates: folder "{name}" not found (looked in {templates}); '
                             "`newsletter init --templates` creates it with copies of the "
                             "packaged templates")
        return None
    return templates
