"""Which scheduler is the active one: with the SQLite state, the one holding the output
folder's lock; with a PostgreSQL state, the one holding the newsletter's advisory lock, the
others waiting as standbys."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

from ..core.config import Config
from ..core.errors import NewsletterError
from ..core.locks import exclusive
from ..state.leadership import Leadership, LeadershipLost
from ..state.location import location
from .runs import lock_path

log = logging.getLogger("newsletter.schedule")


@contextlib.contextmanager
def scheduler_lock(config: Config) -> Iterator[None]:
    """One scheduler per output folder, whichever config names it."""
    path = lock_path(config)
    with contextlib.ExitStack() as held:
        try:
            # Made as a build makes it, not private: a web server reads it.
            config.output.mkdir(parents=True, exist_ok=True)
            held.enter_context(exclusive(path, lambda holder: NewsletterError(
                f"another scheduler (PID {holder}) is already running for the output "
                f"folder {config.output} (lock file {path}); only one may run per output "
                "folder: stop that one first")))
        except OSError as error:
            raise NewsletterError(f"cannot take the scheduler's lock {path}: {error}; the "
                                  "output folder must be writable by the user running the "
                                  "scheduler") from error
        yield


STANDBY_POLL = 2.0  # seconds between a standby's attempts to take over
HEALTH_CHECK = 10.0  # seconds between checks, between runs, that the active one still is


class SchedulerLeadership:
    """With a PostgreSQL state: the newsletter's scheduler role, waited for as a standby."""

    def __init__(self, config: Config) -> None:
        self.site_url = config.site_url
        self.lock = Leadership(location(config), f"schedule {config.site_url}")

    def acquire(self, stop: threading.Event, *, wait: bool) -> bool:
        """True once this process is the active scheduler; False when ``wait`` is off and
        another one is, or when asked to stop while waiting."""
        said = None
        while not stop.is_set():
            try:
                if self.lock.try_acquire():
                    if said is not None:
                        log.info("taking over as the active scheduler")
                    return True
                holder = self.lock.holder() or "another scheduler"
            except NewsletterError as error:  # the database is unreachable: keep trying
                holder = None
                if said != str(error):
                    log.error("%s", error)
                    said = str(error)
            if holder is not None and said != holder:
                log.info("standing by: %s is the active scheduler of %s; this one takes "
                         "over when it stops", holder, self.site_url)
                said = holder
            if not wait:
                return False
            stop.wait(STANDBY_POLL)
        return False

    def check(self, step: str) -> None:
        """Raise :class:`LeadershipLost` unless this process is still the active scheduler,
        before ``step``: once its session with the database ended (the machine froze or was
        cut off long enough, the server ended it), a standby may have taken over and be
        making the same run, from a corpus and an output folder read later than this one's."""
        if not self.lock.still_held():
            raise LeadershipLost(
                f"this scheduler is no longer the active scheduler of {self.site_url}: its "
                "session with the state database ended (the machine froze or was cut off, or "
                "the server ended it), so a standby may be active now. It stopped before "
                f"{step}, which the active one does; start it again to make it a standby "
                "(systemd's Restart=on-failure does)")

    def close(self) -> None:
        self.lock.close()
