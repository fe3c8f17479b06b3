"""The tokens in readers' links: bound to their purpose, unforgeable, revealing no address;
confirm and form tokens expire, preference and unsubscribe tokens do not; the unsubscribe
tokens of earlier versions keep working."""

from __future__ import annotations

import base64
import re

from hypothesis import given
from hypothesis import strategies as st

from newsletter.delivery.tokens import (
    FORM_MAX_AGE,
    check_form_token,
    check_token,
    form_token,
    legacy_unsubscribe_token,
    make_token,
    new_key,
)

SECRET = b"test-secret-0123456789-abcdefghij"
NOW = 1_700_000_000


def test_each_token_passes_only_for_its_own_purpose() -> None:
    key = new_key()
    tokens = {"unsubscribe": make_token(SECRET, "unsubscribe", key),
              "preferences": make_token(SECRET, "preferences", key),
              "confirm": make_token(SECRET, "confirm", key, NOW)}
    for made_for, token in tokens.items():
        for purpose in ("unsubscribe", "preferences", "confirm", "form"):
            checked = check_token(SECRET, token, purpose, now=NOW, max_age=3600)
            if purpose == made_for:
                assert checked is not None and checked.key == key and not checked.expired
            else:
                assert checked is None, (made_for, purpose)
    # the prefix is not what binds it: relabelled, the MAC no longer matches
    relabelled = "p" + tokens["unsubscribe"][1:]
    assert check_token(SECRET, relabelled, "preferences") is None


def test_tokens_cannot_be_forged_or_moved_to_another_subscriber() -> None:
    key, other = new_key(), new_key()
    token = make_token(SECRET, "preferences", key)
    prefix, _, mac = token.split(".")
    assert check_token(SECRET, f"{prefix}.{other}.{mac}", "preferences") is None
    assert check_token(b"another-secret-0123456789", token, "preferences") is None
    for bad in ("", "p", "p..", token + ".x", token[:-1], token.upper(), None, 42, "p" * 5000):
        assert check_token(SECRET, bad, "preferences") is None


def test_no_token_reveals_the_address() -> None:
    """New tokens hold the purpose, the subscriber's random key, the time (confirm) and a
    MAC: nothing derived from the address. Earlier unsubscribe tokens carried it."""
    key = new_key()
    assert re.fullmatch(r"[0-9a-f]{32}", key) and new_key() != key
    for purpose, issued in (("unsubscribe", None), ("preferences", None), ("confirm", NOW)):
        prefix, *fields, mac = make_token(SECRET, purpose, key, issued).split(".")
        assert fields == [key] + ([str(NOW)] if issued else [])
        assert len(base64.urlsafe_b64decode(mac + "==")) == 16
    legacy = legacy_unsubscribe_token(SECRET, "ada@example.org")
    assert b"ada@example.org" in base64.urlsafe_b64decode(legacy.split(".")[1] + "==")


def test_confirm_tokens_expire_and_the_others_do_not() -> None:
    key = new_key()
    hours = 48 * 3600
    confirm = make_token(SECRET, "confirm", key, NOW)
    fresh = check_token(SECRET, confirm, "confirm", now=NOW + hours - 1, max_age=hours)
    stale = check_token(SECRET, confirm, "confirm", now=NOW + hours + 1, max_age=hours)
    assert fresh is not None and not fresh.expired
    assert stale is not None and stale.expired and stale.key == key
    # the time is signed: moving it forward breaks the MAC
    c, k, _, mac = confirm.split(".")
    assert check_token(SECRET, f"{c}.{k}.{NOW + hours}.{mac}", "confirm") is None
    years = 10 * 365 * 24 * 3600
    for purpose in ("preferences", "unsubscribe"):
        checked = check_token(SECRET, make_token(SECRET, purpose, key), purpose,
                              now=NOW + years, max_age=1)
        assert checked is not None and not checked.expired


def test_form_tokens_are_good_for_a_day() -> None:
    token = form_token(SECRET, NOW)
    assert check_form_token(SECRET, token, NOW + FORM_MAX_AGE - 1)
    assert not check_form_token(SECRET, token, NOW + FORM_MAX_AGE + 1)
    assert not check_form_token(SECRET, token, NOW - 3600)  # from the future
    assert not check_form_token(b"another-secret-0123456789", token, NOW)
    assert form_token(SECRET, NOW) != token  # a nonce each: no two forms share one
    issued, nonce, mac = token.split(".")[1:]
    assert not check_form_token(SECRET, f"f.{NOW + 60}.{nonce}.{mac}", NOW + 60)
    assert not check_form_token(SECRET, make_token(SECRET, "preferences", new_key()), NOW)


def test_earlier_unsubscribe_tokens_keep_working_only_as_unsubscribe_tokens() -> None:
    legacy = legacy_unsubscribe_token(SECRET, "ada@example.org")
    checked = check_token(SECRET, legacy, "unsubscribe")
    assert checked is not None and checked.address == "ada@example.org" and checked.key is None
    assert check_token(SECRET, legacy, "preferences") is None
    assert check_token(SECRET, legacy, "confirm", now=NOW, max_age=10**9) is None


@given(st.sampled_from(["unsubscribe", "preferences", "confirm"]),
       st.integers(min_value=1, max_value=10**11), st.binary(min_size=16, max_size=64))
def test_tokens_round_trip_and_are_literal_in_urls_and_quoted_printable(
        purpose: str, issued: int, secret: bytes) -> None:
    key = new_key()
    token = make_token(secret, purpose, key, issued)
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", token) and len(token) < 100
    checked = check_token(secret, token, purpose, now=issued, max_age=60)
    assert checked is not None and checked.key == key
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert check_token(secret, flipped, purpose, now=issued, max_age=60) is None
