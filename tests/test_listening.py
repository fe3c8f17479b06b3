"""Where ``newsletter preview`` and ``newsletter serve`` listen: IPv6 addresses as well as
IPv4 ones, in real processes over real sockets, and a failure to listen that names its real
reason (another --port only when the port is the reason)."""

from __future__ import annotations

import datetime as dt
import http.client
import os
import re
import selectors
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import PROJECT, run, sample_site, write_article, write_config
from newsletter.core.config import load_config
from newsletter.core.errors import NewsletterError
from newsletter.web.preview import PreviewServer
from newsletter.web.public import make_server, site_address

SLUG = dt.date(2021, 2, 22).isoformat()
SECRET = "test-secret-0123456789-abcdefghij"
URL = re.compile(r"http://(\[[^\]]+\]|[^:/\s]+):(\d+)(/\S*)")


def _has_ipv6_loopback() -> bool:
    """``::1`` is configured (the kernel lists it) and a socket can be bound to it."""
    try:
        with open("/proc/net/if_inet6", encoding="ascii") as interfaces:
            if not any(line.startswith("0" * 31 + "1") for line in interfaces):
                return False
    except FileNotFoundError:
        pass  # not Linux: binding says it
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not _has_ipv6_loopback(),
                                reason="this machine has no IPv6 loopback")


@contextmanager
def command(folder: Path, *args: str) -> Iterator[tuple[int, str]]:
    """``newsletter ARGS`` as a process; the port and the path of the URL it prints first
    (the test fails, rather than waits, when it prints none within 30 s)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "--config", str(folder / "newsletter.yaml"),
         *args], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT), "NEWSLETTER_SECRET": SECRET})
    assert process.stdout is not None and process.stderr is not None
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout=30)
        line = process.stdout.readline() if ready else ""
        found = URL.search(line)
        if found is None:
            process.kill()
            pytest.fail(f"no URL printed: {line!r} {process.stderr.read()!r}")
        yield int(found.group(2)), found.group(3)
    finally:
        process.terminate()
        process.wait(timeout=10)


def get(address: str, port: int, path: str, host: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection(address, port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def _project(folder: Path) -> Path:
    config = write_config(folder)
    write_article(folder / "articles", "alpha", title="Alpha Robots Learn To Walk", quality=90)
    return config


@needs_ipv6
@pytest.mark.parametrize("host", ["::1", "[::1]"])
def test_the_preview_answers_on_the_ipv6_loopback(tmp_path, host):
    _project(tmp_path)
    with command(tmp_path, "preview", "--date", SLUG, "--host", host, "--port", "0") \
            as (port, path):
        assert path == "/"
        status, page = get("::1", port, f"/draft/{SLUG}/", f"[::1]:{port}")
    assert status == 200 and "Alpha Robots Learn To Walk" in page


@needs_ipv6
@pytest.mark.parametrize("host", ["::1", "::"])
def test_serve_answers_on_ipv6_addresses(tmp_path, host):
    """``::`` is every address, IPv4 ones included (as 0.0.0.0 is every IPv4 one)."""
    sample_site(tmp_path)
    with command(tmp_path, "serve", "--host", host, "--port", "0", "--no-send") \
            as (port, path):
        status, page = get("::1", port, path, f"[::1]:{port}")
        assert status == 200 and "<html" in page
        if host == "::":
            assert get("127.0.0.1", port, path, f"127.0.0.1:{port}")[0] == 200


def resolving(monkeypatch: pytest.MonkeyPatch, name: str, *addresses: str) -> None:
    """``name`` resolves to ``addresses``, in that order; other names as they do."""
    real = socket.getaddrinfo

    def resolve(host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002 - socket's names
        if host != name:
            return real(host, port, family, type, proto, flags)
        number = int(port or 0)
        found = [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, number, 0, 0)) if ":" in ip
                 else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, number))
                 for ip in addresses]
        return [info for info in found if family in (0, info[0])]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


@pytest.fixture
def localhost_on_both(monkeypatch: pytest.MonkeyPatch) -> None:
    """``localhost`` resolves to ::1 and 127.0.0.1, as with the usual two lines of
    /etc/hosts (whatever this machine's say)."""
    resolving(monkeypatch, "localhost", "::1", "127.0.0.1")


@needs_ipv6
def test_a_name_with_ipv4_and_ipv6_addresses_is_served_on_both(tmp_path, monkeypatch,
                                                               localhost_on_both):
    """Browsers try a name's IPv6 address first: listening on one family only leaves them
    waiting on the other, or failing."""
    sample_site(tmp_path)
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)
    config = load_config(tmp_path / "newsletter.yaml")
    server = make_server(config, "localhost", 0, log_requests=False, send_mail=False)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        address = site_address(server, config)
        assert address == f"http://localhost:{port}/ai/"
        for ip in ("127.0.0.1", "::1"):
            status, page = get(ip, port, "/ai/", f"localhost:{port}")
            assert status == 200 and "<html" in page, ip
    finally:
        server.shutdown()
        server.server_close()
    thread.join(timeout=10)
    assert not thread.is_alive()
    for family, ip in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        with socket.socket(family) as probe:  # closed: the port is free on both again
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((ip, port))

    (tmp_path / "preview").mkdir()
    with PreviewServer(_project(tmp_path / "preview"), host="localhost", port=0,
                       default_date=dt.date.fromisoformat(SLUG)) as preview:
        assert preview.url.startswith("http://localhost:")
        port = int(preview.url.rsplit(":", 1)[1])
        for ip in ("127.0.0.1", "::1"):
            status, page = get(ip, port, f"/draft/{SLUG}/", f"localhost:{port}")
            assert status == 200 and "Alpha Robots Learn To Walk" in page, ip


def test_a_names_address_that_is_not_this_machines_is_left_out(tmp_path, monkeypatch):
    """(Like ::1 where IPv6 is turned off.) The other addresses are served; with none left,
    the reason is the error."""
    sample_site(tmp_path)
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)
    config = load_config(tmp_path / "newsletter.yaml")
    resolving(monkeypatch, "partly.test", "192.0.2.1", "127.0.0.1")
    server = make_server(config, "partly.test", 0, log_requests=False, send_mail=False)
    try:
        assert server.server_address[0] == "127.0.0.1" and server.siblings == ()
    finally:
        server.server_close()
    resolving(monkeypatch, "elsewhere.test", "192.0.2.1", "198.51.100.1")
    with pytest.raises(NewsletterError, match=r"cannot listen on elsewhere.test:0: "
                       r"elsewhere.test \(192.0.2.1, 198.51.100.1\) is not an address of "
                       r"this machine; choose one"):
        make_server(config, "elsewhere.test", 0, log_requests=False, send_mail=False)


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.parametrize("name", ["preview", "serve"])
def test_a_port_in_use_says_so_and_asks_for_another_port(tmp_path, monkeypatch, taken_port,
                                                         name):
    _project(tmp_path)
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)
    options = ["--no-send"] if name == "serve" else []
    result = run(tmp_path, name, "--host", "127.0.0.1", "--port", str(taken_port), *options)
    assert result.exit_code == 1
    assert (f"Error: cannot listen on 127.0.0.1:{taken_port}: the port is in use"
            in result.output)
    assert "choose another with --port" in result.output


@pytest.mark.parametrize("name", ["preview", "serve"])
@pytest.mark.parametrize(("host", "reason"), [
    ("192.0.2.1", "192.0.2.1 is not an address of this machine; choose one with --host"),
    ("no-such-host.invalid", "the host name 'no-such-host.invalid' does not resolve"),
])
def test_an_address_that_cannot_be_used_is_named_not_the_port(tmp_path, monkeypatch, name,
                                                              host, reason):
    _project(tmp_path)
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)
    options = ["--no-send"] if name == "serve" else []
    result = run(tmp_path, name, "--host", host, "--port", "0", *options)
    assert result.exit_code == 1
    assert f"Error: cannot listen on {host}:0: {reason}" in result.output
    assert "--port" not in result.output and "Traceback" not in result.output
