"""Mail header values: which ones are refused, and how the others are written.

A header is one line; a line break inside a value starts another header, and anything
shaped like an RFC 2047 encoded word (``=?utf-8?b?...?=``) is decoded by mail software,
possibly into a line break. So every value that goes into a header (the title, the subject,
``email.from``, a subscriber's name, ...) is checked when it is read: CR, LF, other control
characters and encoded-word shapes are refused, naming the key (:func:`header_problem`).

Below that check, headers are written here, by hand, never through a library that parses
the value again: names are literal text, values are encoded by :func:`unstructured` and
:func:`address`, and whatever a value holds ends up inside its own header. Text that is not
plain printable ASCII, or that looks like an encoded word, is written as base64 encoded
words, which decode back to exactly that text. So is a word too long for a header line
(RFC 5322: 998 characters at most): lines fold only between words, and encoded words can be
cut anywhere. No line of a header written here is longer (:class:`HeaderError` otherwise).
"""

from __future__ import annotations

import base64
import re
import unicodedata

MAX_LINE = 78  # RFC 5322's recommended line length
LINE_LIMIT = 998  # RFC 5322's (and SMTP's) limit: servers refuse longer lines
MAX_ADDRESS = 254  # RFC 5321: a path holds at most 256 characters, its brackets included
MAX_LOCAL = 64  # RFC 5321: the local part of an address
_ENCODED_WORD = re.compile(r"=\?.*\?=", re.S)
_ATOM_TEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")  # a phrase that needs no quotes
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


class HeaderError(ValueError):
    """A value that cannot be written into a mail header."""


def _is_control(char: str) -> bool:
    # Cc: C0, DEL and C1; Zl, Zp: the Unicode line and paragraph separators.
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


def header_problem(value: str) -> str | None:
    """Why ``value`` cannot go into a mail header, or None when it can."""
    if "\r" in value or "\n" in value:
        return "holds a line break (CR or LF), which would start another mail header"
    control = next((c for c in value if _is_control(c)), None)
    if control is not None:
        return f"holds the control character U+{ord(control):04X}"
    if _ENCODED_WORD.search(value):
        return ('holds an encoded word ("=?...?="), which mail programs decode, possibly into '
                "more header lines: write the text itself (non-ASCII is fine), newsletter "
                "encodes it")
    return None


def one_line(value: str) -> str:
    """``value`` with every control character (line breaks included) as a space and runs of
    whitespace as one: what a header may hold whatever got past the checks."""
    return " ".join("".join(" " if _is_control(c) else c for c in value).split())


def _plain(text: str) -> bool:
    """Printable ASCII that a mail program shows as it is (no encoded-word shape)."""
    return text.isascii() and text.isprintable() and not _ENCODED_WORD.search(text)


def _encoded_words(text: str) -> list[str]:
    """``text`` as base64 encoded words of at most 75 characters, cut between characters."""
    words, chunk = [], b""
    for char in text:
        data = char.encode("utf-8")
        if len(chunk) + len(data) > 45:  # 45 bytes are 60 base64 characters: a 72-char word
            words.append(chunk)
            chunk = b""
        chunk += data
    words.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words if w]


def _room(name: str) -> int:
    """The longest word that fits on a line of its own in header ``name`` (the first line,
    ``Name: word``, is the shortest)."""
    return LINE_LIMIT - len(name) - 2


def _splittable(words: list[str], room: int) -> list[str]:
    """``words`` with each run of words longer than ``room`` as encoded words. A run is
    encoded as one text, its spaces inside: between two encoded words a space is not text."""
    tokens: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        if word and len(word) > room:
            run.append(word)
            continue
        if run:
            tokens += _encoded_words(" ".join(run))
            run = []
        if word:
            tokens.append(word)
    return tokens


def _fold(name: str, tokens: list[str]) -> bytes:
    """``Name: token token ...`` folded before a token that would pass MAX_LINE; raises
    :class:`HeaderError` for a token that no line can hold."""
    line = f"{name}:"
    lines = []
    for token in tokens:
        if len(line) + 1 + len(token) > MAX_LINE and line != f"{name}:":
            lines.append(line)
            line = ""
        line += " " + token
    lines.append(line)
    longest = max(lines, key=len)
    if len(longest) > LINE_LIMIT:
        raise HeaderError(f"{name}: {longest[len(name) + 2:][:40]}... is longer than a mail "
                          f"header line may be ({LINE_LIMIT} characters)")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _check_name(name: str) -> None:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", name):
        raise HeaderError(f"not a header name: {name!r}")


def unstructured(name: str, value: str) -> bytes:
    """``Name: value`` for free text such as the subject, folded, 7-bit."""
    _check_name(name)
    text = one_line(value)
    if not _plain(text):
        return _fold(name, _encoded_words(text))
    return _fold(name, _splittable(text.split(" "), _room(name)))


def phrase(text: str, room: int = LINE_LIMIT) -> list[str]:
    """A display name as header tokens: atoms, a quoted string, or encoded words (for a
    word, or the quoted string, longer than ``room``)."""
    text = one_line(text)
    if not text:
        return []
    if _plain(text):
        if _ATOM_TEXT.fullmatch(text):
            return _splittable(text.split(" "), room)
        quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if len(quoted) <= room:
            return [quoted]
    return _encoded_words(text)


def ascii_domain(domain: str) -> str:
    """``domain`` with its non-ASCII labels in punycode (IDNA), lowercased."""
    domain = domain.strip().rstrip(".")
    if not domain.isascii():
        try:
            import idna  # email-validator's dependency: IDNA 2008 with UTS 46 mapping

            domain = idna.encode(domain, uts46=True).decode("ascii")
        except (ImportError, idna.IDNAError, UnicodeError) as error:
            raise HeaderError(f"the domain {domain!r} cannot be written in ASCII ({error})"
                              ) from None
    return domain.lower()


def readable_address(address: str) -> str:
    """``ada@xn--bcher-kva.example`` as its owner typed it, ``ada@bücher.example``: for
    reading (pages, an email's text); headers and the SMTP envelope keep the ASCII form."""
    local, at, domain = address.rpartition("@")
    if not at or "xn--" not in domain.lower():
        return address
    try:
        import idna  # email-validator's dependency, as in ascii_domain

        return f"{local}@{idna.decode(domain)}"
    except (ImportError, idna.IDNAError, UnicodeError):
        return address  # not punycode after all: as stored


def masked(address: str) -> str:
    """``ada@example.org`` as ``a…@example.org``, the domain readable."""
    local, at, domain = readable_address(address).rpartition("@")
    return f"{local[:1]}…{at}{domain}" if at else f"{address[:1]}…"


def addr_spec(address: str) -> str:
    """``local@domain`` as a header and the SMTP envelope may carry it: a plain ASCII local
    part (no quoting, no spaces, no line breaks) and an ASCII (IDNA) domain."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not _LOCAL.fullmatch(local) or ".." in local or local.startswith(".") \
            or local.endswith(".") or len(local) > MAX_LOCAL:
        raise HeaderError(f"{address!r} is not an address a message can be sent to")
    domain = ascii_domain(domain)
    if not _DOMAIN.fullmatch(domain) or "." not in domain \
            or len(local) + 1 + len(domain) > MAX_ADDRESS:
        raise HeaderError(f"{address!r} is not an address a message can be sent to")
    return f"{local}@{domain}"


def mailbox(display: str, spec: str) -> str:
    """``display <spec>`` as a configuration writes an address (``email.from``): the display
    name in double quotes unless it is words alone, since a comma, a semicolon or a dot in
    it would make ``News, Views <news@example.org>`` read as two addresses or none."""
    if not re.fullmatch(r"[\w !#$%&'*+/=?^`{|}~-]+", display):
        display = '"' + display.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{display} <{spec}>"


def address(name: str, display: str, spec: str) -> bytes:
    """``Name: display <local@domain>`` (or the bare address without a display name)."""
    _check_name(name)
    spec = addr_spec(spec)
    words = phrase(display, _room(name))
    return _fold(name, [*words, f"<{spec}>"] if words else [spec])


def angle(name: str, display: str, inside: str) -> bytes:
    """``Name: display <inside>`` for List-Id (``inside`` is a dot-atom, checked here)."""
    _check_name(name)
    if not re.fullmatch(r"[A-Za-z0-9.-]+", inside):
        raise HeaderError(f"{inside!r} cannot be written in <...>")
    return _fold(name, [*phrase(display, _room(name)), f"<{inside}>"])
