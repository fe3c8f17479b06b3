"""Where the links of the site's emails and pages lead, against where ``newsletter serve``
listens.

The links a reader is sent (the confirmation, the unsubscribe and preferences links, the
issue's web page) and the feeds' links are built from ``site_url``, never from the request:
a server started on another port than the one ``site_url`` names sends its readers to a
port where it is not. That is said at start, only when ``site_url``'s host is this machine:
a public site_url is reached through a proxy or load balancer, where another port behind it
is the rule.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from ..core.config import Config
from ..core.site_url import local_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def port_mismatch(config: Config, port: int) -> str | None:
    """The warning for a server on ``port`` whose ``site_url`` is on this machine but names
    another port (None when they agree, or when site_url's host is not local)."""
    parts = urlsplit(config.site_url)
    host = parts.hostname or ""
    if not local_host(host):
        return None
    try:
        named = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # the config refuses such a site_url; nothing to compare
        return None
    if named is None or named == port:
        return None
    netloc = f"[{host}]" if ":" in host else host
    # serve speaks plain http: an https site_url is reached through a proxy, or not at all
    served = urlunsplit(("http", f"{netloc}:{port}", parts.path, "", ""))
    implied = "" if parts.port else f" ({parts.scheme}'s default)"
    same_port = f"serve with --port {named}, " if parts.scheme == "http" else ""
    return (f"warning: site_url {config.site_url} names port {named}{implied}, but this "
            f"server listens on port {port}: the links in its emails and pages "
            f"(confirmation, unsubscribe, preferences) lead to port {named}, not here; "
            f"{same_port}set site_url: \"{served}\" in {config.path}, or serve behind a "
            f"proxy that maps port {named} to port {port}")
