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
import threading
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
    url_host = ""  # the host name the server was asked for, for its URL ("": its address)
    # The servers on a name's other addresses, one port for all: they serve, stop and close
    # with this one, each in a thread of its own while this one serves.
    siblings: tuple[ThreadingServer, ...] = ()
    _serving: list[tuple[ThreadingServer, threading.Thread]]

    def set_app(self, application: Any) -> None:
        super().set_app(application)
        for sibling in self.siblings:
            sibling.set_app(application)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._serving = [
            (sibling, threading.Thread(target=sibling.serve_forever, args=(poll_interval,),
                                       daemon=True, name=f"server-{sibling.server_address[0]!s}"))
            for sibling in self.siblings]
        for _, thread in self._serving:
            thread.start()
        try:
            super().serve_forever(poll_interval)
        finally:  # Ctrl-C or shutdown(): the siblings stop too
            self._stop_siblings()

    def shutdown(self) -> None:
        super().shutdown()
        self._stop_siblings()  # before returning, so that server_close() may follow at once

    def _stop_siblings(self) -> None:
        serving, self._serving = getattr(self, "_serving", []), []
        for sibling, thread in serving:
            sibling.shutdown()  # returns once that loop has ended (or, not started, will)
            thread.join()

    def server_close(self) -> None:
        super().server_close()
        for sibling in self.siblings:
            sibling.server_close()
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
    too, whatever the system's default for IPv6 sockets is (a dual-stack socket serves both
    only there: ::1 does not answer 127.0.0.1, so a name with both gets a server on each)."""

    address_family = socket.AF_INET6

    def server_bind(self) -> None:
        with contextlib.suppress(ValueError):  # ValueError: a host name, not an address
            if ipaddress.ip_address(str(self.server_address[0])).is_unspecified:
                with contextlib.suppress(AttributeError, OSError):  # no dual stack here
                    self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


Where = tuple[socket.AddressFamily, tuple[Any, ...]]  # a family and a socket address


def listen_addresses(host: str) -> list[Where]:
    """Where to listen for ``host`` (port 0: set later): an address (or "", every IPv4
    address) as it is; a name, every address it resolves to, in the resolver's order (a
    browser tries them in that order, ``localhost``'s ::1 before 127.0.0.1 on most systems).
    Raises :class:`socket.gaierror` for a name that does not resolve."""
    try:
        version = ipaddress.ip_address(host).version
    except ValueError:
        pass
    else:
        return [(socket.AF_INET6, (host, 0)) if version == 6 else (socket.AF_INET, (host, 0))]
    if not host:
        return [(socket.AF_INET, (host, 0))]
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except UnicodeError:  # not a name DNS can carry: binding it says why
        return [(socket.AF_INET, (host, 0))]
    addresses: list[Where] = []
    for family, _, _, _, address in found:
        if family in (socket.AF_INET, socket.AF_INET6) and \
                all(address[0] != seen[0] for _, seen in addresses):
            addresses.append((family, address))
    return addresses


class _PortTaken(Exception):
    """The free port one address got is taken on another of the name's addresses."""


# A name's address this machine cannot listen on (say ::1 with IPv6 turned off): the others
# are served. Any other reason, or none left, is the failure.
_UNUSABLE = (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT)
PORT_ATTEMPTS = 20


def _listen_each(addresses: list[Where], port: int, handler: type[RequestHandler]
                 ) -> ThreadingServer:
    servers: list[ThreadingServer] = []
    unusable: OSError | None = None
    try:
        for family, address in addresses:
            kind = ThreadingServer6 if family == socket.AF_INET6 else ThreadingServer
            chosen = servers[0].server_address[1] if servers else port
            try:
                servers.append(kind((address[0], chosen, *address[2:]), handler))
            except OSError as error:
                if port == 0 and servers and error.errno == errno.EADDRINUSE:
                    raise _PortTaken from None
                if len(addresses) == 1 or error.errno not in _UNUSABLE:
                    raise
                unusable = unusable or error
    except BaseException:
        for server in servers:
            server.server_close()
        raise
    if not servers:
        assert unusable is not None
        raise unusable
    first, *others = servers
    first.siblings = tuple(others)
    return first


def listen(addresses: list[Where], port: int, handler: type[RequestHandler]
           ) -> ThreadingServer:
    """A server on every one of ``addresses`` (see :func:`listen_addresses`) that this
    machine has, all on one port: ``port``, or with 0 a port free on each. Raises OSError."""
    for _ in range(PORT_ATTEMPTS):
        with contextlib.suppress(_PortTaken):
            return _listen_each(addresses, port, handler)
    raise OSError(errno.EADDRINUSE, "no port is free on every address")


def base_url(server: socketserver.TCPServer) -> str:
    """``http://host:port`` of a listening server: the host name it was asked for, else
    its address (an IPv6 one in brackets)."""
    host, port = str(server.server_address[0]), server.server_address[1]
    if isinstance(server, ThreadingServer) and server.url_host:
        host = server.url_host
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def cannot_listen(host: str, port: int, error: OSError, resolved: Iterable[str] = ()) -> str:
    """Why a server cannot listen on ``host:port`` (a name: on ``resolved``, its addresses),
    and what to change: another --port only when the port is the reason."""
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
        resolved = [ip for ip in resolved if ip != host]
        what = f"{host} ({', '.join(resolved)})" if resolved else host
        return (f"cannot listen on {where}: {what} is not an address of this machine; "
                "choose one with --host (127.0.0.1 or ::1 for this machine only, 0.0.0.0 or "
                ":: for all its addresses)")
    if error.errno == errno.EAFNOSUPPORT:
        kind = "IPv6" if ":" in host else "IPv4"
        return (f"cannot listen on {where}: this machine does not support {kind}; choose an "
                "address of the other kind with --host")
    return f"cannot listen on {where}: {error.strerror or error}"


def serve_wsgi(app: WSGIApp, host: str, port: int, *, log_requests: bool = True,
               timeout: float = DEFAULT_TIMEOUT,
               handler: type[RequestHandler] | None = None) -> ThreadingServer:
    """``app`` on ``host:port`` (port 0 picks a free one), an IPv4 or IPv6 address or a host
    name, served on every address it resolves to (an IPv6 address may come in brackets);
    requests logged to stderr without their query strings unless ``log_requests`` is false
    or ``handler`` says otherwise. Raises NewsletterError saying why it cannot listen there."""
    base = handler or (RequestHandler if log_requests else SilentRequestHandler)
    host = host.strip("[]")
    addresses: list[Where] = []
    try:
        addresses = listen_addresses(host)
        server = listen(addresses, port, type("Handler", (base,), {"timeout": timeout}))
    except OSError as error:
        resolved = [str(address[0]) for _, address in addresses]
        raise NewsletterError(cannot_listen(host, port, error, resolved)) from None
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        host = ""  # an address: the URL shows the one bound (brackets, zone)
    server.url_host = host
    server.set_app(app)
    return server
