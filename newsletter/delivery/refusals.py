"""What the SMTP server's answer to one message of a send means for its subscriber and for the
run: the one place that decides which refusals last until a person acts.

:mod:`.smtp` tells the server's replies apart (the exceptions it raises); this module says
what follows from each:

- accepted: the subscriber has the issue (``sent``).
- :class:`~.smtp.Permanent`, a 5xx refusing the address (no such mailbox, a disabled one):
  the subscriber is ``bounced`` and sent nothing more until they sign up again.
- :class:`~.smtp.Refused`, a 5xx refusing this message rather than the address (after DATA,
  or at RCPT for a reason of policy or relay): failed, and tried again by the next run. But
  :data:`REFUSED_IN_A_ROW` of them in a row are the server refusing the issue or the sender
  (a content filter, a relay's policy), not each subscriber: the run stops, and that lasts.
- :class:`~.smtp.Fatal`, the server refusing the session (a 5xx greeting; the login, 535;
  the sender, a 5xx to MAIL FROM; TLS): the run stops, and that lasts.
- :class:`~.smtp.Failed`, the retries for 4xx replies and dropped connections ran out:
  failed, and tried again by the next run; when the server is unreachable the run stops,
  which passes.

What lasts is the run's :attr:`~newsletter.delivery.send.SendReport.refused`: sending again
changes nothing until a person acts, so the scheduler (:mod:`newsletter.schedule.failures`)
waits for one instead of trying again on its timer. It decides nothing about SMTP itself.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .smtp import Failed, Fatal, Permanent, Refused

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
    if isinstance(error, Fatal):  # a refused login or sender lasts
        return Verdict("", str(error), stop=str(error), lasts=True)
    if isinstance(error, Failed):  # an unreachable server passes
        return Verdict("", str(error), stop=str(error) if error.fatal else None,
                       uncertain=error.uncertain)
    raise TypeError(f"not a delivery error: {error!r}")


class Streak:
    """The messages the server refused since the last one it took, across the senders of one
    process: at :data:`REFUSED_IN_A_ROW` the run stops, for a reason that lasts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refused = 0

    def judge(self, error: Exception | None) -> Verdict:
        """:func:`verdict`, and the refusal that completes the streak stops the run."""
        judged = verdict(error)
        with self._lock:
            if error is None:
                self._refused = 0
            elif isinstance(error, Refused):
                self._refused += 1
                if self._refused == REFUSED_IN_A_ROW:  # once, whichever sender sees it
                    reason = (
                        f"the SMTP server refused {REFUSED_IN_A_ROW} messages in a row "
                        f"(last: {error}): it refuses this issue or this sender, not the "
                        "subscribers; see the server's policy or logs, then send again "
                        "(nobody was marked bounced)")
                    return Verdict(judged.status, judged.detail, stop=reason, lasts=True)
        return judged
