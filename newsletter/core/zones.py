"""The config's time zone: an IANA name of a place, the same on every machine."""

from __future__ import annotations

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
    return zone
