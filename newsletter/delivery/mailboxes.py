"""A mailbox is one subscriber: the spellings of an address that differ only in case.

Mail systems deliver ``Ada@example.org`` and ``ada@example.org`` to one inbox (the standard
lets a server tell local parts apart by case; in practice none does), so a subscriber is
found by any spelling of their address: a signup, ``subscribers add`` or an import of another
spelling is the subscriber already stored, who keeps the spelling stored. A ``+tag`` is not
set aside for this: a reader picks ``ada+news@`` on purpose, to file the mail apart (and a
few systems deliver it elsewhere); only the signup limits, which keep an inbox from being
flooded with confirmations, count it with the untagged address (``mailbox_key``).

A database from before schema version 6 may hold several spellings of one mailbox. They are
kept, since the emails they were sent carry their own links, and act as one subscriber: a
send gives the mailbox each issue once (``claims.fill`` picks the spelling, and
:func:`subscriber_for_send` checks again right before a message goes out), unsubscribing
through any spelling's link stops them all (also through the link of a spelling removed
since: its key is kept with the mailbox until the last spelling goes), and ``subscribers
list`` and ``check`` name them.
"""

from __future__ import annotations

from typing import Any

from ..core.config import Config
from ..state.database import Database, open_database


def subscriber_key(address: str) -> str:
    """What makes two (normalized) addresses one subscriber: ``Ada@example.org`` and
    ``ada@example.org`` -> ``ada@example.org``. Addresses are ASCII (no SMTPUTF8), so lower()
    is casefolding, and it is what the state database's ``lower(email)`` computes."""
    return address.lower()


def subscriber_for_send(db: Database, slug: str, address: str) -> tuple[Any, ...] | None:
    """``(name, topics, status, token_key)`` of ``address`` right before its message of the
    issue ``slug`` goes out, in the transaction that records the attempt; None when it is
    gone, or when another spelling of its mailbox was sent the issue or has it in flight
    (the spellings are locked on PostgreSQL first, so that two senders of one mailbox take
    turns and the second sees the first's attempt)."""
    rows = db.run("subscriber.for_send", (address,)).fetchall()
    mine = next((tuple(row[1:]) for row in rows if row[0] == address), None)
    if mine is None:
        return None
    taken = db.run("mailbox.has_issue", (slug, address, address) * 2 + (slug, address))
    return None if taken.fetchone() is not None else mine


def case_spellings(config: Config) -> list[list[tuple[str, str]]]:
    """The mailboxes stored under several spellings (before schema version 6), each as its
    (address, status) pairs in the order they were stored."""
    groups: dict[str, list[tuple[str, str]]] = {}
    with open_database(config) as db:
        for address, status in db.run("subscribers.case_spellings"):
            groups.setdefault(subscriber_key(address), []).append((address, status))
    return [group for group in groups.values() if len(group) > 1]  # not one left alone


def case_spellings_lines(groups: list[list[tuple[str, str]]]) -> list[str]:
    """One warning per mailbox stored under several spellings: who is sent its issues, and
    how to keep one spelling."""
    lines = []
    for spellings in groups:
        names = ", ".join(address for address, _ in spellings)
        active = [address for address, status in spellings if status == "active"]
        keep = active[0] if active else spellings[0][0]
        sent = f"it is sent each issue once, to {keep}" if active else "none is active"
        others = [address for address, _ in spellings if address != keep]
        lines.append(
            f"warning: {names} are one mailbox (they differ only in case): {sent}, and "
            "unsubscribing through any one's link stops them all. To keep one spelling: "
            + "; ".join(f"newsletter subscribers remove {address}" for address in others)
            + " (the links in the emails a removed spelling was sent still unsubscribe the "
            "mailbox)")
    return lines

