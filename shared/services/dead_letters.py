"""Record every Event Grid dead letter in lineage: the event's terminal record, with its cause."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from shared.domain.errors import InputError
from shared.domain.intake.codes import IntakeCode
from shared.domain.intake.events import (
    IMAGE_PUSHED,
    MODEL_REGISTERED,
    parse_image_pushed,
    parse_model_registered,
)
from shared.domain.lineage.record import (
    Actor,
    ArtifactRef,
    Correlation,
    LineageRecord,
    Reason,
    RecordKind,
)
from shared.ports.dead_letters import BusDeadLetterSource, DeadLetterSource
from shared.ports.lineage import LineageWriter
from shared.ports.mail import Mailer, OutboundMail
from shared.queues import ALL_QUEUES

log = logging.getLogger(__name__)


def artifact_of(event: dict[str, Any]) -> ArtifactRef:
    """What the dead-lettered event was about, as far as its data tells."""
    event_type = event.get("eventType") or event.get("type")
    event_id = str(event.get("id", ""))
    try:
        if event_type == IMAGE_PUSHED:
            p = parse_image_pushed(event_id, event.get("data"))
            return ArtifactRef(
                kind="image",
                registry=p.login_server,
                repository=p.repository,
                digest=p.digest,
                tag=p.tag,
            )
        if event_type == MODEL_REGISTERED:
            topic = str(event.get("topic") or event.get("source") or "")
            m = parse_model_registered(event_id, topic, event.get("data"))
            return ArtifactRef(
                kind="aml_model", workspace=m.workspace, model=m.name, version=m.version
            )
    except InputError:
        pass
    return ArtifactRef(kind="unknown", repository=str(event.get("subject", ""))[:255] or None)


def record_dead_letters(
    source: DeadLetterSource,
    lineage: LineageWriter,
    region: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Write one ``event.dead_lettered`` record per dead-lettered event; returns how many."""
    count = 0
    for name, events in source.pending():
        for event in events:
            cause = str(event.get("deadLetterReason") or "unknown")
            detail = str(event.get("lastDeliveryOutcome") or "")
            record = LineageRecord(
                kind=RecordKind.DEAD_LETTERED,
                at=clock(),
                region=region,
                actor=Actor(identity="event-grid", established_by="event_grid"),
                artifact=artifact_of(event),
                correlation=Correlation(event_id=str(event.get("id", "")) or None),
                reasons=(
                    Reason(
                        code=IntakeCode.EVENT_DEAD_LETTERED,
                        message=f"Event Grid gave up delivering the event: {cause}. "
                        f"{detail}".strip(),
                    ),
                ),
                details={"blob": name, "attempts": str(event.get("deliveryAttempts", ""))},
            )
            key = f"{event.get('id', name)}|{RecordKind.DEAD_LETTERED}"
            if lineage.append(record, idempotency_key=key):
                count += 1
        source.mark_recorded(name)
    if count:
        log.warning("recorded %d dead-lettered event(s)", count)
    return count


def _bus_artifact(body: bytes) -> tuple[ArtifactRef, str | None, str | None]:
    """(artifact, owner, approval id) of a dead-lettered approval or deployment message."""
    from pydantic import ValidationError

    from shared.domain.approval.request import ApprovalRequest
    from shared.domain.deploy.request import DeploymentRequest

    for model in (ApprovalRequest, DeploymentRequest):
        try:
            doc = model.model_validate_json(body)
        except ValidationError:
            continue
        approval_id = getattr(doc, "approval_id", None)
        return doc.artifact, str(doc.metadata.owner), approval_id
    return ArtifactRef(kind="unknown"), None, None


def record_bus_dead_letters(
    source: BusDeadLetterSource,
    lineage: LineageWriter,
    region: str,
    mailer: Mailer | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Record each dead-lettered bus message in lineage (and tell its model's owner)."""

    def handle(message: Any) -> None:
        artifact, owner, approval_id = _bus_artifact(message.body)
        cause = f"{message.reason}: {message.description}".strip(": ")
        record = LineageRecord(
            kind=RecordKind.DEAD_LETTERED,
            at=clock(),
            region=region,
            actor=Actor(identity="clearance", established_by="managed_identity"),
            artifact=artifact,
            correlation=Correlation(approval_id=approval_id),
            reasons=(
                Reason(
                    code=IntakeCode.BUS_DEAD_LETTERED,
                    message=f"The {message.queue} message was dead-lettered: {cause}",
                ),
            ),
            details={"queue": message.queue, "message_id": message.message_id},
        )
        first = lineage.append(record, idempotency_key=f"bus|{message.queue}|{message.message_id}")
        if first and owner and mailer is not None:
            mailer.send(
                OutboundMail(
                    to=(owner,),
                    subject=f"Clearance could not finish a step ({message.queue})",
                    text=f"{record.reasons[0].message}\n\nThe platform team has the details.",
                    html=f"<p>{html.escape(record.reasons[0].message)}</p>",
                )
            )

    return sum(source.drain(queue, handle) for queue in ALL_QUEUES)
