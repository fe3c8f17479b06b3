"""``newsletter serve``: the output folder and one-click unsubscribes, as a WSGI application.

A WSGI callable so that production can mount it under any WSGI server (gunicorn, uWSGI,
mod_wsgi); :func:`make_server` wraps it in the standard library's server for local use.

* Only what readers need is served, at the path of ``site_url`` (``/ai/`` for
  ``https://host/ai/``): the archive (``index.html``, each year's ``archive/<YYYY>.html``),
  the feeds (``feed.xml``, ``atom.xml``, ``feed.json``, ``topics/<topic>.xml`` of the
  configured topics) and, of a
  *published* issue, ``<D>/`` and ``<D>/index.html``, its web version. The output folder
  also holds drafts, ``issue.json``, the email files (``email.html``, ``email.txt``, the
  sample ``email.eml``, ``email.mjml``) and the editor's ``overrides.yaml``: those, and
  anything else, get the same 404 as a missing file, so a request cannot even tell whether
  a draft exists. A published issue's ``<D>/email.html`` (served by earlier versions) is
  redirected to its page: the email's footer holds links made for one reader, which the
  file has as placeholders, dead for anyone who clicks them on the web. Routes are a list
  (:attr:`Site.routes`): another page is one more pattern. The file a route names must still
  resolve inside the folder, so a symbolic link does not lead out of it.
* Every file carries ``ETag`` and ``Last-Modified``; a conditional request for an unchanged
  file gets ``304`` (feed readers poll).
* ``<site path>unsubscribe?token=...``: ``POST`` with ``List-Unsubscribe=One-Click``
  unsubscribes at once (RFC 8058: mail clients send exactly that); ``GET`` only shows a page
  whose button sends that POST, because mail scanners and link previews follow links. A bad
  token gets the same 400 page whatever is wrong with it.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import mimetypes
import re
import sys
from collections.abc import Callable, Iterable
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit
from wsgiref.simple_server import WSGIServer

from ..core.config import Config
from ..core.errors import NewsletterError
from ..core.headers import masked
from ..delivery.mailqueue import QueueSender
from ..delivery.signups import leaving, unsubscribe
from ..delivery.tokens import Checked, check_token, read_secret
from ..rendering.pages import unique_slugs
from ..rendering.palette import Palette, palette_for
from .routing import Route, StartResponse, find_route, plain, redirect, route
from .server import DEFAULT_TIMEOUT, base_url, serve_wsgi
from .signup import ROUTES as SIGNUP_ROUTES
from .signup import SignupPages

PAGE_TEMPLATE = "serve_unsubscribe.html.j2"
MAX_BODY = 64 * 1024  # an unsubscribe body is ~26 bytes; refuse to read more than this
_ISSUE = r"(?P<slug>\d{4}-\d{2}-\d{2})"

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

    routes: tuple[Route, ...] = (
        route(r"(?:index\.html)?", "_archive_file"),
        route(r"feed\.xml|atom\.xml|feed\.json", "_archive_file"),
        route(r"archive/\d{4}\.html", "_archive_file"),  # a year's issues
        # any length: the configured topics' slugs are the allow-list (_topic_feed)
        route(r"topics/(?P<topic>[a-z0-9][a-z0-9-]*)\.xml", "_topic_feed"),
        route(_ISSUE + r"/(?:index\.html)?", "_issue_file"),
        route(_ISSUE + r"/email\.html", "_issue_folder"),  # the web version, for old links
        route(_ISSUE, "_issue_folder"),  # without its slash: redirected when published
        route(r"unsubscribe", "_unsubscribe"),
        route("|".join(SIGNUP_ROUTES), "_signup"),  # subscribe, confirm, preferences
    )

    def __init__(self, config: Config, secret: bytes | None = None, *,
                 palette: Palette | None = None, sender: QueueSender | None = None,
                 **signup: Any) -> None:
        self.config = config
        self.palette = palette or palette_for(config)
        self.secret = secret if secret is not None else read_secret(config)
        self.root = config.output.resolve()
        self.state = config.state_dir.resolve()
        self.prefix = urlsplit(config.site_url).path or "/"
        if not self.prefix.endswith("/"):
            self.prefix += "/"
        # The prefix as a request's path arrives (decoded: /café/, not /caf%C3%A9/); links and
        # redirects keep the encoded form above.
        self.path_prefix = unquote(self.prefix)
        self.topic_slugs = frozenset(unique_slugs(t.name for t in config.topics))
        self._published: dict[str, tuple[tuple[int, int], bool]] = {}
        self.sender = sender  # sends the confirmation and welcome emails, when set
        if sender is not None:
            signup.setdefault("wake", sender.wake)
        self.signup = SignupPages(config, self.secret, self.prefix, palette=self.palette,
                                  **signup)

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
        if self.prefix != "/" and path == self.path_prefix.rstrip("/"):
            return redirect(start_response, self.prefix)
        if not path.startswith(self.path_prefix):
            return self.signup.missing(start_response)
        rest = path[len(self.path_prefix):]
        found = find_route(self.routes, rest)
        if found is None:
            return self.signup.missing(start_response)
        name, match = found
        handler = getattr(self, name)
        return handler(environ, start_response, method, match)

    # -- files --------------------------------------------------------------------------------

    def is_published(self, slug: str) -> bool:
        """Whether ``<output>/<slug>/issue.json`` says published (re-read when it changes)."""
        path = self.root / slug / "issue.json"
        try:
            info = path.stat()
            key = (info.st_mtime_ns, info.st_size)
            cached = self._published.get(slug)
            if cached is not None and cached[0] == key:
                return cached[1]
            data = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return False
        published = isinstance(data, dict) and data.get("status") == "published"
        self._published[slug] = (key, published)
        return published

    def _archive_file(self, environ: dict[str, Any], start_response: StartResponse,
                      method: str, match: re.Match[str]) -> Iterable[bytes]:
        return self._file(environ, start_response, match.group(0) or "index.html", method)

    def _topic_feed(self, environ: dict[str, Any], start_response: StartResponse,
                    method: str, match: re.Match[str]) -> Iterable[bytes]:
        if match.group("topic") not in self.topic_slugs:
            return self.signup.missing(start_response)
        return self._file(environ, start_response, match.group(0), method)

    def _issue_file(self, environ: dict[str, Any], start_response: StartResponse,
                    method: str, match: re.Match[str]) -> Iterable[bytes]:
        if not self.is_published(match.group("slug")):
            return self.signup.missing(start_response)  # drafts included
        name = match.group(0)
        return self._file(environ, start_response,
                          name + "index.html" if name.endswith("/") else name, method)

    def _issue_folder(self, environ: dict[str, Any], start_response: StartResponse,
                      method: str, match: re.Match[str]) -> Iterable[bytes]:
        if not self.is_published(match.group("slug")):
            return self.signup.missing(start_response)
        return redirect(start_response, f"{self.prefix}{match.group('slug')}/")

    def resolve(self, relative: str) -> Path | None:
        """The file a route names, or None (404): it must exist and, symbolic links followed,
        still lie inside the output folder and outside the state folder."""
        try:
            resolved = (self.root / relative).resolve(strict=True)
            if (not resolved.is_relative_to(self.root) or resolved.is_relative_to(self.state)
                    or not resolved.is_file()):
                return None  # a symbolic link out of the folder, the state database, a device
        except (OSError, RuntimeError):  # missing, a name too long, a loop
            return None
        return resolved

    def _file(self, environ: dict[str, Any], start_response: StartResponse, relative: str,
              method: str) -> Iterable[bytes]:
        if method not in ("GET", "HEAD"):
            return plain(start_response, HTTPStatus.METHOD_NOT_ALLOWED,
                         headers=[("Allow", "GET, HEAD")])
        target = self.resolve(relative)
        if target is None:
            return self.signup.missing(start_response)
        try:
            stat = target.stat()
            body = b"" if method == "HEAD" else target.read_bytes()
        except OSError:
            return self.signup.missing(start_response)
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

    def _page(self, start_response: StartResponse, status: HTTPStatus, page: str, *,
              address: str = "", action: str = "", error: str = "") -> Iterable[bytes]:
        """The unsubscribe page, in the look of the other public pages (signup.py)."""
        retry = [("Retry-After", "60")] if status == HTTPStatus.SERVICE_UNAVAILABLE else []
        return self.signup.page(start_response, status, PAGE_TEMPLATE, page, extra=retry,
                                address=address, action=action, error=error)

    def _unsubscribe(self, environ: dict[str, Any], start_response: StartResponse,
                     method: str, match: re.Match[str] | None = None) -> Iterable[bytes]:
        if method not in ("GET", "HEAD", "POST"):
            return plain(start_response, HTTPStatus.METHOD_NOT_ALLOWED,
                         headers=[("Allow", "GET, HEAD, POST")])
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        tokens = query.get("token", [])
        checked = check_token(self.secret, tokens[0], "unsubscribe") if len(tokens) == 1 \
            else None
        if checked is None:
            return self._page(start_response, HTTPStatus.BAD_REQUEST, "invalid")
        try:
            return self._unsubscribe_checked(environ, start_response, method, tokens[0], checked)
        except NewsletterError as error:  # the state cannot be reached or stays locked
            # A one-click client may try again; a 500 would read as "done" to some, or as
            # final to others. Nothing was changed.
            sys.stderr.write(f"unsubscribe: {error}\n")
            return self._page(start_response, HTTPStatus.SERVICE_UNAVAILABLE, "busy", error=(
                "Your request could not be recorded just now, and nothing was changed. "
                "Please try again in a minute."))

    def _unsubscribe_checked(self, environ: dict[str, Any], start_response: StartResponse,
                             method: str, token: str, checked: Checked) -> Iterable[bytes]:
        address = checked.address or ""  # links of earlier versions name the address
        gone = False
        if checked.key is not None:
            # The link travels in every message's List-Unsubscribe header, so forwards,
            # proxies and scanners see it: the page shows only enough of the address for
            # its owner to know it.
            found = leaving(self.config, checked.key)
            address = masked(found.email) if found is not None else ""
            gone = found is not None and found.status == "unsubscribed"
        action = f"{self.prefix}unsubscribe?token={quote(token, safe='')}"
        if method != "POST":
            # A reader who left and follows the link of an older issue is told so, not
            # asked again as if still subscribed.
            if gone:
                return self._page(start_response, HTTPStatus.OK, "unsubscribed",
                                  address=address)
            return self._page(start_response, HTTPStatus.OK, "unsubscribe", address=address,
                              action=action)
        if not _one_click(environ):
            # The link is good, the body is not RFC 8058's: nothing is done, and the page
            # asks with its own button rather than call a reader's good link invalid.
            return self._page(start_response, HTTPStatus.BAD_REQUEST, "unsubscribe",
                              address=address, action=action, error=(
                                  "That request was incomplete, so nothing was changed. "
                                  "Press the button to unsubscribe."))
        # an unknown subscriber (removed since): nothing to do
        unsubscribe(self.config, dt.datetime.now(dt.UTC), key=checked.key,
                    address=None if checked.key is not None else address)
        return self._page(start_response, HTTPStatus.OK, "unsubscribed", address=address)

    def _signup(self, environ: dict[str, Any], start_response: StartResponse, method: str,
                match: re.Match[str]) -> Iterable[bytes]:
        if not self.config.subscribe.enabled:
            return self.signup.missing(start_response)
        return self.signup.handle(environ, start_response, match.group(0), method)


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
    # A sender that ends the body with a line break still means One-Click, not "One-Click\r\n"
    form = parse_qs(body.decode("utf-8", "replace").strip(), keep_blank_values=True)
    return form.get("List-Unsubscribe") == ["One-Click"]


def make_server(config: Config, host: str = "127.0.0.1", port: int = 8080, *,
                log_requests: bool = True, timeout: float = DEFAULT_TIMEOUT,
                send_mail: bool = True) -> WSGIServer:
    """The built-in server for local use (port 0 picks a free port); requests are logged to
    stderr, without their query strings. ``timeout``: seconds a connection may stay silent.
    With ``send_mail`` and signups enabled, a thread sends the confirmation and welcome
    emails (:func:`start_sender`); it stops with ``server_close()``.

    For production, run ``newsletter.web.wsgi:application`` under a WSGI server made for it
    (see the README)."""
    sender = start_sender(config) if send_mail else None
    try:
        server = serve_wsgi(Site(config, sender=sender), host, port,
                            log_requests=log_requests, timeout=timeout)
    except NewsletterError:  # cannot listen there: nothing to send for
        if sender is not None:
            sender.stop()
        raise
    if sender is not None:
        server.on_close = (sender.stop,)
    return server


def start_sender(config: Config, log: Callable[[str], None] | None = None
                 ) -> QueueSender | None:
    """The mail queue's sender thread, started; None when readers cannot sign up."""
    if not config.subscribe.enabled:
        return None
    stream = sys.stderr  # the server's, whatever replaces sys.stderr later

    def log_stderr(line: str) -> None:
        print(line, file=stream, flush=True)

    return QueueSender(config, read_secret(config), log=log or log_stderr).start()


def site_address(server: WSGIServer, config: Config) -> str:
    return base_url(server) + (urlsplit(config.site_url).path or "/")
