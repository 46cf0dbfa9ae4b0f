"""Mail to approvers, owners and the platform address."""

from __future__ import annotations

from dataclasses import dataclass
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
