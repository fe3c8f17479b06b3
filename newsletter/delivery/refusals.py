"""What the SMTP server's answer to one message of a send means for its subscriber and for the
run: the one place that decides which refusals last until a person acts.

:mod:`.smtp` tells the server's replies apart (the exceptions it raises); this module says
what follows from each:

- accepted: the subscriber has the issue (``sent``).
- :class:`~.smtp.Permanent`, a 5xx refusing the address (no such mailbox, a disabled one):
  the subscriber is ``bounced`` and sent nothing more until they sign up again.
- :class:`~.smtp.Refused`, a 5xx refusing this message rather than the address (after DATA:
  content, size, the recipient's mailbox full; or at RCPT for a reason of policy or relay):
  failed, and tried again by the next run. But
  :data:`REFUSED_IN_A_ROW` of them in a row are the server refusing the issue or the sender
  (a content filter, a relay's policy), not each subscriber: the run stops, and that lasts.
  In a row in the run, whichever of its senders and worker processes had them (:class:`Streak`).
- :class:`~.smtp.Fatal`, the server refusing the session (a 5xx greeting; the login, 535;
  the sender, a 5xx to MAIL FROM; TLS): the run stops, and that lasts. It is the answer
  every sender would get, so a run of several asks once before they start
  (:func:`~.smtp.refused_session`), and one met later stops them all, as refusals in a row do.
  Met before a message's recipient was named (the connection, TLS, the login, the sender),
  that message was not tried: no subscriber is named as failed, and the run counts it, as
  those after it, as not attempted (``Verdict.untried``).
- :class:`~.smtp.TurnedAway`, a refusal of this client for now: a 554 greeting ("no SMTP
  service here": a blocklist the server consults, its load), or a sender over its quota or
  rate or a DNS blocklist naming this machine (:func:`~.smtp.passes_with_time`) at MAIL
  FROM. The run stops at once, every sender with it, but that passes: asking again later is
  what may succeed, with nothing for a person to correct; the state records that it passes,
  so the run says so even when the worker process that met it was lost.
- :class:`~.smtp.Limited`, the same words at RCPT TO or after DATA: every message would get
  them, unless the server says them of one recipient alone ("recipient rate limit
  exceeded, try again later"), and a run stopping at that recipient each time would never
  reach those after them. So the run stops, as for a :class:`~.smtp.TurnedAway`, only when
  a second one comes before the server takes a message (whichever senders had them); the
  first is failed and counted in a row, as a :class:`~.smtp.Refused` is. Either way the
  recipient is tried after the others by the next runs (``claim.last``).
- :class:`~.smtp.Failed`, the retries for 4xx replies and dropped connections ran out:
  failed, and tried again by the next run; when the server is unreachable the run stops,
  which passes.

What lasts is the run's :attr:`~newsletter.delivery.report.SendReport.refused`: sending again
changes nothing until a person acts, so the scheduler (:mod:`newsletter.schedule.failures`)
waits for one instead of trying again on its timer. It decides nothing about SMTP itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..state.database import Database
from .smtp import Failed, Fatal, Limited, Permanent, Refused, TurnedAway

# What delivering one message raises, each judged below.
DELIVERY_ERRORS = (Permanent, Refused, Fatal, Failed)

# A server that refuses this many messages in a row refuses the issue or the sender (a content
# filter, a relay's policy), not each subscriber: the run stops rather than fail everyone.
REFUSED_IN_A_ROW = 5


@dataclass(frozen=True)
class Verdict:
    """One message's outcome: ``status`` is ``sent`` or ``bounced`` (recorded in the ledger)
    or empty (failed: the next run tries again); ``detail`` says why, for the log."""

    status: str
    detail: str = ""
    stop: str | None = None  # why the run stops: every other message would fail alike
    lasts: bool = False  # that stop lasts until a person acts (the report's ``refused``)
    uncertain: bool = False  # the server may hold the message: a later run names it
    # The session failed before the message was given to the server (the connection, TLS,
    # the login, the sender): not tried, so neither failed nor its subscriber named; the run
    # counts it as not attempted, and the next run sends it like any other.
    untried: bool = False


def stops_sending(error: Exception) -> bool:
    """Whether ``error`` would be raised for every other message too: the server refuses
    this client (:class:`~.smtp.Fatal`) or cannot be reached."""
    return isinstance(error, Fatal) or (isinstance(error, Failed) and error.fatal)


def verdict(error: Exception | None) -> Verdict:
    """What delivering one message came to: ``error`` is what it raised, None when the server
    took it (a message on its own: :class:`Streak` also counts the refusals in a row)."""
    if error is None:
        return Verdict("sent")
    if isinstance(error, Permanent):
        return Verdict("bounced", str(error))
    if isinstance(error, Refused):
        return Verdict("", f"the server refused the message: {error}")
    if isinstance(error, TurnedAway):  # for now: a 554 greeting, a quota, a blocklist
        return Verdict("", str(error), stop=str(error), untried=error.untried)
    if isinstance(error, Fatal):  # a refused login or sender lasts
        return Verdict("", str(error), stop=str(error), lasts=True, untried=error.untried)
    if isinstance(error, Failed):  # an unreachable server passes
        return Verdict("", str(error), stop=str(error) if error.fatal else None,
                       uncertain=error.uncertain, untried=error.untried)
    raise TypeError(f"not a delivery error: {error!r}")


class Streak:
    """The messages the server refused since the last one it took, across every sender of
    one run (each connection of each worker process, whichever machine): counted in the
    state database (``send_runs``), which they all share. At :data:`REFUSED_IN_A_ROW` the
    run stops, for a reason that lasts, and every sender of the run sees it before its next
    message (:meth:`stopped`): a server refusing everything gets as many refusals as with
    one sender, plus at most one message in flight per other sender. A sender's limit met
    at RCPT TO or after DATA (:class:`~.smtp.Limited`) is counted too, and apart: the
    second before a message is taken stops the run, for a reason that passes."""

    def __init__(self, run: str, issue: str) -> None:
        self.run = run
        self.issue = issue

    def stopped(self, db: Database) -> bool:
        """Whether the run was stopped (refusals in a row, a refused session: its greeting,
        login or sender), seen by any of its senders."""
        row = db.run("send_run.stopped", (self.run,)).fetchone()
        return row is not None and bool(row[0])

    def judge(self, db: Database, error: Exception | None) -> Verdict:
        """:func:`verdict`, and the refusal that completes the streak stops the run (said
        once, by the sender that saw it). Called in the transaction recording the outcome."""
        judged = verdict(error)
        if isinstance(error, Limited):  # the sender's limit, unless this recipient's alone
            limits, stopped = db.run("send_run.limited", (self.run, self.issue)).fetchone()
            if stopped:  # said once, by the sender that stopped the run
                return Verdict("", str(error))
            if limits < 2:  # not confirmed (yet): the next message tells
                return Verdict("", f"{error} (the run goes on unless the next message is "
                                   "refused alike)")
            db.run("send_run.halt", (self.run, self.issue, judged.stop, 0))
        elif isinstance(error, Fatal):  # the session refused: every sender of the run stops
            # whether that lasts is recorded with it: read back by the run even when the
            # worker process that met it is lost before it reports
            db.run("send_run.halt", (self.run, self.issue, judged.stop, int(judged.lasts)))
        elif error is None:
            db.run("send_run.accepted", (self.run,))
        elif isinstance(error, Refused):
            in_a_row, stopped = db.run("send_run.refused", (self.run, self.issue)).fetchone()
            if in_a_row >= REFUSED_IN_A_ROW and not stopped:
                reason = (
                    f"the SMTP server refused {REFUSED_IN_A_ROW} messages in a row "
                    f"(last: {error}): it refuses this issue or this sender, not the "
                    "subscribers; see the server's policy or logs, then send again "
                    "(nobody was marked bounced)")
                db.run("send_run.stop", (reason, self.run))
                return Verdict(judged.status, judged.detail, stop=reason, lasts=True)
        return judged
