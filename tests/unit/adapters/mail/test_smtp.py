"""Every mail leaves with the headers RFC 5322 requires, among them Date."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from shared.adapters.mail.smtp import build_message
from shared.ports.mail import OutboundMail


def test_every_mail_has_a_date_and_a_message_id() -> None:
    msg = build_message(
        OutboundMail(("a@contoso.example",), "s", "t", "<p>t</p>"), "c@contoso.example"
    )

    assert parsedate_to_datetime(str(msg["Date"])).tzinfo is not None
    assert msg["Message-ID"]
