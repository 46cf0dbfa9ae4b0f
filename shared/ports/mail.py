"""Mail to approvers, owners and the platform address."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class OutboundMail:
    to: tuple[str, ...]
    subject: str
    text: str
    html: str


class Mailer(Protocol):
    def send(self, mail: OutboundMail) -> None: ...


@dataclass(frozen=True)
class HeldMail:
    address: str
    subject: str
    summary: str  # one bounded line: what the digest lists for this mail


class DigestStore(Protocol):
    """Per-address mail windows: the first mail of a window goes out, the rest wait for the
    digest. Storage decides races (the window row is a conditional insert)."""

    def open_window(self, address: str, now: datetime) -> bool:
        """True if no window was open for ``address`` (this mail goes out now)."""
        ...

    def hold(self, address: str, held: HeldMail, now: datetime) -> None: ...

    def due(self, opened_before: datetime) -> list[tuple[str, list[HeldMail]]]:
        """Addresses whose window opened before ``opened_before``, with what they hold."""
        ...

    def close(self, address: str) -> None:
        """Forget the window and what it held (after the digest went out)."""
        ...
