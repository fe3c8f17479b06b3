"""The config's time zone: an IANA name of a place, the same on every machine."""

from __future__ import annotations

import importlib.resources
import importlib.util
import re
import zoneinfo
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .checks import Report

# tzdata's "localtime" is a link to /etc/localtime: the zone of whichever machine runs the
# command, so a scheduler on another machine would date the same issue differently.
MACHINE_ZONES = frozenset({"localtime"})
# Names tzdata keeps for old systems rather than places. Their meaning has changed between
# tzdata releases (since 2024b EST follows America/Panama, CET Europe/Brussels), so two
# machines with different tzdata can disagree on them; still accepted, as configs use them.
LEGACY_ZONES = frozenset({"CET", "CST6CDT", "EET", "EST", "EST5EDT", "HST", "MET", "MST",
                          "MST7MDT", "PST8PDT", "WET"})
EXAMPLES = '"Europe/Paris" or "America/New_York"'
# Links that are the usual names of their zone rather than old spellings of it.
USUAL_LINKS = frozenset({"UTC", "GMT"})


def check_timezone(report: Report, name: str) -> ZoneInfo | None:
    """The zone named ``name`` (the value of the key ``timezone``), or None with the
    reason in ``report``; a legacy name is a warning."""
    if name in MACHINE_ZONES:
        report.errors.append(f'timezone: "{name}" is the time zone of whichever machine runs '
                             "the command, so issues would be dated differently on another "
                             f"one; give the IANA name of the newsletter's place, e.g. {EXAMPLES}")
        return None
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        report.expected("timezone", 'an IANA time zone name such as "America/New_York"',
                        name)
        return None
    if name in LEGACY_ZONES:
        report.warnings.append(f'timezone: "{name}" is a legacy name, not a place, and its '
                               "rules differ between tzdata versions; give the IANA name of "
                               f"the newsletter's place, e.g. {EXAMPLES}")
    elif (target := old_name_of(name)) is not None:
        report.warnings.append(f'timezone: "{name}" is an old name tzdata keeps for '
                               f'compatibility, another name of "{target}", and newer systems '
                               "may lack it (Debian 13 moved such names to its tzdata-legacy "
                               f'package); give "{target}" instead')
    return zone


def old_name_of(name: str) -> str | None:
    """The zone ``name`` is a backward-compatible link to (``US/Eastern`` ->
    ``America/New_York``), or None: a zone's own name, a link that is a country's name for
    it (``Europe/Bratislava``: listed in zone.tab), UTC, GMT, or no link data found.

    Read from the ``L TARGET LINK`` lines of tzdata.zi, in the first folder ZoneInfo reads
    zones from (the system's, e.g. Debian's /usr/share/zoneinfo, else the tzdata package):
    the same tzdata the zone itself comes from. Without it, no warning rather than a guess."""
    if name in USUAL_LINKS:
        return None
    found = _links()
    if found is None:
        return None
    links, countries = found
    target = links.get(name)
    seen = {name}
    while target in links and target not in seen:  # a link to a link, as zic allows
        seen.add(target)
        target = links[target]
    return None if target is None or name in countries else target


@cache
def _links() -> tuple[dict[str, str], frozenset[str]] | None:
    """tzdata's links (link -> target) and the names zone.tab gives countries' zones."""
    for folder in _tzdata_folders():
        try:
            text = (folder / "tzdata.zi").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        links = {link: target for target, link in re.findall(r"^L (\S+) (\S+)", text, re.M)}
        try:
            table = (folder / "zone.tab").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            table = ""  # every link warns: better than none when it is one
        countries = frozenset(re.findall(r"^[A-Z]{2}\t\S+\t(\S+)", table, re.M))
        return links, countries
    return None


def _tzdata_folders() -> Iterator[Path]:
    yield from (Path(folder) for folder in zoneinfo.TZPATH)
    try:
        if importlib.util.find_spec("tzdata") is not None:
            yield Path(str(importlib.resources.files("tzdata") / "zoneinfo"))
    except (ImportError, ValueError, TypeError):  # a broken install: no warning
        return
