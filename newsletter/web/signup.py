"""The public pages of ``newsletter serve``: subscribe, confirm, preferences.

Served under the path of ``site_url`` when ``subscribe.enabled`` (else those paths are the
site's 404 page, :meth:`SignupPages.missing`). What each page promises, and why:

* ``subscribe``: GET shows the form with a fresh signed, time-stamped form token. POST
  answers the very same redirect (303) to the "check your inbox" page (``subscribe?sent``)
  whether the address is new, pending, active or unsubscribed, whether a confirmation was
  queued or a limit held it back, and when the honeypot is filled: the form never tells who
  is subscribed. Only an invalid address, a missing, forged or stale form token, or a topic
  that is not configured gets the form back (400); a client over its hourly allowance gets
  429.
* ``confirm?token=``: GET changes nothing (mail scanners fetch every link) and shows one
  button, which a one-line inline script presses for a reader's browser; POST confirms and
  sends the browser back to the GET, which then says "Thank you".
* ``preferences?token=``: GET shows name and topics; POST saves them (``action=save``, then
  ``&saved``: "Saved.") or unsubscribes (``action=unsubscribe``, then ``&left``).

A POST that did what it was asked answers 303 to a GET of its page, so that the back
button, a reload or a phone reopening the tab shows the page again rather than "Confirm
Form Resubmission".

A token made for another purpose answers 400, an expired one 410 with a way to sign up
again. Bodies over 16 KB are refused (413) and only url-encoded forms are read (415). Pages
are never cached and send no referrer (their URLs hold tokens).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Callable, Iterable
from functools import cached_property
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, quote

from markupsafe import Markup

from ..core.config import Config
from ..core.headers import header_problem, readable_address
from ..delivery.signups import (
    Confirmed,
    Outcome,
    Reader,
    confirm,
    latest_issue_url,
    reader,
    record_signup,
    save_preferences,
    unsubscribe,
)
from ..delivery.subscribers import (
    AddressError,
    clean_name,
    forgotten_topics,
    normalize_address,
)
from ..delivery.tokens import check_form_token, check_token, form_token
from ..rendering.palette import Palette, palette_for
from ..rendering.templating import environment_for
from .routing import StartResponse, plain, redirect

Clock = Callable[[], dt.datetime]
ROUTES = ("subscribe", "confirm", "preferences")
MAX_FORM_BODY = 16 * 1024
MAX_FORM_FIELDS = 200  # the preferences form has one field per topic, and a few more
FORM_TYPE = "application/x-www-form-urlencoded"
CONFIRM_SCRIPT = 'document.getElementById("confirm").submit();'
_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'")
PAGE_HEADERS = [
    ("Cache-Control", "no-store"),
    ("Referrer-Policy", "no-referrer"),  # the token is in the URL
    ("X-Robots-Tag", "noindex"),
    ("X-Content-Type-Options", "nosniff"),
]
HEADINGS = {
    "subscribe": "Subscribe", "inbox": "Check your inbox", "confirm": "Confirm your subscription",
    "thanks": "Thank you", "preferences": "Your preferences", "unsubscribed":
    "You are unsubscribed", "invalid": "Invalid link", "expired": "This link has expired",
    "limited": "Too many requests", "missing": "Page not found",
    "waiting": "Confirm your subscription first",
    "unsubscribe": "Unsubscribe", "busy": "Please try again",  # serve's unsubscribe page
}


def script_hash(script: str) -> str:
    """The CSP source that allows exactly this inline script."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _Refused(Exception):
    def __init__(self, status: HTTPStatus) -> None:
        self.status = status


def read_form(environ: dict[str, Any]) -> dict[str, list[str]]:
    """The url-encoded body, at most 16 KB and 200 fields; raises :class:`_Refused` (400, 413,
    415)."""
    kind = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if kind != FORM_TYPE:
        raise _Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise _Refused(HTTPStatus.BAD_REQUEST) from None
    if length > MAX_FORM_BODY:
        raise _Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    try:
        return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True,
                        max_num_fields=MAX_FORM_FIELDS)
    except ValueError:  # more fields than any of our forms has
        raise _Refused(HTTPStatus.BAD_REQUEST) from None


def client_address(environ: dict[str, Any], trust_proxy: bool) -> str:
    """REMOTE_ADDR, or behind a trusted reverse proxy the last X-Forwarded-For hop (the one
    the proxy added; clients can write anything in the others)."""
    if trust_proxy:
        hops = [h.strip() for h in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if hops and hops[-1]:
            return hops[-1]
    return str(environ.get("REMOTE_ADDR", ""))


class SignupPages:
    """The three routes, for one configuration and secret."""

    def __init__(self, config: Config, secret: bytes, prefix: str, *,
                 clock: Clock = _utcnow, wake: Callable[[], None] = lambda: None,
                 palette: Palette | None = None) -> None:
        self.config = config
        self.palette = palette or palette_for(config)
        self.secret = secret
        self.prefix = prefix
        self.clock = clock
        self.wake = wake  # tells the mail queue's sender there is something to send
        self.topics = tuple(t.name for t in config.topics)

    def handle(self, environ: dict[str, Any], start_response: StartResponse, route: str,
               method: str) -> Iterable[bytes]:
        if method not in ("GET", "HEAD", "POST"):
            return plain(start_response, HTTPStatus.METHOD_NOT_ALLOWED,
                         headers=[("Allow", "GET, HEAD, POST")])
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        try:
            form = read_form(environ) if method == "POST" else {}
            if route == "subscribe":
                if method != "POST" and "sent" in query:
                    return self._inbox(start_response)
                return self._subscribe(environ, start_response, method, form)
            token = query.get("token", [])
            token_value = token[0] if len(token) == 1 else None
            if route == "confirm":
                return self._confirm(start_response, method, token_value)
            return self._preferences(start_response, method, token_value, form, query)
        except _Refused as refused:
            return plain(start_response, refused.status)

    # -- subscribe ------------------------------------------------------------------------------

    def _form(self, start_response: StartResponse, status: HTTPStatus, *, error: str = "",
              email: str = "", name: str = "", chosen: tuple[str, ...] = ()
              ) -> Iterable[bytes]:
        token = form_token(self.secret, self.clock().timestamp())
        return self.page(start_response, status, "public_subscribe.html.j2", "subscribe",
                         form_token=token, error=error, email=email, name=name,
                         chosen=chosen, topics=self.topics)

    def _subscribe(self, environ: dict[str, Any], start_response: StartResponse, method: str,
                   form: dict[str, list[str]]) -> Iterable[bytes]:
        if method != "POST":
            return self._form(start_response, HTTPStatus.OK)
        first = {key: values[0] if values else "" for key, values in form.items()}
        if first.get("website", "").strip():  # the honeypot: a bot; say nothing, do nothing
            return self._sent(start_response)
        email, raw_name = first.get("email", "").strip()[:320], first.get("name", "")
        name, name_problem = form_name(raw_name)
        chosen = tuple(t for t in form.get("topics", []) if t in self.topics)
        again: dict[str, Any] = {"email": email, "name": name or " ".join(raw_name.split()),
                                 "chosen": chosen}  # a name refused comes back to be fixed
        now = self.clock()
        if not check_form_token(self.secret, first.get("form_token"), now.timestamp()):
            return self._form(start_response, HTTPStatus.BAD_REQUEST, error=(
                "This form is too old or incomplete. Please submit it again."), **again)
        try:
            address = normalize_address(email)
        except AddressError as problem:
            return self._form(start_response, HTTPStatus.BAD_REQUEST,
                              error=address_advice(problem), **again)
        if name_problem:
            return self._form(start_response, HTTPStatus.BAD_REQUEST, error=name_problem,
                              **again)
        if len(chosen) != len(form.get("topics", [])):
            return self._form(start_response, HTTPStatus.BAD_REQUEST,
                              error="Please choose topics from the list.", **again)
        topics = () if set(chosen) == set(self.topics) else tuple(
            t for t in self.topics if t in chosen)
        outcome = record_signup(self.config, self.secret, address=address, name=name,
                                topics=topics, at=now, client=client_address(
                                    environ, self.config.subscribe.trust_proxy))
        if outcome is Outcome.LIMITED:
            return self.page(start_response, HTTPStatus.TOO_MANY_REQUESTS,
                             "public_message.html.j2", "limited",
                             extra=[("Retry-After", "3600")])
        if outcome is Outcome.QUEUED:
            self.wake()
        return self._sent(start_response)

    def _sent(self, start_response: StartResponse) -> Iterable[bytes]:
        """After a POST, the browser is sent on to a GET of the page (303): going back to it,
        reloading it or a phone reopening the tab shows it again, instead of "Confirm Form
        Resubmission" (ERR_CACHE_MISS: the page is never cached) or a second POST."""
        return redirect(start_response, f"{self.prefix}subscribe?sent", HTTPStatus.SEE_OTHER)

    def _inbox(self, start_response: StartResponse) -> Iterable[bytes]:
        """The same bytes whatever happened (see the module docstring)."""
        start_response("200 OK", self._inbox_page[0])
        return [self._inbox_page[1]]

    @cached_property
    def _inbox_page(self) -> tuple[list[tuple[str, str]], bytes]:
        captured: list[list[tuple[str, str]]] = []
        body = b"".join(self.page(lambda status, headers: captured.append(headers),
                                  HTTPStatus.OK, "public_message.html.j2", "inbox"))
        return captured[0], body

    # -- confirm --------------------------------------------------------------------------------

    def _confirm(self, start_response: StartResponse, method: str, token: str | None
                 ) -> Iterable[bytes]:
        now = self.clock()
        checked = check_token(self.secret, token, "confirm", now=now.timestamp(),
                              max_age=self.config.subscribe.confirm_hours * 3600)
        if checked is None or checked.key is None:
            return self._message(start_response, HTTPStatus.BAD_REQUEST, "invalid")
        if checked.expired:
            return self._message(start_response, HTTPStatus.GONE, "expired")
        action = f"{self.prefix}confirm?token={quote(token or '', safe='')}"
        if method == "POST":
            result = confirm(self.config, checked.key, now)
            if result is Confirmed.EXPIRED:
                return self._message(start_response, HTTPStatus.GONE, "expired")
            if result is Confirmed.CONFIRMED:
                self.wake()
            return redirect(start_response, action, HTTPStatus.SEE_OTHER)  # "Thank you"
        found = reader(self.config, checked.key)
        if found is not None and found.subscriber.status == "active":
            return self._message(start_response, HTTPStatus.OK, "thanks",
                                 latest=latest_issue_url(self.config))
        if found is None or found.subscriber.status != "pending":
            return self._message(start_response, HTTPStatus.GONE, "expired")
        return self.page(start_response, HTTPStatus.OK, "public_confirm.html.j2", "confirm",
                         action=action, script=Markup(CONFIRM_SCRIPT),  # a constant
                         csp=f"{_CSP}; script-src {script_hash(CONFIRM_SCRIPT)}")

    # -- preferences ----------------------------------------------------------------------------

    def _preferences(self, start_response: StartResponse, method: str, token: str | None,
                     form: dict[str, list[str]], query: dict[str, list[str]]
                     ) -> Iterable[bytes]:
        checked = check_token(self.secret, token, "preferences")
        if checked is None or checked.key is None:
            return self._message(start_response, HTTPStatus.BAD_REQUEST, "invalid")
        found = reader(self.config, checked.key)
        if found is None:
            return self._message(start_response, HTTPStatus.GONE, "expired")
        if found.subscriber.status == "pending":  # left, then signed up again: not "expired"
            return self._message(start_response, HTTPStatus.CONFLICT, "waiting")
        action = f"{self.prefix}preferences?token={quote(token or '', safe='')}"
        if method != "POST":  # after a POST (303): "left" and "saved" say what it did
            if "left" in query and found.subscriber.status != "active":
                return self._message(start_response, HTTPStatus.OK, "unsubscribed")
            saved = "saved" in query and found.subscriber.status == "active"
            return self._settings(start_response, HTTPStatus.OK, found, action, saved=saved)
        now = self.clock()
        choice = form.get("action", [""])
        if choice == ["unsubscribe"]:
            unsubscribe(self.config, now, key=checked.key)
            return redirect(start_response, f"{action}&left", HTTPStatus.SEE_OTHER)
        chosen = form.get("topics", [])
        if choice != ["save"] or any(t not in self.topics for t in chosen):
            return self._message(start_response, HTTPStatus.BAD_REQUEST, "invalid")
        if found.subscriber.status != "active":  # a page opened before leaving, say:
            return self._settings(  # "Saved" would promise issues that never come
                start_response, HTTPStatus.CONFLICT, found, action, error=(
                    f"Nothing was saved: this address no longer receives {self.config.title}."))
        topics = () if set(chosen) == set(self.topics) else tuple(
            t for t in self.topics if t in chosen)
        raw_name = form.get("name", [""])[0]
        name, name_problem = form_name(raw_name)
        if name_problem:  # the link is good: the reader's own page, saying what to fix, with
            # the name and topics just chosen, not the saved ones
            return self._settings(start_response, HTTPStatus.BAD_REQUEST, found, action,
                                  error=name_problem, name=" ".join(raw_name.split()),
                                  chosen=tuple(chosen))
        save_preferences(self.config, checked.key, name, topics, now)
        return redirect(start_response, f"{action}&saved", HTTPStatus.SEE_OTHER)

    def _settings(self, start_response: StartResponse, status: HTTPStatus, found: Reader,
                  action: str, *, saved: bool = False, error: str = "",
                  name: str | None = None, chosen: tuple[str, ...] | None = None
                  ) -> Iterable[bytes]:
        """The preferences page; the address as its owner reads it (a domain in Unicode); the
        form holds the saved ``name`` and topics unless given (``chosen``: those ticked)."""
        subscriber = found.subscriber
        # Topics renamed or removed since they were chosen: the page names them and asks
        # again, as none of them ticked reads "every topic" while no issue sends them any.
        gone = forgotten_topics(subscriber.topics, self.config)
        if chosen is None:
            chosen = tuple(subscriber.topics) or self.topics  # none saved: every topic
        return self.page(start_response, status, "public_preferences.html.j2", "preferences",
                         subscriber=subscriber, action=action, topics=self.topics,
                         address=readable_address(subscriber.email), saved=saved,
                         error=error, chosen=chosen, gone=gone,
                         none_left=len(gone) == len(subscriber.topics),
                         name=subscriber.name if name is None else name)

    # -- answers --------------------------------------------------------------------------------

    def missing(self, start_response: StartResponse) -> Iterable[bytes]:
        """The site's 404: a page in the reader's language with a way back to the archive,
        not the bare status line a screen reader would announce as an untitled page."""
        return self._message(start_response, HTTPStatus.NOT_FOUND, "missing")

    def _message(self, start_response: StartResponse, status: HTTPStatus, page: str,
                 **context: Any) -> Iterable[bytes]:
        return self.page(start_response, status, "public_message.html.j2", page, **context)

    def page(self, start_response: StartResponse, status: HTTPStatus, template: str,
             page: str, *, csp: str = _CSP, extra: list[tuple[str, str]] | None = None,
             **context: Any) -> Iterable[bytes]:
        heading = HEADINGS[page]
        values = {
            "config": self.config, "root": self.prefix, "page": page, "heading": heading,
            # a screen reader says the title first: a page showing an error starts with it,
            # a refused form's as much as a refused link's (invalid, expired) or a 404
            "page_title": f"{'Error: ' if context.get('error') or status >= 400 else ''}"
                          f"{heading} · {self.config.title}", "description": "",
            "canonical": f"{self.config.site_url}"
                         f"{page if page in (*ROUTES, 'unsubscribe') else ''}",
            "hours": _hours(self.config.subscribe.confirm_hours), "latest": "",
            "palette": self.palette,
            "page_language": "en",  # these pages' words are English whatever config.language
            **context}
        body = environment_for(self.config).get_template(template).render(values).encode("utf-8")
        start_response(f"{status.value} {status.phrase}", [
            ("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body))),
            *PAGE_HEADERS, ("Content-Security-Policy", csp), *(extra or [])])
        return [body]


def form_name(raw: str) -> tuple[str, str]:
    """The name typed in a form, and what is wrong with it ("" when nothing). Whitespace a
    paste brings (a tab, a line break) is a space; what would still go into the To header as
    something else (an encoded word, another control character) is refused, saying how."""
    folded = " ".join(raw.split())
    try:
        return clean_name(folded), ""
    except AddressError:
        problem = header_problem(folded) or ""
        if "encoded word" in problem:
            return "", ('The name holds "=?" and "?=" around text, which mail programs read '
                        "as code. Please write it as plain text.")
        return "", f"The name {problem}. Please type it again as plain text."


def address_advice(problem: AddressError) -> str:
    """What is wrong with the address typed, and what to do: email-validator's own words
    ("The part after the @-sign is not valid. It should have a period.")."""
    reason = str(problem).strip() or "That is not an email address."
    reason = reason[:1].upper() + reason[1:] + ("" if reason.endswith(".") else ".")
    return f"{reason} Please correct the address, or use another one."


def _hours(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)
