"""A reader at the front door, over real HTTP against ``newsletter serve`` with a real SMTP
server: what the signup form says about an address it cannot use, and that an address it
takes is one a message can be sent to."""

from __future__ import annotations

import datetime as dt
import html
import re
import sqlite3
from email.message import EmailMessage
from pathlib import Path

import pytest

from browser_support import CHROMIUM, EMAIL_RULES, VIEWS, violations
from conftest import SECRET
from newsletter.core.config import Config, load_config
from newsletter.delivery.mailqueue import send_pending
from newsletter.delivery.send import send_issue
from newsletter.delivery.signups import key_of, record_signup
from newsletter.delivery.subscribers import list_subscribers
from newsletter.delivery.tokens import make_token, read_secret
from newsletter.rendering.mail import render_notice
from newsletter.state.database import state_path
from sending_support import ISSUE, add_people
from signup_support import Reader, configure, link, queue, statuses, wait_for
from smtp_support import FAST, Recorder, parse, parts, smtp_server
from web_support import serving

pytestmark = pytest.mark.usefixtures("secret")  # NEWSLETTER_SECRET: readers' links are signed

LONG_LOCAL = "a" * 65 + "@example.org"  # RFC 5321: at most 64 characters before the @


def confirmed(reader: Reader, recorder: Recorder, address: str
              ) -> tuple[EmailMessage, EmailMessage]:
    """Signed up through the form and confirmed: the confirmation and the welcome."""
    assert reader.subscribe(address)[0] == 200
    [confirmation] = wait_for(recorder, 1)
    assert reader.post(link(confirmation, "confirm"), [])[0] == 200
    return confirmation, wait_for(recorder, 2)[1]


def issue_sent(site: Path, folder: Path, people: list[str]
               ) -> tuple[Config, dict[str, EmailMessage]]:
    """Subscribers imported (CSV rows) and sent the issue: the config, each one's message."""
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = configure(site, folder, port)
        add_people(config, folder, people)
        assert send_issue(config, ISSUE, log=lambda line: None, retry=FAST).sent
    return config, {to: parse(raw) for to, raw in recorder.messages}


@pytest.mark.parametrize(("address", "says"), [
    (LONG_LOCAL, "The part before the @-sign is 65 characters long; mail servers take at "
                 "most 64."),
    ("josé@example.org", "Internationalized characters before the @-sign are not supported"),
    ("ada@example", "The part after the @-sign is not valid. It should have a period."),
    ("ada@example.org, bo@example.org", "The part after the @-sign contains invalid "
                                        "characters"),
])
def test_an_address_the_form_cannot_use_is_named_with_what_to_do(site: Path, tmp_path: Path,
                                                                 address: str, says: str
                                                                 ) -> None:
    """The form says what is wrong with the address and what to do, rather than "does not
    look like an email address" for an address its owner knows works; an address no message
    can carry (65 characters before the @) is refused there, not taken with "check your
    inbox" and then never written to."""
    config = configure(site, tmp_path, 1)
    with serving(config) as http_port:
        status, _, page = Reader(http_port).subscribe(address)
    text = html.unescape(page.decode())
    assert status == 400 and says in text, text
    assert "Please correct the address, or use another one." in text
    assert statuses(config) == {} and queue(config) == []


def test_a_queued_email_that_cannot_be_built_fails_and_the_others_go(site: Path,
                                                                    tmp_path: Path) -> None:
    """A confirmation to an address an older version let in is given up with its reason, as
    a refused one is, instead of failing the queue's whole pass again every ten minutes."""
    recorder = Recorder()
    with smtp_server(recorder) as smtp_port:
        config = configure(site, tmp_path, smtp_port)
        now = dt.datetime.now(dt.UTC)
        for address in (LONG_LOCAL, "bo@example.org"):
            record_signup(config, read_secret(config), address=address, name="", topics=(),
                          client="192.0.2.1", at=now)
        lines: list[str] = []
        report = send_pending(config, log=lines.append, retry=FAST)
        wait_for(recorder, 1)
    assert report.failed == [LONG_LOCAL] and report.sent == ["bo@example.org"]
    assert queue(config) == [("confirm", LONG_LOCAL, "failed"),
                             ("confirm", "bo@example.org", "sent")]
    assert any(line.startswith(f"confirm email to {LONG_LOCAL} not sent: ") for line in lines)


def test_a_reader_who_left_is_not_told_their_choices_are_saved(site: Path, tmp_path: Path
                                                               ) -> None:
    """The preferences link of an issue, opened after unsubscribing (or after bouncing),
    says the address receives nothing and how to come back, with no Save button; a Save
    from a page opened before leaving answers "Nothing was saved", never "Saved. The next
    issue follows these choices" for issues that will not come."""
    config, messages = issue_sent(site, tmp_path, ["ada@example.org,Ada,", "bo@example.org,Bo,"])
    ada, bo = (link(messages[f"{who}@example.org"], "preferences") for who in ("ada", "bo"))
    with sqlite3.connect(state_path(config)) as db:
        db.execute("UPDATE subscribers SET status = 'bounced' WHERE email = 'bo@example.org'")
    with serving(config) as http_port:
        reader = Reader(http_port)
        assert reader.post(ada, [("action", "unsubscribe")])[0] == 200
        status, _, page = reader.get(ada)
        text = html.unescape(page.decode())
        assert status == 200 and "ada@example.org is unsubscribed" in text
        assert 'href="/ai/subscribe"' in text and 'value="save"' not in text
        status, _, page = reader.post(ada, [("topics", "AI"), ("action", "save")])
        text = html.unescape(page.decode())
        assert status == 409 and "Nothing was saved" in text and "Saved." not in text
        status, _, page = reader.get(bo)
        text = html.unescape(page.decode())
        assert status == 200 and "Emails to bo@example.org came back undelivered" in text
    assert statuses(config) == {"ada@example.org": "unsubscribed", "bo@example.org": "bounced"}
    assert [s.topics for s in list_subscribers(config)] == [(), ()]


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed: `apt-get install "
                                             "chromium` (.ci/run does)")
@pytest.mark.parametrize("width, scheme", VIEWS)
def test_the_confirmation_and_welcome_emails_pass_axe(browser, site: Path, tmp_path: Path,
                                                      width: int, scheme: str) -> None:
    """In a mail app's dark mode the confirmation's button keeps its white text on its blue
    (the links' light blue on it was 3.3:1, under the 4.5:1 text needs)."""
    config = configure(site, tmp_path, 1)
    found = {}
    for kind in ("confirm", "welcome"):
        rendered = render_notice(config, kind, "ada@example.org",
                                 confirm_url="https://news.example.org/ai/confirm?token=c.x",
                                 preferences_url="https://news.example.org/ai/preferences",
                                 latest_url="https://news.example.org/ai/2021-02-22/")
        page = browser.new_page(viewport={"width": width, "height": 800})
        page.emulate_media(color_scheme=scheme)
        page.set_content(rendered.html)
        found[kind] = violations(page, EMAIL_RULES)
        page.close()
    assert found == {"confirm": [], "welcome": []}


def test_a_name_with_a_pasted_tab_is_saved_and_a_wrong_name_is_named(site: Path,
                                                                     tmp_path: Path) -> None:
    """A tab pasted into the name (from a spreadsheet) is a space, on both forms; a name
    that cannot go into a mail header is named on the reader's own page, with what to do,
    never answered "Invalid link" as if the link from their email were broken."""
    config, messages = issue_sent(site, tmp_path, ["ada@example.org,Ada,"])
    preferences = link(messages["ada@example.org"], "preferences")
    with serving(config) as http_port:
        reader = Reader(http_port)
        status, _, page = reader.post(preferences, [("name", "Ada\tLovelace"),
                                                    ("action", "save")])
        assert status == 200 and b"Saved." in page
        status, _, page = reader.post(preferences, [("name", "Ada =?utf-8?q?x?="),
                                                    ("action", "save")])
        text = html.unescape(page.decode())
        assert status == 400 and "Invalid link" not in text, text
        assert 'The name holds "=?" and "?=" around text' in text and 'value="save"' in text
        status, _, page = reader.post(preferences, [("name", "Ada\x07"), ("action", "save")])
        text = html.unescape(page.decode())
        assert status == 400 and "control character U+0007. Please type it again" in text
        assert reader.subscribe("bo@example.org", name="Bo\tBaggins")[0] == 200
    assert {s.email: s.name for s in list_subscribers(config)} == {
        "ada@example.org": "Ada Lovelace", "bo@example.org": "Bo Baggins"}


def test_a_reader_over_the_hourly_limit_is_told_when_to_come_back(site: Path,
                                                                   tmp_path: Path) -> None:
    """The 429 page says when to try again (the hour its Retry-After says) and that nothing
    was recorded, instead of "Try again later"."""
    config = configure(site, tmp_path, 1, per_ip_per_hour=1)
    with serving(config) as http_port:
        reader = Reader(http_port)
        assert reader.subscribe("ada@example.org")[0] == 200
        status, headers, page = reader.subscribe("bo@example.org")
    text = " ".join(html.unescape(page.decode()).split())
    assert status == 429 and headers["Retry-After"] == "3600"
    assert "Please try again in an hour: nothing was recorded." in text
    assert set(statuses(config)) == {"ada@example.org"}


def test_the_unsubscribed_page_shows_the_way_back(site: Path, tmp_path: Path) -> None:
    """After the email's unsubscribe link (or a mail client's one-click POST), the page
    offers the signup form to a reader who clicked by mistake; without signups, it does not
    point at a page that answers 404."""
    for enabled in (True, False):
        (tmp_path / str(enabled)).mkdir()
        config = configure(site, tmp_path / str(enabled), 1, enabled=enabled)
        add_people(config, tmp_path / str(enabled), ["ada@example.org,Ada,"])
        token = make_token(SECRET.encode(), "unsubscribe",
                           key_of(config, "ada@example.org") or "")
        with serving(config) as http_port:
            reader = Reader(http_port)
            status, _, done = reader.post(f"/ai/unsubscribe?token={token}",
                                          [("List-Unsubscribe", "One-Click")])
            again = reader.get(f"/ai/unsubscribe?token={token}")[2]
        for page in (done, again):
            assert (b'<a href="/ai/subscribe">Subscribe again</a>' in page) is enabled
        assert statuses(config) == {"ada@example.org": "unsubscribed"}


def test_a_subscriber_who_signs_up_again_hears_back(site: Path, tmp_path: Path) -> None:
    """The form answers every address alike ("check your inbox"); a subscriber who uses it
    again (their issues went to spam, or they want to change topics) is sent the welcome
    email again with their preferences link, instead of nothing after being told to check
    their inbox. Within the mailbox's limits: a second try in the hour sends nothing."""
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = configure(site, tmp_path, port)
        add_people(config, tmp_path, ["ada@example.org,Ada,AI"])
        with serving(config, send_mail=True) as http_port:
            reader = Reader(http_port)
            first = reader.subscribe("ADA@example.org")
            [welcome] = wait_for(recorder, 1)
            second = reader.subscribe("ada@example.org")
            assert first[0] == second[0] == 200 and first[2] == second[2]
            assert b"Check your inbox" in first[2]
            preferences = link(welcome, "preferences")
            status, _, page = reader.get(preferences)
    assert welcome["To"] == "ada@example.org" and welcome["Subject"] == "Welcome to AI Weekly"
    assert status == 200 and b"ada@example.org" in page
    assert len(recorder.messages) == 1 and queue(config) == [
        ("welcome", "ada@example.org", "sent")]
    [ada] = list_subscribers(config)
    assert (ada.status, ada.name, ada.topics) == ("active", "Ada", ("AI",))


def test_an_address_at_a_unicode_domain_reads_as_its_owner_typed_it(world) -> None:
    """Signed up as ada@bücher.example, the reader reads that address in the confirmation,
    the welcome, the preferences page and (as a hint) the unsubscribe page, not the
    ada@xn--bcher-kva.example mail servers are given (which reads like someone else's)."""
    config, reader, recorder = world
    confirmation, welcome = confirmed(reader, recorder, "ada@bücher.example")
    pages = [reader.get(link(welcome, "preferences"))[2]]
    token = make_token(SECRET.encode(), "unsubscribe",
                       key_of(config, "ada@xn--bcher-kva.example") or "")
    pages.append(reader.get(f"/ai/unsubscribe?token={token}")[2])
    assert [to for to, _ in recorder.messages] == ["ada@xn--bcher-kva.example"] * 2
    for message in (confirmation, welcome):
        assert message["To"] == "ada@xn--bcher-kva.example"
        for part in parts(message):
            assert "ada@bücher.example" in part and "xn--" not in part, part
    preferences, unsubscribe = (html.unescape(page.decode()) for page in pages)
    assert "ada@bücher.example" in preferences and "xn--" not in preferences
    assert "a…@bücher.example" in unsubscribe and "xn--" not in unsubscribe


def test_choices_changed_before_confirming_are_the_ones_confirmed(site: Path,
                                                                 tmp_path: Path) -> None:
    """Back to the form after "check your inbox", another topic ticked, Subscribe again:
    no second email within the hour, and the link of the first confirms the choices made
    last, instead of the first ones kept without a word."""
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = configure(site, tmp_path, port)
        with serving(config, send_mail=True) as http_port:
            reader = Reader(http_port)
            assert reader.subscribe("ada@example.org", topics=("AI",))[0] == 200
            [confirmation] = wait_for(recorder, 1)
            assert reader.subscribe("ada@example.org", topics=("Robotics",), name="Ada")[0] \
                == 200
            assert reader.post(link(confirmation, "confirm"), [])[0] == 200
            wait_for(recorder, 2)  # the welcome
    [ada] = list_subscribers(config)
    assert (ada.status, ada.name, ada.topics) == ("active", "Ada", ("Robotics",))
    assert [kind for kind, _, _ in queue(config)] == ["confirm", "welcome"]


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed: `apt-get install "
                                             "chromium` (.ci/run does)")
def test_back_and_reload_after_each_form_show_its_page_again(browser, site: Path,
                                                             tmp_path: Path) -> None:
    """Subscribe, confirm, save preferences, leave: each POST sends the browser on to a GET
    of its page (303), so the back button or a reload (a phone reopening the tab after the
    mail app) shows that page again, instead of Chromium's "Confirm Form Resubmission"
    (ERR_CACHE_MISS, as the pages are never cached) or the same POST a second time."""
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = configure(site, tmp_path, port)
        with serving(config, send_mail=True) as http_port:
            base = f"http://127.0.0.1:{http_port}"
            page = browser.new_page(viewport={"width": 375, "height": 800})

            def away_and_back(heading: str) -> None:
                page.get_by_role("link", name="All issues").first.click()
                page.wait_for_url(f"{base}/ai/")
                page.go_back()
                page.get_by_role("heading", name=heading).wait_for()
                page.reload()
                page.get_by_role("heading", name=heading).wait_for()

            page.goto(f"{base}/ai/subscribe")
            page.get_by_label("Email address").fill("ada@example.org")
            page.get_by_role("button", name="Subscribe").click()
            page.get_by_role("heading", name="Check your inbox").wait_for()
            away_and_back("Check your inbox")

            [confirmation] = wait_for(recorder, 1)
            page.goto(base + link(confirmation, "confirm"))
            page.get_by_role("heading", name="Thank you").wait_for()
            away_and_back("Thank you")

            welcome = wait_for(recorder, 2)[1]
            page.goto(base + link(welcome, "preferences"))
            page.get_by_label("Robotics").uncheck()
            page.get_by_role("button", name="Save").click()
            page.get_by_text("Saved.").wait_for()
            away_and_back("Your preferences")
            assert page.get_by_text("Saved.").is_visible()

            page.get_by_role("button", name="Unsubscribe from everything").click()
            page.get_by_role("heading", name="You are unsubscribed").wait_for()
            away_and_back("You are unsubscribed")
            page.close()
            posts = [Reader(http_port).subscribe(f"{who}@example.org", follow=False)
                     for who in ("ada", "bo")]
    assert [(status, headers["Location"], body) for status, headers, body in posts] == [
        (303, "/ai/subscribe?sent", b"")] * 2
    ada = {s.email: s for s in list_subscribers(config)}["ada@example.org"]
    assert ada.status == "unsubscribed" and ada.topics == ("AI", "Chips")
    assert [to for to, _ in recorder.messages][:2] == ["ada@example.org"] * 2  # nothing twice


def test_the_welcome_email_carries_the_lists_unsubscribe_headers(world) -> None:
    """The welcome is the list's first message to a new subscriber: it carries List-Id,
    List-Unsubscribe (the link, the mailto) and List-Unsubscribe-Post as an issue does, so
    a mail app offers its own unsubscribe button from the first message on, and a one-click
    POST to its link unsubscribes; the confirmation, sent before anyone subscribed, has
    none of them."""
    config, reader, recorder = world
    confirmation, welcome = confirmed(reader, recorder, "ada@example.org")
    links = re.findall(r"<([^>]+)>", welcome["List-Unsubscribe"])
    assert links[1:] == ["mailto:leave@news.example.org?subject=unsubscribe"]
    one_click = links[0].removeprefix("https://news.example.org")
    assert one_click.startswith("/ai/unsubscribe?token=u.")
    assert reader.one_click(one_click)[0] == 200
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert welcome["List-Id"] == "AI Weekly <ai.news.example.org>"
    for name in ("List-Id", "List-Unsubscribe", "List-Unsubscribe-Post"):
        assert confirmation[name] is None
    assert statuses(config) == {"ada@example.org": "unsubscribed"}


def test_a_reader_signed_up_again_is_asked_to_confirm_not_told_the_link_expired(
        site: Path, tmp_path: Path) -> None:
    """Unsubscribed, then signed up again: until they confirm, the preferences link of
    their earlier emails says the new subscription waits for its confirmation (409), not
    "This link is too old to use. Sign up again", which they just did."""
    config, messages = issue_sent(site, tmp_path, ["ada@example.org,Ada,"])
    preferences = link(messages["ada@example.org"], "preferences")
    with serving(config) as http_port:
        reader = Reader(http_port)
        assert reader.post(preferences, [("action", "unsubscribe")])[0] == 200
        assert reader.subscribe("ada@example.org")[0] == 200
        status, _, page = reader.get(preferences)
    text = " ".join(html.unescape(page.decode()).split())
    assert status == 409 and "too old" not in text
    assert "Confirm your subscription first" in text
    assert "waits for its confirmation: open the link in the email we sent" in text
    assert statuses(config) == {"ada@example.org": "pending"}


def test_the_front_doors_english_pages_say_they_are_english(site: Path, tmp_path: Path) -> None:
    """With ``language: de`` the issues and the archive are German (``lang="de"``), but the
    form, its answers, the unsubscribe page, the 404 and the confirmation email are written
    in English by the tool: they say ``lang="en"``, so a screen reader reads them with an
    English voice instead of reading English words with German rules."""
    import yaml

    config = configure(site, tmp_path, 1)
    data = yaml.safe_load(config.path.read_text("utf-8"))
    config.path.write_text(yaml.safe_dump({**data, "language": "de"}), "utf-8")
    config = load_config(config.path)
    add_people(config, tmp_path, ["ada@example.org,Ada,"])
    token = make_token(SECRET.encode(), "unsubscribe", key_of(config, "ada@example.org") or "")
    with serving(config) as http_port:
        reader = Reader(http_port)
        pages = {path: reader.get(path)[2] for path in (
            "/ai/subscribe", "/ai/subscribe?sent", "/ai/no-such-page",
            f"/ai/unsubscribe?token={token}", "/ai/confirm?token=forged")}
    assert {path: b'<html lang="en">' in page for path, page in pages.items()} == {
        path: True for path in pages}
    notice = render_notice(config, "confirm", "ada@example.org", confirm_url="https://x/")
    assert '<html lang="en"' in notice.html


def test_a_name_the_form_refuses_comes_back_to_be_corrected(site: Path, tmp_path: Path
                                                             ) -> None:
    """The form refusing a name gives it back in its field, with the address and topics,
    for the reader to correct, instead of an empty field."""
    config = configure(site, tmp_path, 1)
    with serving(config) as http_port:
        status, _, page = Reader(http_port).subscribe(
            "ada@example.org", name="Ada =?utf-8?q?x?=", topics=("AI",))
    text = html.unescape(page.decode())
    assert status == 400 and 'The name holds "=?" and "?="' in text
    assert 'value="Ada =?utf-8?q?x?="' in text and 'value="ada@example.org"' in text
    assert 'value="AI" checked' in text and statuses(config) == {}
