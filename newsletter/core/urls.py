"""URL rules shared by selection and rendering: which URLs are usable, and when two are equal."""

from __future__ import annotations

from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _strip_www(host: str) -> str:
    host = host.lower()
    return host[4:] if host.startswith("www.") else host


def http_host(url: object) -> str | None:
    """The host of an absolute http(s) URL, lowercased; None for anything else."""
    if not isinstance(url, str) or any(c <= " " or c == "\x7f" for c in url.strip()):
        return None
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.hostname.lower()


def is_http_url(url: object) -> bool:
    return http_host(url) is not None


def canonical_url(url: object) -> str | None:
    """The form two URLs of the same page share; None when ``url`` is not absolute http(s).

    Host lowercased without ``www.``, no scheme, no default port, no fragment, ``utm_*``
    parameters removed (others kept in order), one trailing ``/`` removed unless the path is
    ``/``, an empty path is ``/``.
    """
    host = http_host(url)
    if host is None:
        return None
    parts = urlsplit(url.strip())  # type: ignore[union-attr]
    netloc = _strip_www(host)
    if ":" in netloc:  # an IPv6 literal keeps its brackets
        netloc = f"[{netloc}]"
    port = parts.port
    if port is not None and port != _DEFAULT_PORTS[parts.scheme.lower()]:
        netloc = f"{netloc}:{port}"
    path = parts.path or "/"
    if path != "/" and path.endswith("/"):
        path = path[:-1]
    kept = [
        p for p in parts.query.split("&")
        if p and not p.split("=", 1)[0].lower().startswith("utm_")
    ]
    query = "?" + "&".join(kept) if kept else ""
    return f"{netloc}{path}{query}"


def domain_of(provider_domain: str, url: str) -> str:
    """An outlet's domain: its provider's domain when given, else the URL's host; no ``www.``."""
    if provider_domain.strip():
        return _strip_www(provider_domain.strip())
    return _strip_www(http_host(url) or "")
