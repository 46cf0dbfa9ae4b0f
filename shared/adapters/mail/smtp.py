"""Mailer over SMTP (the local stack's mail server; any relay in a data centre)."""

from __future__ import annotations

import smtplib
from email.utils import formatdate, make_msgid

from shared.adapters.mail.mime import mime_message
from shared.adapters.telemetry.spans import traced_call
from shared.domain.errors import TransientError
from shared.ports.mail import OutboundMail


def build_message(mail: OutboundMail, sender: str) -> bytes:
    """The message's bytes, with the Message-ID and Date RFC 5322 requires (spam filters
    score their absence). Header values are checked (``shared.adapters.mail.mime``): none
    can add a header."""
    return mime_message(
        mail,
        sender,
        message_id=make_msgid(domain=sender.rsplit("@", 1)[-1]),
        date=formatdate(usegmt=True),
    )


class SmtpMailer:
    def __init__(self, host: str, port: int, sender: str, timeout: float = 10.0) -> None:
        self._host, self._port, self._sender, self._timeout = host, port, sender, timeout

    @traced_call("smtp.send")
    def send(self, mail: OutboundMail) -> None:
        raw = build_message(mail, self._sender)
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                smtp.sendmail(self._sender, list(mail.to), raw)
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientError(f"SMTP {self._host}:{self._port} failed: {exc}") from exc
