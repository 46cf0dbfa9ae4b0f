"""Mailer over Azure Communication Services Email (managed identity).

``begin_send(...).result()`` polls the send operation every 30 s by default (the SDK's
``polling_interval``), so each mail held the vote or the step that sent it for half a minute
or more. A send here is the one request that hands the message to ACS (``polling=False``):
ACS answers 202 once it has accepted the message, and delivery is ACS's to report (delivery
reports on Event Grid). Only that request's errors are ours: refusals are terminal, throttling
and outages transient (after the SDK's own bounded retries, which honour ``Retry-After``).
"""

from __future__ import annotations

from typing import Any

from shared.domain.errors import TerminalError, TransientError
from shared.ports.mail import OutboundMail

RETRIES = 2
TIMEOUT = 10  # seconds per connection / read


class AcsMailer:
    def __init__(self, endpoint: str, credential: Any, sender: str, **client_kwargs: Any) -> None:
        """``client_kwargs`` go to the azure-core pipeline (``transport=`` in the wire tests)."""
        self._endpoint, self._credential, self._sender = endpoint, credential, sender
        self._kwargs = {
            "retry_total": RETRIES,
            "connection_timeout": TIMEOUT,
            "read_timeout": TIMEOUT,
            **client_kwargs,
        }
        self._client: Any = None

    def send(self, mail: OutboundMail) -> None:
        from azure.communication.email import EmailClient

        if self._client is None:
            self._client = EmailClient(self._endpoint, self._credential, **self._kwargs)
        message = {
            "senderAddress": self._sender,
            "recipients": {"to": [{"address": a} for a in mail.to]},
            "content": {"subject": mail.subject, "plainText": mail.text, "html": mail.html},
        }
        try:
            poller = self._client.begin_send(message, polling=False)
        except Exception as exc:
            raise translate(exc) from exc
        status = str((poller.result() or {}).get("status", "")).lower()
        if status == "failed":
            raise TerminalError(f"ACS refused the mail: {poller.result().get('error')}")


def translate(exc: Exception) -> Exception:
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(exc, ClientAuthenticationError) and exc.status_code is None:
        return TransientError(f"ACS email: no credential: {exc.message}")
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return TransientError(f"ACS email unreachable: {exc.message}")
    if isinstance(exc, HttpResponseError):
        status = exc.status_code or 0
        code = getattr(exc.error, "code", None) or ""
        if status in (408, 429) or status >= 500:
            return TransientError(f"ACS email answered {status} {code}: {exc.message}")
        # 400 (bad address, sender domain not linked), 401/403 (no role), 413 (too large)
        return TerminalError(f"ACS refused the mail ({status} {code}): {exc.message}")
    return exc
