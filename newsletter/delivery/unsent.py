"""An issue none of whose messages was tried yet is sent as rendering it now gives, its
email files written again first, when only the way it is rendered changed since it was
published (a template, the theme, the config: SMTP configured after publishing adds the
"Manage preferences" link). Nobody has it yet, so every subscriber still gets one email, the
published one. Once any message of it was tried (a row of it in the ledger, whatever its
status, in flight included), or when its own content differs from what a rebuild gives,
the send is refused as before (:func:`~newsletter.publishing.editing.unlike_published`). A
run that tried nobody (the SMTP session failed before the first message: a refused login,
no STARTTLS, an unreachable server; or Ctrl-C came first) leaves the issue untried.

Two sends of the issue starting at once never rewrite its files differently, nor send
different emails. With SQLite, a run holds the issue's send lock (a flock) while it looks
and writes. With PostgreSQL, the rewrite is made holding the issue's exclusive advisory lock
(the one ``state prune`` takes), which waits for every send preparing its recipients (they
hold it shared) and keeps them waiting until the files are written; and each send compares
the files again while it prepares its recipients, holding that lock shared, and marks its run
there (``send_run.begin``): a send that looked before another rewrote them is refused, and so
is a rewrite while a send that prepared its recipients with them is alive (its mark, and the
advisory lock it holds while it runs: ``runmarks.py``), instead of sending another email.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.config import Config
from ..core.errors import NotAsPublished
from ..core.models import Issue
from ..publishing.editing import unlike_published
from ..publishing.refresh import rebuilt_the_same, rewrite_email
from ..state.database import Database, open_database
from ..state.prune import PRUNE_LOCK, pruned_issue
from ..state.schema import POSTGRESQL
from .runmarks import RUN_LOCK


def refresh_unsent(config: Config, issue: Issue, unlike: NotAsPublished,
                   log: Callable[[str], None]) -> None:
    """Write the issue's email files again and say so in one line, when they are not what
    rendering it now gives (``unlike``), nobody was tried it yet and its content is
    unchanged; else raise the send's refusal."""
    slug = issue.slug
    # Its content changed too: a correction, a person's to make. Looked at before the lock is
    # taken, as it reads the corpus: no send of the issue waits on that.
    if not rebuilt_the_same(config, issue):
        raise unlike
    with open_database(config) as db, db.transaction():
        if db.dialect == POSTGRESQL:
            db.run("issue.lock_to_prune", (PRUNE_LOCK, slug))  # sends of it wait
        now = unlike_published(config, issue)  # another send may have rewritten them
        if now is None:
            return
        if _tried(db, slug):
            raise now  # a message of it was tried: some subscriber may have the old email
        written = rewrite_email(config, issue)
    log(f"Issue {slug} was sent to nobody yet and only the way it is rendered changed since "
        f"it was published: wrote {', '.join(written)} in {config.output} again, as "
        "`build --force` would, so every subscriber gets the email as published now.")



def _tried(db: Database, slug: str) -> bool:
    """Whether a message of the issue was tried (sent, bounced, failed, in flight, or could
    not be built), its ledger was pruned, or, with PostgreSQL, a run of it is alive on any
    machine (it prepared its recipients with the files as they are, and may be sending).
    A run that tried nobody (the SMTP session failed first, Ctrl-C) leaves its recipients
    prepared and perhaps its pace: that is no try, once it ended or died. With SQLite this
    run holds the issue's send lock: no other is alive."""
    sent, bounced, failed, attempts, _claims, _first, _last, _paced = db.run(
        "ledger.issue", (slug,) * 10).fetchone()
    (failed_claims,) = db.run("claims.tried", (slug,)).fetchone()
    if int(sent) + int(bounced) + int(failed) + int(attempts) + int(failed_claims):
        return True
    if pruned_issue(db, slug) is not None:
        return True
    if db.dialect == POSTGRESQL:
        (live,) = db.run("send_runs.live_of_issue", (slug, RUN_LOCK)).fetchone()
        return bool(live)
    return False
