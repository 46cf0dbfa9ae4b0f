"""Mail aggregation: at most one mail per address per window, then one digest of the rest.

A burst of bad pushes naming one owner (or the platform address) would otherwise be a burst of
mail from the platform's sender: the first mail to an address goes out at once and opens a
window; every further mail to that address within the window is held, and the timer
(``functions/mail_digests.py``) sends one digest per address when the window has passed.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from shared.domain.identity import canonical_identity
from shared.ports.mail import DigestStore, HeldMail, Mailer, OutboundMail
from shared.services.owner_mail import header_safe

log = logging.getLogger(__name__)
WINDOW = timedelta(minutes=5)
MAX_LISTED = 50


class DigestingMailer:
    """A ``Mailer`` that admits one mail per address per window and holds the others."""

    def __init__(
        self,
        mailer: Mailer,
        store: DigestStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._mailer, self._store, self._clock = mailer, store, clock
        self.inner = mailer

    def send(self, mail: OutboundMail) -> None:
        now = self._clock()
        for address in mail.to:
            key = canonical_identity(address)
            if self._store.open_window(key, now):
                self._mailer.send(OutboundMail((address,), mail.subject, mail.text, mail.html))
            else:
                summary = header_safe(mail.text.split("\n", 1)[0], 160)
                self._store.hold(
                    key, HeldMail(address, header_safe(mail.subject, 120), summary), now
                )


def digest_mail(address: str, held: list[HeldMail]) -> OutboundMail:
    listed = held[:MAX_LISTED]
    more = len(held) - len(listed)
    lines = [f"- {h.subject}" for h in listed] + ([f"- and {more} more"] if more > 0 else [])
    intro = (
        f"Clearance held {len(held)} more message(s) to this address in the last few minutes "
        "(one message per address per window, then this digest). The audit page has each one."
    )
    text = "\n".join([intro, "", *lines])
    items = "".join(f"<li>{html.escape(h.subject)}</li>" for h in listed)
    if more > 0:
        items += f"<li>and {more} more</li>"
    body = f"<p>{html.escape(intro)}</p><ul>{items}</ul>"
    return OutboundMail((address,), f"Clearance digest: {len(held)} message(s)", text, body)


def send_digests(
    mailer: Mailer, store: DigestStore, now: datetime, window: timedelta = WINDOW
) -> int:
    """Send one digest per address whose window has passed; close the window. Returns how
    many digests went out. A failure leaves the window for the next run (mailer raises)."""
    sent = 0
    for key, held in store.due(now - window):
        if held:
            mailer.send(digest_mail(held[0].address, held))
            sent += 1
        store.close(key)
    return sent
