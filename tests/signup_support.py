"""A reader of the signup form in a test, and what the signup tests read back.

``configure`` gives a test a project sending the published site of sending_support through
an SMTP port, with ``subscribe`` settings; ``Reader`` is a browser without JavaScript that
GETs the form and POSTs it (``FORM`` the type it posts); ``behind_a_proxy`` serves a site
that limits signups per client, behind a proxy or not. ``wait_for`` waits for the messages
an SMTP server received, ``link`` reads a route's link out of one; ``statuses``, ``queue``
and ``age`` read the subscribers and the mail queue and move their times back.
``three_topic_site`` publishes three weekly issues (``DATES``) under the three ``TOPICS``,
and ``sections`` says which of them a message holds. The ``world`` fixture (serve with its
mail sender and an SMTP server) is in conftest.py.

A module of its own, not a test module, so that the signup, front-door, mailbox, WSGI and
browser tests sign readers up the same way whatever order pytest collects them in.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlencode

from conftest import run, write_article, write_config
from newsletter.core.config import Config, load_config
from newsletter.delivery.subscribers import list_subscribers
from newsletter.state.database import state_path
from sending_support import TOPICS, project
from smtp_support import Recorder, parse, parts
from web_support import Client, serving

FORM = "application/x-www-form-urlencoded"


def configure(site: Path, folder: Path, port: int, **subscribe: object) -> Config:
    path = project(site, folder, port)
    if subscribe:
        import yaml

        data = yaml.safe_load(path.read_text("utf-8"))
        data["subscribe"] = subscribe
        path.write_text(yaml.safe_dump(data), "utf-8")
    return load_config(path)


class Reader(Client):
    """A browser without JavaScript: GETs the form, POSTs it, follows links from mail."""

    def form_token(self) -> str:
        status, _, page = self.get("/ai/subscribe")
        assert status == 200
        match = re.search(rb'name="form_token" value="([^"]+)"', page)
        assert match
        return match.group(1).decode()

    def post(self, path: str, fields: list[tuple[str, str]], kind: str = FORM, *,
             follow: bool = True, **headers: str) -> tuple[int, dict[str, str], bytes]:
        return self.request("POST", path, body=urlencode(fields).encode(),
                            headers={"Content-Type": kind, **{k.replace("_", "-"): v
                                                              for k, v in headers.items()}},
                            follow=follow)

    def subscribe(self, email: str, *, topics: tuple[str, ...] = (), name: str = "",
                  token: str | None = None, follow: bool = True, **headers: str
                  ) -> tuple[int, dict[str, str], bytes]:
        fields = [("email", email), ("name", name), ("form_token", token or self.form_token()),
                  ("website", "")] + [("topics", t) for t in topics]
        return self.post("/ai/subscribe", fields, follow=follow, **headers)


def wait_for(recorder: Recorder, count: int, timeout: float = 15) -> list[EmailMessage]:
    deadline = time.monotonic() + timeout
    while len(recorder.messages) < count:
        assert time.monotonic() < deadline, f"{len(recorder.messages)} of {count} emails came"
        time.sleep(0.02)
    return [parse(raw) for _, raw in recorder.messages]


def link(message: EmailMessage, route: str) -> str:
    match = re.search(rf"https://news\.example\.org(/ai/{route}\?token=[A-Za-z0-9_.-]+)",
                      parts(message)[0])
    assert match, f"no {route} link"
    return match.group(1)


def statuses(config: Config) -> dict[str, str]:
    return {s.email: s.status for s in list_subscribers(config)}


def queue(config: Config) -> list[tuple[str, str, str]]:
    with sqlite3.connect(state_path(config)) as db:
        return db.execute("SELECT kind, email, status FROM mail_queue ORDER BY id").fetchall()


def age(config: Config, minutes: float) -> None:
    """Move every recorded time of the queue and the signups back (time passes)."""
    def earlier(stamp: str | None) -> str | None:
        if stamp is None:
            return None
        return (dt.datetime.fromisoformat(stamp) - dt.timedelta(minutes=minutes)).isoformat()

    with sqlite3.connect(state_path(config)) as db:
        db.create_function("earlier", 1, earlier)
        db.execute("UPDATE mail_queue SET created_at = earlier(created_at), "
                   "due_at = earlier(due_at)")
        db.execute("UPDATE subscribers SET requested_at = earlier(requested_at)")
        db.execute("UPDATE signup_hits SET at = earlier(at)")


@contextmanager
def behind_a_proxy(site: Path, tmp_path: Path, trust_proxy: bool = True
                   ) -> Iterator[Callable[[list[str]], list[int]]]:
    """A site behind a trusted proxy (or not), two signups an hour per client: a function
    posting one signup (a new address each) per X-Forwarded-For value given, and returning
    the codes."""
    config = configure(site, tmp_path, 1, per_ip_per_hour=2, trust_proxy=trust_proxy)
    with serving(config) as http_port:
        reader = Reader(http_port)
        token = reader.form_token()
        numbers = itertools.count()
        yield lambda hops: [reader.subscribe(f"c{next(numbers)}@example.org", token=token,
                                             X_Forwarded_For=hop)[0] for hop in hops]


DATES = [dt.date(2021, 2, 22), dt.date(2021, 3, 1), dt.date(2021, 3, 8)]


def three_topic_site(folder: Path, smtp_port: int) -> Config:
    """Three published weekly issues, each with articles under all three topics."""
    path = write_config(folder, topics=TOPICS, smtp={"host": "127.0.0.1", "port": smtp_port},
                        state_dir=str(folder / "state"))
    for date in DATES:
        when = dt.datetime.combine(date - dt.timedelta(days=3), dt.time(12), dt.UTC)
        for topic in TOPICS:
            write_article(folder / "articles", f"{date}-{topic.lower()}", topics=[topic],
                          publishedDateTime=when, title=f"{topic} story of {date}")
        result = run(folder, "build", "--date", date.isoformat(), "--publish")
        assert result.exit_code == 0, result.output
    return load_config(path)


def sections(message) -> set[str]:
    text = parts(message)[0]
    return {topic for topic in TOPICS if f"{topic} story" in text}
