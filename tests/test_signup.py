"""Readers sign up, confirm, change their preferences and leave, over real HTTP against
``newsletter serve``, with a real SMTP server (aiosmtpd) on 127.0.0.1 receiving the
confirmation, welcome and issue emails. The abuse cases of an open signup form: list
bombing, one client flooding the form, bots, mail scanners, forged or misused links."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from conftest import SECRET, run, write_config
from newsletter.core.config import load_config
from newsletter.delivery.mailqueue import send_pending
from newsletter.delivery.send import send_issue
from newsletter.delivery.signups import key_of
from newsletter.delivery.subscribers import list_subscribers
from newsletter.delivery.tokens import make_token
from newsletter.state.database import state_path
from sending_support import ISSUE, NEXT_ISSUE, add_people
from signup_support import (
    FORM,
    Reader,
    age,
    behind_a_proxy,
    configure,
    link,
    queue,
    statuses,
    wait_for,
)
from smtp_support import FAST, Recorder, free_port, parse, parts, smtp_server
from web_support import serving

pytestmark = pytest.mark.usefixtures("secret")  # NEWSLETTER_SECRET: readers' links are signed


# -- the flow ------------------------------------------------------------------------------------

def test_signup_confirm_welcome_and_the_consent_record(world, site: Path,
                                                       tmp_path: Path) -> None:
    config, reader, recorder = world
    status, headers, page = reader.get("/ai/subscribe")
    assert status == 200 and headers["Cache-Control"] == "no-store"
    for field in (b'name="email"', b'name="name"', b'name="topics" value="AI"',
                  b'name="topics" value="Robotics"', b'name="form_token"', b'name="website"'):
        assert field in page
    assert b"<script" not in page and "script-src" not in headers["Content-Security-Policy"]

    status, _, page = reader.subscribe("Ada@Example.ORG", topics=("AI", "Robotics"),
                                       name="Ada BUY CHEAP PILLS at spam.example")
    assert status == 200 and b"Check your inbox" in page
    assert b"ada" not in page.lower() and b"form_token" not in page
    [confirmation] = wait_for(recorder, 1)
    assert recorder.messages[0][0] == "Ada@example.org"
    assert confirmation["To"] == "Ada@example.org"  # the bare address
    assert confirmation["Subject"] == "Confirm your subscription to AI Weekly"
    text, html = parts(confirmation)
    for part in (text, html, str(confirmation)):
        assert "PILLS" not in part and "spam.example" not in part
    assert statuses(config) == {"Ada@example.org": "pending"}
    listed = run(tmp_path, "subscribers", "list").output.splitlines()
    assert any(line.startswith("Ada@example.org\tpending") for line in listed)

    confirm = link(confirmation, "confirm")
    status, headers, page = reader.get(confirm)  # what a mail scanner does
    assert status == 200 and b"<button" in page and b'method="post"' in page
    script = re.search(rb"<script>(.*?)</script>", page, re.S)
    assert script and b"submit()" in script.group(1)
    assert "script-src 'sha256-" in headers["Content-Security-Policy"]
    assert statuses(config) == {"Ada@example.org": "pending"}  # a GET confirms nobody

    status, _, page = reader.post(confirm, [])
    assert status == 200 and b"You are subscribed" in page
    assert b'href="https://news.example.org/ai/2021-03-01/"' in page  # the latest issue
    [ada] = list_subscribers(config)
    assert ada.status == "active" and ada.source == "form" and ada.topics == ("AI", "Robotics")
    assert ada.confirmed_at is not None
    assert abs(dt.datetime.fromisoformat(ada.confirmed_at) - dt.datetime.now(dt.UTC)) \
        < dt.timedelta(minutes=1)
    assert reader.post(confirm, [])[0] == 200  # a second click: still fine

    welcome = wait_for(recorder, 2)[1]
    assert welcome["Subject"] == "Welcome to AI Weekly"
    assert "https://news.example.org/ai/2021-03-01/" in parts(welcome)[0]
    preferences = link(welcome, "preferences")
    status, _, page = reader.get(preferences)
    assert status == 200 and b"Ada@example.org" in page
    time.sleep(0.3)
    assert len(recorder.messages) == 2  # one confirmation, one welcome: nothing else


def test_routes_404_when_signups_are_disabled(site: Path, tmp_path: Path) -> None:
    config = configure(site, tmp_path, 1, enabled=False)
    with serving(config) as port:
        client = Reader(port)
        for path in ("/ai/subscribe", "/ai/confirm?token=x", "/ai/preferences?token=x"):
            assert client.get(path)[0] == 404
            assert client.post(path, [("email", "a@example.org")])[0] == 404


def test_pending_subscribers_never_get_an_issue_and_expire(site: Path, tmp_path: Path) -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = configure(site, tmp_path, port, confirm_hours=1)
        with serving(config) as http_port:  # no sender: the queue stays as it is
            reader = Reader(http_port)
            assert reader.subscribe("pat@example.org")[0] == 200
        add_people(config, tmp_path, ["old@example.org,,"])
        report = send_issue(config, ISSUE, log=lambda line: None, retry=FAST)
        assert report.sent == ["old@example.org"]
        assert statuses(config)["pat@example.org"] == "pending"

        with sqlite3.connect(state_path(config)) as db:  # two hours pass
            db.execute("UPDATE subscribers SET requested_at = '2000-01-01T00:00:00+00:00' "
                       "WHERE email = 'pat@example.org'")
        assert "pat@example.org" not in statuses(config)  # hidden at once
        result = run(tmp_path, "send-pending")
        assert result.exit_code == 0, result.output
        assert "0 sent" in result.output and recorder.count()["pat@example.org"] == 0
        with sqlite3.connect(state_path(config)) as db:  # and purged
            assert db.execute("SELECT count(*) FROM subscribers WHERE email = "
                              "'pat@example.org'").fetchone() == (0,)


# -- abuse ---------------------------------------------------------------------------------------

def test_fifty_posts_for_one_address_send_one_confirmation(site: Path, tmp_path: Path) -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = configure(site, tmp_path, port, per_ip_per_hour=100)
        with serving(config) as http_port:
            reader = Reader(http_port)
            token = reader.form_token()
            answers = {reader.subscribe("victim@example.org", token=token)[2]
                       for _ in range(50)}
        assert len(answers) == 1
        report = send_pending(config, log=lambda line: None, retry=FAST)
    assert report.sent == ["victim@example.org"]
    assert recorder.count() == {"victim@example.org": 1}


def test_three_confirmations_a_day_at_most(site: Path, tmp_path: Path) -> None:
    config = configure(site, tmp_path, 1, resend_minutes=1)
    with serving(config) as http_port:
        reader = Reader(http_port)
        for _ in range(6):
            assert reader.subscribe("victim@example.org")[0] == 200
            age(config, minutes=2)  # the resend interval has passed
    assert [kind for kind, _, _ in queue(config)] == ["confirm"] * 3


def test_spellings_of_one_mailbox_share_its_confirmation_limits(site: Path,
                                                                tmp_path: Path) -> None:
    """Case and a +tag make other addresses but reach one inbox: the limits count the
    mailbox, while each confirmation goes to the address as it was typed."""
    config = configure(site, tmp_path, 1, resend_minutes=1)
    with serving(config) as http_port:
        reader = Reader(http_port)
        assert reader.subscribe("Ada@example.org")[0] == 200
        assert reader.subscribe("ada@EXAMPLE.org")[0] == 200  # within the resend interval
        for spelling in ("ada+1@example.org", "ADA+news@Example.org", "ada@example.org",
                         "a.da@example.org"):
            age(config, minutes=2)  # the resend interval has passed
            assert reader.subscribe(spelling)[0] == 200
    assert queue(config) == [("confirm", "Ada@example.org", "queued"),
                             ("confirm", "ada+1@example.org", "queued"),
                             ("confirm", "ADA+news@example.org", "queued"),
                             ("confirm", "a.da@example.org", "queued")]  # another mailbox
    assert set(statuses(config)) == {"Ada@example.org", "ada+1@example.org",
                                     "ADA+news@example.org", "a.da@example.org"}


def test_one_client_gets_twenty_signups_an_hour_then_429(site: Path, tmp_path: Path) -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = configure(site, tmp_path, port)
        with serving(config) as http_port:
            reader = Reader(http_port)
            token = reader.form_token()
            codes = [reader.subscribe(f"v{i}@example.org", token=token)[0] for i in range(100)]
            assert codes == [200] * 20 + [429] * 80
            status, headers, page = reader.subscribe("late@example.org", token=token)
            assert status == 429 and headers["Retry-After"] == "3600"
            assert b"Too many" in page
        report = send_pending(config, log=lambda line: None, retry=FAST)
    assert len(report.sent) == 20 and len(recorder.messages) == 20
    assert "v20@example.org" not in statuses(config)


def test_the_limit_follows_the_proxys_last_hop_only_when_trusted(site: Path,
                                                                 tmp_path: Path) -> None:
    with behind_a_proxy(site, tmp_path) as signups_from:
        # a client forging the first hops is still counted by the hop the proxy added
        assert signups_from([f"10.0.0.{i}, 192.0.2.7" for i in range(4)]) == [200, 200, 429, 429]
        assert signups_from(["192.0.2.8"]) == [200]
    untrusted = tmp_path / "untrusted"
    untrusted.mkdir()
    with behind_a_proxy(site, untrusted, trust_proxy=False) as signups_from:
        # without a proxy to trust, whatever X-Forwarded-For says, the client is its address
        assert signups_from(["192.0.2.7", "192.0.2.8", "192.0.2.9"]) == [200, 200, 429]


def test_the_honeypot_sends_nothing_and_stores_nothing(site: Path, tmp_path: Path) -> None:
    config = configure(site, tmp_path, 1)
    with serving(config) as http_port:
        reader = Reader(http_port)
        honest = reader.subscribe("someone@example.org")
        bot = reader.post("/ai/subscribe", [("email", "bot@example.org"),
                                            ("form_token", reader.form_token()),
                                            ("website", "http://spam.example")])
    assert bot[0] == honest[0] == 200 and bot[2] == honest[2]
    assert list(statuses(config)) == ["someone@example.org"]
    assert [email for _, email, _ in queue(config)] == ["someone@example.org"]
    with sqlite3.connect(state_path(config)) as db:
        assert db.execute("SELECT count(*) FROM signup_hits").fetchone() == (1,)


@pytest.mark.parametrize("case", ["missing", "forged", "stale", "bad address", "bad topic",
                                  "bad name"])
def test_a_bad_form_gets_the_form_back_and_nothing_happens(site: Path, tmp_path: Path,
                                                           case: str) -> None:
    config = configure(site, tmp_path, 1)
    with serving(config) as http_port:
        reader = Reader(http_port)
        token = reader.form_token()
        issued, nonce, mac = token.split(".")[1:]
        fields = {"email": "ok@example.org", "form_token": token, "website": ""}
        topics = [("topics", "AI")]
        if case == "missing":
            del fields["form_token"]
        elif case == "forged":
            tail = "AA" if mac[-2:] != "AA" else "BB"  # never the real MAC
            fields["form_token"] = f"f.{issued}.{nonce}.{mac[:-2]}{tail}"
        elif case == "stale":
            from newsletter.delivery.tokens import form_token

            fields["form_token"] = form_token(SECRET.encode(), time.time() - 25 * 3600)
        elif case == "bad address":
            fields["email"] = "not an address"
        elif case == "bad name":  # an encoded word hiding a Bcc: header
            fields["name"] = "=?utf-8?q?a=0D=0ABcc=3A_victim=40evil.example?="
        else:
            topics = [("topics", "Knitting")]
        status, _, page = reader.post("/ai/subscribe", [*fields.items(), *topics])
    assert status == 400
    assert b'name="form_token"' in page and b'role="alert"' in page
    assert statuses(config) == {} and queue(config) == []


def test_answers_for_new_pending_active_and_unsubscribed_are_byte_identical(
        site: Path, tmp_path: Path) -> None:
    config = configure(site, tmp_path, 1)
    add_people(config, tmp_path, ["active@example.org,,", "gone@example.org,,Robotics"])
    with sqlite3.connect(state_path(config)) as db:
        db.execute("UPDATE subscribers SET status = 'unsubscribed' "
                   "WHERE email = 'gone@example.org'")
    with serving(config) as http_port:
        reader = Reader(http_port)
        reader.subscribe("pending@example.org")
        answers = [reader.subscribe(address) for address in (
            "new@example.org", "pending@example.org", "active@example.org",
            "gone@example.org")]
    assert len({(status, body) for status, _, body in answers}) == 1
    assert len({tuple(sorted((k, v) for k, v in headers.items() if k != "Date"))
                for _, headers, _ in answers}) == 1
    # the active one is untouched and sent the welcome again (their preferences link);
    # the one who left must confirm again
    assert statuses(config)["active@example.org"] == "active"
    assert statuses(config)["gone@example.org"] == "pending"
    assert [(kind, email) for kind, email, _ in queue(config)] == [
        ("confirm", "pending@example.org"), ("confirm", "new@example.org"),
        ("welcome", "active@example.org"), ("confirm", "gone@example.org")]


def test_bodies_and_content_types_the_forms_refuse(site: Path, tmp_path: Path) -> None:
    config = configure(site, tmp_path, 1)
    with serving(config) as http_port:
        reader = Reader(http_port)
        big = [("email", "a@example.org"), ("name", "x" * 17_000)]
        assert reader.post("/ai/subscribe", big)[0] == 413
        prefix = "email=a%40example.org&name="  # 16 KB exactly is read, a byte more is not
        for size, status in ((16 * 1024, 400), (16 * 1024 + 1, 413)):
            body = (prefix + "x" * (size - len(prefix))).encode()
            assert reader.request("POST", "/ai/subscribe", body=body,
                                  headers={"Content-Type": FORM})[0] == status, size
        assert reader.post("/ai/subscribe", [("email", "a@example.org")],
                           kind="application/json")[0] == 415
        assert reader.post("/ai/subscribe", [("email", "a@example.org")],
                           kind="multipart/form-data; boundary=x")[0] == 415
        key = "0" * 32
        prefs = f"/ai/preferences?token={make_token(SECRET.encode(), 'preferences', key)}"
        assert reader.post(prefs, [("action", "save")], kind="text/plain")[0] == 415
        assert reader.request("PUT", "/ai/subscribe")[0] == 405
    assert statuses(config) == {}


def test_wrong_purpose_and_expired_tokens(site: Path, tmp_path: Path) -> None:
    config = configure(site, tmp_path, 1)
    with serving(config) as http_port:
        reader = Reader(http_port)
        reader.subscribe("ada@example.org")
        key = key_of(config, "ada@example.org")
        assert key is not None
        secret = SECRET.encode()
        now = int(time.time())
        confirm = make_token(secret, "confirm", key, now)
        # a confirm token is neither a preference token nor an unsubscribe token
        for route in ("preferences", "unsubscribe"):
            status, _, page = reader.get(f"/ai/{route}?token={confirm}")
            assert status == 400 and b"not valid" in page
        preferences = make_token(secret, "preferences", key)
        assert reader.get(f"/ai/confirm?token={preferences}")[0] == 400
        assert reader.post(f"/ai/confirm?token={preferences}", [])[0] == 400
        # expired: 410, and a way to sign up again
        old = make_token(secret, "confirm", key, now - 49 * 3600)
        for answer in (reader.get(f"/ai/confirm?token={old}"),
                       reader.post(f"/ai/confirm?token={old}", [])):
            assert answer[0] == 410
            assert b"expired" in answer[2] and b'href="/ai/subscribe"' in answer[2]
        assert statuses(config) == {"ada@example.org": "pending"}
        assert reader.post(f"/ai/confirm?token={confirm}", [])[0] == 200
        assert statuses(config) == {"ada@example.org": "active"}


def test_no_token_in_the_request_log(site: Path, tmp_path: Path,
                                     capfd: pytest.CaptureFixture[str]) -> None:
    config = configure(site, tmp_path, 1)
    with serving(config, log_requests=True) as port:
        reader = Reader(port)
        token = make_token(SECRET.encode(), "preferences", "0" * 32)
        reader.get(f"/ai/preferences?token={token}")
        reader.post(f"/ai/confirm?token={token}", [])
        reader.subscribe("ada@example.org")
    err = capfd.readouterr().err
    assert "/ai/preferences" in err and token not in err and "form_token" not in err
    assert "f." not in "".join(re.findall(r'"[A-Z]+ [^"]*"', err))


# -- preferences and leaving, also during a send ---------------------------------------------

def test_preferences_save_and_unsubscribe(site: Path, tmp_path: Path) -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = configure(site, tmp_path, port)
        add_people(config, tmp_path, ["ada@example.org,Ada,"])
        assert send_issue(config, ISSUE, log=lambda line: None, retry=FAST).sent
        [first] = [parse(raw) for _, raw in recorder.messages]
        preferences = link(first, "preferences")
        assert preferences.split("=", 1)[1] not in first["List-Unsubscribe"]
        html = parts(first)[1]
        assert f"https://news.example.org{preferences}" in html  # the HTML footer too
        with serving(config) as http_port:
            reader = Reader(http_port)
            status, _, page = reader.get(preferences)
            assert status == 200 and page.count(b" checked") == 3  # every topic
            status, _, page = reader.post(preferences, [("name", "Ada L."), ("topics", "AI"),
                                                        ("action", "save")])
            assert status == 200 and b"Saved" in page and page.count(b" checked") == 1
            [ada] = list_subscribers(config)
            assert (ada.name, ada.topics, ada.status) == ("Ada L.", ("AI",), "active")
            assert reader.post(preferences, [("topics", "Knitting"),
                                             ("action", "save")])[0] == 400
            assert reader.post(preferences, [("action", "other")])[0] == 400
            recorder.messages.clear()
            assert send_issue(config, NEXT_ISSUE, log=lambda line: None, retry=FAST).sent
            text = parts(parse(recorder.messages[0][1]))[0]
            assert "AI story" in text and "Robot Zoë" not in text
            assert "Ada L." in recorder.messages[0][1].decode()

            status, _, page = reader.post(preferences, [("action", "unsubscribe")])
            assert status == 200 and b"unsubscribed" in page
        assert statuses(config) == {"ada@example.org": "unsubscribed"}


def checked_topics(page: bytes) -> list[str]:
    return re.findall(r'name="topics" value="([^"]*)" checked', page.decode())


def test_a_reader_whose_topic_is_gone_is_asked_to_pick_again(site: Path,
                                                              tmp_path: Path) -> None:
    """The editor renames a topic (Robotics to Robots): no issue has a section of the old
    one, so a reader who chose only it is sent nothing. Their page names it and asks them to
    pick again, rather than show no box ticked above "Tick none to get every topic"; a reader
    who also chose a topic still there sees it ticked, and is told of the one gone."""
    config = configure(site, tmp_path, 1)
    add_people(config, tmp_path, ["ada@example.org,Ada,Robotics",
                                  "bob@example.org,Bob,AI;Robotics"])
    config.path.write_text(config.path.read_text("utf-8").replace("- Robotics", "- Robots"),
                           "utf-8")
    config = load_config(config.path)
    assert [t.name for t in config.topics] == ["AI", "Robots", "Chips"]

    def page(address: str) -> str:
        key = key_of(config, address) or ""
        token = make_token(SECRET.encode(), "preferences", key)
        status, _, body = reader.get(f"/ai/preferences?token={token}")
        assert status == 200
        return " ".join(body.decode().split())

    with serving(config) as http_port:
        reader = Reader(http_port)
        ada, bob = page("ada@example.org"), page("bob@example.org")
    assert ("You chose Robotics, which AI Weekly no longer has, so no issue comes to "
            "ada@example.org now. Please pick your topics again below, and save.") in ada
    assert "Tick none to get every topic." not in ada and " checked" not in ada
    assert "You chose Robotics, which AI Weekly no longer has. Please pick" in bob
    assert checked_topics(bob.encode()) == ["AI"] and "Tick none to get every topic." in bob


def test_a_refused_name_keeps_the_topics_just_chosen(site: Path, tmp_path: Path) -> None:
    """The reader unticks topics and types a name the page refuses: the page comes back with
    their topics and name to correct, not the saved ones (which would undo the change when they
    fix the name and save), and nothing is saved."""
    config = configure(site, tmp_path, 1)
    add_people(config, tmp_path, ["ada@example.org,Ada,"])
    key = key_of(config, "ada@example.org") or ""
    preferences = f"/ai/preferences?token={make_token(SECRET.encode(), 'preferences', key)}"
    bad_name = "Ada =?utf-8?q?L?="
    with serving(config) as http_port:
        reader = Reader(http_port)
        status, _, page = reader.get(preferences)
        saved = checked_topics(page)
        assert status == 200 and len(saved) == 3, saved
        status, _, page = reader.post(preferences, [("name", bad_name), ("topics", saved[0]),
                                                    ("action", "save")])
        assert status == 400 and b'role="alert"' in page
        assert checked_topics(page) == [saved[0]], page.decode()
        assert f'value="{bad_name}"'.encode() in page
        status, _, page = reader.post(preferences, [("name", bad_name), ("action", "save")])
        assert status == 400 and checked_topics(page) == []  # none ticked: as sent
    [ada] = list_subscribers(config)
    assert (ada.name, ada.topics) == ("Ada", ()), ada


def title(page: bytes) -> str:
    match = re.search(rb"<title>(.*?)</title>", page)
    assert match, page.decode()
    return match.group(1).decode()


def test_a_page_showing_a_form_error_says_so_in_its_title(site: Path, tmp_path: Path) -> None:
    """A screen reader announces the title first: after a refused form, the signup,
    preferences and unsubscribe pages say "Error:" there, before the page's own title; the
    same pages without an error do not."""
    config = configure(site, tmp_path, 1)
    add_people(config, tmp_path, ["ada@example.org,Ada,"])
    key = key_of(config, "ada@example.org") or ""
    secret = SECRET.encode()
    preferences = f"/ai/preferences?token={make_token(secret, 'preferences', key)}"
    leave = f"/ai/unsubscribe?token={make_token(secret, 'unsubscribe', key)}"
    with serving(config) as http_port:
        reader = Reader(http_port)
        pages = {
            "Subscribe": (reader.get("/ai/subscribe"),
                          reader.subscribe("not an address")),
            "Your preferences": (reader.get(preferences), reader.post(
                preferences, [("name", "=?utf-8?q?x?="), ("action", "save")])),
            "Unsubscribe": (reader.get(leave), reader.post(leave, [("List-Unsubscribe", "")])),
        }
        for heading, (fine, refused) in pages.items():
            assert fine[0] == 200 and title(fine[2]) == f"{heading} · AI Weekly", heading
            assert refused[0] == 400 and b'role="alert"' in refused[2], heading
            assert title(refused[2]) == f"Error: {heading} · AI Weekly", heading
    assert statuses(config) == {"ada@example.org": "active"}


def test_a_page_refusing_a_link_says_error_in_its_title_as_a_refused_form_does(
        site: Path, tmp_path: Path) -> None:
    """A screen reader announces the title first: an invalid link (confirm, preferences,
    unsubscribe), an expired one and a page not found say "Error:" there too, as a refused
    form's page does, not only in the page's heading."""
    config = configure(site, tmp_path, 1)
    add_people(config, tmp_path, ["ada@example.org,Ada,"])
    key = key_of(config, "ada@example.org") or ""
    old = make_token(SECRET.encode(), "confirm", key, issued=1)
    refusals = {
        "/ai/confirm?token=forged": (400, "Invalid link"),
        "/ai/preferences?token=forged": (400, "Invalid link"),
        "/ai/unsubscribe?token=forged": (400, "Invalid link"),
        f"/ai/confirm?token={old}": (410, "This link has expired"),
        "/ai/no-such-page": (404, "Page not found"),
    }
    with serving(config) as http_port:
        reader = Reader(http_port)
        for path, (code, heading) in refusals.items():
            status, _, page = reader.get(path)
            assert status == code, path
            assert f"<h1>{heading}</h1>".encode() in page, page.decode()
            assert title(page) == f"Error: {heading} · AI Weekly", path


def test_too_many_signups_and_a_link_awaiting_confirmation_say_error_in_the_title(
        site: Path, tmp_path: Path) -> None:
    """A screen reader announces the title first: a client's signup past its hourly limit
    (429) and the preferences link of a reader whose signup waits for its confirmation (409)
    say "Error:" there too, as a refused form's or link's page does."""
    config = configure(site, tmp_path, 1, per_ip_per_hour=1)
    with serving(config) as http_port:
        reader = Reader(http_port)
        assert reader.subscribe("ada@example.org")[0] == 200
        key = key_of(config, "ada@example.org") or ""
        token = make_token(SECRET.encode(), "preferences", key)
        waiting = reader.get(f"/ai/preferences?token={token}")
        limited = reader.subscribe("bob@example.org")
    assert waiting[0] == 409, waiting
    assert title(waiting[2]) == "Error: Confirm your subscription first · AI Weekly"
    assert limited[0] == 429 and title(limited[2]) == "Error: Too many requests · AI Weekly"
    assert statuses(config) == {"ada@example.org": "pending"}

def test_earlier_unsubscribe_links_still_work(site: Path, tmp_path: Path) -> None:
    from newsletter.delivery.tokens import legacy_unsubscribe_token

    config = configure(site, tmp_path, 1)
    add_people(config, tmp_path, ["ada@example.org,,"])
    token = legacy_unsubscribe_token(SECRET.encode(), "ada@example.org")
    with serving(config) as http_port:
        reader = Reader(http_port)
        status, _, page = reader.post(f"/ai/unsubscribe?token={token}",
                                      [("List-Unsubscribe", "One-Click")])
    assert status == 200 and b"ada@example.org" in page
    assert statuses(config) == {"ada@example.org": "unsubscribed"}


@pytest.mark.parametrize("how", ["one-click", "preferences"])
def test_leaving_during_a_send_stops_the_message_not_yet_sent(site: Path, tmp_path: Path,
                                                              how: str) -> None:
    """A slow SMTP sink (20 ms a message): while the run is at its first messages, the last
    100 subscribers leave; none of them gets the issue, everyone else gets it once."""
    people = [f"r{i:03d}@example.org" for i in range(300)]
    recorder = Recorder(delay=0.02)
    with smtp_server(recorder) as port:
        config = configure(site, tmp_path, port)
        add_people(config, tmp_path, [f"{p},," for p in people])
        secret = SECRET.encode()
        leaving = people[200:]
        links = {p: make_token(secret, "unsubscribe" if how == "one-click" else "preferences",
                               key_of(config, p) or "") for p in leaving}
        reports = []
        sender = threading.Thread(target=lambda: reports.append(
            send_issue(config, ISSUE, log=lambda line: None, retry=FAST)))
        sender.start()
        wait_for(recorder, 5)
        with serving(config) as http_port:
            reader = Reader(http_port)
            for token in links.values():
                if how == "one-click":
                    status = reader.post(f"/ai/unsubscribe?token={token}",
                                         [("List-Unsubscribe", "One-Click")])[0]
                else:
                    status = reader.post(f"/ai/preferences?token={token}",
                                         [("action", "unsubscribe")])[0]
                assert status == 200
        sent_when_all_left = len(recorder.messages)
        sender.join(60)
    assert sent_when_all_left < 200, "the send outran the unsubscribes: the test proves nothing"
    [report] = reports
    counts = recorder.count()
    assert set(counts) == set(people[:200]) and set(counts.values()) == {1}
    assert sorted(report.sent) == people[:200]


def test_a_topic_change_during_a_send_applies_to_the_message_not_yet_sent(
        site: Path, tmp_path: Path) -> None:
    people = [f"t{i:03d}@example.org" for i in range(60)]
    recorder = Recorder(delay=0.02)
    with smtp_server(recorder) as port:
        config = configure(site, tmp_path, port)
        add_people(config, tmp_path, [f"{p},," for p in people])
        token = make_token(SECRET.encode(), "preferences", key_of(config, people[-1]) or "")
        sender = threading.Thread(target=send_issue, args=(config, ISSUE),
                                  kwargs={"log": lambda line: None, "retry": FAST})
        sender.start()
        wait_for(recorder, 2)
        with serving(config) as http_port:
            assert Reader(http_port).post(f"/ai/preferences?token={token}", [
                ("topics", "Robotics"), ("action", "save")])[0] == 200
        sender.join(60)
    received = recorder.parsed()
    assert "AI story" in parts(received[people[0]])[0]
    last = parts(received[people[-1]])[0]
    assert "Robot Zoë" in last and "AI story" not in last


def test_a_bounced_subscriber_gets_nothing_until_they_sign_up_again(site: Path,
                                                                    tmp_path: Path) -> None:
    recorder = Recorder(reject={"gone@example.org"})
    with smtp_server(recorder) as port:
        config = configure(site, tmp_path, port)
        add_people(config, tmp_path, ["gone@example.org,,", "here@example.org,,"])
        send_issue(config, ISSUE, log=lambda line: None, retry=FAST)
        assert statuses(config)["gone@example.org"] == "bounced"
        recorder.reject.clear()
        assert send_issue(config, NEXT_ISSUE, log=lambda line: None,
                          retry=FAST).sent == ["here@example.org"]
        with serving(config) as http_port:
            reader = Reader(http_port)
            reader.subscribe("gone@example.org")
            assert statuses(config)["gone@example.org"] == "pending"
            send_pending(config, log=lambda line: None, retry=FAST)
            confirmation = recorder.parsed()["gone@example.org"]
            assert reader.post(link(confirmation, "confirm"), [])[0] == 200
    assert statuses(config)["gone@example.org"] == "active"


def test_the_queue_waits_out_a_dead_smtp_server(site: Path, tmp_path: Path) -> None:
    """The POST answers at once with the server down; the email goes out once it is up."""
    port = free_port()
    config = configure(site, tmp_path, port)
    with serving(config) as http_port:
        started = time.monotonic()
        assert Reader(http_port).subscribe("ada@example.org")[0] == 200
        assert time.monotonic() - started < 2
    report = send_pending(config, log=lambda line: None, retry=FAST)
    assert report.retrying == ["ada@example.org"] and not report.sent
    assert queue(config) == [("confirm", "ada@example.org", "queued")]
    with sqlite3.connect(state_path(config)) as db:  # the retry is due
        db.execute("UPDATE mail_queue SET due_at = '2000-01-01T00:00:00+00:00'")
    recorder = Recorder()
    from aiosmtpd.controller import Controller

    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        report = send_pending(config, log=lambda line: None, retry=FAST)
    finally:
        controller.stop()
    assert report.sent == ["ada@example.org"] and recorder.count() == {"ada@example.org": 1}
    assert send_pending(config, log=lambda line: None, retry=FAST).sent == []


def test_subscribe_config_is_validated_with_the_rest(tmp_path: Path) -> None:
    write_config(tmp_path, subscribe={"enabled": "yes", "confirm_hours": 0,
                                      "resend_minutes": -1, "per_ip_per_hour": 2.5,
                                      "trust_proxy": 1, "welcom": True}, window_days="x")
    result = run(tmp_path, "check")
    assert result.exit_code == 1
    for expected in ('subscribe.enabled: expected true or false, got "yes"',
                     "subscribe.confirm_hours: expected a positive number, got 0",
                     "subscribe.resend_minutes: expected a positive number, got -1",
                     "subscribe.per_ip_per_hour: expected a positive integer, got 2.5",
                     "subscribe.trust_proxy: expected true or false, got 1",
                     'subscribe.welcom: unknown key, ignored; did you mean "welcome"?',
                     "window_days: expected a positive integer"):
        assert expected in result.output, result.output
    write_config(tmp_path)
    assert not load_config(tmp_path / "newsletter.yaml").subscribe.enabled  # no smtp
    write_config(tmp_path, smtp={"host": "127.0.0.1"})
    assert load_config(tmp_path / "newsletter.yaml").subscribe.enabled


def test_rows_from_before_signups_become_imports_with_their_own_link_keys(
        state_backend, tmp_path: Path) -> None:
    """A state written before readers could sign up: its subscribers keep their status,
    become ``source: import`` with no confirmation time, and each gets a distinct random
    key for the links of their next emails."""
    from conftest import make_config, state_of_version
    from newsletter.state.database import open_database

    config = make_config(tmp_path)
    with state_of_version(config, 2) as db:
        db.run_many("subscriber.insert", [("a@example.org", "A", "", "active", "t", "t"),
                                          ("b@example.org", "", "AI", "unsubscribed", "t",
                                           "t")])
    rows = {s.email: s for s in list_subscribers(config)} if not state_backend.url else None
    with open_database(config) as db:
        found = db.run("subscribers.all").fetchall()
        keys = [db.run("subscriber.key", (email,)).fetchone()[0] for email in
                ("a@example.org", "b@example.org")]
        consent = [tuple(db.run("subscriber.by_key", (key,)).fetchone()) for key in keys]
    assert [tuple(row) for row in found] == [("a@example.org", "A", "", "active"),
                                             ("b@example.org", "", "AI", "unsubscribed")]
    assert all(re.fullmatch(r"[0-9a-f]{32}", key) for key in keys) and keys[0] != keys[1]
    assert [(c[4], c[5]) for c in consent] == [("import", None), ("import", None)]
    if rows is not None:
        assert rows["a@example.org"].to_json()["source"] == "import"
