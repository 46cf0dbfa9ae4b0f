"""Every mail leaves with the headers RFC 5322 requires and arrives over SMTP as written."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.utils import parsedate_to_datetime
from pathlib import Path

from aiosmtpd.controller import Controller

from shared.adapters.mail.smtp import SmtpMailer, build_message
from shared.local.smtp_sink import MaildirHandler, read_mails
from shared.local.stack import free_port
from shared.ports.mail import OutboundMail


def test_every_mail_has_a_date_and_a_message_id() -> None:
    raw = build_message(
        OutboundMail(("a@contoso.example",), "s", "t", "<p>t</p>"), "c@contoso.example"
    )
    msg = message_from_bytes(raw, policy=policy.default)

    assert parsedate_to_datetime(str(msg["Date"])).tzinfo is not None
    assert str(msg["Message-ID"]).endswith("@contoso.example>")


def test_a_mail_arrives_over_real_smtp_as_it_was_written(tmp_path: Path) -> None:
    """Through aiosmtpd (the local stack's server): leading dots survive dot-stuffing (a lone
    "." line would end the DATA), Unicode and long lines arrive intact, the envelope names
    exactly the recipients."""
    port = free_port()
    controller = Controller(MaildirHandler(tmp_path / "mail"), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        text = "first\n.\n..two\n.end\n" + "x" * 1200 + "\nZürich → EU"
        html = "<p>.</p>\n.\n<p>review</p>"
        mail = OutboundMail(("a@contoso.example", "b@contoso.example"), "Prüfung 1.4.2", text, html)
        SmtpMailer("127.0.0.1", port, "clearance@contoso.example").send(mail)
    finally:
        controller.stop()
    (got,) = read_mails(tmp_path / "mail")
    assert got["Subject"] == "Prüfung 1.4.2"
    assert got["X-Envelope-To"] == "a@contoso.example, b@contoso.example"
    plain, rich = got.get_body(("plain",)), got.get_body(("html",))
    assert plain is not None and rich is not None
    assert str(plain.get_content()).replace("\r\n", "\n") == text + "\n"
    assert str(rich.get_content()).replace("\r\n", "\n") == html + "\n"
