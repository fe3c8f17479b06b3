"""Which failures of a scheduled run last until a person acts, and which pass: the one place
that decides whether the scheduler tries a failed run again on its timer.

A passing failure (the SMTP server unreachable or answering 4xx, a full disk, the database
briefly unreachable) goes away by itself: the run is tried again after 1, 2, 5, ... minutes
(:mod:`.job`). A lasting one fails the same way every time until someone changes an input:
trying it again every half hour would only repeat a full failure in the log (and knock at an
SMTP server with a refused password). It is logged once, with its cause, its fix and the
commands that make the run by hand (as its issue stands: :func:`by_hand`), and tried again
when its inputs change.

Decided from what the run raises, never from the wording of a message:

- :class:`~newsletter.core.errors.StrictError`: ``--strict`` refused an input (an invalid
  article, an override that does not apply); its inputs are the files it names and the
  corpus folder.
- :class:`~newsletter.core.errors.ConfigError` raised by a run (the configuration itself is
  read before it, :mod:`.job`): an issue's overrides file invalid, or unreadable because a
  file stands where its folder should.
- :class:`SendFailed` whose report says the SMTP server refused the session or the issue
  itself (``report.refused``); which of its replies last is decided where the send judges
  them, :mod:`newsletter.delivery.refusals`.
- :class:`~newsletter.core.errors.NotAsPublished`: the send refused to go out, as the issue's
  published email is not what rendering it now gives (a template, the theme or the config
  changed since it was published) and a message of it was tried already, or its content
  changed too (else the send writes the files again and goes: ``delivery/unsent.py``); its
  inputs are the published files that differ (which ``build --force`` rewrites) and the
  templates (the configuration file is watched anyway).
- :class:`~newsletter.core.errors.UnsetVariable`: an environment variable the configuration
  names (the SMTP password, the secret, the PostgreSQL password) is missing or unusable; a
  running process never sees a variable set after it started, so the fix is a restart.
- :class:`~newsletter.core.errors.ReadOnlyState`: the SQLite state database or its folder is
  read-only for the scheduler's user; its inputs are the database and its folder.
- a Jinja template error (a syntax error, an undefined name): its inputs are the templates,
  and the files of the articles it was rendering (the one it failed on is named): a template
  meeting an article without what it uses is fixed as well by correcting that article.
- an :class:`OSError` (itself or as the cause of the error raised) whose errno says the file
  system refuses us rather than lacks room: permission (EACCES, EPERM), a read-only mount
  (EROFS), a file where a folder should be or the reverse (ENOTDIR, EEXIST, EISDIR).

Everything else passes, including what is not recognised: trying again too often costs a log
line, while not trying again could cost an issue.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import os
import pwd
from collections.abc import Iterator
from pathlib import Path

import jinja2

from ..core.config import Config
from ..core.errors import (
    ConfigError,
    NewsletterError,
    NotAsPublished,
    ReadOnlyState,
    StrictError,
    UnsetVariable,
)
from ..core.folders import newsletter_command
from ..core.models import IssueStatus
from ..core.timing import schedule_settings
from ..delivery.progress import SendProgress, send_progress
from ..delivery.report import SendReport
from ..publishing.issues import IssueStore
from ..rendering.check import articles_rendered, template_location
from ..rendering.templating import template_folders


@dataclasses.dataclass(frozen=True)
class Lasting:
    """A failure that stays until a person acts: what failed (naming the file, key or line
    the error names), the fix, and the paths whose change may be that fix (the run is then
    tried again; the configuration file is watched anyway)."""

    cause: str
    fix: str
    inputs: tuple[Path, ...] = ()


class SendFailed(NewsletterError):
    """A run's send failed for some subscribers; ``report`` says which and why."""

    def __init__(self, message: str, report: SendReport) -> None:
        super().__init__(message)
        self.report = report


# What the file system answers when a person must change it: its permissions, its mount, a
# file standing where a folder should (or the reverse). ENOSPC, EIO and the like pass.
REFUSING_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR,
                             errno.EEXIST, errno.EISDIR})


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and what caused it, as a traceback shows them (a context that ``raise ...
    from None`` hid is left out: the error raised then says all)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__)


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a uid without a name, as in some containers
        return f"uid {os.geteuid()}"


def _file_system(error: OSError, said: str, config: Config) -> Lasting:
    named = [Path(os.fsdecode(name)) for name in (error.filename, error.filename2)
             if name is not None]
    if error.errno in (errno.EACCES, errno.EPERM):
        fix = (f"let the user running the scheduler ({_user()}) write there (chown or chmod), "
               f"or name another folder in {config.path}")
    elif error.errno == errno.EROFS:
        fix = "the file system is mounted read-only: mount it read-write or name another folder"
    else:
        fix = "a file stands where a folder should be, or a folder where a file should: move it"
    # The parent too: a folder that cannot be made appears, or changes owner, in its parent.
    return Lasting(said, fix, tuple(dict.fromkeys(
        [path for name in named for path in (name, name.parent)])))


def _template(error: jinja2.TemplateError, config: Config) -> Lasting:
    """A template that failed: its inputs are the templates, and when it failed on an article
    (that article may lack what the template uses), the files of the issue's articles."""
    folders = template_folders(config)
    where = template_location(error, folders)
    named = (Path(where.rsplit(":", 1)[0]),) if ":" in where else ()
    said = f"{where}: {type(error).__name__}: {error}"
    fix = "correct the template; `newsletter check` renders every template and names each problem"
    culprit, articles = articles_rendered(error)
    if culprit is None:  # failed on no article: its data plays no part
        articles = ()
    else:
        said += f" (rendering the article {config.corpus / culprit})"
        fix = ("correct the template (`newsletter check` renders every template with a sample "
               "issue), or the article named if it lacks what the template uses")
    # The packaged templates (the last folder) change only with an upgrade; an article of the
    # issue fixed, or removed, tries the run again as a template does.
    return Lasting(said, fix, (*folders[:-1], *named,
                               *(config.corpus / path for path in articles)))


def _templates(config: Config) -> tuple[Path, ...]:
    """The editor's template folders and the files in them (a template edited in place
    changes the file, not its folder); not the packaged ones, which change only with an
    upgrade."""
    folders = template_folders(config)[:-1]
    return (*folders, *sorted(path for folder in folders if folder.is_dir()
                              for path in folder.rglob("*") if path.is_file()))


def lasting(error: BaseException, config: Config) -> Lasting | None:
    """Why the run that raised ``error`` cannot succeed until a person acts; None when the
    failure passes (the run is then tried again on the timer)."""
    for cause in _chain(error):
        if isinstance(cause, StrictError):
            return Lasting(str(cause), "correct the files named: the scheduler runs with "
                           "--strict, which refuses them (without it, invalid articles are "
                           "skipped with a warning)",
                           (config.corpus, *(Path(path) for path in cause.paths)))
        if isinstance(cause, ConfigError):
            path = Path(cause.path)
            return Lasting(str(cause), f"correct {path} as said above", (path, path.parent))
        if isinstance(cause, SendFailed) and cause.report.refused:
            return Lasting(cause.report.refused, "correct what the server refused, in "
                           f"{config.path} or on the server (a new password in the "
                           "environment needs a restart of the scheduler); subscribers "
                           "already sent are not sent again")
        if isinstance(cause, NotAsPublished):  # its fix in the words `newsletter send` gives
            return Lasting(f"{cause.difference}: nothing was sent", cause.fix,
                           (*cause.files, *_templates(config)))
        if isinstance(cause, UnsetVariable):
            return Lasting(str(cause), f"set {cause.name} in the environment the scheduler "
                           "starts in, then restart the scheduler (a running process never "
                           "sees a variable set after it started)")
        if isinstance(cause, ReadOnlyState):
            return Lasting(str(cause), f"let the user running the scheduler ({_user()}) "
                           f"write {cause.path} and its folder (chown or chmod), or mount it "
                           f"read-write, or name another state_dir in {config.path}",
                           (cause.path, cause.path.parent))
        if isinstance(cause, jinja2.TemplateError):
            return _template(cause, config)
        if isinstance(cause, OSError) and cause.errno in REFUSING_ERRNOS:
            said = str(error) if isinstance(error, NewsletterError) else str(cause)
            return _file_system(cause, said, config)
    return None


def by_hand(config: Config, fire_time: dt.datetime, *, strict: bool,
            failed: bool = True) -> str:
    """What to run by hand for the run of ``fire_time``, as its issue stands now: a clause
    for the line that ends with it ("make it by hand with `...`").

    An issue not published yet is built (and published and sent) as the schedule would; a
    published one is only sent, what is left of its send, and once sent there is nothing to
    send. After a run ``failed`` on a published issue with nothing to send, the one step the
    run had besides is named: publishing it again brings the archive and the feeds up to
    date. A state that cannot be read (the failure may well be that) leaves the send to
    name: a send resumes, nobody gets the issue twice.
    """
    settings = schedule_settings(config)

    def command(words: str) -> str:
        return newsletter_command(config.path, words)

    issue_date = fire_time.astimezone(config.timezone).date()
    slug = issue_date.isoformat()
    try:
        issue = IssueStore(config.output).get(issue_date)
    except NewsletterError:  # a damaged issue.json: the build names it, and rebuilds it
        issue = None
    if issue is None or issue.status != IssueStatus.PUBLISHED:
        build = command(f"build --date {slug}" + (" --publish" if settings.publish else ""))
        then = f", then `{command(f'send {slug}')}`" if settings.send else ""
        return f"make it by hand with `{build}{' --strict' if strict else ''}`{then}"
    progress: SendProgress | None = None
    if settings.send:
        try:
            progress = send_progress(config, issue)
        except Exception:  # noqa: BLE001 - the line must be said whatever the state does
            return (f"send it by hand with `{command(f'send {slug}')}` (issue {slug} is "
                    "published; those already sent are not sent again)")
        if not progress.done:
            rest = "send the rest" if progress.sent + progress.bounced else "send it"
            return (f"{rest} by hand with `{command(f'send {slug}')}` (issue {slug} is "
                    f"published, {progress.describe()})")
    said = f"issue {slug} is published" + (f" and {progress.describe()}" if progress else "")
    if failed:
        return (f"bring its archive and feeds up to date by hand with "
                f"`{command(f'publish {slug}')}` ({said})")
    return f"there is nothing to do by hand: {said}"
