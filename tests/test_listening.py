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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import PROJECT, run, sample_site, write_article, write_config

SLUG = dt.date(2021, 2, 22).isoformat()
SECRET = "test-secret-0123456789-abcdefghij"
URL = re.compile(r"http://(\[[^\]]+\]|[^:/\s]+):(\d+)(/\S*)")


def _has_ipv6_loopback() -> bool:
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
