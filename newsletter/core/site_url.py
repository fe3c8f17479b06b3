"""``site_url``: where the published site lives. Every email carries it in its headers
(List-Unsubscribe, with a token after it; its host in Message-ID, List-Id and the default
From), so it is checked for what a header line can hold, and for what mailbox providers
need to show their own unsubscribe button (an https link, RFC 8058)."""

from __future__ import annotations

from ipaddress import ip_address
from urllib.parse import urlsplit

from .checks import Report, string
from .urls import normalize_url

# A header line holds at most 998 characters, the link's token and angle brackets included.
MAX_SITE_URL = 800
MAX_HOST = 253  # DNS


def one_click(site_url: str) -> bool:
    """Whether emails may offer one-click unsubscribing (``List-Unsubscribe-Post``): RFC 8058
    allows it only with an https link in List-Unsubscribe, and providers ignore it otherwise."""
    return urlsplit(site_url).scheme == "https"


def _local(host: str) -> bool:
    """A host for testing on this machine, where no mailbox provider's button matters."""
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
    elif not one_click(site_url) and not _local(host.strip("[]")):
        report.warnings.append(
            f"site_url: {site_url} is not https, so emails offer no one-click unsubscribe "
            "(RFC 8058 requires an https link) and mailbox providers show no unsubscribe "
            "button of their own; readers still have the link in the email. Serve the site "
            f"over https and write site_url: https://{site_url.split('://', 1)[1]}")
    return site_url
