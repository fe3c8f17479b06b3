"""What ``newsletter check`` says of sending, beside the configuration's own warnings: a
sender address with no mail domain, and the secret or SMTP password missing from the
environment ``check`` runs in.

Warnings, never errors: ``check`` may run where the secrets are not (CI, an editor's
laptop), and a newsletter tried out on 127.0.0.1 sends to a local test server; but a
``send`` from a shell without them refuses to start, and a mail server receiving
``newsletter@127.0.0.1`` refuses or files it as spam, so they are said before that.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from email.utils import parseaddr
from urllib.parse import urlsplit

from ..core.config import Config
from ..core.errors import UnsetVariable
from ..core.headers import mailbox
from ..core.settings import no_smtp
from .mailserver import smtp_password
from .subscribers import stored_subscribers_lines
from .tokens import read_secret


def check_lines(config: Config) -> list[str]:
    """Every line ``check`` prints of sending and of the stored subscribers."""
    return [*sender_domain_lines(config), *environment_lines(config),
            *stored_subscribers_lines(config)]


def no_mail_domain(domain: str) -> str:
    """Why ``domain`` (after the @) is no domain mail is sent from, "" when it is one."""
    bare = domain.strip().rstrip(".")
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        pass
    else:
        return f"{bare} is an IP address, not a mail domain"
    lowered = bare.lower()
    if lowered == "localhost" or lowered.endswith(".localhost"):
        return f"{bare} is this machine's own name, not a mail domain"
    if bare and not bare.startswith("[") and "." not in bare:
        return f"{bare} is a single name, not a mail domain (it has no dot)"
    return ""


def sender_domain_lines(config: Config) -> list[str]:
    """A warning when the From address's domain is none that mail can come from."""
    sender = config.email.sender
    domain = parseaddr(sender)[1].rpartition("@")[2]
    why = no_mail_domain(domain)
    if not why:
        return []
    host = urlsplit(config.site_url).hostname or "localhost"
    made = sender == mailbox(config.title or "Newsletter", f"newsletter@{host}")
    # Where the value comes from: `newsletter init` writes the one made from site_url's host
    # into the file, where a reader would not know it from one made because it is unset.
    if not made:
        whence = ""
    elif config.email.sender_set:
        whence = (f" (set in {config.path.name} as `newsletter init` writes it, from "
                  "site_url's host)")
    else:
        whence = f" (not set in {config.path.name}, so made from site_url's host)"
    return [f"warning: email.from: {sender}{whence}"
            + f": {why}, so receiving servers refuse the emails or file them as spam. Write "
            f'the address you send from, under email: from: "{config.title} '
            '<newsletter@example.org>"']


def environment_lines(config: Config) -> list[str]:
    """A warning for each variable ``send`` (and ``serve``) need that this shell lacks."""
    lines = []
    # with smtp.username; without an smtp: section, sending_line says what send does
    needed: list[Callable[[Config], object]] = [smtp_password] if config.smtp.configured else []
    if config.subscribe.enabled or (config.schedule is not None and config.schedule.send):
        needed.insert(0, read_secret)  # secret_env: the links of every email
    for read in needed:
        try:
            read(config)
        except UnsetVariable as error:  # (no password_env at all: a config warning)
            lines.append(f"warning: {error}. (check goes on without it, but send and serve "
                         "refuse to start from a shell that lacks it.)")
    return lines


def sending_line(config: Config) -> str:
    """What ``send`` will do, for ``check``: the server it delivers through, or that it
    refuses to without an smtp: section, and how to give it one."""
    smtp = config.smtp
    if not smtp.configured:
        form = "" if config.subscribe.enabled else " (and serve shows no signup form)"
        return (f"Sending: send refuses to deliver{form}: {no_smtp(config.path.name)}. "
                "`send --outbox DIR` writes the messages as files meanwhile.")
    login = f", logging in as {smtp.username}" if smtp.username else ""
    return (f"Sending: send delivers through the SMTP server {smtp.host}:{smtp.port} "
            f"(security: {smtp.security}{login}).")
