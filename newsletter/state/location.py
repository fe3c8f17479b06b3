"""Where a state database is: a SQLite file or a PostgreSQL URL, from the config or the
command line, and how it is named in messages (never with a password)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..core.config import Config
from ..core.errors import NewsletterError
from .schema import POSTGRESQL, SQLITE

STATE_FILE = "newsletter.sqlite3"


@dataclass(frozen=True)
class Location:
    """Where a state database is: a SQLite file or a PostgreSQL URL (without password)."""

    dialect: str
    path: Path | None = None  # SQLite
    url: str | None = None  # PostgreSQL
    password_env: str | None = None
    # Folders a private state folder must not close to others (output, corpus, the project)
    keep_open: tuple[Path, ...] = ()
    # Whether the SQLite file's folder is the state's own (state_dir), to be made private;
    # a file named on the command line lies in a folder of the user's, left as it is.
    own_folder: bool = True

    def __str__(self) -> str:
        return str(self.path) if self.dialect == SQLITE else _without_password(self.url or "")


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}" if user else netloc))


def state_path(config: Config) -> Path:
    return config.state_dir / STATE_FILE


def location(config: Config) -> Location:
    """Where ``config`` keeps its state."""
    if config.state_url:
        return Location(POSTGRESQL, url=config.state_url, password_env=config.state_password_env)
    return Location(SQLITE, path=state_path(config),
                    keep_open=config.open_folders)


def location_from_url(url: str, password_env: str | None = None) -> Location:
    """A state named on the command line (``state copy --to URL``): a postgresql:// URL,
    or a path (or ``sqlite:///path``) for a SQLite file."""
    parts = urlsplit(url)
    if parts.scheme in ("postgresql", "postgres"):
        if parts.password is not None:
            raise NewsletterError(
                f"{_without_password(url)}: the URL holds a password; remove it and put it "
                "in an environment variable named with --password-env (state_password_env "
                "in the configuration)")
        return Location(POSTGRESQL, url=url, password_env=password_env)
    if parts.scheme == "sqlite":
        return Location(SQLITE, path=Path(parts.path), own_folder=False)
    if parts.scheme:
        raise NewsletterError(f"{url}: expected a postgresql:// URL or the path of a SQLite "
                              "file")
    return Location(SQLITE, path=Path(url).absolute(), own_folder=False)

