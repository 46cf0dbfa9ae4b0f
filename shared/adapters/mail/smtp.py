"""Mailer over SMTP (the local stack's mail server; any relay in a data centre)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid

from shared.adapters.telemetry.spans import traced_call
from shared.domain.errors import TransientError
from shared.ports.mail import OutboundMail


def build_message(mail: OutboundMail, sender: str) -> EmailMessage:
    """A multipart/alternative message. Header values are folded by the strict SMTP policy,
    which refuses CR/LF in them, so no value can add a header."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender
    msg["To"] = ", ".join(mail.to)
    msg["Subject"] = mail.subject
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
    msg["Date"] = formatdate(usegmt=True)  # RFC 5322 requires it; spam filters score its absence
    msg.set_content(mail.text)
    msg.add_alternative(mail.html, subtype="html")
    return msg


class SmtpMailer:
    def __init__(self, host: str, port: int, sender: str, timeout: float = 10.0) -> None:
        self._host, self._port, self._sender, self._timeout = host, port, sender, timeout

    @traced_call("smtp.send")
    def send(self, mail: OutboundMail) -> None:
        msg = build_message(mail, self._sender)
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientError(f"SMTP {self._host}:{self._port} failed: {exc}") from exc
