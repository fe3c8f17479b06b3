"""The preview as a WSGI application: a fixed set of routes, nothing served from disk.

Routes (:attr:`PreviewApp.routes`) are matched against the raw request path, before any
decoding (see :mod:`newsletter.web.routing`), so no spelling of ``..`` reaches anything: the
pages are rendered in memory and no route names a file. Every request must carry a Host
header naming this machine (a loopback name) or a name given with ``--allow-host``, whatever
address the server listens on: a web page elsewhere cannot read the drafts through DNS
rebinding.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection, Iterable
from http import HTTPStatus
from urllib.parse import parse_qs

from ...core.errors import NewsletterError
from ...core.timing import parse_issue_date
from ..routing import (
    Environ,
    StartResponse,
    find_route,
    host_allowed,
    plain,
    raw_path,
    redirect,
    respond,
    route,
)
from .drafts import DraftCache
from .events import HEADERS as EVENT_HEADERS
from .events import event_stream
from .listing import Listing, list_drafts
from .view import draft_page, error_page, explain_page, index_page

_DATE = r"(?P<date>\d{4}-\d{2}-\d{2})"
_HEADERS = [("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")]
# The email must work with no script at all, as in a mail client: forbid it.
EMAIL_HEADERS = [*_HEADERS, ("Content-Security-Policy", "script-src 'none'")]
# As the public site's: (environ, start_response, method, match).
Handler = Callable[[Environ, StartResponse, str, re.Match[str]], Iterable[bytes]]


def _date(text: str) -> dt.date | str:
    """The issue date in a URL, or why it is none: the same dates as the commands accept
    (parse_issue_date), as a draft dated outside them cannot be built."""
    try:
        return parse_issue_date(text)
    except ValueError as error:
        return str(error)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PreviewApp:
    """The WSGI application of ``newsletter preview`` for one draft cache."""

    routes = (
        route(r"/", "_index"),
        route(r"/draft/", "_date_form"),  # the index page's "another date" form
        route(r"/draft/" + _DATE, "_draft_folder"),
        route(r"/draft/" + _DATE + r"/(?P<what>|email\.html|email\.txt|explain)", "_draft"),
        route(r"/draft/" + _DATE + r"/events", "_events"),
    )

    def __init__(self, cache: DraftCache, *, allowed_hosts: Collection[str] = (),
                 default_date: dt.date | None = None,
                 clock: Callable[[], dt.datetime] = _now) -> None:
        self.cache = cache
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self.fixed_date = default_date
        self.clock = clock

    def listing(self) -> Listing:
        """The drafts on offer and the one opened first; raises NewsletterError when the
        config is broken."""
        return list_drafts(self.cache.config, self.clock(), self.cache.draft, self.fixed_date)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        body = self._dispatch(environ, start_response)
        if environ.get("REQUEST_METHOD", "GET").upper() == "HEAD":
            return [b""]  # same status and headers as GET, no body
        return body

    def _dispatch(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if not host_allowed(environ, self.allowed_hosts):
            return plain(start_response, HTTPStatus.FORBIDDEN,
                         "this preview answers only to its own host names (--allow-host)")
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method not in ("GET", "HEAD"):
            return plain(start_response, HTTPStatus.METHOD_NOT_ALLOWED,
                         headers=[("Allow", "GET, HEAD")])
        found = find_route(self.routes, raw_path(environ))
        if found is None:
            return plain(start_response, HTTPStatus.NOT_FOUND, "no such page")
        name, match = found
        if "date" in match.groupdict():
            date = _date(match["date"])
            if isinstance(date, str):
                return plain(start_response, HTTPStatus.NOT_FOUND, f"no such issue: {date}")
        handler: Handler = getattr(self, name)
        return handler(environ, start_response, method, match)

    # -- pages --------------------------------------------------------------------------------

    def _index(self, environ: Environ, start_response: StartResponse, method: str,
               match: re.Match[str]) -> Iterable[bytes]:
        try:
            listing = self.listing()
            body = index_page(self.cache.config, listing, self.cache.version)
        except NewsletterError as error:
            return respond(start_response, HTTPStatus.INTERNAL_SERVER_ERROR,
                           error_page("", str(error), self.cache.version), headers=_HEADERS)
        return respond(start_response, HTTPStatus.OK, body, headers=_HEADERS)

    def _date_form(self, environ: Environ, start_response: StartResponse, method: str,
                   match: re.Match[str]) -> Iterable[bytes]:
        given = parse_qs(environ.get("QUERY_STRING", "")).get("date", [""])[0]
        date = (_date(given) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", given)
                else "give a date as YYYY-MM-DD")
        if isinstance(date, str):
            return plain(start_response, HTTPStatus.NOT_FOUND, date)
        return redirect(start_response, f"/draft/{date.isoformat()}/", HTTPStatus.SEE_OTHER)

    def _draft_folder(self, environ: Environ, start_response: StartResponse, method: str,
                      match: re.Match[str]) -> Iterable[bytes]:
        # To the folder, so that the page's relative links (email.html) resolve.
        return redirect(start_response, f"/draft/{match['date']}/", HTTPStatus.SEE_OTHER)

    def _draft(self, environ: Environ, start_response: StartResponse, method: str,
               match: re.Match[str]) -> Iterable[bytes]:
        slug, what = match["date"], match["what"]
        try:
            draft = self.cache.draft(parse_issue_date(slug))  # checked by _dispatch
            config = self.cache.config
        except NewsletterError as error:
            if what == "":  # the page reloads itself once the error is fixed
                return respond(start_response, HTTPStatus.INTERNAL_SERVER_ERROR,
                               error_page(slug, str(error), self.cache.version),
                               headers=_HEADERS)
            return plain(start_response, HTTPStatus.INTERNAL_SERVER_ERROR,
                         f"the draft {slug} cannot be built:\n\n{error}", headers=_HEADERS)
        if what == "":
            return respond(start_response, HTTPStatus.OK, draft_page(draft, config),
                           headers=_HEADERS)
        if what == "explain":
            return respond(start_response, HTTPStatus.OK, explain_page(draft, config),
                           headers=_HEADERS)
        if draft.empty_reason:
            return plain(start_response, HTTPStatus.NOT_FOUND,
                         f"issue {slug} has nothing in it: {draft.empty_reason}")
        if what == "email.html":
            return respond(start_response, HTTPStatus.OK, draft.files["email.html"],
                           headers=EMAIL_HEADERS)
        return respond(start_response, HTTPStatus.OK, draft.files["email.txt"],
                       "text/plain; charset=utf-8", headers=_HEADERS)

    def _events(self, environ: Environ, start_response: StartResponse, method: str,
                match: re.Match[str]) -> Iterable[bytes]:
        start_response("200 OK", EVENT_HEADERS)
        if method == "HEAD":
            return [b""]
        return event_stream(self.cache)

