"""What a run of ``newsletter send`` did (``send.py``), by address: what the command
prints and the scheduler judges a failed run by."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..core.folders import newsletter_command


@dataclass
class SendReport:
    """What a run did, by address. ``in_flight_unknown``: messages an earlier, interrupted
    run had handed to the server without seeing the reply; this run sent them again.
    Every subscriber of the issue is in one of ``sent``, ``bounced``, ``failed`` (tried, and
    not taken), ``not_attempted`` (the run stopped before their message: the SMTP session
    failed, or Ctrl-C) and ``skipped``."""

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
    not_attempted: list[str] = field(default_factory=list)
    interrupted: bool = False  # Ctrl-C stopped the run

    @property
    def ok(self) -> bool:
        return not (self.failed or self.not_attempted or self.interrupted)

    def summary(self) -> str:
        verb = f"written to {self.outbox}" if self.outbox else "sent"
        left = f"{len(self.not_attempted)} not attempted, " if self.not_attempted else ""
        return (f"Issue {self.issue}: {len(self.sent)} {verb}, {len(self.bounced)} bounced, "
                f"{len(self.failed)} failed, {left}{len(self.skipped)} skipped.")

    def advice(self, config_path: Path) -> list[str]:
        """What a person does after a run that did not reach everyone (with the configuration
        at ``config_path``): the same command again, at once, or once what the server refused
        is corrected."""
        if self.interrupted:
            send = newsletter_command(config_path, f"send {self.issue}")
            return [f"Run `{send}` to continue where this run stopped; "
                    "those already sent are not sent twice."]
        if self.refused:  # sending again meets the same refusal until a person acts
            return ["Sending again is refused the same way until what the server refused is "
                    "corrected (above); then run the same command: those already sent are "
                    "not sent twice."]
        retry = len(self.failed) > len(self.unbuildable)
        what = " and ".join(part for part, wanted in (
            ("retry the failed ones", retry),
            ("send those not attempted", bool(self.not_attempted))) if wanted)
        if not what:
            return []
        return [f"Run the same command again to {what}; those already sent are not sent "
                "twice."]
