"""How far the send of a published issue got, read from the send ledger: what the lines that
tell an operator what to run by hand go by (the scheduler's missed and failed runs, a
``newsletter send`` without a date), so that they name the send to start or to finish, or
nothing, as the issue stands, never a build of an issue published already.

An issue is sent once a send delivered it (sent or bounced) and nobody is left whom a send
would give it now: no active subscriber whose mailbox has not had it and whose topics it
has (one who failed, or was in flight when a sender died, is still to send; so is one who
subscribed since). One whose ledger was pruned was sent, and is never sent again.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.config import Config
from ..core.folders import newsletter_command
from ..core.models import Issue
from ..publishing.issues import IssueStore
from ..state.database import open_database
from ..state.prune import pruned_issue
from .editions import sections_for
from .mailboxes import subscriber_key
from .subscribers import stored_topics


@dataclass(frozen=True)
class SendProgress:
    """One published issue's send: what was delivered, and what is left."""

    slug: str
    sent: int = 0
    bounced: int = 0
    left: int = 0  # active subscribers a send would give it now
    pruned: bool = False  # sent, and its ledger pruned since (never sent again)

    @property
    def done(self) -> bool:
        """Sent, with nobody left: a send now would send nothing."""
        return self.pruned or (self.sent + self.bounced > 0 and not self.left)

    def describe(self) -> str:
        """Where its send stands: "not sent yet", "partly sent: 2 sent, 0 bounced, 1 left"."""
        counts = f"{self.sent} sent, {self.bounced} bounced"
        if self.pruned:
            return f"sent: {counts}, its send ledger pruned since"
        if self.done:
            return f"sent: {counts}, none left"
        if self.sent + self.bounced:
            return f"partly sent: {counts}, {self.left} left"
        return "not sent yet"


def send_progress(config: Config, issue: Issue) -> SendProgress:
    """The ledger's account of ``issue``'s send, and who a send would give it now (as
    :func:`~newsletter.delivery.send.send_issue` picks them: by mailbox, by topic)."""
    slug = issue.slug
    with open_database(config) as db:
        record = pruned_issue(db, slug)
        if record is not None:
            return SendProgress(slug, record.sent, record.bounced, pruned=True)
        row = db.run("ledger.issue", (slug,) * 10).fetchone()  # sent, bounced, ...
        had = {subscriber_key(address) for (address,) in db.run("deliveries.addresses",
                                                                (slug,))}
        left = {subscriber_key(address)
                for address, _, topics, _ in db.run("subscribers.active_stamped")
                if subscriber_key(address) not in had
                and sections_for(issue, stored_topics(topics))}
    return SendProgress(slug, int(row[0]), int(row[1]), len(left))


def sent_to_everyone(config: Config, issue: Issue) -> str:
    """The line saying nobody is left to send ``issue`` to, or "" when someone is (or its
    ledger was pruned, which a send refuses as ever): a send whose email is no longer the
    published one then reaches nobody, and has nothing to refuse."""
    progress = send_progress(config, issue)
    if not progress.done or progress.pruned:
        return ""
    return (f"Issue {issue.slug} was already sent to everyone ({progress.describe()}): "
            "nothing to send.")


def which_issue(config: Config) -> str:
    """What ``newsletter send`` without a date says: it sends nothing then, but names the
    latest published issue, whether it was sent, and the command that sends it; or, with
    none published, how to publish one."""
    def command(words: str) -> str:
        return newsletter_command(config.path, words)

    needs = "newsletter send needs the date of a published issue (YYYY-MM-DD)"
    latest, draft = IssueStore(config.output).latest_published()
    if latest is None:
        if draft is not None:
            slug = draft.isoformat()
            return (f"{needs}, and none is published in {config.output} yet; the latest "
                    f"draft is {slug}: publish it with {command(f'publish {slug}')}, then "
                    f"{command(f'send {slug}')}")
        return (f"{needs}, and there is no issue in {config.output} yet: build and publish "
                f"one with {command('build --date YYYY-MM-DD --publish')}, then "
                f"{command('send YYYY-MM-DD')}")
    slug = latest.slug
    progress = send_progress(config, latest)
    also = (f" (the draft {draft.isoformat()} after it is not published: "
            f"{command(f'publish {draft.isoformat()}')})" if draft is not None else "")
    if progress.done:
        return f"{needs}; the latest is {slug} ({progress.describe()}){also}"
    return (f"{needs}; the latest is {slug} ({progress.describe()}): "
            f"{command(f'send {slug}')}{also}")
