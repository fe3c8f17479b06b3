"""The secret, and the signed tokens of the links readers follow: confirm, preferences,
unsubscribe, and the signup form's own token.

Every token is HMAC-SHA256 with the secret named by ``secret_env``, over its purpose and its
fields, so a token made for one purpose never passes for another (a confirm token is not a
preference token) and none can be forged or moved to another subscriber. New tokens name a
subscriber by a random key stored with them (``token_key``), never by the address: a token
read in a log, a proxy or a forwarded email reveals nothing about who it belongs to.

Shapes (base64url and ``.`` only, so a token is literal in quoted-printable and in URLs):

* ``u.<key>.<mac>``, ``p.<key>.<mac>``: unsubscribe, preferences; they do not expire;
* ``c.<key>.<issued>.<mac>``: confirm, expires ``subscribe.confirm_hours`` after ``issued``;
* ``f.<issued>.<nonce>.<mac>``: the signup form's token, good for a day;
* ``1.<address>.<mac>``: the unsubscribe tokens of earlier versions, which carry the address
  in base64; those already in readers' inboxes keep unsubscribing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass

from ..core.config import Config
from ..core.errors import UnsetVariable

PURPOSES = {"confirm": "c", "preferences": "p", "unsubscribe": "u", "form": "f"}
FORM_MAX_AGE = 24 * 3600  # seconds: a form older than a day is reloaded
CLOCK_SKEW = 300  # seconds: a token "issued" this far in the future still counts (clocks)
MAX_TOKEN_LENGTH = 1024
MAC_BYTES = 16  # 128 bits: forging one is out of reach, and links stay short
LEGACY_VERSION = "1"
MIN_SECRET_LENGTH = 16

_KEY = re.compile(r"[0-9a-f]{32}")
_NUMBER = re.compile(r"[1-9][0-9]{0,11}")  # canonical: one spelling per value


def read_secret(config: Config) -> bytes:
    """The HMAC key from the environment variable the config names (never from a file)."""
    value = os.environ.get(config.secret_env, "")
    if not value.strip():
        raise UnsetVariable(
            f"the environment variable {config.secret_env} is not set: it holds the secret "
            "that signs unsubscribe links (secret_env in the configuration names it). Set it "
            "to a long random string made once and kept, the same for every run and for "
            "serve (a new one makes the links already mailed invalid), e.g. "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'", config.secret_env)
    if len(value) < MIN_SECRET_LENGTH:
        raise UnsetVariable(f"the environment variable {config.secret_env} holds a secret "
                            f"shorter than {MIN_SECRET_LENGTH} characters; use a long random "
                            "string", config.secret_env)
    return value.encode("utf-8")


def new_key() -> str:
    """A subscriber's random token key (128 bits, hex)."""
    return secrets.token_hex(16)


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


def _mac(secret: bytes, purpose: str, fields: tuple[str, ...]) -> str:
    message = "\x00".join(("newsletter-token:v2", purpose, *fields)).encode("utf-8")
    return _b64(hmac.new(secret, message, hashlib.sha256).digest()[:MAC_BYTES])


def link_tokens(secret: bytes, key: str) -> dict[str, str]:
    """The tokens of one subscriber's links in an issue: unsubscribe and preferences."""
    return {"unsubscribe": make_token(secret, "unsubscribe", key),
            "preferences": make_token(secret, "preferences", key)}


def make_token(secret: bytes, purpose: str, key: str, issued: int | None = None) -> str:
    """The token for ``purpose`` naming the subscriber key ``key``; confirm tokens carry the
    time (Unix seconds) they count from."""
    prefix = PURPOSES[purpose]
    fields = (key,) if purpose != "confirm" else (key, str(int(issued or 0)))
    return ".".join((prefix, *fields, _mac(secret, purpose, fields)))


def form_token(secret: bytes, now: float) -> str:
    """A fresh token for the signup form: signed and time-stamped, no subscriber in it."""
    fields = (str(int(now)), secrets.token_hex(8))
    return ".".join((PURPOSES["form"], *fields, _mac(secret, "form", fields)))


@dataclass(frozen=True)
class Checked:
    """What a genuine token says. ``key``: the subscriber key (new tokens); ``address``: the
    address (earlier unsubscribe tokens); ``expired``: genuine, but too old to use."""

    key: str | None = None
    address: str | None = None
    issued: int | None = None
    expired: bool = False


def check_token(secret: bytes, token: object, purpose: str, *, now: float | None = None,
                max_age: float | None = None) -> Checked | None:
    """The token's content when it is genuine and made for ``purpose``, else None (forged,
    malformed, or made for another purpose: all alike). With ``max_age`` (seconds), a token
    issued before ``now - max_age`` comes back with ``expired`` set."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        return None
    parts = token.split(".")
    if purpose == "unsubscribe" and parts[0] == LEGACY_VERSION:
        address = _legacy_address(secret, parts)
        return Checked(address=address) if address is not None else None
    if parts[0] != PURPOSES.get(purpose):
        return None
    *fields, mac = parts[1:] or [""]
    wanted = {"confirm": 2, "form": 2}.get(purpose, 1)
    if len(fields) != wanted or not hmac.compare_digest(
            mac.encode("ascii", "replace"), _mac(secret, purpose, tuple(fields)).encode("ascii")):
        return None
    if purpose == "form":
        issued = int(fields[0]) if _NUMBER.fullmatch(fields[0]) else None
        key = None
    else:
        key = fields[0]
        if not _KEY.fullmatch(key):
            return None
        issued = None
        if purpose == "confirm":
            issued = int(fields[1]) if _NUMBER.fullmatch(fields[1]) else None
    if purpose in ("confirm", "form"):
        if issued is None:
            return None
        age = (now or 0) - issued
        limit = FORM_MAX_AGE if purpose == "form" else max_age
        expired = limit is not None and (age > limit or age < -CLOCK_SKEW)
        return Checked(key=key, issued=issued, expired=expired)
    return Checked(key=key)


def check_form_token(secret: bytes, token: object, now: float) -> bool:
    """Whether ``token`` is a genuine signup-form token at most a day old."""
    checked = check_token(secret, token, "form", now=now)
    return checked is not None and not checked.expired


# -- the unsubscribe tokens of earlier versions ---------------------------------------------------

def _legacy_mac(secret: bytes, address: str) -> bytes:
    message = f"newsletter-unsubscribe:v{LEGACY_VERSION}:{address}".encode()
    return hmac.new(secret, message, hashlib.sha256).digest()


def legacy_unsubscribe_token(secret: bytes, address: str) -> str:
    """``1.<address>.<mac>``: what earlier versions put in every message. Only tests make
    them now, to prove that those already sent keep working."""
    return f"{LEGACY_VERSION}.{_b64(address.encode('utf-8'))}.{_b64(_legacy_mac(secret, address))}"


def _legacy_address(secret: bytes, parts: list[str]) -> str | None:
    if len(parts) != 3:
        return None
    try:
        address = _unb64(parts[1]).decode("utf-8")
        mac = _unb64(parts[2])
    except (ValueError, UnicodeDecodeError):
        return None
    return address if hmac.compare_digest(mac, _legacy_mac(secret, address)) else None
