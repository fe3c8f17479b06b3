"""``newsletter preview``: the editor sees a draft exactly as subscribers will, live.

A small stdlib HTTP server (no new dependency) around
:func:`newsletter.publishing.build.read_and_select` and
:func:`newsletter.publishing.build.render_issue_files`: a draft is rendered in memory, so
previewing never writes to the output folder and never publishes.

Change detection is polling, deliberately: every ~0.3 s a background thread takes the
modification times of the corpus, the config file, the templates, and the output folder's
overrides and issue files. When they change, the version token changes, open editor pages
hear it over Server-Sent Events (``/draft/<D>/events``) and reload themselves; the draft is
re-rendered lazily on the next request. Polling needs no inotify and sees edits made by any
editor, over any network mount.

Only a fixed set of routes exists (see :data:`_DRAFT_ROUTE`), matched against the raw request
path before any decoding, so no encoding of ``..`` (``%2e%2e``, ``%252e``, backslashes) can
reach a file: nothing is served from disk by name at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from ..core.config import Config, load_config
from ..core.errors import NewsletterError
from ..core.models import Problem, Selection, Status, Verdict
from ..core.timing import next_issue_date
from ..publishing.build import read_and_select, render_issue_files, why_empty
from ..publishing.issuefile import ISSUE_FILE
from ..publishing.issues import IssueStore
from ..reading.walk import walk_files
from ..rendering.mail import GMAIL_CLIP_BYTES, preheader, subject_line
from ..rendering.templating import TEMPLATES, environment
from ..selecting.explain import GROUPS
from ..selecting.overrides import OVERRIDES_FILE

log = logging.getLogger("newsletter.preview")

POLL_SECONDS = 0.3
EVENT_PING_SECONDS = 10  # a comment line now and then tells a closed page from an open one
PHONE_WIDTH = 375
DESKTOP_WIDTH = 800
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
_DATE = r"(\d{4}-\d{2}-\d{2})"
_DRAFT_ROUTE = re.compile(r"/draft/" + _DATE + r"/(|email\.html|email\.txt|explain|events)")
_DRAFT_NO_SLASH = re.compile(r"/draft/" + _DATE)


# -- what is watched -----------------------------------------------------------------------------

def _stat_tree(folder: Path, into: list[tuple[str, int, int]]) -> None:
    """(path, mtime_ns, size) of every file below ``folder``; hidden entries included, since
    a rename through a hidden temporary file is how editors and our own writes save."""
    for _relative, entry in walk_files(folder, skip_hidden=False, ignore_errors=True):
        try:
            info = entry.stat()
        except OSError:
            continue
        into.append((entry.path, info.st_mtime_ns, info.st_size))


def _stat_file(path: Path, into: list[tuple[str, int, int]]) -> None:
    try:
        info = path.stat()
    except OSError:
        into.append((str(path), -1, -1))
        return
    into.append((str(path), info.st_mtime_ns, info.st_size))


def watched_signature(config_path: Path, config: Config | None,
                      templates: Path = TEMPLATES) -> str:
    """A token that changes whenever anything a draft is made of changes: article files, the
    config file, the templates, any issue's overrides.yaml or issue.json (a newly published
    issue changes what later drafts may feature)."""
    stats: list[tuple[str, int, int]] = []
    _stat_file(config_path, stats)
    _stat_tree(templates, stats)
    if config is not None:
        _stat_tree(config.corpus, stats)
        try:
            folders = sorted(p for p in config.output.iterdir() if p.is_dir())
        except OSError:
            folders = []
        for folder in folders:
            _stat_file(folder / OVERRIDES_FILE, stats)
            _stat_file(folder / ISSUE_FILE, stats)
    digest = hashlib.sha256(repr(sorted(stats)).encode("utf-8"))
    return digest.hexdigest()[:16]


# -- drafts ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Draft:
    """One issue rendered in memory, with what the editor's page shows about it."""

    slug: str
    version: str  # the watched-files token it was rendered from
    selection: Selection
    files: dict[str, bytes] = field(default_factory=dict)  # email.html, email.txt, ...
    subject: str = ""
    preheader: str = ""
    size_warning: str | None = None
    empty_reason: str = ""
    published: bool = False  # this date is published: the draft shows what a rebuild gives
    problems: tuple[Problem, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def html_bytes(self) -> int:
        return len(self.files.get("email.html", b""))


def render_draft(config: Config, issue_date: dt.date, *, strict: bool = False,
                 version: str = "") -> Draft:
    """Select and render the issue dated ``issue_date`` in memory; writes nothing."""
    result = read_and_select(config, issue_date, strict=strict)
    issue = result.selection.issue
    store = IssueStore(config.output)
    published = issue_date in store.published_dates()
    common: dict[str, Any] = dict(slug=issue.slug, version=version,
                                  selection=result.selection, published=published,
                                  problems=result.problems, warnings=result.warnings)
    if not issue.sections:
        return Draft(empty_reason=why_empty(result), **common)
    others = [p for p in store.published() if p.slug != issue.slug]
    files, warning = render_issue_files(issue, config, others)
    if warning and strict:
        raise NewsletterError(f"issue {issue.slug}: {warning} (an error with --strict)")
    prefix = f"{issue.slug}/"
    return Draft(files={k.removeprefix(prefix): v for k, v in files.items()},
                 subject=subject_line(config, issue), preheader=preheader(issue),
                 size_warning=warning, **common)


class PreviewState:
    """The latest config, the watched-files token, and the drafts rendered for it.

    Shared by every request thread and the watcher thread; one lock keeps two requests from
    rendering the same draft twice.
    """

    def __init__(self, config_path: Path, *, strict: bool = False,
                 default_date: dt.date | None = None) -> None:
        self.config_path = config_path
        self.strict = strict
        self._config: Config | None = None
        self._config_error: str | None = None
        self._drafts: dict[str, Draft | str] = {}  # slug -> draft, or the error's message
        self._lock = threading.RLock()
        self._changed = threading.Condition()
        self.closed = False
        self.version = ""
        self.check()
        config = self._config
        self.default_date = default_date or (
            _default_date(config) if config else dt.date.today())

    def check(self) -> str:
        """Look for changes now; the current version token. Called by the watcher thread
        every POLL_SECONDS and by every request, so a page never shows a stale draft."""
        with self._lock:
            version = watched_signature(self.config_path, self._config)
            if version == self.version:
                return version
            try:
                self._config = load_config(self.config_path, strict=self.strict)
                self._config_error = None
            except NewsletterError as error:
                self._config_error = str(error)
            # The config may name another corpus: the token must cover the new one.
            version = watched_signature(self.config_path, self._config)
            self.version = version
            self._drafts.clear()
        with self._changed:
            self._changed.notify_all()
        return version

    @property
    def config(self) -> Config:
        with self._lock:
            if self._config_error is not None or self._config is None:
                raise NewsletterError(self._config_error or "no configuration")
            return self._config

    def draft(self, issue_date: dt.date) -> Draft:
        """The draft for the current files, rendered now if they changed; raises
        NewsletterError (with the message the page shows) when it cannot be built."""
        slug = issue_date.isoformat()
        with self._lock:
            self.check()
            cached = self._drafts.get(slug)
            if cached is None:
                try:
                    cached = render_draft(self.config, issue_date, strict=self.strict,
                                          version=self.version)
                except NewsletterError as error:
                    cached = str(error)
                except Exception as error:  # a broken template: show it, keep serving
                    log.exception("rendering draft %s failed", slug)
                    cached = f"unexpected {type(error).__name__}: {error}"
                self._drafts[slug] = cached
            if isinstance(cached, str):
                raise NewsletterError(cached)
            return cached

    def wait_for_change(self, version: str, timeout: float) -> str:
        with self._changed:
            self._changed.wait_for(lambda: self.version != version or self.closed, timeout)
        return self.version

    def watch(self, interval: float = POLL_SECONDS) -> None:
        """The watcher thread's loop: poll until closed."""
        while not self.closed:
            try:
                self.check()
            except Exception:  # never let the watcher die: the page would stop reloading
                log.exception("watching for changes failed")
            with self._changed:
                self._changed.wait_for(lambda: self.closed, interval)

    def close(self) -> None:
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    def listing(self) -> tuple[list[dt.date], list[dt.date]]:
        """Dates an editor may want to preview (the next issue and every unpublished issue
        folder), and the published issues' dates."""
        config = self.config
        published = IssueStore(config.output).published_dates()
        drafts = {self.default_date}
        try:
            folders = list(config.output.iterdir())
        except OSError:
            folders = []
        for folder in folders:
            try:
                date = dt.date.fromisoformat(folder.name)
            except ValueError:
                continue
            if date in published or not re.fullmatch(_DATE, folder.name):
                continue
            if (folder / OVERRIDES_FILE).is_file() or (folder / ISSUE_FILE).is_file():
                drafts.add(date)
        return sorted(drafts), sorted(published, reverse=True)


def _default_date(config: Config) -> dt.date:
    return next_issue_date(config, dt.datetime.now(dt.UTC))


# -- pages -----------------------------------------------------------------------------------------

def _display_path(config: Config, path: Path) -> str:
    try:
        return str(path.relative_to(config.folder))
    except ValueError:
        return str(path)


def override_hint(verdict: Verdict, overrides: str) -> str:
    """What the editor can write in the issue's overrides.yaml to change this verdict."""
    if verdict.status == Status.PLACED:
        if verdict.pinned:
            return f"pinned in {overrides}; remove it from `pin` to let the rules decide"
        return f"to leave it out, add `exclude: [{verdict.id}]` to {overrides}"
    if verdict.status in (Status.FOLDED, Status.BELOW_CUT, Status.BELOW_MIN_QUALITY,
                          Status.ALREADY_PUBLISHED):
        return f"to place it, add `pin: [{verdict.id}]` to {overrides}"
    if verdict.status == Status.EXCLUDED:
        return f"excluded in {overrides}; remove it from `exclude` to let the rules decide"
    if verdict.status == Status.NO_TOPIC:
        return "none of its topics is configured: add one to the article or to the config"
    if verdict.status == Status.INVALID:
        return "fix the file (`newsletter check` lists every problem)"
    return ""


def _explain_rows(selection: Selection, config: Config) -> tuple[list[dict[str, Any]], int]:
    """The explain table's rows in the report's order, and how many files were left out
    because they are outside the window (the whole corpus, mostly)."""
    overrides = _display_path(config, config.output / selection.issue.slug / OVERRIDES_FILE)
    order = {status: index for index, (status, _) in enumerate(GROUPS)}
    headings = dict(GROUPS)
    timezone = selection.issue.window.timezone
    rows = []
    outside = 0
    for verdict in sorted(selection.verdicts, key=lambda v: (order.get(v.status, 99),
                                                             v.topic or "", v.position or 0,
                                                             v.id)):
        if verdict.status == Status.OUTSIDE_WINDOW:
            outside += 1
            continue
        rows.append({
            "id": verdict.id, "title": verdict.title, "status": verdict.status,
            "heading": headings.get(verdict.status, verdict.status), "reason": verdict.reason,
            "quality": "" if verdict.quality is None else verdict.quality,
            "published": (verdict.published.astimezone(timezone).strftime("%Y-%m-%d %H:%M")
                          if verdict.published else ""),
            "hint": override_hint(verdict, overrides),
        })
    return rows, outside


def _render(template: str, **context: Any) -> bytes:
    return environment().get_template(template).render(**context).encode("utf-8")


def draft_page(draft: Draft, config: Config) -> bytes:
    rows, outside = _explain_rows(draft.selection, config)
    overrides = _display_path(config, config.output / draft.slug / OVERRIDES_FILE)
    return _render("preview_draft.html.j2", draft=draft, config=config, rows=rows,
                   outside=outside, overrides=overrides, clip_bytes=GMAIL_CLIP_BYTES,
                   html_kb=f"{draft.html_bytes / 1024:.1f}",
                   clip_kb=f"{GMAIL_CLIP_BYTES / 1024:.0f}",
                   clip_percent=round(100 * draft.html_bytes / GMAIL_CLIP_BYTES),
                   phone_width=PHONE_WIDTH, desktop_width=DESKTOP_WIDTH,
                   version=draft.version, page_title=f"Draft {draft.slug}: {config.title}")


def explain_page(draft: Draft, config: Config) -> bytes:
    rows, outside = _explain_rows(draft.selection, config)
    return _render("preview_explain.html.j2", draft=draft, rows=rows, outside=outside,
                   page_title=f"Explain {draft.slug}: {config.title}")


def error_page(slug: str, message: str, version: str) -> bytes:
    return _render("preview_error.html.j2", slug=slug, message=message, version=version,
                   page_title=f"Draft {slug}: cannot be built")


# -- HTTP ------------------------------------------------------------------------------------------

class _Server(ThreadingHTTPServer):
    daemon_threads = True  # an open event stream must not keep the process alive
    block_on_close = False
    state: PreviewState
    loopback: bool


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "newsletter-preview"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib's name)
        log.debug("%s %s", self.address_string(), format % args)

    # Responses ---------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _not_found(self, why: str = "no such page") -> None:
        self._send(404, f"404 Not Found: {why}\n".encode(), "text/plain; charset=utf-8")

    def _redirect(self, location: str) -> None:
        self.send_response(HTTPStatus.SEE_OTHER)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    # Routing -----------------------------------------------------------------------------

    def do_HEAD(self) -> None:  # noqa: N802 (stdlib's name)
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802 (stdlib's name)
        if not self._host_allowed():
            self._send(403, b"403 Forbidden: unexpected Host header\n",
                       "text/plain; charset=utf-8")
            return
        # The raw path, never decoded: every route is spelt in plain characters, so any
        # percent-encoding, backslash or dot segment simply matches no route.
        path, _, query = self.path.partition("?")
        if path == "/":
            self._index()
            return
        if path == "/draft/":
            dates = parse_qs(query).get("date", [""])
            date = _parse_date(dates[0]) if re.fullmatch(_DATE, dates[0]) else None
            if date is None:
                self._not_found("give a date as YYYY-MM-DD")
            else:
                self._redirect(f"/draft/{date.isoformat()}/")
            return
        if _DRAFT_NO_SLASH.fullmatch(path) and _parse_date(path[7:]):
            self._redirect(path + "/")
            return
        match = _DRAFT_ROUTE.fullmatch(path)
        date = _parse_date(match.group(1)) if match else None
        if match is None or date is None:
            self._not_found()
            return
        what = match.group(2)
        if what == "events":
            self._events()
            return
        self._draft(date, what)

    def _host_allowed(self) -> bool:
        """On loopback, only loopback Host headers: a web page elsewhere cannot read drafts
        through DNS rebinding."""
        if not self.server.loopback:
            return True
        host = self.headers.get("Host", "")
        name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:host.find("]")]
        return name in _LOOPBACK_HOSTS

    def _index(self) -> None:
        state = self.server.state
        try:
            state.check()
            drafts, published = state.listing()
            config = state.config
        except NewsletterError as error:
            self._send(500, error_page("", str(error), state.version))
            return
        self._send(200, _render("preview_index.html.j2", config=config, drafts=drafts,
                                published=published, default_date=state.default_date,
                                page_title=f"Preview: {config.title}"))

    def _draft(self, date: dt.date, what: str) -> None:
        state = self.server.state
        slug = date.isoformat()
        try:
            draft = state.draft(date)
            config = state.config
        except NewsletterError as error:
            if what == "":
                self._send(500, error_page(slug, str(error), state.version))
            else:
                self._send(500, f"The draft {slug} cannot be built:\n\n{error}\n".encode(),
                           "text/plain; charset=utf-8")
            return
        if what == "":
            self._send(200, draft_page(draft, config))
        elif what == "explain":
            self._send(200, explain_page(draft, config))
        elif draft.empty_reason:
            self._not_found(f"issue {slug} has nothing in it: {draft.empty_reason}")
        elif what == "email.html":
            # The email must work with no script at all, as in a mail client: forbid it.
            self._send(200, draft.files["email.html"],
                       headers={"Content-Security-Policy": "script-src 'none'"})
        else:
            self._send(200, draft.files["email.txt"], "text/plain; charset=utf-8")

    def _events(self) -> None:
        """Server-Sent Events: the version token now, and again whenever it changes."""
        state = self.server.state
        version = state.check()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if self.command == "HEAD":
            return
        try:
            self.wfile.write(f"retry: 500\ndata: {version}\n\n".encode())
            self.wfile.flush()
            while not state.closed:
                latest = state.wait_for_change(version, EVENT_PING_SECONDS)
                if state.closed:
                    break
                if latest != version:
                    version = latest
                    self.wfile.write(f"data: {version}\n\n".encode())
                else:
                    self.wfile.write(b": ping\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            return  # the page was closed or reloaded


def _parse_date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


class PreviewServer:
    """The preview server: ``start()`` in a thread (tests) or ``serve_forever()`` (the CLI)."""

    def __init__(self, config_path: Path, *, host: str = "127.0.0.1", port: int = 8000,
                 strict: bool = False, default_date: dt.date | None = None,
                 poll_interval: float = POLL_SECONDS) -> None:
        self.state = PreviewState(config_path, strict=strict, default_date=default_date)
        try:
            self.httpd = _Server((host, port), _Handler)
        except OSError as error:
            raise NewsletterError(f"cannot serve on {host}:{port}: {error.strerror or error}; "
                                  "choose another with --port") from error
        self.httpd.state = self.state
        self.httpd.loopback = is_loopback(host)
        self.poll_interval = poll_interval
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        host = f"[{host!s}]" if ":" in str(host) else str(host)
        return f"http://{host}:{port}"

    def draft_url(self, issue_date: dt.date | None = None) -> str:
        return f"{self.url}/draft/{(issue_date or self.state.default_date).isoformat()}/"

    def _start_watcher(self) -> None:
        watcher = threading.Thread(target=self.state.watch, args=(self.poll_interval,),
                                   name="preview-watcher", daemon=True)
        watcher.start()
        self._threads.append(watcher)

    def start(self) -> PreviewServer:
        self._start_watcher()
        server = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                  name="preview-server", daemon=True)
        server.start()
        self._threads.append(server)
        return self

    def serve_forever(self) -> None:
        """Serve until Ctrl-C; a clean stop, not a traceback."""
        self._start_watcher()
        try:
            self.httpd.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self.close()

    def close(self) -> None:
        self.state.close()
        if any(t.name == "preview-server" for t in self._threads):
            self.httpd.shutdown()  # only a thread's serve_forever is still looping
        self.httpd.server_close()

    def __enter__(self) -> PreviewServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def is_loopback(host: str) -> bool:
    return host in _LOOPBACK_HOSTS or host.startswith("127.")

