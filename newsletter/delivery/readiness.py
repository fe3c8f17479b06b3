"""What ``newsletter check`` says of sending, beside the configuration's own warnings: a
sender address with no mail domain.

A warning, not an error: a newsletter tried out on 127.0.0.1 sends to a local test server;
but a mail server receiving ``newsletter@127.0.0.1`` refuses it or files it as spam, so it
is said before the first real send.
"""

from __future__ import annotations

import ipaddress
from email.utils import parseaddr
from urllib.parse import urlsplit

from ..core.config import Config
from ..core.headers import mailbox
from .subscribers import stored_subscribers_lines


def check_lines(config: Config) -> list[str]:
    """Every line ``check`` prints of sending and of the stored subscribers."""
    return [*sender_domain_lines(config), *stored_subscribers_lines(config)]


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
    return [f"warning: email.from: {sender}"
            + (" (unless set, it is made from site_url's host)" if made else "")
            + f": {why}, so receiving servers refuse the emails or file them as spam. Write "
            f'the address you send from, under email: from: "{config.title} '
            '<newsletter@example.org>"']
