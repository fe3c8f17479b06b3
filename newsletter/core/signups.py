"""The configuration of the public signup form: ``subscribe:`` (enabled, confirmation,
welcome, and the limits that keep an open form from being abused)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from .checks import Report, boolean, integer, mapping, positive_number
from .settings import SubscribeSettings

SUBSCRIBE_KEYS = tuple(field.name for field in fields(SubscribeSettings))


def check_subscribe(report: Report, value: Any, smtp_configured: bool) -> SubscribeSettings:
    """``subscribe:`` checked; enabled by default when the config names an SMTP server."""
    data, key = mapping(report, value, "subscribe", SUBSCRIBE_KEYS) or {}, "subscribe."
    return SubscribeSettings(
        boolean(report, key + "enabled", data.get("enabled", smtp_configured)),
        positive_number(report, key + "confirm_hours", data.get("confirm_hours", 48)) or 48,
        boolean(report, key + "welcome", data.get("welcome", True)),
        positive_number(report, key + "resend_minutes", data.get("resend_minutes", 60)) or 60,
        integer(report, key + "per_ip_per_hour", data.get("per_ip_per_hour", 20), minimum=1)
        or 20,
        boolean(report, key + "trust_proxy", data.get("trust_proxy", False)))
