"""The mail bytes read back through Python's own parser exactly as they were meant, whatever
the subject and the parts hold, and no value can add a header or a part."""

from __future__ import annotations

import string
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.adapters.mail.mime import FOLD, MAX_LINE, mime_message
from shared.ports.mail import OutboundMail

SENDER = "clearance@contoso.example"
WHEN = datetime(2026, 12, 4, 5, 6, 7, tzinfo=UTC)


def _raw(mail: OutboundMail) -> bytes:
    return mime_message(mail, SENDER, message_id="<m1@contoso.example>", date=WHEN)


def _read(raw: bytes) -> EmailMessage:
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def _parts(msg: EmailMessage) -> tuple[str, str]:
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    return _newlines(str(plain.get_content())), _newlines(str(html.get_content()))


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _as_sent(text: str) -> str:
    """What a part reads back as: LF line ends, ending with one."""
    body = _newlines(text)
    return body if body.endswith("\n") else body + "\n"


def test_an_ordinary_mail_reads_back_with_every_header_and_both_parts() -> None:
    raw = _raw(
        OutboundMail(("a@contoso.example",), "Approve fraud-detector 1.4.2", "t", "<p>h</p>")
    )
    msg = _read(raw)
    assert msg["From"] == SENDER
    assert msg["To"] == "a@contoso.example"
    assert msg["Subject"] == "Approve fraud-detector 1.4.2"
    assert msg["Message-ID"] == "<m1@contoso.example>"
    assert msg["Date"].datetime == WHEN
    assert msg.get_content_type() == "multipart/alternative"
    assert _parts(msg) == ("t\n", "<p>h</p>\n")
    assert not msg.defects and all(not p.defects for p in msg.walk())
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF line ends only


@settings(max_examples=300, deadline=None)
@given(
    subject=st.text(max_size=300),
    text=st.text(max_size=3000),
    html=st.text(max_size=3000),
)
def test_any_subject_and_parts_read_back_unchanged(subject: str, text: str, html: str) -> None:
    if any(c in subject for c in "\r\n\0"):
        with pytest.raises(ValueError, match="linefeed or carriage return"):
            _raw(OutboundMail(("a@x.example",), subject, text, html))
        return
    raw = _raw(OutboundMail(("a@x.example",), subject, text, html))
    msg = _read(raw)
    assert msg["Subject"] == subject
    got_text, got_html = _parts(msg)
    assert got_text == _as_sent(text)
    assert got_html == _as_sent(html)
    # the headers are the seven written, each on lines of at most 78 characters
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    names = [line.split(":", 1)[0] for line in head.split("\r\n") if not line.startswith(" ")]
    assert names == ["From", "To", "Subject", "Message-ID", "Date", "MIME-Version", "Content-Type"]
    assert all(len(line) <= FOLD for line in head.split("\r\n"))
    assert all(len(line) <= MAX_LINE for line in raw.split(b"\r\n"))
    assert len(list(msg.iter_parts())) == 2


HOSTILE_SUBJECTS = [
    "ok\r\nBcc: victim@x.example",
    "ok\nBcc: victim@x.example",
    "ok\rBcc: victim@x.example",
    "ok\0",
]


@pytest.mark.parametrize("subject", HOSTILE_SUBJECTS)
def test_a_subject_with_a_line_break_or_nul_is_refused(subject: str) -> None:
    with pytest.raises(ValueError, match="linefeed or carriage return"):
        _raw(OutboundMail(("a@x.example",), subject, "t", "h"))


@pytest.mark.parametrize(
    "address",
    [
        "a@x.example\r\nBcc: victim@x.example",
        "a@x.example, victim@x.example",
        "Mallory <a@x.example>",
        "jörg@x.example",
        "a@ex\u0430mple.example",  # a Cyrillic a in the domain
        "a @x.example",
        "",
        "no-at-sign",
    ],
)
def test_recipients_and_sender_must_be_bare_ascii_addresses(address: str) -> None:
    with pytest.raises(ValueError, match=r"^To: "):
        _raw(OutboundMail((address,), "s", "t", "h"))
    with pytest.raises(ValueError, match=r"^From: "):
        mime_message(
            OutboundMail(("a@x.example",), "s", "t", "h"), address, message_id="<m>", date=WHEN
        )


def test_no_recipient_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one recipient"):
        _raw(OutboundMail((), "s", "t", "h"))


def test_an_encoded_word_in_a_subject_is_shown_as_written_not_decoded() -> None:
    spoof = "=?utf-8?b?QXBwcm92ZWQ=?= nothing to see"  # would read "Approved nothing to see"
    msg = _read(_raw(OutboundMail(("a@x.example",), spoof, "t", "h")))
    assert msg["Subject"] == spoof


def test_many_recipients_are_folded_after_commas_and_all_read_back() -> None:
    to = tuple(f"approver.number{i}@contoso.example" for i in range(12))
    raw = _raw(OutboundMail(to, "s", "t", "h"))
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert all(len(line) <= FOLD for line in head.split("\r\n"))
    msg = _read(raw)
    assert [a.addr_spec for a in msg["To"].addresses] == list(to)


def test_a_part_that_holds_the_boundary_or_long_lines_or_unicode_goes_base64() -> None:
    raw = _raw(OutboundMail(("a@x.example",), "s", "x" * 2000, "<p>Zürich → EU</p>"))
    msg = _read(raw)
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and html is not None
    assert plain["Content-Transfer-Encoding"] == "base64"
    assert html["Content-Transfer-Encoding"] == "base64"
    assert _parts(msg) == ("x" * 2000 + "\n", "<p>Zürich → EU</p>\n")


def test_a_part_that_contains_its_own_boundary_is_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    import shared.adapters.mail.mime as mime

    monkeypatch.setattr(mime.secrets, "token_hex", lambda n: "0" * (2 * n))
    boundary = "=_clearance_" + "0" * 32
    text = f"before\n--{boundary}\nContent-Type: text/html\n\n<p>forged</p>\n--{boundary}--\n"
    msg = _read(_raw(OutboundMail(("a@x.example",), "s", text, "<p>real</p>")))
    parts = list(msg.iter_parts())
    assert len(parts) == 2
    assert parts[0]["Content-Transfer-Encoding"] == "base64"
    assert _parts(msg) == (_as_sent(text), "<p>real</p>\n")


def test_printable_ascii_subjects_stay_readable_on_the_wire() -> None:
    subject = "Approve fraud-detector 1.4.2 (" + string.ascii_letters[:20] + ")"
    raw = _raw(OutboundMail(("a@x.example",), subject, "t", "h"))
    assert f"Subject: {subject}\r\n".encode() in raw
