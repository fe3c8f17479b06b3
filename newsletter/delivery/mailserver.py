"""The configuration's mail server as a delivery needs it: refused without an ``smtp:``
section, and the password of its login from the environment."""

from __future__ import annotations

import os

from ..core.config import Config
from ..core.errors import ConfigError, UnsetVariable
from ..core.settings import no_smtp


def smtp_password(config: Config) -> str | None:
    """The SMTP login's password (None without a login). Every delivery asks for it before
    it connects, so a config without an smtp: section is refused here: nothing goes to a
    server the file does not name (this machine's port 25, once, without a word)."""
    settings = config.smtp
    if not settings.configured:
        raise ConfigError(str(config.path), [
            f"{no_smtp(config.path.name)}. (`send --outbox DIR` writes the messages as "
            "files without one.)"])
    if not settings.username:
        return None
    name = settings.password_env
    if not name:
        # A configuration error, so that a scheduler waits for the file to be fixed
        # instead of trying again every half hour.
        raise ConfigError(str(config.path), [
            "smtp.username is set but smtp.password_env is not: name the environment "
            "variable that holds the SMTP password (password_env: SMTP_PASSWORD)"])
    value = os.environ.get(name)
    if value is None:
        raise UnsetVariable(f"the environment variable {name} (smtp.password_env) is not "
                            f"set: it holds the SMTP password. Set it where newsletter runs "
                            f"(export {name}=...), or name another variable in "
                            "smtp.password_env", name)
    return value
