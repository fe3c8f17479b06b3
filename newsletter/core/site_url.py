"""``site_url``: where the published site lives. Every email carries it in its headers
(List-Unsubscribe, with a token after it; its host in Message-ID, List-Id and the default
From), so it is checked for what a header line can hold, and for what mailbox providers
need to show their own unsubscribe button (an https link, RFC 8058), unless the operator
declines one-click knowingly (``email.one_click_unsubscribe: false``)."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

from .checks import Report, is_boolean, string
from .urls import normalize_url

# A header line holds at most 998 characters, the link's token and angle brackets included.
MAX_SITE_URL = 800
MAX_HOST = 253  # DNS
# In ``email:``. false: emails go without List-Unsubscribe-Post, as the operator chose (a
# site that stays on plain http, such as an intranet's, cannot offer it), and nothing warns.
ONE_CLICK_KEY = "one_click_unsubscribe"


def one_click(site_url: str) -> bool:
    """Whether emails may offer one-click unsubscribing (``List-Unsubscribe-Post``): RFC 8058
    allows it only with an https link in List-Unsubscribe, and providers ignore it otherwise."""
    return urlsplit(site_url).scheme == "https"


def one_click_choice(report: Report, email: dict[str, Any]) -> bool:
    """``email.one_click_unsubscribe``: true (the default) offers one-click whenever
    ``site_url`` is https; false never does."""
    value = email.get(ONE_CLICK_KEY)
    if value is None:
        return True
    if not isinstance(value, bool):
        report.expected(f"email.{ONE_CLICK_KEY}", "true or false (false: send emails without "
                        "one-click unsubscribe, List-Unsubscribe-Post, and no warning of it; "
                        "true, the default: send it when site_url is https)", value,
                        unquoted=is_boolean)
        return True
    return value


def _declined(data: dict[str, Any]) -> bool:
    """Whether the configuration says one-click is left out on purpose (its value is
    checked with the rest of ``email``)."""
    email = data.get("email")
    return isinstance(email, dict) and email.get(ONE_CLICK_KEY) is False


def local_host(host: str) -> bool:
    """A host for testing on this machine (localhost, a loopback address), where no mailbox
    provider's button matters, and no proxy stands in front of ``newsletter serve``."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def check_site_url(report: Report, data: dict) -> str | None:
    """The configured ``site_url``, normalized (a non-ASCII host in punycode: it goes into
    headers), ending with "/" (the published folder: relative links resolve below it)."""
    given = string(report, data, "site_url")
    normalized = normalize_url(given)
    if given is not None and normalized is None:
        report.expected("site_url", "an absolute http(s) URL such as https://news.example.org/",
                        given)
    if normalized is None:
        return given
    site_url = normalized.split("#")[0]
    if not site_url.endswith("/"):
        site_url += "/"
    host = urlsplit(site_url).hostname or ""
    if len(host) > MAX_HOST:
        report.errors.append(f"site_url: the host name has {len(host)} characters; a host "
                             f"name has at most {MAX_HOST}")
    elif len(site_url) > MAX_SITE_URL:
        report.errors.append(f"site_url: {len(site_url)} characters; at most "
                             f"{MAX_SITE_URL}, as every email carries it in a header line "
                             "(List-Unsubscribe): choose a shorter path")
    elif not one_click(site_url) and not local_host(host.strip("[]")) and not _declined(data):
        report.warnings.append(
            f"site_url: {site_url} is not https, so emails offer no one-click unsubscribe "
            "(RFC 8058 requires an https link) and mailbox providers show no unsubscribe "
            "button of their own; readers still have the link in the email. Serve the site "
            f"over https and write site_url: https://{site_url.split('://', 1)[1]}, or, for "
            f"a site that stays on http, set email.{ONE_CLICK_KEY}: false to send without it")
    return site_url
