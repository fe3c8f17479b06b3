"""What a run of ``newsletter send`` did (``send.py``), by address: what the command
prints and the scheduler judges a failed run by."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class SendReport:
    """What a run did, by address. ``in_flight_unknown``: messages an earlier, interrupted
    run had handed to the server without seeing the reply; this run sent them again."""

    issue: str
    sent: list[str] = field(default_factory=list)
    bounced: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    in_flight_unknown: list[str] = field(default_factory=list)
    outbox: Path | None = None
    unbuildable: list[str] = field(default_factory=list)  # also in failed: fix the row
    # Why the server refused the session (the login, the sender) or the issue, which stopped
    # the run: sending again changes nothing until a person acts, unlike an unreachable server.
    refused: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        verb = f"written to {self.outbox}" if self.outbox else "sent"
        return (f"Issue {self.issue}: {len(self.sent)} {verb}, {len(self.bounced)} bounced, "
                f"{len(self.failed)} failed, {len(self.skipped)} skipped.")

    def advice(self) -> list[str]:
        """What a person does after a run that failed for some: the same command again, at
        once or once what the server refused is corrected."""
        if self.refused:  # sending again meets the same refusal until a person acts
            return ["Sending again is refused the same way until what the server refused is "
                    "corrected (above); then run the same command: those already sent are "
                    "not sent twice."]
        if len(self.failed) > len(self.unbuildable):
            return ["Run the same command again to retry the failed ones; those already "
                    "sent are not sent twice."]
        return []
