"""A mailbox is one subscriber: addresses that differ only in case are one, whether they
come through the signup form, ``subscribers add`` or an import; and where an older database
holds several spellings of a mailbox, a send gives it each issue once, across a kill and a
resumed run, and leaving through one spelling's link stops them all. Against aiosmtpd on
127.0.0.1, SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from conftest import (
    SECRET,
    StateBackend,
    both,
    run,
    state_of_version,
    state_sql,
    target_of,
    target_sql,
    write_config,
)
from newsletter.core.config import Config, load_config
from newsletter.delivery.mailboxes import subscriber_for_send
from newsletter.delivery.send import send_issue
from newsletter.delivery.signups import key_of, record_signup, save_preferences, unsubscribe
from newsletter.delivery.subscribers import list_subscribers
from newsletter.state.database import now, open_database
from sending_support import (
    ISSUE,
    NEXT_ISSUE,
    add_people,
    configured,
    in_flight_named,
    kill_when_held,
    project,
    start_send,
)
from signup_support import Reader, age, link, statuses, wait_for
from smtp_support import FAST, Recorder, parse, smtp_server
from web_support import Client, serving

pytestmark = pytest.mark.usefixtures("secret")  # NEWSLETTER_SECRET: readers' links are signed
SLUG = ISSUE.isoformat()


def mailboxes(recorder: Recorder) -> Counter[str]:
    """Messages per mailbox, whichever spelling they were addressed to."""
    return Counter(address.lower() for address, _ in recorder.messages)


def older_state(config: Config, rows: list[tuple[str, str]]) -> None:
    """The state as a version from before mailboxes were one subscriber left it: ``rows``
    (address, status) stored in this order, several spellings of a mailbox among them."""
    db = state_of_version(config, 5)
    mark = "?" if db.dialect == "sqlite" else "%s"
    try:
        with db.transaction():
            for address, status in rows:
                db.raw.execute("INSERT INTO subscribers (email, status, created, updated) "
                               f"VALUES ({mark}, {mark}, 't', 't')", (address, status))
    finally:
        db.close()


def quiet(line: str) -> None:
    pass


# -- new subscriptions ---------------------------------------------------------------------------

def test_the_form_takes_another_spelling_as_the_subscriber_and_says_nothing(
        site: Path, tmp_path: Path) -> None:
    """Signed up and confirmed as Ada@Example.ORG, the reader signs up again as
    ada@example.org: the answer is the one a new address gets, the welcome email goes again
    to the spelling stored, and the issue reaches the mailbox once."""
    recorder = Recorder()
    with smtp_server(recorder) as smtp_port:
        config = load_config(project(site, tmp_path, smtp_port))
        with serving(config, send_mail=True) as http_port:
            reader = Reader(http_port)
            assert reader.subscribe("Ada@Example.ORG")[0] == 200
            [confirmation] = wait_for(recorder, 1)
            assert reader.post(link(confirmation, "confirm"), [])[0] == 200
            wait_for(recorder, 2)  # the welcome email
            age(config, minutes=120)  # past the mailbox's confirmation limit
            again = reader.subscribe("ada@example.org")
            new = reader.subscribe("new@example.org")
            assert (again[0], again[2]) == (new[0], new[2])
            wait_for(recorder, 4)  # Ada@'s welcome again, new@'s confirmation
            time.sleep(0.3)
        assert [address for address, _ in recorder.messages] == [
            "Ada@example.org", "Ada@example.org", "Ada@example.org", "new@example.org"]
        assert statuses(config) == {"Ada@example.org": "active", "new@example.org": "pending"}
        recorder.messages.clear()
        report = send_issue(config, ISSUE, log=quiet, retry=FAST)
    assert report.sent == ["Ada@example.org"]
    assert mailboxes(recorder) == {"ada@example.org": 1}


def test_a_pending_signup_is_taken_up_under_the_spelling_stored(site: Path,
                                                                  tmp_path: Path) -> None:
    """Ada@ left; signing up as ADA@ asks Ada@ to confirm again: one row, one mailbox."""
    config = configured(site, tmp_path)
    add_people(config, tmp_path, ["Ada@example.org,Ada,"])
    state_sql(config, "UPDATE subscribers SET status = 'unsubscribed'")
    with serving(config) as http_port:
        assert Reader(http_port).subscribe("ADA@example.org")[0] == 200
    assert statuses(config) == {"Ada@example.org": "pending"}
    assert state_sql(config, "SELECT kind, email FROM mail_queue") == [
        ("confirm", "Ada@example.org")]


@both
def test_add_and_import_of_another_spelling_name_the_stored_one(site: Path,
                                                                 tmp_path: Path) -> None:
    config = configured(site, tmp_path)
    assert run(tmp_path, "subscribers", "add", "Ada@example.org").exit_code == 0
    added = run(tmp_path, "subscribers", "add", "ADA@Example.org", "--name", "Ada L")
    assert added.exit_code == 0, added.output
    assert added.output == ("Ada@example.org: updated (ADA@example.org differs from it only "
                            "in case: the same mailbox, one subscriber, kept under this "
                            "spelling).\n")
    csv = tmp_path / "people.csv"
    csv.write_text("email,name,topics\nada@EXAMPLE.org,,AI\nbob@example.org,,\n"
                   "BOB@example.org,Bob,\n", encoding="utf-8")
    imported = run(tmp_path, "subscribers", "import", str(csv))
    assert imported.exit_code == 0, imported.output
    assert imported.output.splitlines() == [
        f"Imported 2 subscriber(s) from {csv}: 1 updated, 1 added.",
        "ada@example.org: merged into Ada@example.org, the same mailbox (they differ only in "
        "case)"]
    people = {s.email: (s.name, s.topics) for s in list_subscribers(config)}
    assert people == {"Ada@example.org": ("Ada L", ("AI",)), "bob@example.org": ("Bob", ())}
    removed = run(tmp_path, "subscribers", "remove", "ada@example.org")
    assert removed.exit_code == 1
    assert ("ada@example.org is not a subscriber, but Ada@example.org is (the same mailbox, "
            "spelled otherwise): newsletter subscribers remove Ada@example.org"
            in " ".join(removed.output.split()))
    # a +tag is another address, chosen to file the mail apart: its own subscriber
    assert run(tmp_path, "subscribers", "add", "ada+news@example.org").exit_code == 0
    assert len(list_subscribers(config)) == 3


@both
def test_the_database_refuses_a_second_spelling(site: Path, tmp_path: Path) -> None:
    """What a check in the code could miss (two signups at once) the unique index holds."""
    config = configured(site, tmp_path)
    add_people(config, tmp_path, ["Ada@example.org,,"])
    with pytest.raises(Exception, match="(?i)unique"):
        state_sql(config, "INSERT INTO subscribers (email, created, updated) "
                          "VALUES ('aDA@example.org', 't', 't')")


def test_two_signups_of_one_mailbox_at_once_are_answered_alike(
        state_backend: StateBackend, site: Path, tmp_path: Path) -> None:
    """A signup of ada@ while another one's, as Ada@, is not committed yet: PostgreSQL makes
    the second wait on the unique index, then it finds the mailbox taken. It is answered as a
    second signup within the resend limit is (nothing queued), not with a server error."""
    config = configured(site, tmp_path)
    first = open_database(config)  # a connection of its own: the other signup's
    mark = "?" if first.dialect == "sqlite" else "%s"
    stamp = now()
    outcomes: list[Any] = []
    with first.transaction():
        first.raw.execute("INSERT INTO subscribers (email, status, source, requested_at, "
                          f"created, updated) VALUES ({mark}, 'pending', 'form', {mark}, "
                          f"{mark}, {mark})", ("Ada@example.org", stamp, stamp, stamp))
        first.raw.execute("INSERT INTO mail_queue (kind, email, mailbox, created_at, due_at) "
                          f"VALUES ('confirm', {mark}, {mark}, {mark}, {mark})",
                          ("Ada@example.org", "ada@example.org", stamp, stamp))
        second = threading.Thread(target=lambda: outcomes.append(_signup(
            config, "ada@example.org")))
        second.start()
        second.join(1)  # it waits: on the unique index (PostgreSQL), for the lock (SQLite)
    first.close()
    second.join(30)
    assert [getattr(outcome, "value", outcome) for outcome in outcomes] == ["nothing"]
    assert statuses(config) == {"Ada@example.org": "pending"}
    assert state_sql(config, "SELECT email FROM mail_queue") == [("Ada@example.org",)]


def _signup(config: Config, address: str) -> Any:
    try:
        return record_signup(config, SECRET.encode(), address=address, name="", topics=(),
                             client="192.0.2.1", at=dt.datetime.now(dt.UTC))
    except Exception as error:  # the thread's failure, seen by the test's assertion
        return error


# -- spellings stored by an older version --------------------------------------------------------

@both
def test_an_older_database_keeps_its_spellings_and_sends_each_mailbox_once(
        site: Path, tmp_path: Path) -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = configured(site, tmp_path, port, concurrency=3)
        older_state(config, [("Ada@example.org", "active"), ("bob@example.org", "active"),
                             ("ada@example.org", "active"), ("ADA@example.org", "active"),
                             ("BOB@example.org", "active"), ("cy@example.org", "active")])
        report = send_issue(config, ISSUE, log=quiet, retry=FAST)
        again = send_issue(config, ISSUE, log=quiet, retry=FAST)
    assert state_sql(config, "SELECT email, duplicate FROM subscribers ORDER BY id") == [
        ("Ada@example.org", 0), ("bob@example.org", 0), ("ada@example.org", 3),
        ("ADA@example.org", 4), ("BOB@example.org", 5), ("cy@example.org", 0)]
    # the first stored spelling of each mailbox, once
    assert Counter(address for address, _ in recorder.messages) == {
        "Ada@example.org": 1, "bob@example.org": 1, "cy@example.org": 1}
    assert sorted(report.sent) == ["Ada@example.org", "bob@example.org", "cy@example.org"]
    assert sorted(report.skipped) == ["ADA@example.org", "BOB@example.org", "ada@example.org"]
    assert again.sent == [] and len(again.skipped) == 6


@both
def test_a_spelling_sent_or_in_flight_before_holds_the_others_back(site: Path,
                                                                   tmp_path: Path) -> None:
    """An older version sent the issue to ann@ (the newer spelling), and had it in flight to
    bea@ when it was killed: Ann@ is not sent it, bea@ is sent it again (not Bea@), and
    Cat@, with no record, gets it at its first spelling."""
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = configured(site, tmp_path, port)
        older_state(config, [(f"{n.title()}@example.org", "active") for n in
                             ("ann", "bea", "cat")]
                    + [(f"{n}@example.org", "active") for n in ("ann", "bea", "cat")])
        state_sql(config, "INSERT INTO deliveries (issue, email, status, at) "
                          "VALUES (?, 'ann@example.org', 'sent', 't')", SLUG)
        state_sql(config, "INSERT INTO attempts (issue, email, at) "
                          "VALUES (?, 'bea@example.org', 't')", SLUG)
        lines: list[str] = []
        report = send_issue(config, ISSUE, log=lines.append, retry=FAST)
    assert Counter(address for address, _ in recorder.messages) == {
        "bea@example.org": 1, "Cat@example.org": 1}
    assert report.in_flight_unknown == ["bea@example.org"]
    assert ("Skipping 4 subscriber(s): 1 already received issue 2021-02-22, 0 chose no topic "
            "it has, 3 are another spelling of a mailbox that has it once (see newsletter "
            "subscribers list).") in lines


@both
def test_a_spelling_removed_while_in_flight_leaves_the_issue_to_the_one_kept(
        site: Path, tmp_path: Path) -> None:
    """An older version had the issue in flight to ada@ when it was killed; the operator then
    keeps one spelling, as subscribers list advises, and removes ada@. The message may never
    have arrived: the issue goes to Ada@, the spelling kept, rather than to no one."""
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = configured(site, tmp_path, port)
        older_state(config, [("Ada@example.org", "active"), ("ada@example.org", "active")])
        state_sql(config, "INSERT INTO attempts (issue, email, at) "
                          "VALUES (?, 'ada@example.org', 't')", SLUG)
        assert run(tmp_path, "subscribers", "remove", "ada@example.org").exit_code == 0
        report = send_issue(config, ISSUE, log=quiet, retry=FAST)
    assert report.sent == ["Ada@example.org"]
    assert mailboxes(recorder) == {"ada@example.org": 1}


@both
def test_killed_mid_run_then_resumed_each_mailbox_gets_it_once(site: Path,
                                                               tmp_path: Path) -> None:
    """Sixty mailboxes stored under two spellings each; SIGKILL while two messages wait for
    the server's reply, then the run again: each mailbox got the issue once, at one spelling
    (the first stored), but for the two in flight, sent again to that same spelling."""
    rows = []
    for i in range(60):
        spellings = [f"Reader{i:02d}@example.org", f"reader{i:02d}@example.org"]
        rows += [(address, "active") for address in (spellings if i % 2 else spellings[::-1])]
    first = {address.lower(): address for address, _ in reversed(rows)}
    recorder = Recorder(hold_after=20)
    with smtp_server(recorder) as port:
        config_path = project(site, tmp_path, port, concurrency=2)
        older_state(load_config(config_path), rows)
        sender = start_send(config_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        kill_when_held(sender, recorder)
        in_flight = set(recorder.held)
        recorder.hold_after = None
        recorder.release.set()
        resumed = run(tmp_path, "send", SLUG)
    assert resumed.exit_code == 0, resumed.output
    assert in_flight_named(resumed.output) == in_flight
    counts = Counter(address for address, _ in recorder.messages)
    assert set(counts) == set(first.values())  # one spelling per mailbox: the first stored
    assert {address for address, n in counts.items() if n != 1} == in_flight
    assert "40 sent, 0 bounced, 0 failed, 80 skipped" in resumed.output


@both
@pytest.mark.parametrize(("first", "later"), [("Ada@example.org", "ada@example.org"),
                                              ("ada@example.org", "Ada@example.org")])
def test_two_senders_of_one_mailbox_take_turns(site: Path, tmp_path: Path, first: str,
                                               later: str) -> None:
    """Two senders each handed a spelling of one mailbox (runs that started apart), whichever
    spelling comes first: the second waits for the first to record its attempt, then sends
    nothing."""
    config = configured(site, tmp_path)
    older_state(config, [("Ada@example.org", "active"), ("ada@example.org", "active")])
    seen: list[Any] = []

    def second() -> None:
        with open_database(config) as other, other.transaction():
            seen.append(subscriber_for_send(other, SLUG, later))

    with open_database(config) as db:
        with db.transaction():
            assert subscriber_for_send(db, SLUG, first) is not None
            db.run("attempt.record", (SLUG, first, now()))
            thread = threading.Thread(target=second)
            thread.start()
            time.sleep(0.5)
            assert seen == []  # waiting for the first
        thread.join(10)
    assert seen == [None]
    with open_database(config) as db, db.transaction():  # alone, it would have been sent
        db.run("attempt.delete", (SLUG, first))
        assert subscriber_for_send(db, SLUG, later) is not None


@both
def test_the_active_spelling_is_sent_the_issue_under_its_own_name(site: Path,
                                                                  tmp_path: Path) -> None:
    """The first stored spelling left, a later one of the mailbox is active: the later one is
    sent the issue, greeted by the name stored with it, and the one who left is not."""
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = configured(site, tmp_path, port)
        older_state(config, [("Ada@example.org", "unsubscribed"), ("ada@example.org", "active")])
        state_sql(config, "UPDATE subscribers SET name = 'Old Ada' WHERE email = ?",
                  "Ada@example.org")
        state_sql(config, "UPDATE subscribers SET name = 'Ada Lovelace' WHERE email = ?",
                  "ada@example.org")
        report = send_issue(config, ISSUE, log=quiet, retry=FAST)
    assert report.sent == ["ada@example.org"]
    (address, raw), = recorder.messages
    assert address == "ada@example.org"
    assert parse(raw)["To"] == "Ada Lovelace <ada@example.org>"


@both
def test_leaving_through_one_spellings_link_stops_the_mailbox(site: Path,
                                                             tmp_path: Path) -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = configured(site, tmp_path, port)
        older_state(config, [("Ada@example.org", "active"), ("ada@example.org", "active"),
                             ("bob@example.org", "active")])
        at = dt.datetime.now(dt.UTC)
        key = key_of(config, "ada@example.org")
        assert key is not None
        assert save_preferences(config, key, "Ada", ("Robotics",), at)
        assert {s.email: (s.name, s.topics) for s in list_subscribers(config)} == {
            "Ada@example.org": ("Ada", ("Robotics",)), "ada@example.org": ("Ada", ("Robotics",)),
            "bob@example.org": ("", ())}
        unsubscribe(config, at, key=key)
        report = send_issue(config, ISSUE, log=quiet, retry=FAST)
    assert statuses(config) == {"Ada@example.org": "unsubscribed",
                                "ada@example.org": "unsubscribed", "bob@example.org": "active"}
    assert report.sent == ["bob@example.org"] and mailboxes(recorder) == {"bob@example.org": 1}


@both
def test_an_import_that_says_a_spelling_left_stops_the_mailbox(site: Path,
                                                               tmp_path: Path) -> None:
    """An import naming one spelling of a mailbox an older database holds twice, both active,
    as unsubscribed (a list of those who left, carried over from another tool): the mailbox
    is sent nothing more, as when the reader leaves through either spelling's link."""
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = configured(site, tmp_path, port)
        older_state(config, [("Ada@example.org", "active"), ("ada@example.org", "active"),
                             ("bob@example.org", "active")])
        csv = tmp_path / "left.csv"
        csv.write_text("email,name,topics,status\nada@example.org,,,unsubscribed\n",
                       encoding="utf-8")
        assert run(tmp_path, "subscribers", "import", str(csv)).exit_code == 0
        report = send_issue(config, ISSUE, log=quiet, retry=FAST)
    assert statuses(config) == {"Ada@example.org": "unsubscribed",
                                "ada@example.org": "unsubscribed", "bob@example.org": "active"}
    assert report.sent == ["bob@example.org"] and mailboxes(recorder) == {"bob@example.org": 1}


@both
@pytest.mark.parametrize("how", ["page", "one-click"])
def test_the_link_of_a_removed_spelling_still_stops_the_mailbox(site: Path, tmp_path: Path,
                                                                 how: str) -> None:
    """Issue one went to Ada@ (of Ada@ and ada@, stored before version 6); the operator then
    kept one spelling, ada@, as `subscribers list` advises. The reader follows the link of
    issue one: the page names the mailbox and, once confirmed (its button, or a mail client's
    RFC 8058 POST), the mailbox leaves, so issue two reaches only bob. A forged token of the
    same shape changes nothing. Removing the last spelling forgets the removed key too."""
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = configured(site, tmp_path, port)
        older_state(config, [("Ada@example.org", "active"), ("ada@example.org", "active"),
                             ("bob@example.org", "active")])
        assert send_issue(config, ISSUE, log=quiet, retry=FAST).sent == [
            "Ada@example.org", "bob@example.org"]
        (to_ada,) = [parse(raw) for address, raw in recorder.messages
                     if address == "Ada@example.org"]
        path = link_path(to_ada)
        assert run(tmp_path, "subscribers", "remove", "Ada@example.org").exit_code == 0
        with serving(config) as web:
            client = Client(web)
            forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
            assert client.one_click(forged)[0] == 400
            assert statuses(config) == {"ada@example.org": "active",
                                        "bob@example.org": "active"}
            status, _, page = client.get(path)
            assert status == 200 and "a…@example.org" in page.decode()
            assert statuses(config) == {"ada@example.org": "active",  # asked, not done
                                        "bob@example.org": "active"}
            body = (b"List-Unsubscribe=One-Click" if how == "one-click"
                    else page_form_body(page))
            status, _, page = client.one_click(path, body=body)
            assert status == 200 and "You are unsubscribed" in page.decode()
            status, _, page = client.get(path)  # followed again: told so, not asked
            assert status == 200 and "You are unsubscribed" in page.decode()
        assert statuses(config) == {"ada@example.org": "unsubscribed",
                                    "bob@example.org": "active"}
        report = send_issue(config, NEXT_ISSUE, log=quiet, retry=FAST)
    assert report.sent == ["bob@example.org"]
    assert len(state_sql(config, "SELECT mailbox FROM retired_keys")) == 1
    assert run(tmp_path, "subscribers", "remove", "ada@example.org").exit_code == 0
    assert state_sql(config, "SELECT mailbox FROM retired_keys") == []  # the last spelling


def link_path(message: Any) -> str:
    """The path of the unsubscribe link in a message's List-Unsubscribe header."""
    found = re.search(r"<https://news\.example\.org(/[^>]*unsubscribe\?token=[^>]+)>",
                      message["List-Unsubscribe"])
    assert found, message["List-Unsubscribe"]
    return found.group(1)


def page_form_body(page: bytes) -> bytes:
    """What the page's Unsubscribe button posts: its hidden field."""
    found = re.search(rb'<input type="hidden" name="([^"]+)" value="([^"]+)">', page)
    assert found, page
    return found.group(1) + b"=" + found.group(2)


@both
def test_list_names_the_spellings_and_how_to_keep_one(site: Path, tmp_path: Path) -> None:
    config = configured(site, tmp_path)
    older_state(config, [("Ada@example.org", "unsubscribed"), ("ada@example.org", "active"),
                         ("bob@example.org", "active"), ("Cy@example.org", "active"),
                         ("CY@example.org", "unsubscribed"), ("cy@example.org", "active"),
                         ("Dee@example.org", "unsubscribed"),
                         ("dee@example.org", "unsubscribed")])
    listed = run(tmp_path, "subscribers", "list")
    assert listed.exit_code == 0
    then = ("unsubscribing through any one's link stops them all. To keep one spelling: "
            "newsletter subscribers remove ")
    links = ("(the links in the emails a removed spelling was sent still unsubscribe the "
             "mailbox)")
    assert " ".join(listed.output.split()).split(" warning: ")[1:] == [
        "Ada@example.org, ada@example.org are one mailbox (they differ only in case): it is "
        f"sent each issue once, to ada@example.org, and {then}Ada@example.org {links}",
        # the first active spelling stored is the one sent
        "Cy@example.org, CY@example.org, cy@example.org are one mailbox (they differ only in "
        f"case): it is sent each issue once, to Cy@example.org, and {then}CY@example.org; "
        f"newsletter subscribers remove cy@example.org {links}",
        "Dee@example.org, dee@example.org are one mailbox (they differ only in case): none is "
        f"active, and {then}dee@example.org {links}"]
    for address in ("Ada@example.org", "CY@example.org", "cy@example.org", "dee@example.org"):
        assert run(tmp_path, "subscribers", "remove", address).exit_code == 0
    assert "warning" not in run(tmp_path, "subscribers", "list").output


@both
def test_check_names_the_spellings_and_how_to_keep_one(site: Path, tmp_path: Path) -> None:
    """``newsletter check``, run after an upgrade or a config change, names a mailbox an
    older version stored under two spellings as ``subscribers list`` does: who is sent its
    issues (once: the mailbox is one subscriber) and the command that keeps one spelling.
    A warning, not an error: the send already treats them as one."""
    config = configured(site, tmp_path)
    older_state(config, [("Ada@example.org", "active"), ("ada@example.org", "active"),
                         ("bob@example.org", "active")])
    checked = run(tmp_path, "check")
    assert checked.exit_code == 0, checked.output
    assert "warning" not in checked.stdout, checked.stdout  # a warning, with the others
    assert [line for line in checked.stderr.splitlines() if "warning" in line] == [
        "warning: Ada@example.org, ada@example.org are one mailbox (they differ only in "
        "case): it is sent each issue once, to Ada@example.org, and unsubscribing through any "
        "one's link stops them all. To keep one spelling: newsletter subscribers remove "
        "ada@example.org (the links in the emails a removed spelling was sent still "
        "unsubscribe the mailbox)"]
    assert run(tmp_path, "subscribers", "remove", "ada@example.org").exit_code == 0
    assert "warning" not in run(tmp_path, "check").output


def test_check_creates_no_state_and_says_when_it_cannot_read_one(site: Path,
                                                                 tmp_path: Path) -> None:
    """Without a state yet, check reads none and creates none; a state it cannot read (a
    newer version's) is said in one warning, and the other checks stand."""
    config = configured(site, tmp_path)
    database = config.state_dir / "newsletter.sqlite3"
    checked = run(tmp_path, "check")
    assert checked.exit_code == 0 and "warning" not in checked.output, checked.output
    assert not database.exists()
    state_sql(config, "PRAGMA user_version = 99")
    checked = run(tmp_path, "check")
    assert checked.exit_code == 0, checked.output
    assert (f"warning: the subscribers in {database} were not checked: {database}: written by "
            "a newer version of newsletter (schema 99") in checked.output


def test_state_copy_carries_the_spellings_over(state_backend: StateBackend, site: Path,
                                                tmp_path: Path) -> None:
    """An older SQLite state with two spellings of a mailbox, copied: the target holds both,
    and its index keeps a third out."""
    config = load_config(write_config(tmp_path, state_url=None))
    older_state(config, [("Ada@example.org", "active"), ("ada@example.org", "active")])
    target = target_of(state_backend, tmp_path)
    copied = run(tmp_path, "state", "copy", "--to", target)
    assert copied.exit_code == 0, copied.output
    assert target_sql(target, "SELECT email, duplicate FROM subscribers ORDER BY id") == [
        ("Ada@example.org", 0), ("ada@example.org", 2)]
    with pytest.raises(Exception, match="(?i)unique"):
        target_sql(target, "INSERT INTO subscribers (email, created, updated) "
                           "VALUES ('aDA@example.org', 't', 't')")
