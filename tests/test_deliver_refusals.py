"""A server that refuses a message is not a subscriber who left: only a refusal of the address
(at RCPT, "no such user", a disabled mailbox) bounces a subscriber. A refusal after DATA (a
content or policy filter, a size limit) or of the relay leaves them subscribed, counts as
failed, and the next run tries them again; five refusals in a row stop the run, since the
server then refuses the issue or the sender, not each subscriber."""

from __future__ import annotations

import asyncio
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from conftest import both, state_sql
from newsletter.core.config import Config, load_config
from newsletter.delivery.refusals import REFUSED_IN_A_ROW, Streak
from newsletter.delivery.send import SendReport, send_issue
from newsletter.delivery.smtp import Limited, Refused
from newsletter.delivery.subscribers import list_subscribers
from newsletter.state.database import open_database
from sending_support import (
    ISSUE,
    add_people,
    configured,
    in_flight_named,
    ledger,
    project,
    start_send,
)
from smtp_support import FAST, Recorder, smtp_server

pytestmark = pytest.mark.usefixtures("secret")  # NEWSLETTER_SECRET: readers' links are signed


class Refusing(Recorder):
    """A server that answers ``data_reply`` after DATA and ``rcpt_reply`` at RCPT for the
    addresses given, and takes every other message."""

    def __init__(self, *, data: dict[str, str] | None = None,
                 rcpt: dict[str, str] | None = None) -> None:
        super().__init__()
        self.data_replies = dict(data or {})
        self.rcpt_replies = dict(rcpt or {})

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.rcpt_replies:
            self.rcpt_calls[address] += 1
            return self.rcpt_replies[address]
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        (address,) = envelope.rcpt_tos
        if address in self.data_replies:
            self.data_calls[address] += 1
            return self.data_replies[address]
        return await super().handle_DATA(server, session, envelope)


def statuses(config) -> dict[str, str]:  # noqa: ANN001
    return {s.email: s.status for s in list_subscribers(config)}


@both
def test_a_message_refused_after_data_fails_and_goes_next_run(site: Path,
                                                              tmp_path: Path) -> None:
    filtered = "554 5.7.1 Message content rejected (policy)"
    refusing = Refusing(data={"ada@example.org": filtered})
    lines: list[str] = []
    with smtp_server(refusing) as port:
        config = configured(site, tmp_path, port)
        add_people(config, tmp_path, ["ada@example.org,,", "bob@example.org,,"])
        first = send_issue(config, ISSUE, log=lines.append, retry=FAST)
    assert first.failed == ["ada@example.org"] and first.bounced == []
    assert first.sent == ["bob@example.org"]
    assert statuses(config) == {"ada@example.org": "active", "bob@example.org": "active"}
    assert refusing.data_calls["ada@example.org"] == 1  # a 5xx: not retried within the run
    assert any(line.startswith("failed: ada@example.org: the server refused the message: 554")
               for line in lines), lines
    accepting = Recorder()
    with smtp_server(accepting) as port:
        config = configured(site, tmp_path, port)  # the same state, the relay fixed
        second = send_issue(config, ISSUE, log=lines.append, retry=FAST)
    assert second.sent == ["ada@example.org"] and second.failed == []
    assert accepting.count() == Counter({"ada@example.org": 1})
    assert sorted(ledger(config)) == [("2021-02-22", "ada@example.org", "sent"),
                                      ("2021-02-22", "bob@example.org", "sent")]


@both
def test_a_server_refusing_every_message_stops_the_run_and_bounces_nobody(
        site: Path, tmp_path: Path) -> None:
    everyone = [f"p{n:02d}@example.org" for n in range(12)]
    relay = "554 5.7.1 <{}>: Relay access denied"
    refusing = Refusing(rcpt={a: relay.format(a) for a in everyone[::2]},
                        data={a: "550 5.7.0 Spam detected" for a in everyone[1::2]})
    lines: list[str] = []
    with smtp_server(refusing) as port:
        config = configured(site, tmp_path, port)
        add_people(config, tmp_path, [f"{a},," for a in everyone])
        report = send_issue(config, ISSUE, log=lines.append, retry=FAST)
    assert report.sent == [] and report.bounced == []
    assert len(report.failed) == 5 and len(report.not_attempted) == 7
    tried = set(refusing.rcpt_calls) | set(refusing.data_calls)
    assert len(tried) == 5, tried
    assert set(statuses(config).values()) == {"active"}
    assert ledger(config) == []
    assert any("refused 5 messages in a row" in line and "nobody was marked bounced" in line
               for line in lines), lines
    assert "Stopped: 7 message(s) not attempted." in lines
    assert state_sql(config, "SELECT run FROM send_runs") == []  # the run's count ends with it


@both
def test_refusals_of_the_address_still_bounce(site: Path, tmp_path: Path) -> None:
    """And a recipient's own refusal keeps its meaning whatever its words: a full mailbox
    says "quota" too, and a content filter "spam"; at RCPT (bounced) or after DATA (failed,
    tried again by the next run), the run goes on to the others."""
    refusing = Refusing(rcpt={"old@example.org": "550 No such user here",
                              "full@example.org": "552 5.2.2 Mailbox full",
                              "gone@example.org": "550 5.1.1 User unknown",
                              "kept@example.org": "550 5.7.1 Rejected by policy",
                              "over@example.org": "552 5.2.2 The email account that you "
                                                  "tried to reach is over quota"},
                        data={"quota@example.org": "552 5.2.2 Quota exceeded (mailbox for "
                                                   "user is full)",
                              "spam@example.org": "550 5.7.1 Message rejected as spam",
                              "big@example.org": "552 5.3.4 Message size exceeds limit"})
    with smtp_server(refusing) as port:
        config = configured(site, tmp_path, port)
        add_people(config, tmp_path, [f"{a},," for a in (*refusing.rcpt_replies,
                                                          *refusing.data_replies,
                                                          "fine@example.org")])
        report = send_issue(config, ISSUE, log=lambda line: None, retry=FAST)
    assert sorted(report.bounced) == ["full@example.org", "gone@example.org",
                                      "old@example.org", "over@example.org"]
    assert sorted(report.failed) == ["big@example.org", "kept@example.org",
                                     "quota@example.org", "spam@example.org"]
    assert report.sent == ["fine@example.org"] and not report.refused
    assert statuses(config)["kept@example.org"] == "active"


@both
def test_addresses_that_bounce_in_a_row_do_not_stop_the_run(site: Path, tmp_path: Path) -> None:
    """An old list imported: seven dead addresses one after the other bounce, each, and the
    run goes on to the others; only refusals of the message or the sender stop a run."""
    dead = [f"d{n}@example.org" for n in range(REFUSED_IN_A_ROW + 2)]
    refusing = Refusing(rcpt={a: "550 5.1.1 User unknown" for a in dead})
    with smtp_server(refusing) as port:
        config = configured(site, tmp_path, port)
        add_people(config, tmp_path, [f"{a},," for a in (*dead, "fine@example.org")])
        report = send_issue(config, ISSUE, log=lambda line: None, retry=FAST)
    assert sorted(report.bounced) == dead and report.sent == ["fine@example.org"]
    assert report.failed == [] and not report.refused


# Refusals that come later in a message but are about the sender or this machine, not the
# recipient: every message would get them, for now. In the words of real servers.
LIMITS_LATER = [
    ("DATA", "554 Throttling failure: Maximum sending rate exceeded."),  # Amazon SES
    ("RCPT", "550 5.4.5 Daily user sending quota exceeded."),  # Gmail
    ("DATA", "550 5.4.5 Daily user sending quota exceeded."),
    ("RCPT", "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed "
             "to process message due to a permanent exception"),  # Office 365
    ("DATA", "550 5.7.1 Message rejected: rate limit exceeded"),
    ("RCPT", "550 Too many messages from this sender, try again later"),
]
BLOCKLISTS_LATER = [  # Postfix applies DNS blocklists to RCPT TO by default
    ("RCPT", "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using "
             "zen.spamhaus.org; https://www.spamhaus.org/query/ip/127.0.0.1"),
    ("DATA", "550 5.7.1 Service unavailable, Client host [127.0.0.1] blocked using Spamhaus"),
]
# Each with the advice for its kind, once it lasts: a sender's limit is the server's to see,
# a listing is for the list to lift.
LATER_THAT_PASS = [
    *((where, reply, "see the server's limits for this sender") for where, reply in LIMITS_LATER),
    *((where, reply, "ask the list named for removal") for where, reply in BLOCKLISTS_LATER),
]


@both
@pytest.mark.parametrize("where, reply, advice", LATER_THAT_PASS)
def test_a_senders_limit_or_a_blocklist_later_in_a_message_stops_the_run_for_now(
        site: Path, tmp_path: Path, where: str, reply: str, advice: str) -> None:
    """A quota, a rate or a blocklist of this machine met at RCPT TO or after DATA is the
    answer every message would get: the run stops at the second (the first alone may be
    one recipient's own: below), not after five in a row, bounces nobody, and says to send
    again later rather than to correct something first (the scheduler tries it again on its
    timer), as the same refusal to MAIL FROM does."""
    everyone = [f"q{n}@example.org" for n in range(8)]
    replies = {a: reply for a in everyone}
    refusing = Refusing(**{"rcpt" if where == "RCPT" else "data": replies})
    lines: list[str] = []
    with smtp_server(refusing) as port:
        config = configured(site, tmp_path, port)
        add_people(config, tmp_path, [f"{a},," for a in everyone])
        report = send_issue(config, ISSUE, log=lines.append, retry=FAST)
    refused = sum((refusing.rcpt_calls if where == "RCPT" else refusing.data_calls).values())
    assert refused == 2, (refused, lines)
    assert report.refused is None, lines  # passes with time: not waiting for a person
    assert report.sent == [] and report.bounced == [] and len(report.failed) == 2
    assert sorted(report.failed + report.not_attempted) == everyone
    assert set(statuses(config).values()) == {"active"} and ledger(config) == []
    assert any(line.startswith("error: the server refused the message to q1@")
               and reply in line and "tried again later" in line and advice in line
               for line in lines), lines
    assert "Stopped: 6 message(s) not attempted." in lines, lines
    assert any("Run the same command again" in line for line in lines), lines
    assert not any("until what the server refused is corrected" in line for line in lines)
    assert state_sql(config, "SELECT run FROM send_runs") == []


def send_with_workers(site: Path, tmp_path: Path, relay: Recorder, everyone: list[str],
                      workers: int, concurrency: int = 1) -> tuple[Config, int, str]:
    """``newsletter send --workers N`` to ``everyone`` through ``relay``, a real process:
    the project's config, the exit status and what it printed."""
    with smtp_server(relay) as port:
        config_path = project(site, tmp_path, port, concurrency=concurrency)
        config = load_config(config_path)
        add_people(config, tmp_path, [f"{a},," for a in everyone])
        sender = start_send(config_path, "--workers", str(workers),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output = sender.communicate(timeout=120)[0].decode()
    return config, sender.returncode, output


# A server may say a limit's words of one recipient alone (their mailbox, or their domain,
# takes no more for now): to the sender they read as its own quota.
ONE_RECIPIENTS_LIMIT = "550 5.7.1 recipient rate limit exceeded, try again later"


@both
@pytest.mark.parametrize("where", ["RCPT", "DATA"])
def test_a_limit_said_of_one_recipient_fails_them_alone_run_after_run(
        site: Path, tmp_path: Path, where: str) -> None:
    """One subscriber, second in line, refused with a limit's words, at RCPT TO or after
    DATA, by every run: the next message is taken, so it was theirs alone. Each run sends
    everyone else and fails that one (tried again by the next run, still subscribed), as a
    refused message; none stops at them, which would leave everyone after them without the
    issue run after run, and every scheduled retry with it."""
    everyone = [f"r{n}@example.org" for n in range(8)]
    limited = everyone[1]
    refusing = Refusing(**{"rcpt" if where == "RCPT" else "data":
                           {limited: ONE_RECIPIENTS_LIMIT}})
    runs: list[tuple[SendReport, list[str]]] = []
    with smtp_server(refusing) as port:
        config = configured(site, tmp_path, port)
        add_people(config, tmp_path, [f"{a},," for a in everyone])
        for _ in range(2):
            lines: list[str] = []
            runs.append((send_issue(config, ISSUE, log=lines.append, retry=FAST), lines))
    (first, first_lines), (second, second_lines) = runs
    assert sorted(first.sent) == [a for a in everyone if a != limited], first_lines
    assert first.failed == [limited] and first.bounced == [] and first.refused is None
    assert second.sent == [] and second.failed == [limited] and second.refused is None
    for lines in (first_lines, second_lines):
        assert not any(line.startswith(("error:", "Stopped:")) for line in lines), lines
        assert any(line.startswith(f"failed: {limited}: ") and ONE_RECIPIENTS_LIMIT in line
                   for line in lines), lines
        assert any("Run the same command again" in line for line in lines), lines
    assert refusing.count() == Counter({a: 1 for a in everyone if a != limited})
    assert (refusing.rcpt_calls if where == "RCPT" else refusing.data_calls)[limited] == 2
    assert statuses(config)[limited] == "active"
    assert state_sql(config, "SELECT run FROM send_runs") == []


@both
def test_recipients_that_met_a_limit_are_tried_after_the_others_by_the_next_run(
        site: Path, tmp_path: Path) -> None:
    """Two subscribers in a row each refused with a limit's words of their own: the run
    cannot tell them from the sender's quota, and stops at the second, for now. The next
    run tries the others first, so they get the issue, then those two, where it stops
    again with nobody left behind them."""
    everyone = [f"t{n}@example.org" for n in range(6)]
    limited = everyone[1:3]
    refusing = Refusing(rcpt={a: ONE_RECIPIENTS_LIMIT for a in limited})
    lines: list[str] = []
    with smtp_server(refusing) as port:
        config = configured(site, tmp_path, port)
        add_people(config, tmp_path, [f"{a},," for a in everyone])
        first = send_issue(config, ISSUE, log=lambda line: None, retry=FAST)
        second = send_issue(config, ISSUE, log=lines.append, retry=FAST)
    assert first.sent == everyone[:1] and sorted(first.failed) == limited
    assert sorted(first.not_attempted) == everyone[3:]
    assert first.refused is None
    assert sorted(second.sent) == everyone[3:], lines
    assert sorted(second.failed) == limited and second.refused is None, lines
    assert "Stopped at the last message: none was left unattempted." in lines, lines
    assert not any("0 message(s)" in line for line in lines), lines
    assert refusing.count() == Counter({a: 1 for a in everyone if a not in limited})
    assert {a: refusing.rcpt_calls[a] for a in limited} == {a: 2 for a in limited}
    assert set(statuses(config).values()) == {"active"}


class LimitedAfterData(Recorder):
    """A relay answering ``limited`` after DATA with ``reply`` (every address when None),
    a little slowly, so that the senders of several processes have messages in flight
    together; it takes the others."""

    def __init__(self, reply: str, limited: set[str] | None = None) -> None:
        super().__init__()
        self.reply = reply
        self.limited = limited

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        (address,) = envelope.rcpt_tos
        await asyncio.sleep(0.02)
        if self.limited is None or address in self.limited:
            self.data_calls[address] += 1
            return self.reply
        return await super().handle_DATA(server, session, envelope)


@both
def test_with_workers_a_limit_of_one_recipient_fails_them_alone_and_the_rest_go_once(
        site: Path, tmp_path: Path) -> None:
    """``send --workers 3`` (two connections each), one subscriber early in line refused
    with a limit's words of their own: the messages the other senders have taken since
    say it was theirs alone, and the run sends everyone else, each once."""
    everyone = [f"v{n:02d}@example.org" for n in range(30)]
    limited = everyone[2]
    relay = LimitedAfterData(ONE_RECIPIENTS_LIMIT, {limited})
    config, status, output = send_with_workers(site, tmp_path, relay, everyone, 3, 2)
    assert status == 1, output
    assert "29 sent, 0 bounced, 1 failed, 0 skipped" in output, output
    assert "Stopped:" not in output and "error:" not in output, output
    assert relay.count() == Counter({a: 1 for a in everyone if a != limited})
    assert relay.data_calls[limited] == 1
    assert sorted(row[1] for row in ledger(config)) == [a for a in everyone if a != limited]


@both
def test_with_workers_a_quota_met_by_every_message_stops_the_run_for_now(
        site: Path, tmp_path: Path) -> None:
    """``send --workers 3`` against a relay throttling every message after DATA: the run
    stops at the second refusal, whichever workers had the two, plus at most the messages
    the other senders had in flight then (2 + (3 - 1)); it bounces nobody and passes with
    time. Sent again once the relay takes mail, everyone gets the issue once."""
    everyone = [f"u{n:02d}@example.org" for n in range(40)]
    senders = 3
    relay = LimitedAfterData("554 Throttling failure: Maximum sending rate exceeded.")
    config, status, output = send_with_workers(site, tmp_path, relay, everyone, senders)
    assert status == 1, output
    refused = sum(relay.data_calls.values())
    assert 2 <= refused <= 2 + senders - 1, (refused, output)
    assert max(relay.data_calls.values()) == 1, output
    assert output.count("error: the server refused the message to u") == 1, output
    assert "a sending quota or rate limit, which passes with time" in output, output
    assert f"Stopped: {len(everyone) - refused} message(s) not attempted." in output, output
    assert "Run the same command again" in output, output
    assert "until what the server refused is corrected" not in output, output
    assert set(statuses(config).values()) == {"active"} and ledger(config) == []
    accepting = Recorder()
    with smtp_server(accepting) as port:
        again = send_issue(configured(site, tmp_path, port), ISSUE, log=lambda line: None,
                           retry=FAST)
    assert sorted(again.sent) == everyone
    assert accepting.count() == Counter({a: 1 for a in everyone})


class RefusingAll(Recorder):
    """A relay that lost its authorization: every message refused after DATA, a little
    slowly (so that the senders of several processes have messages in flight together)."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        (address,) = envelope.rcpt_tos
        self.data_calls[address] += 1
        await asyncio.sleep(0.02)
        return "554 5.7.1 Relay access denied"


@both
def test_five_refusals_in_a_row_stop_the_run_of_every_worker_process(site: Path,
                                                                      tmp_path: Path) -> None:
    """``send --workers 3`` against a server that refuses everything: the run stops after
    five refusals in a row, whichever workers had them, as one worker would; once.

    The bound: every sender looks at the run's stop right before it hands a message over,
    and has at most one message in flight. The fifth refusal stops the run in the
    transaction that records it; each of the other senders (3 processes x 1 connection,
    so 2 others) may have handed one message over before that and hear it refused after:
    at most 5 + (3 - 1) refusals, where each worker counting its own stopped at 5 x 3."""
    everyone = [f"w{n:02d}@example.org" for n in range(60)]
    senders = 3
    refusing = RefusingAll()
    config, status, output = send_with_workers(site, tmp_path, refusing, everyone, senders)
    assert status == 1, output
    refused = sum(refusing.data_calls.values())
    assert REFUSED_IN_A_ROW <= refused <= REFUSED_IN_A_ROW + senders - 1, (refused, output)
    assert max(refusing.data_calls.values()) == 1  # a 5xx: each tried once
    assert output.count(f"refused {REFUSED_IN_A_ROW} messages in a row") == 1, output
    assert f"Stopped: {60 - refused} message(s) not attempted." in output, output
    assert f"0 sent, 0 bounced, {refused} failed, {60 - refused} not attempted, 0 skipped" in output
    assert set(statuses(config).values()) == {"active"} and ledger(config) == []
    accepting = Recorder()  # the relay fixed: the next run sends everyone, each once
    with smtp_server(accepting) as port:
        again = send_issue(configured(site, tmp_path, port), ISSUE, log=lambda line: None,
                           retry=FAST)
    assert sorted(again.sent) == everyone
    assert accepting.count() == Counter({a: 1 for a in everyone})


@both
def test_the_refusals_in_a_row_are_the_runs_and_any_message_taken_ends_them(
        site: Path, tmp_path: Path) -> None:
    """Two senders (two connections to the state, as two worker processes have) count one
    streak: a refusal by one and a message taken by the other, four refusals by one, a
    message taken by the other, then four more refusals do not stop the run; a fifth in a
    row does, once, and every sender of the run sees it."""
    config = configured(site, tmp_path)
    one, other = open_database(config), open_database(config)
    first, second = Streak("run-1", "2021-02-22"), Streak("run-1", "2021-02-22")
    refused = Refused("554 5.7.1 Relay access denied")
    try:
        def judged(db, streak, error):  # noqa: ANN001, ANN202
            with db.transaction():
                return streak.judge(db, error)

        assert judged(one, first, refused).stop is None  # one refusal, then one taken
        assert judged(other, second, None).stop is None
        assert [judged(one, first, refused).stop for _ in range(4)] == [None] * 4
        assert judged(other, second, None).stop is None
        for n in range(4):
            assert judged(one if n % 2 else other, first, refused).stop is None
        assert not second.stopped(one) and not Streak("run-2", "2021-02-22").stopped(one)
        stop = judged(other, second, refused)
        assert stop.lasts and f"refused {REFUSED_IN_A_ROW} messages in a row" in stop.stop
        assert judged(one, first, refused).stop is None  # said once, by the one that saw it
        assert first.stopped(one) and second.stopped(other)
        assert not Streak("run-2", "2021-02-22").stopped(one)  # another run: its own count
    finally:
        one.close()
        other.close()


@both
def test_a_limit_stops_the_run_when_a_second_comes_before_a_message_is_taken(
        site: Path, tmp_path: Path) -> None:
    """Two senders (two connections to the state, as two worker processes have) share what
    the limits met at RCPT TO or after DATA say: one alone stops nothing, a message taken
    by either says it was one recipient's, and a refusal of the message (a content filter)
    neither confirms nor ends it; a second limit before a message is taken, by either,
    stops the run once, for a reason that passes. A lone limit counts in a row as a
    refused message does."""
    config = configured(site, tmp_path)
    one, other = open_database(config), open_database(config)
    first, second = Streak("run-1", "2021-02-22"), Streak("run-1", "2021-02-22")
    limit = Limited("the server refused the message to a@example.org: 550 5.4.5 Daily user "
                    "sending quota exceeded.: a sending quota or rate limit")
    refused = Refused("554 5.7.1 Message content rejected")
    try:
        def judged(db, streak, error):  # noqa: ANN001, ANN202
            with db.transaction():
                return streak.judge(db, error)

        assert judged(one, first, limit).stop is None  # perhaps this recipient's alone
        assert judged(other, second, None).stop is None  # it was: the run goes on
        assert judged(other, second, limit).stop is None
        assert judged(one, first, refused).stop is None  # not alike: no answer either way
        assert not first.stopped(one)
        stop = judged(one, first, limit)
        assert stop.stop == str(limit) and not stop.lasts and stop.status == ""
        assert judged(other, second, limit).stop is None  # said once, by the one that saw it
        assert first.stopped(one) and second.stopped(other)
        assert one.run("send_run.stopped", ("run-1",)).fetchone() == (str(limit), 0)

        alone = Streak("run-2", "2021-02-22")
        assert judged(one, alone, limit).stop is None
        assert [judged(other, alone, refused).stop for _ in range(3)] == [None] * 3
        fifth = judged(one, alone, refused)
        assert fifth.lasts and f"refused {REFUSED_IN_A_ROW} messages in a row" in fifth.stop
    finally:
        one.close()
        other.close()


def test_a_message_whose_connection_always_dropped_is_named_by_the_next_run(
        site: Path, tmp_path: Path) -> None:
    """The server took the message and the line went dead before its reply, at every try:
    only the server knows whether the reader has it. The run stops, and the next one names
    that reader as possibly delivered already and sends it again."""
    recorder = Recorder(drop={"cut@example.org": FAST.attempts})
    with smtp_server(recorder) as port:
        config = configured(site, tmp_path, port)
        add_people(config, tmp_path, ["cut@example.org,,"])
        first = send_issue(config, ISSUE, log=lambda line: None, retry=FAST)
        assert first.failed == ["cut@example.org"] and first.sent == []
        lines: list[str] = []
        second = send_issue(config, ISSUE, log=lines.append, retry=FAST)
    assert second.sent == ["cut@example.org"], lines
    assert in_flight_named("\n".join(lines)) == {"cut@example.org"}, lines
    assert recorder.count() == {"cut@example.org": FAST.attempts + 1}
