"""The config's time zone: an IANA name of a place, the same on every machine."""

from __future__ import annotations

import difflib
import importlib.resources
import importlib.util
import re
import struct
import zoneinfo
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

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
        if (meant := zone_meant(name)) is not None:
            report.errors[-1] += f'; did you mean "{meant}"?'
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


def zone_meant(name: str) -> str | None:
    """The zone a name that is none probably means: its city spelt with spaces or in
    another case (``New York``, ``paris``), or a near spelling (``Europe/Pariss``)."""
    try:
        zones = sorted(available_timezones())
    except OSError:  # no tzdata to read: no guess
        return None
    wanted = "_".join(name.split()).casefold()
    for zone in zones:
        if zone.casefold() == wanted:
            return zone
    places = [zone for zone in zones if "/" in zone and not zone.startswith(("Etc/", "US/"))]
    city = wanted.rsplit("/", 1)[-1]
    cities = [zone for zone in places if zone.rsplit("/", 1)[1].casefold() == city]
    close = cities or difflib.get_close_matches(name, places, n=1, cutoff=0.85)
    if not close:
        return None
    return old_name_of(close[0]) or close[0]  # Asia/Calcutta: its own name, Asia/Kolkata


def old_name_of(name: str) -> str | None:
    """The zone ``name`` is a backward-compatible link to (``US/Eastern`` ->
    ``America/New_York``), or None: a zone's own name, a link that is a country's name for
    it (``Europe/Bratislava``: listed in zone.tab), UTC, GMT, or no link data found. A link
    named after a country (iso3166.tab) whose target is another country's zone gets that
    country's own zone.tab name instead when it keeps the same time since 1970: ``Iceland``
    -> ``Atlantic/Reykjavik``, not the ``Africa/Abidjan`` tzdata links it to.

    Read from the ``L TARGET LINK`` lines of tzdata.zi, in the first folder ZoneInfo reads
    zones from (the system's, e.g. Debian's /usr/share/zoneinfo, else the tzdata package):
    the same tzdata the zone itself comes from. Without it, no warning rather than a guess."""
    if name in USUAL_LINKS:
        return None
    found = _links()
    if found is None:
        return None
    links, zone_tab, country_codes = found
    target = links.get(name)
    seen = {name}
    while target in links and target not in seen:  # a link to a link, as zic allows
        seen.add(target)
        target = links[target]
    if target is None or name in {zone for zones in zone_tab.values() for zone in zones}:
        return None
    own = zone_tab.get(country_codes.get(name.replace("_", " ").lower(), name), [])
    if target in own:
        return target
    same = [zone for zone in own if (since := _since_1970(zone)) and since == _since_1970(target)]
    return same[0] if same else target


@cache
def _links() -> tuple[dict[str, str], dict[str, list[str]], dict[str, str]] | None:
    """tzdata's links (link -> target), the zones zone.tab gives each country (by ISO code),
    and the codes by country name in lower case (iso3166.tab: "iceland" -> "IS")."""
    for folder in _tzdata_folders():
        try:
            text = (folder / "tzdata.zi").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        links = {link: target for target, link in re.findall(r"^L (\S+) (\S+)", text, re.M)}
        zone_tab: dict[str, list[str]] = {}
        for code, zone in re.findall(r"^([A-Z]{2})\t\S+\t(\S+)", _table(folder, "zone.tab"),
                                     re.M):  # none found: every link warns, better than none
            zone_tab.setdefault(code, []).append(zone)
        codes = {country.lower(): code for code, country
                 in re.findall(r"^([A-Z]{2})\t(.+)$", _table(folder, "iso3166.tab"), re.M)}
        return links, zone_tab, codes
    return None


def _table(folder: Path, name: str) -> str:
    try:
        return (folder / name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


@cache
def _since_1970(zone: str) -> tuple[object, ...] | None:
    """What the compiled zone says from 1970 on (the time type then, each later transition,
    and the rule after the last, from its TZif file as ZoneInfo reads it): equal for two zones
    that keep the same time since, whatever their history before (Debian compiles some
    countries' zones with their own pre-1970 history, where tzdata links them). None when
    unreadable."""
    for folder in _tzdata_folders():
        try:
            data = (folder / zone).read_bytes()
        except OSError:
            continue
        try:
            return _tzif_since(data, 0)
        except (struct.error, ValueError, IndexError):
            return None
    return None


def _tzif_since(data: bytes, start: int) -> tuple[object, ...] | None:
    """RFC 8536: from the 64-bit block of a TZif file (version 2 on), the local time type in
    effect at ``start`` (seconds since 1970), the transitions after it and the footer."""
    if data[:4] != b"TZif" or data[4:5] < b"2":
        return None

    def counts(at: int) -> tuple[int, ...]:  # isutcnt isstdcnt leapcnt timecnt typecnt charcnt
        return struct.unpack(">6l", data[at + 20:at + 44])

    ut, std, leap, time, kinds, chars = counts(0)
    at = 44 + time * 5 + kinds * 6 + chars + leap * 8 + std + ut  # past the 32-bit block
    ut, std, leap, time, kinds, chars = counts(at)
    at += 44
    times = struct.unpack(f">{time}q", data[at:at + 8 * time])
    indices = data[at + 8 * time:at + 9 * time]
    at += 9 * time
    types = [struct.unpack(">lBB", data[at + 6 * i:at + 6 * i + 6]) for i in range(kinds)]
    names = data[at + 6 * kinds:at + 6 * kinds + chars]
    footer = data[at + 6 * kinds + chars + leap * 12 + std + ut:].strip(b"\n")

    def kind(index: int) -> tuple[int, int, bytes]:
        offset, dst, name = types[index]
        return offset, dst, names[name:names.index(b"\0", name)]

    then = [index for when, index in zip(times, indices, strict=True) if when <= start]
    later = tuple((when, kind(index)) for when, index in zip(times, indices, strict=True)
                  if when > start)
    return kind(then[-1] if then else 0), later, footer


def _tzdata_folders() -> Iterator[Path]:
    yield from (Path(folder) for folder in zoneinfo.TZPATH)
    try:
        if importlib.util.find_spec("tzdata") is not None:
            yield Path(str(importlib.resources.files("tzdata") / "zoneinfo"))
    except (ImportError, ValueError, TypeError):  # a broken install: no warning
        return
