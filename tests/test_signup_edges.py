"""Edges of the readers' pages and lists: a form stuffed with fields is refused, not a server
error; the unsubscribe page, reached by a link that every message's headers carry, shows only
enough of the address for its owner to know it, and asks to try again (503) when the state is
locked; importing an address still waiting for its confirmation keeps that signup alive; the
hourly limit counts an IPv6 client by its /64; the form typed with a subscriber's address
changes none of their choices and welcomes them again within the limits; choices changed
before confirming are the ones confirmed; the mail queue sends in order, keeps a welcome
through days of a dead server and gives a confirmation up after its rounds; ticking every
topic is every topic."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from urllib.parse import urlencode

import pytest

from conftest import SECRET
from newsletter.delivery.mailqueue import build_notice
from newsletter.delivery.signups import Confirmed, confirm, key_of, record_signup
from newsletter.delivery.subscribers import list_subscribers
from newsletter.delivery.tokens import make_token, read_secret
from newsletter.state import sqlite as sqlite_state
from newsletter.state.database import state_path
from sending_support import add_people
from signup_support import FORM, Reader, age, behind_a_proxy, configure, queue
from smtp_support import FAST, Recorder, free_port, smtp_server
from web_support import serving

pytestmark = pytest.mark.usefixtures("secret")  # NEWSLETTER_SECRET: readers' links are signed


def test_a_form_with_too_many_fields_is_refused_and_the_site_goes_on(site: Path,
                                                                     tmp_path: Path) -> None:
    config = configure(site, tmp_path, 1)
    with serving(config) as http_port:
        reader = Reader(http_port)
        token = reader.form_token()
        stuffed = [("email", "a@example.org"), ("form_token", token)] + [("t", "x")] * 199
        body = urlencode(stuffed).encode()
        assert len(body) < 16 * 1024  # within the size limit: the count of fields refuses it
        status, _, page = reader.request("POST", "/ai/subscribe", body=body,
                                         headers={"Content-Type": FORM})
        assert status == 400, page
        assert reader.get("/ai/subscribe")[0] == 200
    assert list_subscribers(config) == []


def test_the_unsubscribe_page_shows_only_a_hint_of_the_address(site: Path,
                                                               tmp_path: Path) -> None:
    config = configure(site, tmp_path, 1)
    add_people(config, tmp_path, ["ada.lovelace@example.org,,"])
    token = make_token(SECRET.encode(), "unsubscribe", key_of(config, "ada.lovelace@example.org"))
    with serving(config) as http_port:
        reader = Reader(http_port)
        status, _, page = reader.get(f"/ai/unsubscribe?token={token}")
        assert status == 200 and "a…@example.org".encode() in page
        assert b"ada.lovelace" not in page
        status, _, page = reader.post(f"/ai/unsubscribe?token={token}",
                                      [("List-Unsubscribe", "One-Click")])
        assert status == 200 and b"ada.lovelace" not in page
    assert [s.status for s in list_subscribers(config)] == ["unsubscribed"]


def test_importing_an_address_awaiting_confirmation_keeps_its_signup(site: Path,
                                                                     tmp_path: Path) -> None:
    config = configure(site, tmp_path, 1)
    now = dt.datetime.now(dt.UTC)
    secret_key = read_secret(config)
    record_signup(config, secret_key, address="ada@example.org", name="", topics=(),
                  client="192.0.2.1", at=now)
    add_people(config, tmp_path, ["ada@example.org,Ada Lovelace,"])  # still pending
    [ada] = list_subscribers(config)
    assert (ada.email, ada.name, ada.status) == ("ada@example.org", "Ada Lovelace", "pending")
    assert build_notice(config, secret_key, "confirm", "ada@example.org", now) is not None
    assert confirm(config, key_of(config, "ada@example.org"), now) == Confirmed.CONFIRMED
    assert [s.status for s in list_subscribers(config)] == ["active"]


def test_the_hourly_limit_counts_an_ipv6_client_by_its_network(site: Path,
                                                               tmp_path: Path) -> None:
    """A line's /64 is one client: its owner may pick any address in it, so counting single
    addresses would make the limit no limit."""
    with behind_a_proxy(site, tmp_path) as signups_from:
        line = [f"2001:db8:1:2::{i + 1:x}" for i in range(4)]
        assert signups_from(line) == [200, 200, 429, 429]
        # another line; an IPv4 client, then the same written as IPv6 (twice)
        assert signups_from(["2001:db8:1:3::1", "192.0.2.9", "::ffff:192.0.2.9",
                             "::ffff:c000:209"]) == [200, 200, 200, 429]



def test_a_one_click_unsubscribe_while_the_state_is_locked_asks_to_try_again(
        site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a 500: a mail client may try a 503 again, and the page says nothing changed."""
    monkeypatch.setattr(sqlite_state, "BUSY_TIMEOUT_MS", 200)
    config = configure(site, tmp_path, 1)
    add_people(config, tmp_path, ["ada@example.org,,"])
    token = make_token(SECRET.encode(), "unsubscribe", key_of(config, "ada@example.org"))
    with serving(config) as http_port:
        reader = Reader(http_port)
        holder = sqlite3.connect(state_path(config), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process writing, for longer than we wait
        try:
            status, headers, page = reader.post(f"/ai/unsubscribe?token={token}",
                                                [("List-Unsubscribe", "One-Click")])
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert status == 503 and headers["Retry-After"] == "60", page
        assert b"nothing was changed" in page
        assert [s.status for s in list_subscribers(config)] == ["active"]
        status, _, page = reader.post(f"/ai/unsubscribe?token={token}",
                                      [("List-Unsubscribe", "One-Click")])
        assert status == 200
    assert [s.status for s in list_subscribers(config)] == ["unsubscribed"]


def test_posts_for_an_active_address_queue_one_welcome_and_change_nothing(
        site: Path, tmp_path: Path) -> None:
    """Anyone may type a subscriber's address into the form: the subscriber gets their
    welcome again (once within the resend interval, three times a day at most, like a
    confirmation), and neither their name nor their topics change."""
    config = configure(site, tmp_path, 1, per_ip_per_hour=100, resend_minutes=1)
    add_people(config, tmp_path, ["ada@example.org,Ada,AI"])
    with serving(config) as http_port:
        reader = Reader(http_port)
        token = reader.form_token()
        for _ in range(10):
            assert reader.subscribe("ada@example.org", name="Mallory", topics=("Robotics",),
                                    token=token)[0] == 200
        assert queue(config) == [("welcome", "ada@example.org", "queued")]
        for _ in range(4):
            age(config, minutes=2)  # the resend interval has passed
            assert reader.subscribe("ada@example.org", name="Mallory")[0] == 200
    assert [kind for kind, _, _ in queue(config)] == ["welcome"] * 3
    [ada] = list_subscribers(config)
    assert (ada.name, ada.topics, ada.status) == ("Ada", ("AI",), "active")


def test_choices_changed_before_confirming_are_the_ones_confirmed(site: Path,
                                                                  tmp_path: Path) -> None:
    """A reader who goes back to the form and changes name and topics before confirming
    (no second email within the resend interval) is subscribed with the new ones."""
    config = configure(site, tmp_path, 1)
    with serving(config) as http_port:
        reader = Reader(http_port)
        assert reader.subscribe("bea@example.org", name="Bea", topics=("AI",))[0] == 200
        assert reader.subscribe("bea@example.org", name="Bea Brown",
                                topics=("Robotics",))[0] == 200
        [bea] = list_subscribers(config)
        assert (bea.name, bea.topics, bea.status) == ("Bea Brown", ("Robotics",), "pending")
        assert confirm(config, key_of(config, "bea@example.org") or "",
                       dt.datetime.now(dt.UTC)) is Confirmed.CONFIRMED
    [bea] = list_subscribers(config)
    assert (bea.name, bea.topics, bea.status) == ("Bea Brown", ("Robotics",), "active")



def test_the_queue_sends_in_order_and_keeps_a_welcome_through_days_of_a_dead_server(
        site: Path, tmp_path: Path) -> None:
    """The confirmation emails go out in the order the readers signed up; a welcome the
    SMTP server could not take for three days still goes when it can; with the server
    unreachable, a round stops at the first email, and that confirmation is given up after
    MAX_ATTEMPTS rounds, not retried for ever."""
    from newsletter.delivery.mailqueue import MAX_ATTEMPTS, send_pending

    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = configure(site, tmp_path, port, per_ip_per_hour=100)
        add_people(config, tmp_path, ["ada@example.org,Ada,"])
        with serving(config) as http_port:
            reader = Reader(http_port)
            for address in ("c@example.org", "a@example.org", "b@example.org"):
                assert reader.subscribe(address)[0] == 200
        send_pending(config, log=lambda line: None, retry=FAST)
        assert [address for address, _ in recorder.messages] == [
            "c@example.org", "a@example.org", "b@example.org"]

        with serving(config) as http_port:
            assert Reader(http_port).subscribe("ada@example.org")[0] == 200
        age(config, minutes=3 * 24 * 60)  # the server could not take it for three days
        report = send_pending(config, log=lambda line: None, retry=FAST)
    assert report.sent == ["ada@example.org"], report
    assert recorder.messages[-1][0] == "ada@example.org"

    (tmp_path / "dead").mkdir()
    dead = configure(site, tmp_path / "dead", free_port())
    with serving(dead) as http_port:
        reader = Reader(http_port)
        assert reader.subscribe("dan@example.org")[0] == 200
        assert reader.subscribe("eve@example.org")[0] == 200  # not tried: the server is down
    for round_ in range(1, MAX_ATTEMPTS + 1):
        with sqlite3.connect(state_path(dead)) as db:  # the retry is due
            db.execute("UPDATE mail_queue SET due_at = '2000-01-01T00:00:00+00:00'")
        report = send_pending(dead, log=lambda line: None, retry=FAST)
        given_up = round_ == MAX_ATTEMPTS
        assert (report.failed, report.retrying) == (
            (["dan@example.org"], []) if given_up else ([], ["dan@example.org"])), round_
    assert queue(dead) == [("confirm", "dan@example.org", "failed"),
                           ("confirm", "eve@example.org", "queued")]


def test_choosing_every_topic_is_every_topic_a_later_one_included(site: Path,
                                                                  tmp_path: Path) -> None:
    """Ticking every topic, on the form or on the preferences page, is stored as every
    topic (not as today's list): a topic the editor adds later reaches that reader too."""
    config = configure(site, tmp_path, 1)
    every = ("AI", "Robotics", "Chips")
    with serving(config) as http_port:
        reader = Reader(http_port)
        assert reader.subscribe("bea@example.org", topics=every)[0] == 200
        [bea] = list_subscribers(config)
        assert (bea.topics, bea.status) == ((), "pending")
        add_people(config, tmp_path, ["ada@example.org,Ada,AI"])
        token = make_token(SECRET.encode(), "preferences", key_of(config, "ada@example.org"))
        path = f"/ai/preferences?token={token}"
        status, _, _ = reader.post(path, [("action", "save"), ("name", "Ada")]
                                   + [("topics", topic) for topic in every], follow=False)
        assert status == 303
    topics = {s.email: s.topics for s in list_subscribers(config)}
    assert topics == {"ada@example.org": (), "bea@example.org": ()}


def test_the_pages_of_a_reader_who_left_or_came_back_say_where_they_stand(
        site: Path, tmp_path: Path) -> None:
    """The confirmation link of a reader who has left since says it has expired, not
    "Thank you"; the "you are unsubscribed" address (``&left``) opened while subscribed
    (again, or never gone) shows the reader's preferences, not that they left."""
    from newsletter.delivery.signups import unsubscribe

    config = configure(site, tmp_path, 1)
    add_people(config, tmp_path, ["ada@example.org,Ada,"])
    key = key_of(config, "ada@example.org") or ""
    now = dt.datetime.now(dt.UTC)
    confirming = make_token(SECRET.encode(), "confirm", key, int(now.timestamp()))
    confirm_link = f"/ai/confirm?token={confirming}"
    left_link = f"/ai/preferences?token={make_token(SECRET.encode(), 'preferences', key)}&left"
    with serving(config) as http_port:
        reader = Reader(http_port)
        status, _, page = reader.get(left_link)
        assert status == 200 and b"Your preferences" in page, page
        unsubscribe(config, now, key=key)
        status, _, page = reader.get(confirm_link)
        assert status == 410 and b"This link has expired" in page, page
        status, _, page = reader.get(left_link)
        assert status == 200 and b"You are unsubscribed" in page, page
