"""Mailer over Azure Communication Services Email (managed identity)."""

from __future__ import annotations

from typing import Any

from shared.domain.errors import TransientError
from shared.ports.mail import OutboundMail


class AcsMailer:
    def __init__(self, endpoint: str, credential: Any, sender: str) -> None:
        self._endpoint, self._credential, self._sender = endpoint, credential, sender
        self._client: Any = None

    def send(self, mail: OutboundMail) -> None:
        from azure.communication.email import EmailClient
        from azure.core.exceptions import AzureError

        if self._client is None:
            self._client = EmailClient(self._endpoint, self._credential)
        message = {
            "senderAddress": self._sender,
            "recipients": {"to": [{"address": a} for a in mail.to]},
            "content": {"subject": mail.subject, "plainText": mail.text, "html": mail.html},
        }
        try:
            self._client.begin_send(message).result()
        except AzureError as exc:
            raise TransientError(f"ACS email failed: {exc}") from exc
