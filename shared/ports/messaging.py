"""Ports: the small interfaces that services use and adapters implement.

Tests use fakes implementing these same ports (``tests/fakes.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from shared.domain.intake_ledger import Claim, VersionHolder

if TYPE_CHECKING:
    from shared.domain.lineage import LineageRecord

PropertyValue = str | int | float | bool


@dataclass(frozen=True)
class OutboundMessage:
    """A message for a queue. ``message_id`` drives Service Bus duplicate detection."""

    body: bytes
    message_id: str
    content_type: str = "application/json"
    subject: str | None = None
    correlation_id: str | None = None
    application_properties: Mapping[str, PropertyValue] = field(default_factory=dict)
    scheduled_enqueue_time: datetime | None = None

    @classmethod
    def json(cls, payload: Any, *, message_id: str, **kwargs: Any) -> OutboundMessage:
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str)
        return cls(body=body.encode("utf-8"), message_id=message_id, **kwargs)


class MessageBus(Protocol):
    """Sends messages to a named queue of the cell's bus.

    Raises ``TransientError`` when the bus cannot be reached, so the caller's trigger retries.
    Returns False when the bus dropped the message as a duplicate of a recent message id.
    """

    def send(self, queue: str, message: OutboundMessage) -> bool: ...


class RegistryReader(Protocol):
    """Reads OCI documents by digest from a registry of the catalog.

    Raises ``TransientError`` when the registry cannot be reached, ``TerminalError`` when the
    digest does not exist there.
    """

    def get_manifest(self, login_server: str, repository: str, digest: str) -> dict[str, Any]: ...

    def get_json_blob(
        self, login_server: str, repository: str, digest: str, *, max_bytes: int
    ) -> dict[str, Any]: ...


class LineageWriter(Protocol):
    """Appends one immutable record to the artifact's history in this region."""

    def append(self, record: LineageRecord, *, idempotency_key: str | None = None) -> bool:
        """False when a record with the same idempotency key was already appended."""
        ...


@dataclass(frozen=True)
class OutboundMail:
    to: tuple[str, ...]
    subject: str
    text: str
    html: str


class Mailer(Protocol):
    def send(self, mail: OutboundMail) -> None: ...


class IntakeLedger(Protocol):
    """De-duplication of intake: conditional inserts, safe across concurrent instances."""

    def claim(self, key: str, event_id: str) -> Claim: ...

    def complete(self, key: str, outcome: str, tag: str | None) -> None: ...

    def add_tag(self, key: str, tag: str) -> bool:
        """Remember a new tag of a handled artifact; False when it was already known."""
        ...

    def claim_version(
        self, key: str, digest: str, platform_digests: tuple[str, ...]
    ) -> VersionHolder: ...
