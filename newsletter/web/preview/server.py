"""The preview server: the WSGI application (:mod:`.app`) on the public site's server
(:mod:`newsletter.web.server`: one thread per connection, an open event stream holds one),
and the watcher thread.

``start()`` runs both in background threads (tests, the benchmark); ``serve_forever()``
serves in the calling thread until Ctrl-C (the command line).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Collection
from pathlib import Path

from ..routing import is_loopback
from ..server import RequestHandler, base_url, serve_wsgi
from .app import PreviewApp
from .drafts import DraftCache
from .listing import Listing
from .watch import Watcher

log = logging.getLogger("newsletter.preview")
WATCH_START_TIMEOUT = 10.0


class _Handler(RequestHandler):
    """The site's handler, logging to the ``newsletter.preview`` logger (debug) instead of
    stderr: the editor's terminal shows what the command printed, not every request."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        log.debug("%s %s", self.address_string(), format % args)


class PreviewServer:
    """The preview of one configuration, listening on ``host:port`` (port 0: a free one).

    ``allow_hosts``: host names besides the loopback ones that requests may carry in their
    Host header (the machine's name when listening beyond loopback). ``poll``: True polls
    for changes, None polls on network mounts only (see :mod:`.watch`)."""

    def __init__(self, config_path: Path, *, host: str = "127.0.0.1", port: int = 8000,
                 strict: bool = False, default_date: dt.date | None = None,
                 allow_hosts: Collection[str] = (), poll: bool | None = None) -> None:
        self.cache = DraftCache(config_path, strict=strict)
        # Listening on one address, that address is a name the server answers to; on all
        # (0.0.0.0, ::) only the names given.
        allowed = set(allow_hosts)
        if host not in ("", "0.0.0.0", "::"):
            allowed.add(host.strip("[]"))
        self.app = PreviewApp(self.cache, allowed_hosts=allowed, default_date=default_date)
        self.watcher = Watcher(config_path, lambda: self.cache.last_good_config,
                               self.cache.changed, poll=poll)
        self.httpd = serve_wsgi(self.app, host, port, handler=_Handler)  # or why it cannot
        self.loopback = is_loopback(host)
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return base_url(self.httpd)

    def listing(self) -> Listing:
        return self.app.listing()

    def draft_url(self, issue_date: dt.date | None = None) -> str:
        date = issue_date or self.listing().default
        return f"{self.url}/draft/{date.isoformat()}/"

    def _start_watcher(self) -> None:
        watcher = threading.Thread(target=self.watcher.run, name="preview-watcher",
                                   daemon=True)
        watcher.start()
        self._threads.append(watcher)
        # Changes made once start() returns must be seen: wait for the watches to be set.
        if not self.watcher.started.wait(WATCH_START_TIMEOUT):
            log.warning("the file watcher is slow to start; early edits may go unseen")

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
            self.httpd.serve_forever(poll_interval=0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.close()

    def close(self) -> None:
        self.watcher.stop()
        self.cache.close()
        if any(t.name == "preview-server" for t in self._threads):
            self.httpd.shutdown()  # only a thread's serve_forever is still looping
        self.httpd.server_close()
        for thread in self._threads:
            if thread.name == "preview-watcher":
                thread.join(timeout=5)

    def __enter__(self) -> PreviewServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
