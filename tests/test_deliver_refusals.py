"""A server that refuses a message is not a subscriber who left: only a refusal of the address
(at RCPT, "no such user", a disabled mailbox) bounces a subscriber. A refusal after DATA (a
content or policy filter, a size limit) or of the relay leaves them subscribed, counts as
failed, and the next run tries them again; five refusals in a row stop the run, since the
server then refuses the issue or the sender, not each subscriber."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import test_deliver
from test_deliver import FAST, ISSUE, Recorder, add_people, both, configured, ledger, smtp_server

from newsletter.delivery.send import send_issue
from newsletter.delivery.subscribers import list_subscribers

# Fixtures shared with test_deliver.py (pytest finds them by name here).
secret = test_deliver.secret
site = test_deliver.site


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
    assert len(report.failed) == 12  # 5 refused, 7 not attempted
    tried = set(refusing.rcpt_calls) | set(refusing.data_calls)
    assert len(tried) == 5, tried
    assert set(statuses(config).values()) == {"active"}
    assert ledger(config) == []
    assert any("refused 5 messages in a row" in line and "nobody was marked bounced" in line
               for line in lines), lines
    assert "Stopped: 7 message(s) not attempted." in lines


@both
def test_refusals_of_the_address_still_bounce(site: Path, tmp_path: Path) -> None:
    refusing = Refusing(rcpt={"old@example.org": "550 No such user here",
                              "full@example.org": "552 5.2.2 Mailbox full",
                              "gone@example.org": "550 5.1.1 User unknown",
                              "kept@example.org": "550 5.7.1 Rejected by policy"})
    with smtp_server(refusing) as port:
        config = configured(site, tmp_path, port)
        add_people(config, tmp_path, [f"{a},," for a in (*refusing.rcpt_replies,
                                                          "fine@example.org")])
        report = send_issue(config, ISSUE, log=lambda line: None, retry=FAST)
    assert sorted(report.bounced) == ["full@example.org", "gone@example.org",
                                      "old@example.org"]
    assert report.failed == ["kept@example.org"] and report.sent == ["fine@example.org"]
    assert statuses(config)["kept@example.org"] == "active"
