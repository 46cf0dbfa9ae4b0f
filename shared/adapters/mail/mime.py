"""The bytes of one notification mail: multipart/alternative, a plain-text and an HTML part.

Written out directly rather than through ``email.message.EmailMessage``: its header registry
and generator cost about 1.2 ms of CPU per mail (header parsing and folding in pure Python),
the largest single cost of the approval consumer, for a message whose shape never varies.
The rules kept from the strict policy it used:

- no header value may contain CR, LF or NUL (``ValueError``), so no value can add a header;
- addresses are bare ASCII addr-specs (no display name, comma, angle bracket or space);
- a subject that is not plain printable ASCII, is too long for one line, or contains ``=?``
  (which a reader would decode as an encoded word of someone else's choosing) is sent as
  RFC 2047 encoded words (UTF-8, base64), folded so no line exceeds 78 characters;
- each part is 7bit when it is ASCII with lines of at most 998 octets, else base64;
- the boundary is random and checked against the parts.
"""

from __future__ import annotations

import base64
import re
import secrets
from datetime import datetime

from shared.ports.mail import OutboundMail

MAX_LINE = 998  # RFC 5322 2.1.1, without the CRLF
FOLD = 78
_ADDRESS = re.compile(r"[!#-'*+\-/-9=?A-Z^-~.]+@[A-Za-z0-9.\-\[\]:]+")
_FORBIDDEN = ("\r", "\n", "\0")
# "=?utf-8?b?" + "?=" is 12 characters, 42 UTF-8 octets at most 56 base64 ones: 68, so the
# first line ("Subject: " and one word) stays within 78 characters
_WORD_OCTETS = 42


def _checked(name: str, value: str) -> str:
    if any(c in value for c in _FORBIDDEN):
        raise ValueError(f"{name}: header values may not contain linefeed or carriage return")
    return value


def _address(name: str, value: str) -> str:
    _checked(name, value)
    if not value.isascii() or _ADDRESS.fullmatch(value) is None:
        raise ValueError(f"{name}: {value!r} is not a bare ASCII address")
    return value


def _addresses(name: str, values: tuple[str, ...]) -> str:
    """``a@x, b@y`` folded after a comma where a line would pass 78 characters."""
    lines, line = [], f"{name}:"
    for i, value in enumerate(values):
        item = _address(name, value) + ("," if i < len(values) - 1 else "")
        if len(line) + 1 + len(item) > FOLD and line != f"{name}:":
            lines.append(line)
            line = ""
        line += " " + item
    lines.append(line)
    return "\r\n".join(lines)


def _encoded_words(text: str) -> list[str]:
    """``text`` as UTF-8 base64 encoded words, split between characters (never inside one)."""
    words, chunk = [], b""
    for char in text:
        octets = char.encode("utf-8")
        if len(chunk) + len(octets) > _WORD_OCTETS:
            words.append(chunk)
            chunk = b""
        chunk += octets
    if chunk or not words:
        words.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words]


def _subject(value: str) -> str:
    _checked("Subject", value)
    plain = value.isascii() and value.isprintable() and "=?" not in value and value == value.strip()
    if plain and len("Subject: ") + len(value) <= FOLD:
        return f"Subject: {value}"
    return "Subject: " + "\r\n ".join(_encoded_words(value))


def _seven_bit(body: str, lines: list[str]) -> bool:
    """Printable ASCII (tabs allowed) on lines of at most 998 octets."""
    return (
        body.isascii()
        and all(len(line) <= MAX_LINE for line in lines)
        and all(" " <= c <= "~" or c in "\t\n" for c in body)
    )


def _part(content_type: str, text: str, boundary: str) -> str:
    """One part, from its boundary line to the CRLF that ends its last line (the CRLF before
    the next boundary belongs to that boundary, RFC 2046 5.1.1). Line ends become CRLF and
    the text ends with one, as ``set_content`` left it."""
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    if not body.endswith("\n"):
        body += "\n"
    lines = body.split("\n")[:-1]
    if _seven_bit(body, lines) and boundary not in body:
        encoding, payload = "7bit", "".join(line + "\r\n" for line in lines)
    else:
        encoding = "base64"
        payload = base64.encodebytes(body.encode("utf-8")).decode("ascii").replace("\n", "\r\n")
    return (
        f"--{boundary}\r\n"
        f'Content-Type: {content_type}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n"
        f"\r\n{payload}"
    )


def mime_message(
    mail: OutboundMail, sender: str, *, message_id: str, date: datetime | str
) -> bytes:
    """The message as it goes over SMTP (CRLF line ends; smtplib adds the dot-stuffing)."""
    from email.utils import format_datetime

    if not mail.to:
        raise ValueError("To: a mail needs at least one recipient")
    stamp = date if isinstance(date, str) else format_datetime(date, usegmt=True)
    boundary = "=_clearance_" + secrets.token_hex(16)
    headers = [
        f"From: {_address('From', sender)}",
        _addresses("To", mail.to),
        _subject(mail.subject),
        f"Message-ID: {_checked('Message-ID', message_id)}",
        f"Date: {_checked('Date', stamp)}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"',
    ]
    plain, html = _part("text/plain", mail.text, boundary), _part("text/html", mail.html, boundary)
    body = f"{plain}\r\n{html}\r\n--{boundary}--\r\n"
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode("ascii")
