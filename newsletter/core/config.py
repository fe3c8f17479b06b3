"""The configuration file: schema, defaults, and validation that reports every problem at once.

Each message names the key, what was expected and what was found, e.g.
``topics[2].max_articles: expected a positive integer, got "five"``.
"""

from __future__ import annotations

import math
import re
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .checks import Report, integer, is_number, mapping, positive_number, string
from .errors import ConfigError
from .folders import check_folders, missing_config_fix
from .headers import HeaderError, addr_spec, header_problem, mailbox
from .safeyaml import load_yaml_file
from .same_story import check_same_story
from .schedule_config import check_schedule
from .settings import (
    DEFAULT_MAX_ARTICLES,
    DEFAULT_SUBJECT,
    Config,
    EmailSettings,
    SmtpSettings,
    TopicConfig,
    no_smtp,
)
from .signups import check_subscribe
from .site_url import ONE_CLICK_KEY, check_site_url, one_click_choice
from .text import describe, topic_key
from .theme import check_templates, check_theme, report_placeholders
from .words import check_words
from .zones import check_timezone

# An issue's window reaching back further than this could start before year 1 (see the
# issue dates accepted, core/timing.py); a century takes in any real corpus.
MAX_WINDOW_DAYS = 36525

TOP_LEVEL_KEYS = (
    "title", "site_url", "timezone", "corpus", "output", "window_days", "min_quality",
    "topics", "related", "same_story", "language", "email", "feeds", "schedule", "smtp",
    "state_dir", "secret_env", "state_url", "state_password_env", "subscribe",
    "theme", "templates",  # theme.py
    "words",  # words.py
)
EMAIL_KEYS = ("from", "reply_to", "postal_address", "subject", "unsubscribe_mailto")
SMTP_KEYS = ("host", "port", "security", "username", "password_env", "concurrency",
             "rate_per_second", "lease_seconds")
TOPIC_KEYS = ("name", "max_articles")
RELATED_KEYS = ("max_per_article",)
FEEDS_KEYS = ("max_entries",)
SMTP_SECURITY = {"none": 25, "starttls": 587, "ssl": 465}  # and each one's usual port
SUBJECT_FIELDS = ("title", "date", "slug")


def _topics(report: Report, value: Any) -> tuple[TopicConfig, ...]:
    if value is None:
        report.errors.append('topics: required, but missing; list the topics in order, '
                             'e.g. topics: ["AI", "Robotics"]')
        return ()
    if value == []:
        report.errors.append("topics: expected a non-empty list of topics, got an empty list")
        return ()
    if not isinstance(value, list):
        report.expected("topics", "a non-empty list of topics", value)
        return ()
    topics: list[TopicConfig] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(value):
        key = f"topics[{index}]"
        if isinstance(item, str):
            name, max_articles = item.strip(), DEFAULT_MAX_ARTICLES
        elif isinstance(item, dict):
            report.unknown_keys(item, TOPIC_KEYS, prefix=f"{key}.")
            raw_name = item.get("name")
            if not isinstance(raw_name, str):
                report.expected(f"{key}.name", "a topic name", raw_name)
                continue
            name = raw_name.strip()
            maximum = integer(report, f"{key}.max_articles",
                               item.get("max_articles", DEFAULT_MAX_ARTICLES), minimum=1)
            if maximum is None:
                continue
            max_articles = maximum
        else:
            report.expected(key, 'a topic name or a mapping {name: ..., max_articles: ...}',
                            item)
            continue
        if not name:
            report.expected(key, "a non-empty topic name", name)
            continue
        folded = topic_key(name)
        if folded in seen:
            report.errors.append(
                f'{key}: topic "{name}" is already listed as topics[{seen[folded]}]')
            continue
        seen[folded] = index
        topics.append(TopicConfig(name, max_articles))
    return tuple(topics)


def check_subject(template: str) -> str | None:
    """Why a subject template is unusable, or None when it is fine."""
    problem = header_problem(template)
    if problem:
        return problem
    for name in re.findall(r"{([^{}]*)}", template):
        if name not in SUBJECT_FIELDS:
            return f'unknown placeholder {{{name}}}; use {{title}}, {{date}} or {{slug}}'
    return None


def _email(report: Report, value: Any, title: str | None, site_url: str | None
           ) -> EmailSettings:
    host = urlsplit(site_url).hostname if site_url else None
    default_sender = mailbox(title or "Newsletter", f"newsletter@{host or 'localhost'}")
    if value is None:
        value = {}
    if not isinstance(value, dict):
        report.expected("email", "a mapping with from, postal_address, ...", value)
        return EmailSettings(default_sender)
    report.unknown_keys(value, (*EMAIL_KEYS, ONE_CLICK_KEY), prefix="email.")
    fields: dict[str, str | None] = {}
    for key in EMAIL_KEYS:
        raw = value.get(key)
        if raw is not None and (not isinstance(raw, str) or not raw.strip()):
            report.expected(f"email.{key}", "a non-empty string", raw)
            raw = None
        fields[key] = raw.strip() if isinstance(raw, str) else None
    for key in ("from", "reply_to", "unsubscribe_mailto"):
        address = fields[key]
        if not address:
            continue
        problem = header_problem(address)
        if problem:  # before parsing: a parser may drop what follows a line break
            report.errors.append(f"email.{key}: {problem}")
            fields[key] = None
            continue
        if "@" not in parseaddr(address)[1]:
            report.expected(f"email.{key}", 'an address such as "AI Weekly <news@example.org>"',
                            address)
            continue
        try:
            addr_spec(parseaddr(address)[1])
        except HeaderError as error:
            report.errors.append(f"email.{key}: {error}; use a plain address such as "
                                 "news@example.org (a non-ASCII domain is fine)")
    subject = fields["subject"] or DEFAULT_SUBJECT
    problem = check_subject(subject)
    if problem:
        report.errors.append(f"email.subject: {problem}")
    if not fields["postal_address"]:
        report.warnings.append("email.postal_address: missing; bulk email must show the "
                               "sender's postal address (CAN-SPAM), so the footer lacks it")
    return EmailSettings(
        sender=fields["from"] or default_sender,
        reply_to=fields["reply_to"],
        postal_address=fields["postal_address"] or "",
        subject=subject,
        unsubscribe_mailto=fields["unsubscribe_mailto"],
        one_click_unsubscribe=one_click_choice(report, value),
        sender_set=bool(fields["from"]),
    )


def _smtp(report: Report, value: Any) -> SmtpSettings:
    data = mapping(report, value, "smtp", SMTP_KEYS)
    if data is None:
        return SmtpSettings()
    security = data.get("security", "none")
    if security not in SMTP_SECURITY:
        report.expected("smtp.security", "one of none, starttls, ssl", security)
        security = "none"
    host = data.get("host", "127.0.0.1")
    if not isinstance(host, str) or not host.strip():
        report.expected("smtp.host", "a host name", host)
        host = "127.0.0.1"
    port = integer(report, "smtp.port", data.get("port", SMTP_SECURITY[security]), minimum=1)
    if port is not None and port > 65535:
        report.expected("smtp.port", "a port number (1-65535)", port)
    texts = {}
    for key in ("username", "password_env"):
        raw = data.get(key)
        if raw is not None and (not isinstance(raw, str) or not raw.strip()):
            report.expected(f"smtp.{key}", "a non-empty string", raw)
            raw = None
        texts[key] = raw
    if texts["username"] and not texts["password_env"]:
        report.warnings.append("smtp.username: set, but smtp.password_env is not, so sending "
                               "fails: name the environment variable that holds the SMTP "
                               "password (password_env: SMTP_PASSWORD)")
    concurrency = integer(report, "smtp.concurrency", data.get("concurrency", 1), minimum=1)
    rate = data.get("rate_per_second")
    if rate is not None:
        rate = positive_number(report, "smtp.rate_per_second", rate)
    lease = positive_number(report, "smtp.lease_seconds", data.get("lease_seconds", 60))
    return SmtpSettings(host.strip(), port or 25, security, texts["username"],
                        texts["password_env"], concurrency or 1, rate, lease or 60,
                        configured=True)


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _state_url(report: Report, data: dict) -> tuple[str | None, str | None]:
    """``state_url`` and ``state_password_env``: the PostgreSQL database holding the state.

    A password inside the URL is refused: config files get committed, copied and shown in
    logs; the password belongs in the environment variable ``state_password_env`` names.
    """
    url = data.get("state_url")
    password_env = data.get("state_password_env")
    if password_env is not None and (not isinstance(password_env, str)
                                     or not _ENV_NAME.fullmatch(password_env.strip())):
        report.expected("state_password_env", "the name of an environment variable (not the "
                        "password itself), such as NEWSLETTER_DB_PASSWORD", password_env)
        password_env = None
    if url is None:
        if password_env is not None:
            report.warnings.append("state_password_env: set, but state_url is not: the state "
                                   "is the SQLite file in state_dir, which needs no password")
        return None, None
    if not isinstance(url, str) or not url.strip():
        report.expected("state_url", "a URL such as postgresql://newsletter@db.example.org:5432"
                        "/newsletter", url)
        return None, None
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as error:
        report.expected("state_url", f"a valid URL ({error})", url)
        return None, None
    if parts.scheme not in ("postgresql", "postgres"):
        report.expected("state_url", "a postgresql:// URL such as postgresql://newsletter@"
                        "db.example.org:5432/newsletter (leave it out for the SQLite file in "
                        "state_dir)", url)
        return None, None
    if parts.password is not None:
        report.errors.append(
            "state_url: holds a password; remove it from the URL and put it in an "
            "environment variable named by state_password_env (e.g. state_password_env: "
            "NEWSLETTER_DB_PASSWORD)")
        return None, None
    if not parts.path.strip("/"):
        report.expected("state_url", "a database name at the end, as in "
                        "postgresql://newsletter@db.example.org:5432/newsletter", url)
        return None, None
    return url, password_env.strip() if password_env else None


def validate(data: Any, path: Path) -> Config:
    """Check the parsed config file as a whole; raise :class:`ConfigError` listing everything."""
    report = Report()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), [f"the file holds {describe(data)}, expected a mapping "
                                      "of settings (title: ..., topics: ...)"])
    report.unknown_keys(data, TOP_LEVEL_KEYS)
    data = {key: value for key, value in data.items() if value is not None}  # empty = default
    folder = path.parent

    title = string(report, data, "title")
    problem = header_problem(title) if title else None
    if problem:  # the title goes into List-Id, the default From and the subject
        report.errors.append(f"title: {problem}")
    site_url = check_site_url(report, data)

    timezone_name = string(report, data, "timezone", "UTC")
    timezone = None if timezone_name is None else check_timezone(report, timezone_name)

    corpus, output = check_folders(report, data, folder)

    window_days = integer(report, "window_days", data.get("window_days", 7), minimum=1)
    if window_days is not None and window_days > MAX_WINDOW_DAYS:
        report.errors.append(f"window_days: {window_days} days reach back beyond the calendar "
                             f"for some issues; give at most {MAX_WINDOW_DAYS} (a century)")
        window_days = None
    min_quality = data.get("min_quality", 0)
    if (isinstance(min_quality, bool) or not isinstance(min_quality, int | float)
            or not math.isfinite(min_quality)):
        report.expected("min_quality", "a number", min_quality, unquoted=is_number)
    topics = _topics(report, data.get("topics"))

    related = data.get("related", {})
    max_related: int | None = 3
    if related is None:
        related = {}
    if not isinstance(related, dict):
        report.expected("related", "a mapping such as {max_per_article: 3}", related)
    else:
        report.unknown_keys(related, RELATED_KEYS, prefix="related.")
        max_related = integer(report, "related.max_per_article",
                               related.get("max_per_article", 3), minimum=0)

    same_story_content, same_story_threshold = check_same_story(report, data.get("same_story"))
    language = string(report, data, "language", "en")
    email = _email(report, data.get("email"), title, site_url)
    feeds = data.get("feeds") or {}
    feed_max_entries: int | None = 20
    if not isinstance(feeds, dict):
        report.expected("feeds", "a mapping such as {max_entries: 20}", feeds)
    else:
        report.unknown_keys(feeds, FEEDS_KEYS, prefix="feeds.")
        feed_max_entries = integer(report, "feeds.max_entries", feeds.get("max_entries", 20),
                                    minimum=1)

    schedule = check_schedule(report, data.get("schedule"), timezone)
    smtp = _smtp(report, data.get("smtp"))
    subscribe = check_subscribe(report, data.get("subscribe"), smtp.configured)
    if not smtp.configured:  # what would need a mail server, said before it fails
        if schedule is not None and schedule.send:
            report.warnings.append("schedule.send: true, but every run would publish its "
                                   f"issue and fail to send it: {no_smtp(path.name)}")
        if subscribe.enabled:
            report.warnings.append("subscribe.enabled: true, but readers who sign up would "
                                   f"get no confirmation email: {no_smtp(path.name)}")
    state_name = string(report, data, "state_dir", ".newsletter")
    state_dir = (folder / state_name).resolve() if state_name else folder / ".newsletter"
    if state_dir.exists() and not state_dir.is_dir():
        report.errors.append(f'state_dir: "{state_name}" exists and is not a folder '
                             f"({state_dir}); move it away or name another folder")
    secret_env = string(report, data, "secret_env", "NEWSLETTER_SECRET")
    if secret_env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", secret_env):
        report.expected("secret_env", "the name of an environment variable (not the secret "
                        "itself), such as NEWSLETTER_SECRET", secret_env)
    state_url, state_password_env = _state_url(report, data)
    theme = check_theme(report, data.get("theme"))
    templates = check_templates(report, data, folder)
    words = check_words(report, data.get("words"))
    report_placeholders(report, data)  # what `newsletter init` left to fill in

    if report.errors:
        # Warnings too: a misspelt key ("titel") explains the error it causes.
        raise ConfigError(str(path), report.errors, report.warnings)
    # Every value below is set: a missing or invalid one is in report.errors, raised above.
    return Config(
        path=path, title=title, site_url=site_url,  # type: ignore[arg-type]  # set, see above
        timezone=timezone, corpus=corpus, output=output,  # type: ignore[arg-type]  # set
        window_days=window_days, min_quality=min_quality, topics=topics,  # type: ignore[arg-type]  # set
        related_max_per_article=max_related,  # type: ignore[arg-type]  # set, see above
        email=email, language=language,  # type: ignore[arg-type]  # set, see above
        same_story_content=same_story_content, same_story_threshold=same_story_threshold,
        feed_max_entries=feed_max_entries,  # type: ignore[arg-type]  # set, see above
        schedule=schedule, smtp=smtp, state_dir=state_dir,
        secret_env=secret_env,  # type: ignore[arg-type]  # set, see above
        state_url=state_url, state_password_env=state_password_env,
        theme=theme, templates=templates,
        subscribe=subscribe, words=words,
        warnings=tuple(report.warnings),
    )


def load_config(path: Path, *, strict: bool = False) -> Config:
    """Read and validate the config file; with ``strict``, warnings are errors too."""
    path = path.absolute()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), [f"file not found; {missing_config_fix(path)}"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(str(path), [f"cannot be read: {error}"]) from None
    data = load_yaml_file(path, text, holder="configuration files")
    config = validate(data, path)
    if strict and config.warnings:
        raise ConfigError(str(path), [f"{w} (an error with --strict)" for w in config.warnings])
    return config
