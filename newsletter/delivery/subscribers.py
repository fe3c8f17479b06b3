"""Subscribers: addresses checked and normalized, add/remove/list, and the merge of a new
subscriber into the stored one of its mailbox (CSV import and export: ``subscriber_csv.py``).

An address is checked for syntax only (email-validator, no DNS: an import must not depend
on the network) and stored normalized: the local part as given, the domain lowercased (and
IDNA-encoded), because mail systems treat the domain case-insensitively and the local part,
strictly, not. Yet addresses that differ only in case reach one mailbox, and a mailbox is one
subscriber (``mailboxes.py``): adding or importing another spelling of a stored address
merges into it, under the spelling stored; duplicates merge.

Merging, the same for ``add`` and ``import``: a non-empty name or topic list replaces the
stored one, a blank one keeps it; within one CSV file the duplicates' topics are united.
``import`` never re-subscribes an address that unsubscribed (only an explicit ``add`` does),
so re-importing an old list cannot undo anybody's unsubscribe.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email

from ..core.config import Config
from ..core.errors import NewsletterError
from ..core.headers import MAX_LOCAL, HeaderError, addr_spec, header_problem
from ..core.text import topic_key
from ..state.database import Database, now, open_database, state_exists
from ..state.location import location
from .mailboxes import case_spellings, case_spellings_lines

MAX_NAME = 200


class AddressError(ValueError):
    """Why a string is not a usable email address."""


def normalize_address(raw: str) -> str:
    """``raw`` checked and normalized (``Ada@Example.ORG`` -> ``Ada@example.org``)."""
    text = raw.strip()
    if not text:
        raise AddressError("the address is empty")
    try:
        valid = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise AddressError(str(error)) from None
    if len(valid.local_part) > MAX_LOCAL:  # email-validator lets it pass; SMTP does not
        raise AddressError(f"The part before the @-sign is {len(valid.local_part)} characters "
                           f"long; mail servers take at most {MAX_LOCAL}.")
    address = f"{valid.local_part}@{valid.ascii_domain.lower()}"
    try:  # what a message's To header and the SMTP envelope can carry, checked now
        addr_spec(address)  # rather than when the first email to it cannot be built
    except HeaderError:
        raise AddressError("A message cannot be sent to this address.") from None
    return address


def mailbox_key(address: str) -> str:
    """The mailbox a (normalized) address most likely reaches, for the signup limits only:
    ``Ada+news@Example.org`` -> ``ada@example.org``. Most mail systems ignore the case of
    the local part and deliver a ``+tag`` to the untagged mailbox, so counting spellings
    apart would let one inbox be sent a day's confirmations per spelling. A subscriber is
    not keyed by it: a tagged address, picked on purpose, is a subscriber of its own (case
    alone does not make one: ``mailboxes.subscriber_key``)."""
    local, _, domain = address.rpartition("@")
    untagged = local.split("+", 1)[0]
    return f"{(untagged or local).casefold()}@{domain.lower()}"


def clean_name(raw: str | None) -> str:
    """One line of printable text: a name ends up in a To header. Line breaks, other control
    characters and encoded-word shapes (``=?...?=``) are refused (:class:`AddressError`):
    mail programs would read them as more headers."""
    if not raw:
        return ""
    problem = header_problem(raw)
    if problem:
        raise AddressError(f"name: {problem}")
    text = "".join(c if c.isprintable() else " " for c in raw)
    return " ".join(text.split())[:MAX_NAME]


def parse_topics(raw: str | None, config: Config) -> tuple[str, ...]:
    """``"AI; robotics"`` as the configured names, in config order; () means every topic.

    An unknown topic is an error, not silently ignored: a misspelt topic would otherwise
    send that subscriber nothing, forever.
    """
    if not raw or not raw.strip():
        return ()
    known = {topic_key(topic.name): topic.name for topic in config.topics}
    wanted: set[str] = set()
    for part in raw.split(";"):
        name = " ".join(part.split())
        if not name:
            continue
        if topic_key(name) not in known:
            pieces = [piece.strip() for piece in name.split(",")]
            hint = difflib.get_close_matches(name, [t.name for t in config.topics], n=1)
            did_you_mean = f'; did you mean "{hint[0]}"?' if hint else ""
            if len(pieces) > 1 and all(topic_key(piece) in known for piece in pieces):
                separated = ";".join(pieces)
                did_you_mean = f'; topics are separated by ";", as in "{separated}"'
            choices = ", ".join(t.name for t in config.topics)
            raise AddressError(f'unknown topic "{name}" (configured: {choices}){did_you_mean}')
        wanted.add(known[topic_key(name)])
    return tuple(t.name for t in config.topics if t.name in wanted)


@dataclass(frozen=True)
class Subscriber:
    email: str  # normalized
    name: str = ""
    topics: tuple[str, ...] = ()  # () means every topic
    status: str = "active"  # pending, active, unsubscribed or bounced
    source: str = "import"  # how they joined: form, import or cli
    confirmed_at: str | None = None  # when they confirmed a signup (ISO 8601 UTC)

    def to_json(self) -> dict[str, object]:
        return {"email": self.email, "name": self.name, "topics": list(self.topics),
                "status": self.status, "source": self.source,
                "confirmed_at": self.confirmed_at}


def topics_text(topics: Iterable[str]) -> str:
    """Topics as the state stores them: one text, ';' between them; none is every topic."""
    return ";".join(topics)


def stored_topics(text: str) -> tuple[str, ...]:
    """The topics of ``topics_text``."""
    return tuple(topic for topic in text.split(";") if topic)


COLUMNS = "email, name, topics, status, source, confirmed_at"


def subscriber_from_row(row: Sequence[Any]) -> Subscriber:
    """A subscriber from the columns of ``COLUMNS``, in that order."""
    email, name, topics, status, source, confirmed_at = row
    return Subscriber(email, name, stored_topics(topics), status, source,
                      confirmed_at)


def _stored(db: Database, email: str) -> Subscriber | None:
    row = db.run("subscriber.record", (email,)).fetchone()
    return None if row is None else subscriber_from_row(tuple(row))


def _of_mailbox(db: Database, email: str) -> Subscriber | None:
    """The subscriber of ``email``'s mailbox, under whichever spelling it is stored (an
    active one first, where an older database holds several)."""
    row = db.run("subscriber.of_mailbox", (email, email)).fetchone()
    return None if row is None else subscriber_from_row(tuple(row))


def merge_subscriber(db: Database, new: Subscriber, *, reactivate: bool) -> tuple[str, str]:
    """Merge ``new`` into the stored subscriber of its mailbox; returns the address stored
    and added, updated, resubscribed or unchanged (or "kept unsubscribed" when an import
    names an address that left). ``reactivate``: ``new``'s status stands whatever the stored
    one (``add``); without it, only a leaving (unsubscribed, bounced) does (``import``)."""
    old = _of_mailbox(db, new.email)
    stamp = now()
    if old is None:
        db.run("subscriber.insert_from",
               (new.email, new.name, topics_text(new.topics), new.status, new.source,
                stamp, stamp))
        return new.email, "added"
    name = new.name or old.name
    topics = new.topics or old.topics
    status = old.status
    if new.status in ("unsubscribed", "bounced") or reactivate:
        status = new.status
    merged = dataclasses.replace(old, name=name, topics=topics, status=status)
    if merged == old:
        return old.email, "kept unsubscribed" if old.status == "unsubscribed" else "unchanged"
    db.run("subscriber.merge", (name, topics_text(topics), status, status, stamp, old.email))
    if status != old.status and status in ("unsubscribed", "bounced"):
        # The other spellings of the mailbox an older database holds leave with it, as
        # through a link: left active, one of them would be sent the next issue.
        db.run("subscriber.unsubscribe_by_email" if status == "unsubscribed"
               else "subscriber.bounced", (stamp, old.email))
    if old.status != "active" and status == "active":
        return old.email, "resubscribed"
    kept = status == "unsubscribed" and old.status == status
    return old.email, "kept unsubscribed" if kept else "updated"


def add_subscriber(config: Config, email: str, name: str | None = None,
                   topics: str | None = None) -> tuple[Subscriber, str]:
    """Add (or update, or re-subscribe) one address; returns the stored subscriber and what
    happened. Another spelling of a stored address is that subscriber, kept as stored."""
    try:
        cleaned = clean_name(name)
    except AddressError as error:
        raise NewsletterError(f"--name {name!r}: {error}") from None
    try:
        new = Subscriber(normalize_address(email), cleaned, parse_topics(topics, config),
                         source="cli")
    except AddressError as error:
        raise NewsletterError(f"{email!r}: {error}") from None
    with open_database(config) as db, db.transaction():
        address, outcome = merge_subscriber(db, new, reactivate=True)
        stored = _stored(db, address)
    assert stored is not None
    if address != new.email:
        outcome += (f" ({new.email} differs from it only in case: the same mailbox, one "
                    "subscriber, kept under this spelling)")
    return stored, outcome


def remove_subscriber(config: Config, email: str) -> Subscriber:
    """Delete the subscriber (the send ledger keeps its rows, which hold no personal data
    beyond the address, so that an issue is never sent twice to a re-added address). A
    spelling removed while others of its mailbox stay leaves its link key with the mailbox:
    its emails' links still unsubscribe the reader, until the last spelling goes."""
    try:
        address = normalize_address(email)
    except AddressError as error:
        raise NewsletterError(f"{email!r}: {error}") from None
    with open_database(config) as db, db.transaction():
        stored = _stored(db, address)
        if stored is None:
            other = _of_mailbox(db, address)
            if other is not None:  # the exact spelling: an older database may hold several
                raise NewsletterError(f"{address} is not a subscriber, but {other.email} is "
                                      "(the same mailbox, spelled otherwise): newsletter "
                                      f"subscribers remove {other.email}")
            raise NewsletterError(f"{address} is not a subscriber; see newsletter "
                                  "subscribers list")
        db.run("retired_key.keep", (address,))  # its links still unsubscribe the mailbox
        db.run("subscriber.delete", (address,))
        db.run("retired_keys.forget", (address, address))
    return stored


def iso(at: dt.datetime) -> str:
    """The state database's timestamps: ISO 8601 UTC to the second, which sort as text."""
    return at.astimezone(dt.UTC).isoformat(timespec="seconds")


def pending_cutoff(config: Config, at: dt.datetime | None = None) -> str:
    """Signups requested before this time (ISO 8601 UTC) have expired unconfirmed."""
    at = at or dt.datetime.now(dt.UTC)
    return iso(at - dt.timedelta(hours=config.subscribe.confirm_hours))


def list_subscribers(config: Config) -> list[Subscriber]:
    """Every subscriber but the pending signups that expired unconfirmed (purged soon)."""
    with open_database(config) as db:
        rows = db.run("subscribers.listed", (pending_cutoff(config),)).fetchall()
    return [subscriber_from_row(tuple(row)) for row in rows]


def forgotten_topics(topics: Iterable[str], config: Config) -> list[str]:
    """Those of a subscriber's ``topics`` that the configuration no longer has (renamed or
    removed since): no issue has a section of them, so they send the subscriber nothing."""
    known = _configured(config)
    return [topic for topic in topics if topic_key(topic) not in known]


def forgotten_topics_lines(subscribers: Iterable[Subscriber], config: Config) -> list[str]:
    """A warning for each topic active or pending subscribers chose that the configuration
    no longer has (:func:`forgotten_topics`), and those who chose no other topic get nothing
    at all, without a word."""
    forgotten: dict[str, list[str]] = {}
    for subscriber in subscribers:
        if subscriber.status in ("active", "pending"):
            for topic in forgotten_topics(subscriber.topics, config):
                forgotten.setdefault(topic, []).append(subscriber.email)
    lines = []
    for topic, emails in forgotten.items():
        who = ", ".join(emails[:3]) + (f" and {len(emails) - 3} more" if len(emails) > 3 else "")
        hint = difflib.get_close_matches(topic, [t.name for t in config.topics], n=1)
        renamed = f' (renamed "{hint[0]}"?)' if hint else ""
        lines.append(f'warning: {len(emails)} subscriber(s) chose the topic "{topic}", which '
                     f"{config.path.name} no longer has{renamed}, so no issue sends it to them: "
                     f"{who}. Put the topic back in topics, or give them their topics again: "
                     'newsletter subscribers add EMAIL --topics "A;B"')
    return lines


def _configured(config: Config) -> set[str]:
    return {topic_key(topic.name) for topic in config.topics}


def stored_subscribers_lines(config: Config) -> list[str]:
    """For ``check``: the warnings ``subscribers list`` gives of the state as it stands (a
    mailbox stored under several spellings, a chosen topic the configuration no longer
    has); none without a state yet (``check`` creates none), and one warning when it cannot
    be read (the other checks stand without it)."""
    where = location(config)
    try:
        if not state_exists(where):
            return []
        spellings = case_spellings(config)
        with open_database(config) as db:
            chosen = [row[0] for row in db.run("subscribers.chosen_topics")]
        known = _configured(config)
        # Every subscriber is read (a second at 100,000) only when one of them is named.
        gone = any(topic_key(topic) not in known for text in chosen
                   for topic in stored_topics(text))
        people = list_subscribers(config) if gone else []
    except NewsletterError as error:
        return [f"warning: the subscribers in {where} were not checked: {error}"]
    return case_spellings_lines(spellings) + forgotten_topics_lines(people, config)


def set_status(config: Config, email: str, status: str) -> bool:
    """Mark a subscriber active or unsubscribed; False when the address is not stored."""
    with open_database(config) as db, db.transaction():
        changed = db.run("subscriber.set_status", (status, now(), email, status)).rowcount
        known = changed or _stored(db, email) is not None
    return bool(known)


def subscribers_json(subscribers: Iterable[Subscriber]) -> str:
    return json.dumps([s.to_json() for s in subscribers], indent=2, ensure_ascii=False) + "\n"


HOW_TO_ADD = ("add one with `newsletter subscribers add EMAIL`, or many with "
              "`newsletter subscribers import FILE.csv` (a header line email,name,topics)")


def subscribers_text(subscribers: Iterable[Subscriber]) -> str:
    """One line per subscriber: address, status, topics (or "all topics"), name."""
    lines = []
    for s in subscribers:
        topics = ";".join(s.topics) if s.topics else "all topics"
        lines.append(f"{s.email}\t{s.status}\t{topics}\t{s.name}".rstrip("\t"))
    return "".join(f"{line}\n" for line in lines)
