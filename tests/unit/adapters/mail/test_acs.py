"""``AcsMailer`` on the wire: the real ``EmailClient`` over an azure-core transport that plays
the shapes ACS answers with."""

from __future__ import annotations

import time
from typing import Any

import pytest

from shared.adapters.mail.acs import AcsMailer
from shared.domain.errors import TerminalError, TransientError
from shared.ports.mail import OutboundMail
from tests.support.azure_wire import Reply, Route, StaticCredential, WireTransport, error

ENDPOINT = "https://clearance-wire.europe.communication.azure.com"
OPERATION = f"{ENDPOINT}/emails/operations/op-1?api-version=2023-03-31"
MAIL = OutboundMail(
    to=("approver.one@contoso.example", "approver.two@contoso.example"),
    subject="Approve fraud-detector 2",
    text="Please review",
    html="<p>Please review</p>",
)


def accepted() -> Reply:
    # What ACS answers: accepted, poll the operation in 30 s.
    return Reply(
        202,
        {"id": "op-1", "status": "Running"},
        {"Operation-Location": OPERATION, "Retry-After": "30", "operation-id": "op-1"},
    )


def mailer(t: WireTransport, **kwargs: Any) -> AcsMailer:
    return AcsMailer(
        ENDPOINT, StaticCredential(), "donotreply@clearance.example", transport=t, **kwargs
    )


def test_a_mail_is_one_request_and_never_waits_for_the_operation() -> None:
    """The finding: ``begin_send().result()`` polled every 30 s while a vote waited."""
    t = WireTransport(
        Route("POST", r"/emails:send$", [accepted()]),
        Route("GET", r"/emails/operations/", [Reply(200, {"id": "op-1", "status": "Running"})]),
    )
    started = time.monotonic()
    mailer(t).send(MAIL)
    assert time.monotonic() - started < 2
    (post,) = t.seen
    body = post.json()
    assert body["senderAddress"] == "donotreply@clearance.example"
    assert [r["address"] for r in body["recipients"]["to"]] == list(MAIL.to)
    assert body["content"]["subject"] == MAIL.subject
    assert post.headers["Authorization"] == "Bearer wire-token"


def test_throttling_is_retried_after_retry_after_then_accepted() -> None:
    t = WireTransport(
        Route(
            "POST",
            r"/emails:send$",
            [error(429, "TooManyRequests", "slow", **{"Retry-After": "1"}), accepted()],
        )
    )
    started = time.monotonic()
    mailer(t).send(MAIL)
    assert time.monotonic() - started >= 0.9 and len(t.seen) == 2


def test_lasting_throttling_and_outages_are_transient_and_bounded() -> None:
    t = WireTransport(
        Route(
            "POST",
            r"/emails:send$",
            [error(503, "ServiceUnavailable", "down", **{"Retry-After": "0"})],
        )
    )
    with pytest.raises(TransientError):
        mailer(t, retry_backoff_factor=0.01).send(MAIL)
    assert len(t.seen) == 3  # the first try and two retries, not an endless loop


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "DomainNotLinked"),  # the sender domain is not linked to the resource
        (400, "InvalidRecipientAddress"),
        (403, "Forbidden"),  # no role on the Communication Services resource
        (413, "RequestEntityTooLarge"),
    ],
)
def test_refusals_are_terminal(status: int, code: str) -> None:
    t = WireTransport(Route("POST", r"/emails:send$", [error(status, code, "refused")]))
    with pytest.raises(TerminalError) as caught:
        mailer(t).send(MAIL)
    assert not isinstance(caught.value, TransientError) and code in str(caught.value)
    assert len(t.seen) == 1  # never retried


def test_a_missing_token_is_transient() -> None:
    from azure.core.exceptions import ClientAuthenticationError

    t = WireTransport(Route("POST", r"/emails:send$", [accepted()]))
    cred = StaticCredential(ClientAuthenticationError("managed identity endpoint unavailable"))
    with pytest.raises(TransientError, match="credential"):
        AcsMailer(ENDPOINT, cred, "donotreply@clearance.example", transport=t).send(MAIL)
