"""Readers who sign up, confirm, change their preferences or leave, as state changes.

The web pages call these; each is one transaction in the state database (SQLite or
PostgreSQL), so the limits hold across processes and restarts:

* a signup (``record_signup``) counts against its client's hourly allowance first; then an
  active address is left as it is and sent the welcome email again (its preferences link),
  and any other becomes (or stays) **pending** with a confirmation email queued, at most one
  email per mailbox per ``subscribe.resend_minutes`` and three per day, whatever is POSTed
  (a mailbox: the address with case and a ``+tag`` set aside, :func:`mailbox_key`; the
  email goes to the address as typed, or as stored when the address is another spelling of
  a subscriber's, case aside: it is that subscriber, ``mailboxes.py``, and the page answers
  alike);
* confirming makes a pending subscriber **active** (and queues the welcome email);
* a pending signup not confirmed within ``subscribe.confirm_hours`` expires: ``purge``
  deletes it, or, for an address that had been subscribed before, puts it back to
  unsubscribed (it stays out of every send either way).

Times are passed in (``at``, UTC) so that tests can move the clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from enum import Enum

from ..core.config import Config
from ..core.errors import NewsletterError
from ..core.models import IssueStatus
from ..publishing.issues import IssueStore
from ..state.database import Database, open_database
from .subscribers import Subscriber, iso, mailbox_key, pending_cutoff, subscriber_from_row
from .tokens import new_key

CONFIRMS_PER_DAY = 3
QUEUE_KEEP = dt.timedelta(days=2)  # finished queue rows are kept this long (the day limit)
HIT_WINDOW = dt.timedelta(hours=1)


class Outcome(Enum):
    QUEUED = "queued"  # a confirmation email, or to an active address the welcome, is queued
    NOTHING = "nothing"  # the address's own limit is reached
    LIMITED = "limited"  # the client's hourly allowance is used up: 429


def client_network(client: str) -> str:
    """The client the rate limit counts: an IPv4 address, or an IPv6 address's /64 network
    (one subscriber line, home or phone, gets a /64 and may pick any address in it)."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)


def client_key(secret: bytes, client: str) -> str:
    """What the rate limit stores for a client: an HMAC, so the state database keeps no
    readers' IP addresses."""
    who = client_network(client)
    return hmac.new(secret, f"signup-client:{who}".encode(), hashlib.sha256).hexdigest()[:32]


def record_signup(config: Config, secret: bytes, *, address: str, name: str,
                  topics: tuple[str, ...], client: str, at: dt.datetime) -> Outcome:
    """A signup POST with a valid form token for ``address`` (normalized), from ``client``."""
    settings = config.subscribe
    stamp = iso(at)
    who = client_key(secret, client)
    with open_database(config) as db, db.transaction():
        hits = db.run("signup_hits.count", (who, iso(at - HIT_WINDOW))).fetchone()[0]
        if hits >= settings.per_ip_per_hour:
            return Outcome.LIMITED
        db.run("signup_hits.insert", (who, stamp))
        _purge(db, config, at)
        row = db.run("subscriber.of_mailbox", (address, address)).fetchone()
        if row is not None:  # the mailbox's subscriber, under the spelling it is stored as
            address = row[0]
        mailbox = mailbox_key(address)
        count, last = db.run("mail_queue.recent_confirms",
                             (mailbox, iso(at - dt.timedelta(days=1)))).fetchone()
        resend_after = iso(at - dt.timedelta(minutes=settings.resend_minutes))
        topics_text = ";".join(topics)
        if count >= CONFIRMS_PER_DAY or (last is not None and last > resend_after):
            # No second email; a reader who went back to the form and changed their choices
            # before confirming confirms those, not the first ones.
            db.run("subscriber.pending_choices", (name, topics_text, stamp, address))
            return Outcome.NOTHING
        if row is not None and row[3] == "active":
            # Nothing changes; the reader, told "check your inbox", gets the welcome email
            # again, with their preferences link, rather than nothing at all.
            db.run("mail_queue.insert", ("welcome", address, mailbox, stamp, stamp))
            return Outcome.QUEUED
        if row is None:
            if not db.run("subscriber.insert_pending",
                          (address, name, topics_text, stamp, new_key(), stamp, stamp)
                          ).rowcount:
                # Another signup of the mailbox got in first and queued its confirmation:
                # answered as a second signup within the resend limit is.
                return Outcome.NOTHING
        else:  # pending again, unsubscribed or bounced: the same confirmation
            db.run("subscriber.make_pending", (name, topics_text, stamp, stamp, address))
        db.run("mail_queue.insert", ("confirm", address, mailbox, stamp, stamp))
        return Outcome.QUEUED


def _purge(db: Database, config: Config, at: dt.datetime) -> None:
    """Expired signups, old rate-limit hits and old queue rows go (inside a transaction)."""
    cutoff = pending_cutoff(config, at)
    db.run("mail_queue.drop_expired", (cutoff,))
    db.run("subscribers.purge_expired", (cutoff,))
    db.run("subscribers.expire_pending", (cutoff,))
    db.run("signup_hits.purge", (iso(at - HIT_WINDOW),))
    db.run("mail_queue.purge", (iso(at - QUEUE_KEEP),))


def purge(config: Config, at: dt.datetime) -> None:
    with open_database(config) as db, db.transaction():
        _purge(db, config, at)


class Confirmed(Enum):
    CONFIRMED = "confirmed"
    ALREADY = "already"  # active already: a second click, or a reload
    EXPIRED = "expired"  # unknown key, no pending signup, or too old


def confirm(config: Config, key: str, at: dt.datetime) -> Confirmed:
    """Make the pending subscriber named by ``key`` active (queues the welcome email)."""
    stamp = iso(at)
    with open_database(config) as db, db.transaction():
        row = db.run("subscriber.by_key", (key,)).fetchone()
        if row is None:
            return Confirmed.EXPIRED
        address, status, requested = row[0], row[3], row[6]
        if status == "active":
            return Confirmed.ALREADY
        if status != "pending" or requested is None or requested < pending_cutoff(config, at):
            return Confirmed.EXPIRED
        db.run("subscriber.confirm", (stamp, stamp, key))
        db.run("mail_queue.drop_confirms", (address,))
        if config.subscribe.welcome:
            db.run("mail_queue.insert", ("welcome", address, mailbox_key(address), stamp,
                                         stamp))
        return Confirmed.CONFIRMED


@dataclass(frozen=True)
class Reader:
    """A subscriber as their own pages see them."""

    key: str
    subscriber: Subscriber
    requested_at: str | None


def reader(config: Config, key: str) -> Reader | None:
    with open_database(config) as db:
        row = db.run("subscriber.by_key", (key,)).fetchone()
    if row is None:
        return None
    values = tuple(row)
    return Reader(key, subscriber_from_row(values[:6]), values[6])


def leaving(config: Config, key: str) -> Subscriber | None:
    """Who an unsubscribe link's key names: its subscriber, or the mailbox of a spelling
    removed since while others of it stayed (a database from before schema version 6; the
    spelling still active first), whom following the link unsubscribes (:func:`unsubscribe`).
    None for a key nothing is left of."""
    found = reader(config, key)
    if found is not None:
        return found.subscriber
    with open_database(config) as db:
        row = db.run("subscriber.of_retired_key", (key,)).fetchone()
    return None if row is None else subscriber_from_row(tuple(row))


def key_of(config: Config, address: str) -> str | None:
    """The token key of the subscriber with this (normalized) address."""
    with open_database(config) as db:
        row = db.run("subscriber.key", (address,)).fetchone()
    return None if row is None else str(row[0])


def save_preferences(config: Config, key: str, name: str, topics: tuple[str, ...],
                     at: dt.datetime) -> bool:
    """New name and topics, from the next message on; False for an unknown key."""
    with open_database(config) as db, db.transaction():
        changed = db.run("subscriber.save_preferences",
                         (name, ";".join(topics), iso(at), key)).rowcount
    return bool(changed)


def unsubscribe(config: Config, at: dt.datetime, *, key: str | None = None,
                address: str | None = None) -> None:
    """Unsubscribe the mailbox named by ``key`` (its every spelling, also through the key of
    a spelling removed since) or ``address`` (links of earlier versions); an unknown one is
    nothing to do. Takes effect for every message not yet
    handed to the SMTP server, a running send's included."""
    with open_database(config) as db, db.transaction():
        if key is not None:
            db.run("subscriber.unsubscribe_by_key", (iso(at), key, key))
        else:
            db.run("subscriber.unsubscribe_by_email", (iso(at), address))


def latest_issue_url(config: Config) -> str:
    """The web address of the newest published issue, "" when none is published yet."""
    store = IssueStore(config.output)
    try:
        for date in reversed(store.dates()):
            if store.status(date) == IssueStatus.PUBLISHED:
                return f"{config.site_url}{date.isoformat()}/"
    except (OSError, NewsletterError):
        pass  # a page or an email without the link, rather than an error
    return ""
