"""``newsletter serve`` in a test: its server on a free loopback port, and a client for it.

``serving`` runs the public site's server (with its mail sender if asked) in a thread for
the length of a ``with`` block and gives its port; ``Client`` sends it one raw HTTP request
at a time (following a form's 303 as browsers do) and answers status, headers and body.

A module of its own, not a test module, so that the serve, signup, mailbox, WSGI and
browser tests reach the server the same way whatever order pytest collects them in.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from newsletter.core.config import Config
from newsletter.web.public import make_server


@contextmanager
def serving(config: Config, send_mail: bool = False, log_requests: bool = False
            ) -> Iterator[int]:
    """``newsletter serve``'s server on a free port, in a thread; with ``send_mail``, its
    mail sender too (else the queue stays as the requests leave it)."""
    server = make_server(config, "127.0.0.1", 0, log_requests=log_requests,
                         send_mail=send_mail)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


class Client:
    def __init__(self, port: int) -> None:
        self.port = port

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, *, follow: bool = True
                ) -> tuple[int, dict[str, str], bytes]:
        """One request; a 303 (a form's POST done) is followed with a GET, as browsers do,
        unless ``follow`` is false."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            answer = response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()
        if follow and answer[0] == 303:
            return self.request("GET", answer[1]["Location"])
        return answer

    def get(self, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
        return self.request("GET", path, headers={k.replace("_", "-"): v
                                                  for k, v in headers.items()})

    def one_click(self, path: str, body: bytes = b"List-Unsubscribe=One-Click",
                  kind: str = "application/x-www-form-urlencoded"
                  ) -> tuple[int, dict[str, str], bytes]:
        return self.request("POST", path, body=body, headers={"Content-Type": kind})
