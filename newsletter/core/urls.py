"""URL rules shared by reading, selection and rendering: which URLs are usable, the one form
in which they go out, and when two are equal.

Real feeds hold URLs that browsers accept but RFC 3986 does not: a space in the path
(``https://apnews.com/Business Wire/...``), non-ASCII paths and hosts. They are parsed as a
browser parses them (the WHATWG URL standard, by the ada library) and written out only in
the normalized form (:func:`normalize_url`): percent-encoded, the host lowercased and in
punycode, default ports and dot segments dropped, so that every page, feed and ``issue.json``
carries a URL any client reads the same way.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

import ada_url

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Before parsing: a scheme and "//" with a non-empty authority. Browsers repair "https:host"
# and "https:///host" into a URL with a host; a feed that writes them has lost something.
_AUTHORITY = re.compile(r"(?i)https?:[\\/]{2}[^\\/?#]")


def _strip_www(host: str) -> str:
    host = host.lower()
    return host[4:] if host.startswith("www.") else host


def normalize_url(url: object) -> str | None:
    """``url`` as a browser loads it, in its normalized ASCII form; None when it is not an
    absolute http(s) URL with a host."""
    return _normalized(url) if isinstance(url, str) else None


# Reading an article normalizes each of its URLs, then takes the canonical form of the result
# (normalizing it again), and real corpora list the same coverage in many articles: the
# recent answers are kept.
@lru_cache(maxsize=1 << 14)
def _normalized(url: str) -> str | None:
    text = url.strip(" \t\r\n\f\v\x00")
    if not _AUTHORITY.match(text):
        return None
    try:
        parsed = ada_url.URL(text)
    except ValueError:
        return None
    if parsed.protocol not in ("http:", "https:") or not parsed.hostname:
        return None
    return str(parsed.href)


def http_host(url: object) -> str | None:
    """The host of an absolute http(s) URL, lowercased, in punycode; None for anything else."""
    normalized = normalize_url(url)
    if normalized is None:
        return None
    host = urlsplit(normalized).hostname
    return host.lower() if host else None


def is_http_url(url: object) -> bool:
    return normalize_url(url) is not None


def canonical_url(url: object) -> str | None:
    """The form two URLs of the same page share; None when ``url`` is not absolute http(s).

    Host lowercased without ``www.``, no scheme, no default port, no fragment, ``utm_*``
    parameters removed (others kept in order), one trailing ``/`` removed unless the path is
    ``/``, an empty path is ``/``. Percent escapes are normalized as RFC 3986 section 6.2.2.2
    says (:func:`_normalize_escapes`), so ``caf%c3%a9`` and ``caf%C3%A9``, ``%7Eed`` and ``~ed``
    are one page.
    """
    normalized = normalize_url(url)
    return None if normalized is None else _canonical(normalized)


# The unreserved characters of RFC 3986 (ALPHA / DIGIT / "-" / "." / "_" / "~"): escaping one
# does not change the URL, so its escape is decoded. Any other escape (a reserved character
# such as %2F or %26, whose escaping changes the meaning, or a byte >= 0x80) is kept, its hex
# digits upper-cased, the form the RFC names as canonical.
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


def _normalize_escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _normalize_escapes(text: str) -> str:
    return _ESCAPE.sub(_normalize_escape, text) if "%" in text else text


@lru_cache(maxsize=1 << 14)
def _canonical(normalized: str) -> str:
    # ``normalized`` is a browser's serialization of an http(s) URL, so it is split with a
    # few string operations, not parsed again (urlsplit took half the time of this function,
    # which a publish runs on every article of every published issue):
    # scheme "://" [userinfo "@"] host [":" port] path ["?" query] ["#" fragment], where the
    # path starts with "/", the userinfo escapes "/" and "@", and the query escapes "#".
    scheme, _, rest = normalized.partition("://")
    slash = rest.find("/")
    authority, rest = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    path, _, query = rest.partition("#")[0].partition("?")
    host = authority.rpartition("@")[2]
    if host.startswith("["):  # an IPv6 literal keeps its brackets
        host, _, port = host.partition("]")
        netloc, port = host.lower() + "]", port.removeprefix(":")
    else:
        host, _, port = host.partition(":")
        netloc = _strip_www(host)
    if port and int(port) != _DEFAULT_PORTS[scheme.lower()]:
        netloc = f"{netloc}:{int(port)}"
    path = _normalize_escapes(path) or "/"
    if path != "/" and path.endswith("/"):
        path = path[:-1]
    kept = [
        p for p in _normalize_escapes(query).split("&")
        if p and not p.split("=", 1)[0].lower().startswith("utm_")
    ]
    query = "?" + "&".join(kept) if kept else ""
    return f"{netloc}{path}{query}"


def domain_of(provider_domain: str, url: str) -> str:
    """An outlet's domain: its provider's domain when given, else the URL's host; no ``www.``."""
    if provider_domain.strip():
        return _strip_www(provider_domain.strip())
    return _strip_www(http_host(url) or "")
