"""The production entry point, ``newsletter.web.wsgi:application``, under a real WSGI server
(waitress, as the README shows it behind a reverse proxy): the whole signup flow, from the
form to the unsubscribe, with the server's own process sending the confirmation and welcome
emails to a real SMTP server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
import yaml

from conftest import PROJECT, SECRET, run
from signup_support import DATES, sections, statuses, three_topic_site
from smtp_support import Recorder, free_port, parse, parts, smtp_server
from web_support import Client

pytest.importorskip("waitress", reason="waitress is a test dependency: pip install -e '.[test]'")

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def start_waitress(config_path: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "NEWSLETTER_CONFIG": str(config_path), "NEWSLETTER_SECRET": SECRET,
           "PYTHONPATH": str(PROJECT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen(
        [sys.executable, "-m", "waitress", "--listen", f"127.0.0.1:{port}", "--threads", "4",
         # as behind the README's reverse proxy: waitress takes the client's address from the
         # header the proxy on 127.0.0.1 adds, and hands it over as REMOTE_ADDR
         "--trusted-proxy", "127.0.0.1", "--trusted-proxy-headers", "x-forwarded-for",
         "newsletter.web.wsgi:application"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while True:
        try:
            if Client(port).get("/ai/")[0] == 200:
                return process
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(process.communicate()[0].decode())
        time.sleep(0.1)


def mail_for(recorder: Recorder, address: str, count: int, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while recorder.count()[address] < count:
        assert time.monotonic() < deadline, f"email {count} for {address} never came"
        time.sleep(0.05)
    return [parse(raw) for to, raw in recorder.messages if to == address][count - 1]


def path_of(message, route: str) -> str:
    match = re.search(rf"https://news\.example\.org(/ai/{route}\?token=[A-Za-z0-9_.-]+)",
                      parts(message)[0])
    assert match, f"no {route} link"
    return match.group(1)


def test_the_whole_flow_under_waitress(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)
    recorder = Recorder()
    with smtp_server(recorder) as smtp_port:
        config = three_topic_site(tmp_path, smtp_port)
        data = yaml.safe_load(config.path.read_text("utf-8"))
        data["subscribe"] = {"per_ip_per_hour": 5}  # trust_proxy: false, waitress does it
        config.path.write_text(yaml.safe_dump(data), "utf-8")
        port = free_port()
        server = start_waitress(config.path, port)
        try:
            client = Client(port)
            status, _, page = client.get("/ai/subscribe")
            assert status == 200
            token = re.search(rb'name="form_token" value="([^"]+)"', page).group(1).decode()
            body = urlencode([("email", "ada@example.org"), ("form_token", token),
                              ("website", ""), ("topics", "AI"), ("topics", "Robotics")])
            started = time.monotonic()
            status, _, page = client.request("POST", "/ai/subscribe", body=body.encode(),
                                             headers=FORM)
            assert status == 200 and b"Check your inbox" in page
            assert time.monotonic() - started < 2  # the mail leaves from the queue

            confirmation = mail_for(recorder, "ada@example.org", 1)
            confirm = path_of(confirmation, "confirm")
            assert client.get(confirm)[0] == 200  # a scanner's GET
            assert statuses(config) == {"ada@example.org": "pending"}
            assert client.request("POST", confirm, body=b"", headers=FORM)[0] == 200
            assert statuses(config) == {"ada@example.org": "active"}
            welcome = mail_for(recorder, "ada@example.org", 2)
            assert welcome["Subject"] == "Welcome to AI Weekly"

            assert run(tmp_path, "send", DATES[0].isoformat()).exit_code == 0
            issue = mail_for(recorder, "ada@example.org", 3)
            assert sections(issue) == {"AI", "Robotics"}
            preferences = path_of(issue, "preferences")
            status, _, _ = client.request("POST", preferences, body=urlencode(
                [("topics", "AI"), ("action", "save")]).encode(), headers=FORM)
            assert status == 200
            assert run(tmp_path, "send", DATES[1].isoformat()).exit_code == 0
            assert sections(mail_for(recorder, "ada@example.org", 4)) == {"AI"}

            unsubscribe = re.search(r"<https://news\.example\.org(/ai/unsubscribe\?[^>]+)>",
                                    issue["List-Unsubscribe"]).group(1)
            assert client.request("POST", unsubscribe, body=b"List-Unsubscribe=One-Click",
                                  headers=FORM)[0] == 200
            assert run(tmp_path, "send", DATES[2].isoformat()).exit_code == 0
            assert recorder.count()["ada@example.org"] == 4

            # behind the proxy, the limit counts the client the proxy names
            codes = []
            for i in range(7):
                body = urlencode([("email", f"x{i}@example.org"), ("form_token", token)])
                codes.append(client.request("POST", "/ai/subscribe", body=body.encode(),
                                            headers={**FORM, "X-Forwarded-For": "192.0.2.9"}
                                            )[0])
            assert codes == [200] * 5 + [429] * 2
            body = urlencode([("email", "y@example.org"), ("form_token", token)])
            assert client.request("POST", "/ai/subscribe", body=body.encode(), headers={
                **FORM, "X-Forwarded-For": "192.0.2.10"})[0] == 200
        finally:
            server.terminate()
            output = server.communicate(timeout=20)[0].decode()
    assert token not in output and "token=" not in output, output
