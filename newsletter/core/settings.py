"""The configuration as the pipeline sees it: typed, frozen, every value checked
(``config.py`` reads and validates the file)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from .words import ENGLISH, Words

DEFAULT_MAX_ARTICLES = 5
DEFAULT_SUBJECT = "{title}: {date}"
# The similar-text threshold the labelled evaluation picked (benchmarks/bench_same_story.py).
DEFAULT_SAME_STORY_THRESHOLD = 0.35


@dataclass(frozen=True)
class EmailSettings:
    sender: str  # email.from, e.g. "AI Weekly <newsletter@news.example.org>"
    reply_to: str | None = None
    postal_address: str = ""
    subject: str = DEFAULT_SUBJECT  # {title}, {date} (e.g. February 22, 2021) and {slug}
    unsubscribe_mailto: str | None = None  # an address for List-Unsubscribe's mailto
    # false: no List-Unsubscribe-Post (RFC 8058), by choice; true: sent with an https site_url
    one_click_unsubscribe: bool = True
    sender_set: bool = False  # email.from is in the file (else made from site_url's host)


@dataclass(frozen=True)
class ScheduleSettings:
    cron: str  # five-field crontab in the config's timezone, e.g. "0 7 * * mon"
    publish: bool = True  # publish what a run builds
    send: bool = False  # deliver it to subscribers after publishing
    catch_up_hours: float = 24  # how late a missed run may still be made up


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 25
    security: str = "none"  # none, starttls or ssl
    username: str | None = None
    password_env: str | None = None  # the environment variable holding the password
    concurrency: int = 1  # connections
    rate_per_second: float | None = None
    # How long a sender's claim on a batch of recipients lasts unless renewed: a sender
    # killed mid-batch leaves its unfinished recipients to the others after this long.
    lease_seconds: float = 60
    # Whether the file has an smtp: section. Without one nothing is delivered (send refuses,
    # readers cannot sign up by default): never through a server the file does not name.
    configured: bool = False


def no_smtp(config_name: str) -> str:
    """What every message about a missing ``smtp:`` section says: what it means, and the fix
    (``init`` writes the section commented out)."""
    return (f"{config_name} has no smtp: section, so there is no mail server to send through. "
            "Uncomment the smtp: section `newsletter init` wrote at its end and fill in your "
            "mail server's host, port and security (none, starttls or ssl); this machine's own "
            'mail server (what no section meant before) is host: "127.0.0.1", port: 25, '
            'security: "none"')


@dataclass(frozen=True)
class ThemeSettings:
    accent: str | None = None  # "#rrggbb": topic headings and rules in light mode
    accent_dark: str | None = None  # the same in dark mode
    logo_url: str | None = None  # https only
    logo_width: int | None = None  # px, as shown in the email and on the pages
    footer: str = ""  # one short line under every email and page


@dataclass(frozen=True)
class SubscribeSettings:
    """The public signup form, confirmation, preferences (``subscribe:`` in the config)."""

    enabled: bool = False  # default: true when smtp is configured; false: the routes 404
    confirm_hours: float = 48  # how long a confirmation link works; then the signup expires
    welcome: bool = True  # one welcome email after confirming
    resend_minutes: float = 60  # at most one confirmation email per address this often
    per_ip_per_hour: int = 20  # signup POSTs per client address in a rolling hour
    trust_proxy: bool = False  # take the client address from X-Forwarded-For's last hop


@dataclass(frozen=True)
class TopicConfig:
    name: str
    max_articles: int = DEFAULT_MAX_ARTICLES


@dataclass(frozen=True)
class Config:
    path: Path  # the config file
    title: str
    site_url: str  # always ends with "/"
    timezone: ZoneInfo
    corpus: Path  # absolute
    output: Path  # absolute
    window_days: int
    min_quality: int | float
    topics: tuple[TopicConfig, ...]
    related_max_per_article: int
    email: EmailSettings
    same_story_content: bool = True  # fold similar texts too, not only the exact rules
    same_story_threshold: float = DEFAULT_SAME_STORY_THRESHOLD
    language: str = "en"
    feed_max_entries: int = 20
    schedule: ScheduleSettings | None = None
    smtp: SmtpSettings = SmtpSettings()
    state_dir: Path = Path(".newsletter")  # absolute once loaded
    secret_env: str = "NEWSLETTER_SECRET"  # names the variable holding the HMAC secret
    # None: SQLite in state_dir; else postgresql://user@host:port/db (no password inside)
    state_url: str | None = None
    state_password_env: str | None = None  # the variable holding the database password
    theme: ThemeSettings = ThemeSettings()
    templates: Path | None = None  # the editor's template overrides (absolute once loaded)
    subscribe: SubscribeSettings = SubscribeSettings()
    words: Words = ENGLISH  # the words readers see (``words:``), English by default
    warnings: tuple[str, ...] = ()

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def open_folders(self) -> tuple[Path, ...]:
        """The folders a private state folder must not close to others when it holds one
        (``state_dir: .``): the published site a web server reads, the corpus, the project."""
        return self.output, self.corpus, self.folder
