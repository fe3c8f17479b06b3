"""The unsubscribe token: names the address, signed with the site's secret (HMAC)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

from ..core.config import Config
from ..core.errors import NewsletterError

TOKEN_VERSION = "1"
MIN_SECRET_LENGTH = 16


def read_secret(config: Config) -> bytes:
    """The HMAC key from the environment variable the config names (never from a file)."""
    value = os.environ.get(config.secret_env, "")
    if not value.strip():
        raise NewsletterError(
            f"the environment variable {config.secret_env} is not set: it holds the secret "
            "that signs unsubscribe links (secret_env in the configuration names it). Set it "
            "to a long random string, the same for every run and for serve, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    if len(value) < MIN_SECRET_LENGTH:
        raise NewsletterError(f"the environment variable {config.secret_env} holds a secret "
                              f"shorter than {MIN_SECRET_LENGTH} characters; use a long random "
                              "string")
    return value.encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict: only the canonical spelling decodes, so a token has exactly one form."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not canonical base64url")
    return data


def _mac(secret: bytes, address: str) -> bytes:
    message = f"newsletter-unsubscribe:v{TOKEN_VERSION}:{address}".encode()
    return hmac.new(secret, message, hashlib.sha256).digest()


def unsubscribe_token(secret: bytes, address: str) -> str:
    """``1.<address>.<mac>`` (base64url): names the address and proves the sender made it.

    The address travels in the token so that a link keeps working whatever happens to the
    database; the MAC binds it, so a token cannot be forged nor moved to another address.
    """
    return f"{TOKEN_VERSION}.{_b64(address.encode('utf-8'))}.{_b64(_mac(secret, address))}"


def verify_token(secret: bytes, token: object) -> str | None:
    """The address a genuine token names, else None (for every kind of bad token alike)."""
    if not isinstance(token, str) or len(token) > 1024:
        return None
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_VERSION:
        return None
    try:
        address = _unb64(parts[1]).decode("utf-8")
        mac = _unb64(parts[2])
    except (ValueError, UnicodeDecodeError):
        return None
    return address if hmac.compare_digest(mac, _mac(secret, address)) else None
