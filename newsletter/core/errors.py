"""Errors the command line turns into a message and exit status 1, never a traceback."""

from __future__ import annotations

from pathlib import Path


class NewsletterError(Exception):
    """A problem the user can fix; the message names the input and, where obvious, the fix."""


class ConfigError(NewsletterError):
    """The problems of a settings file: the configuration, or (``what``) an issue's
    overrides, which its message must not call the configuration."""

    def __init__(self, path: str, errors: list[str], warnings: list[str] | None = None, *,
                 what: str = "the configuration") -> None:
        self.path = path
        self.errors = errors
        self.warnings = warnings or []
        lines = "\n".join(f"  {e}" for e in errors)
        lines += "".join(f"\n  warning: {w}" for w in self.warnings)
        noun = "problem" if len(errors) == 1 else "problems"
        super().__init__(f"{path}: {len(errors)} {noun} in {what}:\n{lines}")


OVERRIDES = "the issue's overrides"  # ConfigError's ``what`` for an overrides.yaml


class ArticleError(ValueError):
    """Why one input file (an article, a YAML document) is invalid; ``key`` names the field
    when there is one."""

    def __init__(self, message: str, *, key: str | None = None, line: int | None = None,
                 parts: list[ArticleError] | None = None):
        super().__init__(message)
        self.message = message
        self.key = key
        self.line = line
        self.parts = parts or []  # every problem of the file, when it has several


class StrictError(NewsletterError):
    """What ``--strict`` refuses (an invalid article, an override that does not apply): the
    same input fails every time until it is corrected. ``paths``: the files it names."""

    def __init__(self, message: str, paths: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.paths = paths


class UnsetVariable(NewsletterError):
    """An environment variable the configuration names is missing, or holds what cannot be
    used: every run fails alike until the process is started with it. ``name``: the
    variable."""

    def __init__(self, message: str, name: str) -> None:
        super().__init__(message)
        self.name = name


class ReadOnlyState(NewsletterError):
    """The state database, or its folder, is read-only for this user: every write fails alike
    until a person changes its permissions or its mount. ``path``: the database file."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


class NotAsPublished(NewsletterError):
    """A send refused before sending anything: the issue's published email files are not
    what rendering it now gives (a template, the theme or the config changed since), so its
    subscribers would get another email than those sent it before, and than the one
    published. It lasts until a person undoes the change or corrects the published issue.
    ``difference``: which files differ; ``fix``: the two ways out; ``files``: their paths;
    ``slug``: the issue's."""

    def __init__(self, difference: str, fix: str, files: tuple[Path, ...], slug: str) -> None:
        super().__init__(f"{difference}. Nothing was sent, so that every subscriber of the "
                         f"issue gets one email, the published one: {fix}")
        self.difference = difference
        self.fix = fix
        self.files = files
        self.slug = slug
