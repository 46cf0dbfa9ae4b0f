"""A burst of mail to one address is one mail now and one digest later, whatever the spelling."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from shared.ports.mail import OutboundMail
from shared.services.mail_digest import WINDOW, DigestingMailer, send_digests
from tests.support.approval_fakes import FakeDigestStore
from tests.support.fakes import FakeMailer

T0 = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


def _mail(to: str, n: int) -> OutboundMail:
    return OutboundMail(
        (to,), f"Clearance rejected models/m{n}", f"rejected m{n}\nmore", "<p>x</p>"
    )


def test_a_burst_to_one_address_is_one_mail_then_one_digest() -> None:
    inner, store = FakeMailer(), FakeDigestStore()
    now = [T0]
    mailer = DigestingMailer(inner, store, clock=lambda: now[0])
    spellings = ["owner@contoso.example", "Owner@Contoso.Example", "owner+x@contoso.example"]

    for n in range(300):
        mailer.send(_mail(spellings[n % 3], n))

    assert len(inner.sent) == 1
    assert send_digests(inner, store, T0 + WINDOW / 2) == 0  # the window is still open
    assert send_digests(inner, store, T0 + WINDOW + timedelta(seconds=1)) == 1
    digest = inner.sent[-1]
    assert "299" in digest.subject
    assert digest.text.count("\n- ") == 51  # 50 listed and "and 249 more"
    now[0] = T0 + WINDOW * 2
    mailer.send(_mail("owner@contoso.example", 999))
    assert len(inner.sent) == 3  # a new window: the next mail goes out at once


def test_addresses_are_independent_and_concurrent_first_mails_open_one_window() -> None:
    inner, store = FakeMailer(), FakeDigestStore()
    mailer = DigestingMailer(inner, store, clock=lambda: T0)
    threads = [
        threading.Thread(target=mailer.send, args=(_mail("a@contoso.example", n),))
        for n in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    mailer.send(_mail("b@contoso.example", 1))

    assert sorted(m.to[0] for m in inner.sent) == ["a@contoso.example", "b@contoso.example"]
