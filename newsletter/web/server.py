"""The server under the WSGI applications of ``web`` (the public site and the preview):
the standard library's WSGI server, one thread per connection, with a request handler
hardened for a server that faces the network.

Production mounts the public site under a WSGI server made for it (see the README); this one
serves ``newsletter serve`` and ``newsletter preview``.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import re
import socket
import socketserver
import sys
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from ..core.errors import NewsletterError

DEFAULT_TIMEOUT = 30.0  # seconds a connection may stay silent before it is closed
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    """One thread per connection: a slow client does not hold up the others (and an idle
    one lets go of its thread after the handler's timeout)."""

    daemon_threads = True
    request_queue_size = 128  # connections waiting to be accepted (the default 5 makes
    # clients beyond it wait for TCP retransmits, seconds apart)
    on_close: tuple[Callable[[], None], ...] = ()  # what stops with the server (threads)

    def server_close(self) -> None:
        super().server_close()
        for stop in self.on_close:
            stop()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away is one line in the log, not a traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            sys.stderr.write(f"{client_address[0]}: connection closed ({type(error).__name__})\n")
            return
        super().handle_error(request, client_address)


_QUERY = re.compile(r"\?[^\s'\"]*")
MAX_LOGGED = 200  # characters of a request target in the log
MAX_REQUEST_LINE = 8192  # longer request lines are refused (400) and not read further


def scrub(text: str) -> str:
    """A request line or target as the log shows it: without its query string (it can hold
    an unsubscribe token), control characters escaped, at most MAX_LOGGED characters."""
    text = _QUERY.sub("?...", text)
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= MAX_LOGGED else text[:MAX_LOGGED] + "..."


class RequestHandler(WSGIRequestHandler):
    """The standard library's WSGI handler, hardened for a server that faces the network:

    * a silent connection is closed after ``timeout`` seconds (each read waits at most that
      long), so half-sent requests cannot hold threads forever;
    * a malformed request line (not ``METHOD TARGET HTTP/1.x``, or longer than
      MAX_REQUEST_LINE) gets ``400 Bad Request``, and the rest of it is read and dropped
      first so that the client receives the answer rather than a reset;
    * the log never shows a query string (unsubscribe tokens travel in it).
    """

    timeout = DEFAULT_TIMEOUT
    protocol_version = "HTTP/1.0"
    default_request_version = "HTTP/1.0"  # HTTP/0.9 (no status line) is not spoken here

    def handle(self) -> None:
        try:
            self._handle()
        except (TimeoutError, ConnectionError):
            self.close_connection = True  # idle, or gone: nothing to answer

    def _handle(self) -> None:
        self.command = self.request_version = ""
        self.requestline = ""
        self.raw_requestline = self.rfile.readline(MAX_REQUEST_LINE + 1)
        if not self.raw_requestline:
            return  # connected, then closed without a word
        if len(self.raw_requestline) > MAX_REQUEST_LINE:
            self.requestline = self.raw_requestline[:MAX_LOGGED].decode("latin-1")
            self._skip_request(line_done=self.raw_requestline.endswith(b"\n"))
            self.send_error(HTTPStatus.BAD_REQUEST, "Request line too long")
            return
        if not self.parse_request():  # a 400 (or another error) was sent
            return
        handler = ServerHandler(self.rfile, self.wfile,  # type: ignore[arg-type]
                                self.get_stderr(), self.get_environ(), multithread=False)
        handler.request_handler = self  # type: ignore[attr-defined]  # wsgiref logs through it
        handler.run(self.server.get_app())  # type: ignore[attr-defined]

    def _skip_request(self, *, line_done: bool, limit: int = 1 << 20) -> None:
        """Read what is left of a refused request (bounded), so that closing the connection
        with unread data does not reset it before the client has read the answer."""
        read = 0
        while read < limit:
            line = self.rfile.readline(65536)
            read += len(line)
            if not line:
                return
            if line_done and line in (b"\r\n", b"\n"):
                return
            if line.endswith(b"\n"):
                line_done = True

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        if code in (HTTPStatus.REQUEST_URI_TOO_LONG, HTTPStatus.HTTP_VERSION_NOT_SUPPORTED):
            code, message = HTTPStatus.BAD_REQUEST, "Bad request version or length"
        if code == HTTPStatus.BAD_REQUEST and self.raw_requestline.endswith(b"\n") \
                and not getattr(self, "headers", None):
            with contextlib.suppress(OSError):
                self._skip_request(line_done=True, limit=65536)
        self.close_connection = True
        super().send_error(code, message, explain)

    def get_environ(self) -> dict[str, str]:
        environ = super().get_environ()
        environ["RAW_URI"] = self.path  # the path as sent: routes match it undecoded
        return environ

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.log_message('"%s" %s %s', self.requestline, str(code), str(size))

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        super().log_message(format, *[scrub(a) if isinstance(a, str) else a for a in args])


class SilentRequestHandler(RequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        pass


class ThreadingServer6(ThreadingServer):
    """The same on an IPv6 address. On ``::`` (every address) IPv4 clients are answered
    too, whatever the system's default for IPv6 sockets is."""

    address_family = socket.AF_INET6

    def server_bind(self) -> None:
        with contextlib.suppress(ValueError):  # ValueError: a host name, not an address
            if ipaddress.ip_address(str(self.server_address[0])).is_unspecified:
                with contextlib.suppress(AttributeError, OSError):  # no dual stack here
                    self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def address_family(host: str) -> socket.AddressFamily:
    """IPv6 for an IPv6 address and for a name that resolves to IPv6 addresses only; else
    IPv4 (a name with both, like localhost, is served on its IPv4 address)."""
    try:
        version = ipaddress.ip_address(host).version
    except ValueError:
        try:
            found = {info[0] for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)}
        except (OSError, UnicodeError):  # binding says why the name is no good
            return socket.AF_INET
        return socket.AF_INET6 if found == {socket.AF_INET6} else socket.AF_INET
    return socket.AF_INET6 if version == 6 else socket.AF_INET


def base_url(server: socketserver.TCPServer) -> str:
    """``http://host:port`` of a listening server, an IPv6 address in brackets."""
    host, port = str(server.server_address[0]), server.server_address[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def cannot_listen(host: str, port: int, error: OSError) -> str:
    """Why a server cannot listen on ``host:port``, and what to change: another --port only
    when the port is the reason."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if isinstance(error, socket.gaierror):
        return (f"cannot listen on {where}: the host name {host!r} does not resolve "
                f"({error.strerror}); choose an address or another name with --host")
    if error.errno == errno.EADDRINUSE:
        return (f"cannot listen on {where}: the port is in use (by another server, or one "
                "still stopping); choose another with --port")
    if error.errno == errno.EACCES and 0 < port < 1024:
        return (f"cannot listen on {where}: ports below 1024 need administrator rights; "
                "choose one above 1023 with --port")
    if error.errno == errno.EADDRNOTAVAIL:
        return (f"cannot listen on {where}: {host} is not an address of this machine; "
                "choose one with --host (127.0.0.1 or ::1 for this machine only, 0.0.0.0 or "
                ":: for all its addresses)")
    if error.errno == errno.EAFNOSUPPORT:
        kind = "IPv6" if address_family(host) == socket.AF_INET6 else "IPv4"
        return (f"cannot listen on {where}: this machine does not support {kind}; choose an "
                "address of the other kind with --host")
    return f"cannot listen on {where}: {error.strerror or error}"


def serve_wsgi(app: WSGIApp, host: str, port: int, *, log_requests: bool = True,
               timeout: float = DEFAULT_TIMEOUT,
               handler: type[RequestHandler] | None = None) -> ThreadingServer:
    """``app`` on ``host:port`` (port 0 picks a free one), an IPv4 or IPv6 address or a host
    name (an IPv6 address may come in brackets); requests logged to stderr without their
    query strings unless ``log_requests`` is false or ``handler`` says otherwise. Raises
    NewsletterError saying why it cannot listen there."""
    base = handler or (RequestHandler if log_requests else SilentRequestHandler)
    host = host.strip("[]")
    kind = ThreadingServer6 if address_family(host) == socket.AF_INET6 else ThreadingServer
    try:
        server = kind((host, port), type("Handler", (base,), {"timeout": timeout}))
    except OSError as error:
        raise NewsletterError(cannot_listen(host, port, error)) from None
    server.set_app(app)
    return server
