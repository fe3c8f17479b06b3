"""``newsletter serve``: the output folder and one-click unsubscribes, as a WSGI application.

A WSGI callable so that production can mount it under any WSGI server (gunicorn, uWSGI,
mod_wsgi); :func:`make_server` wraps it in the standard library's server for local use.

* Files are served at the path of ``site_url`` (``/ai/`` for ``https://host/ai/``) from the
  output folder only: a request path is checked segment by segment (no ``..``, no hidden
  files, no backslashes) and the resolved file must still lie inside the folder, so neither
  a crafted path nor a symbolic link leads out of it. Anything else is a plain 404.
* Every file carries ``ETag`` and ``Last-Modified``; a conditional request for an unchanged
  file gets ``304`` (feed readers poll).
* ``<site path>unsubscribe?token=...``: ``POST`` with ``List-Unsubscribe=One-Click``
  unsubscribes at once (RFC 8058: mail clients send exactly that); ``GET`` only shows a page
  whose button sends that POST, because mail scanners and link previews follow links. A bad
  token gets the same 400 page whatever is wrong with it.
"""

from __future__ import annotations

import email.utils
import mimetypes
import socketserver
from collections.abc import Callable, Iterable
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from wsgiref.simple_server import make_server as _make_wsgi_server

from ..core.config import Config
from ..delivery.subscribers import set_status
from ..delivery.tokens import read_secret, verify_token
from ..rendering.palette import DEFAULT_PALETTE, Palette
from ..rendering.templating import environment

StartResponse = Callable[..., Any]
PAGE_TEMPLATE = "serve_unsubscribe.html.j2"
MAX_BODY = 64 * 1024  # an unsubscribe body is ~26 bytes; refuse to read more than this

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/rss+xml; charset=utf-8",  # every feed but atom.xml is RSS
    ".json": "application/json",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".mjml": "text/plain; charset=utf-8",
    ".eml": "message/rfc822",
}
_BY_NAME = {"atom.xml": "application/atom+xml; charset=utf-8",
            "feed.json": "application/feed+json"}
_PAGE_HEADERS = [
    ("Cache-Control", "no-store"),
    ("Referrer-Policy", "no-referrer"),  # the token is in the URL
    ("X-Robots-Tag", "noindex"),
    ("Content-Security-Policy",
     "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"),
]


def content_type(path: Path) -> str:
    """Feeds by name (``atom.xml``, ``feed.json``) and suffix, then the usual types."""
    if path.name in _BY_NAME:
        return _BY_NAME[path.name]
    known = _TYPES.get(path.suffix.lower())
    if known:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def _etag(size: int, mtime_ns: int) -> str:
    return f'"{size:x}-{mtime_ns:x}"'


def _not_modified(environ: dict[str, Any], etag: str, mtime: float) -> bool:
    """RFC 9110: If-None-Match decides when present; else If-Modified-Since."""
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None:
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return "*" in tags or etag in tags
    since = environ.get("HTTP_IF_MODIFIED_SINCE")
    if since:
        try:
            when = email.utils.parsedate_to_datetime(since)
        except (TypeError, ValueError, IndexError):
            return False
        if when is None:
            return False
        return int(mtime) <= when.timestamp()
    return False


def _request_path(environ: dict[str, Any]) -> str:
    """The full path, as text: WSGI hands it over as latin-1 decoded bytes."""
    raw = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    try:
        return raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return "\x00"  # never a valid path: 404


class Site:
    """The WSGI application for one configuration."""

    def __init__(self, config: Config, secret: bytes | None = None, *,
                 palette: Palette = DEFAULT_PALETTE) -> None:
        self.config = config
        self.palette = palette
        self.secret = secret if secret is not None else read_secret(config)
        self.root = config.output.resolve()
        self.state = config.state_dir.resolve()
        self.prefix = urlsplit(config.site_url).path or "/"
        if not self.prefix.endswith("/"):
            self.prefix += "/"

    # -- dispatch -----------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        body = self._dispatch(environ, start_response)
        if environ.get("REQUEST_METHOD", "GET").upper() == "HEAD":
            return [b""]  # same status and headers as GET, no body
        return body

    def _dispatch(self, environ: dict[str, Any], start_response: StartResponse
                  ) -> Iterable[bytes]:
        path = _request_path(environ)
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if self.prefix != "/" and path == self.prefix.rstrip("/"):
            return self._redirect(start_response, self.prefix)
        if not path.startswith(self.prefix):
            return self._status(start_response, HTTPStatus.NOT_FOUND)
        rest = path[len(self.prefix):]
        if rest == "unsubscribe":
            return self._unsubscribe(environ, start_response, method)
        if method not in ("GET", "HEAD"):
            return self._status(start_response, HTTPStatus.METHOD_NOT_ALLOWED,
                                [("Allow", "GET, HEAD")])
        return self._file(environ, start_response, rest, method)

    # -- files --------------------------------------------------------------------------------

    def resolve(self, rest: str) -> Path | str | None:
        """The file for a path below the site path; a str is a redirect target (a folder
        asked for without its slash); None is 404."""
        segments = rest.split("/")
        for index, segment in enumerate(segments):
            last = index == len(segments) - 1
            if segment == "" and not last:
                return None  # "a//b"
            if segment.startswith(".") or "\\" in segment or "\x00" in segment:
                return None  # "..", ".", hidden files, Windows separators
        target = self.root.joinpath(*[s for s in segments if s])
        if target.is_dir():
            if segments[-1] != "":
                return self.prefix + quote(rest) + "/"
            target = target / "index.html"
        try:
            resolved = target.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if (not resolved.is_relative_to(self.root) or resolved.is_relative_to(self.state)
                or not resolved.is_file()):
            return None  # a symbolic link out of the folder, the state database, a device
        return resolved

    def _file(self, environ: dict[str, Any], start_response: StartResponse, rest: str,
              method: str) -> Iterable[bytes]:
        target = self.resolve(rest)
        if target is None:
            return self._status(start_response, HTTPStatus.NOT_FOUND)
        if isinstance(target, str):
            return self._redirect(start_response, target)
        try:
            stat = target.stat()
            body = b"" if method == "HEAD" else target.read_bytes()
        except OSError:
            return self._status(start_response, HTTPStatus.NOT_FOUND)
        etag = _etag(stat.st_size, stat.st_mtime_ns)
        headers = [
            ("ETag", etag),
            ("Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True)),
            ("Cache-Control", "no-cache"),  # may be cached, but revalidated every time
            ("X-Content-Type-Options", "nosniff"),
        ]
        if _not_modified(environ, etag, stat.st_mtime):
            start_response("304 Not Modified", headers)
            return [b""]
        headers += [("Content-Type", content_type(target)),
                    ("Content-Length", str(stat.st_size))]
        start_response("200 OK", headers)
        return [body]

    # -- unsubscribe --------------------------------------------------------------------------

    def _page(self, start_response: StartResponse, status: HTTPStatus, state: str, *,
              address: str = "", action: str = "") -> Iterable[bytes]:
        heading = {"confirm": "Unsubscribe", "done": "You are unsubscribed",
                   "invalid": "Invalid link"}[state]
        body = environment().get_template(PAGE_TEMPLATE).render(
            config=self.config, state=state, heading=heading, address=address,
            action=action, home=self.prefix, palette=self.palette).encode("utf-8")
        start_response(f"{status.value} {status.phrase}", [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))), *_PAGE_HEADERS])
        return [body]

    def _unsubscribe(self, environ: dict[str, Any], start_response: StartResponse,
                     method: str) -> Iterable[bytes]:
        if method not in ("GET", "HEAD", "POST"):
            return self._status(start_response, HTTPStatus.METHOD_NOT_ALLOWED,
                                [("Allow", "GET, HEAD, POST")])
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        tokens = query.get("token", [])
        address = verify_token(self.secret, tokens[0]) if len(tokens) == 1 else None
        if address is None:
            return self._page(start_response, HTTPStatus.BAD_REQUEST, "invalid")
        if method != "POST":
            action = f"{self.prefix}unsubscribe?token={quote(tokens[0], safe='')}"
            return self._page(start_response, HTTPStatus.OK, "confirm", address=address,
                              action=action)
        if not _one_click(environ):
            return self._page(start_response, HTTPStatus.BAD_REQUEST, "invalid")
        set_status(self.config, address, "unsubscribed")  # unknown address: nothing to do
        return self._page(start_response, HTTPStatus.OK, "done", address=address)

    # -- plain answers ------------------------------------------------------------------------

    @staticmethod
    def _status(start_response: StartResponse, status: HTTPStatus,
                extra: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
        body = f"{status.value} {status.phrase}\n".encode("ascii")
        start_response(f"{status.value} {status.phrase}", [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))), *(extra or [])])
        return [body]

    @staticmethod
    def _redirect(start_response: StartResponse, location: str) -> Iterable[bytes]:
        start_response("301 Moved Permanently", [("Location", location),
                                                 ("Content-Length", "0")])
        return [b""]


def _one_click(environ: dict[str, Any]) -> bool:
    """Whether the POST body holds ``List-Unsubscribe=One-Click`` (RFC 8058 allows
    application/x-www-form-urlencoded and multipart/form-data)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    if length <= 0 or length > MAX_BODY:
        return False
    body = environ["wsgi.input"].read(length)
    kind = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        text = body.decode("utf-8", "replace")
        return 'name="List-Unsubscribe"' in text and "One-Click" in text
    form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return form.get("List-Unsubscribe") == ["One-Click"]


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    """One thread per request: a slow client does not hold up the others."""

    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    """Logs requests without the query string: it holds unsubscribe tokens."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?", 1)[0]
        self.log_message('"%s %s" %s %s', self.command, path, str(code), str(size))


class _SilentHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        pass


def make_server(config: Config, host: str = "127.0.0.1", port: int = 8080, *,
                log_requests: bool = True) -> WSGIServer:
    """The built-in server for local use (port 0 picks a free port); requests are logged to
    stderr, without their query strings."""
    handler = _QuietHandler if log_requests else _SilentHandler
    return _make_wsgi_server(host, port, Site(config), server_class=_ThreadingServer,
                             handler_class=handler)


def site_address(server: WSGIServer, config: Config) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}{urlsplit(config.site_url).path or '/'}"
