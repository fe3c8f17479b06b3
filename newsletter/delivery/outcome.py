"""What a send run did, read back from the ledger once its senders stopped (complete even
when a worker process died), and the line saying what stopped it before the end."""

from __future__ import annotations

from collections.abc import Callable

from ..core.config import Config
from ..state.database import open_database
from .report import SendReport

Log = Callable[[str], None]


def read_back(
    config: Config, report: SendReport, run: str, fatal: list[str], lost: list[str], log: Log
) -> None:
    """The run's outcome from the ledger into ``report``, and the line saying why it
    stopped before the end, if it did (a refusal, an unreachable server, Ctrl-C, a worker
    lost). A message the run never handed to the server is not attempted, not failed."""
    slug = report.issue
    with open_database(config) as db:
        # A refusal stopped the run even when the worker that saw it was lost: recorded with
        # whether it lasts, as a worker that reported it would have said.
        stopped, lasts = db.run("send_run.stopped", (run,)).fetchone() or ("", 0)
        if stopped and stopped not in fatal and not report.refused:
            fatal = [stopped, *fatal]
            report.refused = stopped if lasts else None
        with db.transaction():
            db.run("send_run.end", (run,))
        for address, status in db.run("deliveries.of_run", (slug, run)):
            (report.sent if status == "sent" else report.bounced).append(address)
        report.failed = [row[0] for row in db.run("claims.failed_in_run", (slug, run))]
        left = (
            [row[0] for row in db.run("claims.pending", (slug, run))]
            if fatal or lost or report.interrupted
            else []
        )
        # in flight in a worker process that died: tried, and named by the next run
        cut = {row[0] for row in db.run("attempts.unfinished", (slug, slug))} if lost else set()
    report.failed += [address for address in left if address in cut]
    report.not_attempted = [
        address for address in left if address not in cut and address not in report.failed
    ]
    if fatal:
        log(f"error: {fatal[0]}")
        log(
            f"Stopped: {len(left)} message(s) not attempted."
            if left
            else "Stopped at the last message: none was left unattempted."
        )
    elif lost and left:
        log(f"{len(left)} message(s) were left unsent by the workers that stopped.")

