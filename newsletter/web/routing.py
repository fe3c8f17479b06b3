"""What the WSGI applications of ``web`` share: routes, the raw request path, the Host check
and the plain answers.

A route is a regular expression matched against the whole path (``fullmatch``) and the name
of the application's method that answers it; the first route that matches wins, and no
match is a plain 404. Every route is spelt in plain characters, so a path is matched as the
client sent it, before any percent-decoding: ``%2e%2e``, ``%252e`` or a backslash simply
matches no route, and nothing is ever looked up on disk by the name a client sent.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

StartResponse = Callable[..., Any]
Environ = dict[str, Any]

# The names a browser on this machine uses for it. A page elsewhere can point its own name at
# 127.0.0.1 (DNS rebinding), but its requests still carry that name in Host: refusing every
# other name keeps such pages from reading what a server shows only to its own machine.
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class Route:
    """A path (a full match of ``pattern``) and the name of the method that answers it."""

    pattern: re.Pattern[str]
    handler: str


def route(pattern: str, handler: str) -> Route:
    return Route(re.compile(pattern), handler)


def find_route(routes: Iterable[Route], path: str) -> tuple[str, re.Match[str]] | None:
    """The first route matching the whole of ``path``: its handler's name and the match."""
    for candidate in routes:
        match = candidate.pattern.fullmatch(path)
        if match is not None:
            return candidate.handler, match
    return None


def raw_path(environ: Environ) -> str:
    """The request path as the client sent it, not decoded.

    Our own server and gunicorn pass it as ``RAW_URI``, uWSGI as ``REQUEST_URI``; under a
    server that passes neither, the decoded ``PATH_INFO`` is encoded again (the canonical
    spelling of the same path, so still no ``%`` sequence reaches a route)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return str(raw).partition("?")[0]
    decoded = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    return quote(decoded.encode("latin-1"), safe="/")  # WSGI strings are latin-1


def host_name(header: str) -> str:
    """The name in a Host header, without its port (``[::1]:80`` gives ``::1``)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else ""
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def host_allowed(environ: Environ, allowed: Collection[str]) -> bool:
    """Whether the request's Host names this server: a loopback name or an allowed one."""
    name = host_name(str(environ.get("HTTP_HOST", "")))
    return bool(name) and (name in LOOPBACK_NAMES or name in allowed)


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps a server to this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def respond(start_response: StartResponse, status: HTTPStatus, body: bytes,
            content_type: str = "text/html; charset=utf-8",
            headers: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    start_response(f"{status.value} {status.phrase}", [
        ("Content-Type", content_type), ("Content-Length", str(len(body))), *headers])
    return [body]


def plain(start_response: StartResponse, status: HTTPStatus, text: str = "",
          headers: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    """A text/plain answer: the status line, then ``text`` when given."""
    body = f"{status.value} {status.phrase}{': ' + text if text else ''}\n"
    return respond(start_response, status, body.encode("utf-8"), "text/plain; charset=utf-8",
                   headers)


def redirect(start_response: StartResponse, location: str,
             status: HTTPStatus = HTTPStatus.MOVED_PERMANENTLY) -> list[bytes]:
    start_response(f"{status.value} {status.phrase}",
                   [("Location", location), ("Content-Length", "0")])
    return [b""]
