"""The WSGI entry point for production: ``newsletter.web.wsgi:application``.

The configuration file comes from the environment variable ``NEWSLETTER_CONFIG`` (default:
``newsletter.yaml`` in the working folder), the secret from the variable the config names.
Both are read when the module is imported, so a WSGI server refuses to start with a broken
configuration instead of failing on the first request.

Each worker process sends the queued confirmation and welcome emails from a thread of its
own, started on its first request (after a pre-forking server forked it); the queue hands
every email to exactly one of them. ``NEWSLETTER_SEND_MAIL=0`` leaves the sending to
``newsletter send-pending`` instead.

    NEWSLETTER_CONFIG=/srv/newsletter/newsletter.yaml waitress-serve \\
        --listen=127.0.0.1:8080 newsletter.web.wsgi:application
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..core.config import load_config
from ..core.folders import DEFAULT_CONFIG_NAME
from .public import Site, StartResponse, start_sender


class Application:
    """The site, with the mail sender started lazily in the serving process."""

    def __init__(self, config_path: Path, send_mail: bool = True) -> None:
        self.config = load_config(config_path)
        self.site = Site(self.config)
        self.send_mail = send_mail and self.config.subscribe.enabled
        self.lock = threading.Lock()
        self.pid: int | None = None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        if self.send_mail and self.pid != os.getpid():
            with self.lock:
                if self.pid != os.getpid():  # first request of this process
                    self.site.sender = start_sender(self.config)
                    if self.site.sender is not None:
                        self.site.signup.wake = self.site.sender.wake
                    self.pid = os.getpid()
        return self.site(environ, start_response)


application = Application(Path(os.environ.get("NEWSLETTER_CONFIG", DEFAULT_CONFIG_NAME)),
                          send_mail=os.environ.get("NEWSLETTER_SEND_MAIL", "1") != "0")
