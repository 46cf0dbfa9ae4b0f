"""Intake: an ImagePushed / ModelRegistered event becomes one approval request or a rejection.

Every event ends in exactly one terminal lineage record: approval requested, rejected (with
all reasons), duplicate, re-tagged or skipped; a transient failure raises so Event Grid retries
(and its dead-letter is recorded by ``record_dead_letters``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.domain.approval.record import approval_id_for
from shared.domain.approval.request import ApprovalRequest
from shared.domain.artifact import AmlModelArtifact, ImageArtifact
from shared.domain.catalog import RegionCatalog
from shared.domain.errors import InputError, TerminalError, Violation
from shared.domain.identity import identity_problem
from shared.domain.intake.codes import IntakeCode
from shared.domain.intake.events import (
    IMAGE_PUSHED,
    MODEL_REGISTERED,
    ImagePushed,
    ModelRegistered,
    parse_image_pushed,
    parse_model_registered,
)
from shared.domain.intake.ledger import Claim, ClaimState
from shared.domain.intake.oci import Skip
from shared.domain.intake.policy import evaluate_intake, registry_violations
from shared.domain.intake.rejection import Rejection
from shared.domain.lineage.record import (
    INTAKE_TERMINAL,
    Actor,
    ArtifactRef,
    Correlation,
    LineageRecord,
    Reason,
    RecordKind,
)
from shared.domain.metadata.labels import parse_metadata
from shared.domain.metadata.model import ArtifactKind, ModelMetadata
from shared.domain.metadata.versions import canonical, compare
from shared.ports.intake import IntakeLedger, RejectionRegistry
from shared.ports.lineage import BatchLineageWriter
from shared.ports.mail import Mailer
from shared.ports.messaging import MessageBus, OutboundMessage
from shared.ports.registrant import Registrant, RegistrantLookup
from shared.ports.registry import RegistryReader, SupplyChainReader
from shared.queues import APPROVAL_REQUESTS
from shared.services.intake.binding import IncomingEvent
from shared.services.intake.inspection import inspect_image
from shared.services.intake.invariant import record_rejection, refusal
from shared.services.intake.signatures import intake_evidence
from shared.services.owner_mail import owner_address, rejection_mail

log = logging.getLogger(__name__)


@dataclass
class IntakeDeps:
    region: str
    catalog: RegionCatalog
    registry: RegistryReader
    ledger: IntakeLedger
    lineage: BatchLineageWriter
    bus: MessageBus
    mailer: Mailer | None = None
    platform_email: str | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    rejections: RejectionRegistry | None = None
    # Withdraws the open approval request with this id (approvals' ``cancel_request``).
    withdraw: Callable[[str, Reason], object] | None = None
    registrants: RegistrantLookup | None = None  # who registered an Azure ML model
    # Signatures and attestations (None: not checked, as before the supply-chain policy).
    evidence: SupplyChainReader | None = None


@dataclass(frozen=True)
class IntakeOutcome:
    kind: RecordKind | None  # None: an event type intake does not handle (acknowledged)
    reasons: tuple[Reason, ...] = ()
    approval_message_id: str | None = None


_ACTOR = Actor(identity="event-grid", established_by="event_grid")


class _Run:
    """One event's handling: the lineage it writes shares its artifact and correlation.

    Its records are collected and written together, with their idempotency markers, in one
    transaction of the artifact's chain when the event reaches its terminal record (``finish``)
    — or, if the handling fails on the way, with what was collected so far (``flush``), so a
    failed delivery leaves the same trace as before.
    """

    def __init__(self, deps: IntakeDeps, event: IncomingEvent, artifact: ArtifactRef) -> None:
        self.deps, self.event, self.artifact = deps, event, artifact
        self.platform_digests: tuple[str, ...] = ()
        self.key_id = event.id  # idempotency of this delivery's records (see ``_identity``)
        self.pending: list[tuple[LineageRecord, str]] = []
        self.new_chain = False  # the artifact was claimed by a first insert: its chain is empty
        # This delivery created the artifact's ledger row: no intake before it sent a request.
        self.first_claim = False
        # Rejections read with the claim (the artifact's own), by key: not read again.
        self.known_rejections: dict[str, Rejection | None] = {}

    def record(
        self,
        kind: RecordKind,
        reasons: Sequence[Reason] = (),
        details: dict[str, str] | None = None,
        actor: Actor = _ACTOR,
    ) -> None:
        record = LineageRecord(
            kind=kind,
            at=self.deps.clock(),
            region=self.deps.region,
            actor=actor,
            artifact=self.artifact,
            correlation=Correlation(event_id=self.event.id),
            reasons=tuple(reasons),
            details=details or {},
        )
        # Idempotent per event and step: a retried delivery never writes a step twice, and an
        # event has one terminal record whatever a retry would conclude after a partial failure.
        step = "terminal" if kind in INTAKE_TERMINAL else str(kind)
        self.pending.append((record, f"{self.key_id}|{step}"))

    def flush(self) -> None:
        """Write the collected records: one transaction of the artifact's chain."""
        pending, self.pending = self.pending, []
        if pending:
            self.deps.lineage.append_all(pending, new_chain=self.new_chain)
            self.new_chain = False

    def finish(
        self, kind: RecordKind, reasons: Sequence[Reason] = (), **details: str
    ) -> IntakeOutcome:
        self.record(kind, reasons, details)
        self.flush()
        return IntakeOutcome(kind, tuple(reasons))

    def reject(self, violations: Sequence[Violation], labels: dict[str, str]) -> IntakeOutcome:
        reasons = tuple(Reason.of(v) for v in violations)
        self._enforce(reasons)
        self._notify_owner(reasons, labels)
        outcome = self.finish(RecordKind.ARTIFACT_REJECTED, reasons)
        log.info("rejected %s: %s", self.artifact.key, "; ".join(r.code for r in reasons))
        return outcome

    def _enforce(self, reasons: tuple[Reason, ...]) -> None:
        """Record the rejection for the artifact and all it contains, then withdraw the open
        requests of what it contains (a platform manifest requested before its index)."""
        deps = self.deps
        covered = record_rejection(
            deps.rejections, self.artifact, self.platform_digests, reasons, self.event.id
        )
        if deps.withdraw is None or deps.rejections is None:
            return
        for ref, ours in covered:
            if ref.key == self.artifact.key and self.first_claim and ours is not None:
                # Only intake opens requests, after its claim; this delivery's claim was the
                # first, so the artifact has none to withdraw (one read less). Were a request
                # open all the same (its ledger row deleted behind the app's back), the
                # rejection recorded above still refuses it: approvals and the deployer check
                # it before every decision and step.
                continue
            # The rejection on record: this one when it was first, else the earlier one (read
            # with the claim, or read now).
            earlier = self.known_rejections.get(ref.key)
            found = ours or earlier or deps.rejections.find(ref.key)
            if found is not None:
                deps.withdraw(approval_id_for(ref, deps.region), found.reason())

    def _notify_owner(self, reasons: tuple[Reason, ...], labels: dict[str, str]) -> None:
        if self.deps.mailer is None:
            return
        owner = owner_address(labels)
        if owner is not None and (
            identity_problem(owner) is not None
            or not self.deps.catalog.identity.owner_domain_allowed(owner)
        ):
            owner = None  # no relay: only the organisation's own domains are mailed directly
        to = owner or self.deps.platform_email
        if to is None:
            log.warning("no owner address and no platform channel for %s", self.artifact.key)
            return
        mail = rejection_mail(
            to, self.artifact, reasons, region=self.deps.region, owner_known=owner is not None
        )
        self.deps.mailer.send(mail)


def _flushing(
    handle: Callable[[IncomingEvent, IntakeDeps, list[_Run]], IntakeOutcome],
) -> Callable[[IncomingEvent, IntakeDeps], IntakeOutcome]:
    """A handler that, when it fails half-way, still writes the records it collected (the
    received record of a delivery the registry could not serve, say) before it raises."""

    def handler(event: IncomingEvent, deps: IntakeDeps) -> IntakeOutcome:
        runs: list[_Run] = []
        try:
            return handle(event, deps, runs)
        except Exception:
            for run in runs:
                try:
                    run.flush()
                except Exception:  # the original failure is what the platform must see
                    log.exception("could not record the partial lineage of event %s", event.id)
            raise

    handler.__name__ = handler.__qualname__ = handle.__name__.lstrip("_")
    handler.__doc__ = handle.__doc__
    return handler


def _claim(run: _Run) -> Claim | None:
    """Claim the artifact for this delivery. None: this exact delivery was handled to its end
    before (a redelivery): nothing more is read or written."""
    event, deps = run.event, run.deps
    this = content_digest(event)
    claim = deps.ledger.claim(run.artifact.key, event.id, this)
    if claim.completed_by(event.id, this):
        log.info("event %s was handled before (%s); nothing to do", event.id, claim.outcome)
        return None
    _identity(run, this)
    run.new_chain = run.first_claim = claim.fresh
    if claim.rejection_read:
        run.known_rejections[run.artifact.key] = claim.rejection
    return claim


def _handle_image_pushed(event: IncomingEvent, deps: IntakeDeps, runs: list[_Run]) -> IntakeOutcome:
    if event.type != IMAGE_PUSHED:
        log.info("ignoring event %s of type %s", event.id, event.type)
        return IntakeOutcome(None)
    try:
        pushed = parse_image_pushed(event.id, event.data)
    except InputError as exc:
        unknown = ArtifactRef(kind="unknown", repository=event.subject[:255] or None)
        return _Run(deps, event, unknown).reject(exc.violations, {})
    artifact = ArtifactRef(
        kind="image",
        registry=pushed.login_server,
        repository=pushed.repository,
        digest=pushed.digest,
        tag=pushed.tag,
    )
    run = _Run(deps, event, artifact)
    runs.append(run)
    # Forged or foreign registries are refused before any request leaves the cell.
    foreign = registry_violations(pushed.login_server, deps.catalog, deps.region)
    if foreign:
        return run.reject(foreign, {})
    claim = _claim(run)
    if claim is None:
        return IntakeOutcome(RecordKind.ARTIFACT_DUPLICATE)
    if claim.state is not ClaimState.NEW:
        return _repeat(run, claim, pushed.tag)
    received = {"media_type": pushed.media_type}
    if pushed.pushed_by:
        received["pushed_by"] = pushed.pushed_by
    run.record(RecordKind.ARTIFACT_RECEIVED, details=received)
    try:
        inspected = inspect_image(
            deps.registry, pushed.login_server, pushed.repository, pushed.digest, pushed.media_type
        )
    except TerminalError as exc:
        outcome = run.reject([Violation(IntakeCode.EVENT_UNREADABLE, f"{exc}.")], {})
        deps.ledger.complete(artifact.key, "rejected", pushed.tag)
        return outcome
    if isinstance(inspected, Skip):
        outcome = run.finish(RecordKind.ARTIFACT_SKIPPED, (), reason=inspected.reason)
        deps.ledger.complete(artifact.key, "skipped", pushed.tag)
        return outcome
    run.platform_digests = inspected.platform_digests
    image = ImageArtifact(
        source_region=deps.region,
        registry=pushed.login_server,
        repository=pushed.repository,
        digest=pushed.digest,
    )
    return _validate_and_request(
        run,
        pushed.tag,
        inspected.labels,
        ArtifactKind.IMAGE,
        image,
        list(inspected.disagreements),
        pushed,
        inspected.platform_digests,
    )


def _handle_model_registered(
    event: IncomingEvent, deps: IntakeDeps, runs: list[_Run]
) -> IntakeOutcome:
    if event.type != MODEL_REGISTERED:
        log.info("ignoring event %s of type %s", event.id, event.type)
        return IntakeOutcome(None)
    try:
        registered = parse_model_registered(event.id, event.source, event.data)
    except InputError as exc:
        unknown = ArtifactRef(kind="unknown", repository=event.subject[:255] or None)
        return _Run(deps, event, unknown).reject(exc.violations, {})
    artifact = ArtifactRef(
        kind="aml_model",
        workspace=registered.workspace,
        model=registered.name,
        version=registered.version,
    )
    run = _Run(deps, event, artifact)
    runs.append(run)
    claim = _claim(run)
    if claim is None:
        return IntakeOutcome(RecordKind.ARTIFACT_DUPLICATE)
    if claim.state is not ClaimState.NEW:
        return _repeat(run, claim, None)
    registrant = _registrant(registered, deps)
    received = {}
    if registrant is not None and registrant.name:
        received["registered_by"] = registrant.name[:320]
    if registrant is not None and registrant.object_id:
        received["registered_by_object_id"] = registrant.object_id
    run.record(RecordKind.ARTIFACT_RECEIVED, details=received)
    labels = {**registered.properties, **registered.tags}
    model = AmlModelArtifact(
        source_region=deps.region,
        subscription_id=registered.subscription_id,
        resource_group=registered.resource_group,
        workspace=registered.workspace,
    )
    return _validate_and_request(
        run, None, labels, ArtifactKind.AML_MODEL, model, [], registered, (), registrant
    )


handle_image_pushed = _flushing(_handle_image_pushed)
handle_model_registered = _flushing(_handle_model_registered)


def _registrant(registered: ModelRegistered, deps: IntakeDeps) -> Registrant | None:
    """The workspace's record of who registered the model (the event does not say)."""
    if deps.registrants is None:
        return None
    return deps.registrants.registrant(
        registered.subscription_id,
        registered.resource_group,
        registered.workspace,
        registered.name,
        registered.version,
    )


def content_digest(event: IncomingEvent) -> str:
    """What an event says, as one digest: type, subject and data (the id is its name)."""
    body = json.dumps(
        {"type": event.type, "subject": event.subject, "data": event.data},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def _identity(run: _Run, this: str) -> None:
    """An event id seen before with other content is recorded and reported, then handled as
    its own delivery (its records get their own idempotency keys, so none is dropped)."""
    event, deps = run.event, run.deps
    first = deps.ledger.remember_event(event.id, this)
    if first == this:
        return
    run.key_id = f"{event.id}|{this}"
    reason = Reason(
        code=IntakeCode.EVENT_CONFLICT,
        message=(
            f"Event {event.id} was delivered before with other content ({first}); this "
            f"delivery ({this}) is recorded and handled on its own."
        ),
    )
    run.record(
        RecordKind.ARTIFACT_EVENT_CONFLICT,
        (reason,),
        {"first_content": first, "this_content": this, "event_id": event.id},
    )
    log.warning("event %s seen again with other content (%s, then %s)", event.id, first, this)


def _repeat(run: _Run, claim: Claim, tag: str | None) -> IntakeOutcome:
    key = run.artifact.key
    new_tag = claim.state is ClaimState.DONE and tag and tag not in claim.tags
    if new_tag and tag and run.deps.ledger.add_tag(key, tag, claim):
        return run.finish(RecordKind.ARTIFACT_RETAGGED, (), tag=tag)
    note = (
        "being handled by another delivery" if claim.state is ClaimState.IN_PROGRESS else "handled"
    )
    return run.finish(RecordKind.ARTIFACT_DUPLICATE, (), status=note)


def _validate_and_request(
    run: _Run,
    tag: str | None,
    labels: dict[str, str],
    kind: ArtifactKind,
    origin: ImageArtifact | AmlModelArtifact,
    violations: list[Violation],
    source: ImagePushed | ModelRegistered,
    platform_digests: tuple[str, ...],
    registrant: Registrant | None = None,
) -> IntakeOutcome:
    deps, key = run.deps, run.artifact.key
    metadata: ModelMetadata | None = None
    try:
        if isinstance(source, ModelRegistered):
            metadata = parse_metadata(labels, kind=kind, name=source.name, version=source.version)
        else:
            metadata = parse_metadata(labels, kind=kind)
    except InputError as exc:
        violations.extend(exc.violations)
    if metadata is not None:
        violations.extend(evaluate_intake(metadata, origin, deps.catalog))
    if metadata is not None:  # from here on, every record names the model and version
        run.artifact = run.artifact.model_copy(
            update={"model": metadata.name, "version": metadata.version}
        )
    if not violations and metadata is not None:
        reason = refusal(deps.rejections, run.artifact, platform_digests, run.known_rejections)
        if reason is not None:
            violations.append(Violation(IntakeCode.INTAKE_INDEX_REJECTED, reason.message))
    evidence = None
    if metadata is not None and isinstance(source, ImagePushed) and deps.evidence is not None:
        evidence = intake_evidence(
            deps.evidence,
            deps.catalog.region(deps.region),
            source,
            metadata,
            deps.clock(),
            received_at=run.event.time,
            patient=not violations,
        )
        if evidence is not None:
            run.record(
                RecordKind.SUPPLY_CHAIN_CHECKED, evidence.problems, evidence.lineage_details()
            )
            if evidence.blocking:
                violations.extend(Violation(r.code, r.message, r.field) for r in evidence.problems)
    if violations or metadata is None:
        outcome = run.reject(violations, labels)
        deps.ledger.complete(key, "rejected", tag)
        return outcome
    if isinstance(source, ImagePushed):
        holder = deps.ledger.claim_version(
            f"version|{source.login_server}|{metadata.name}|{canonical(metadata.version)}",
            source.digest,
            platform_digests,
        )
        if holder.digest != source.digest:
            if holder.same_image_as(source.digest, platform_digests):
                outcome = run.finish(RecordKind.ARTIFACT_DUPLICATE, (), same_image_as=holder.digest)
                deps.ledger.complete(key, "duplicate", tag)
                return outcome
            reused = Violation(
                IntakeCode.INTAKE_VERSION_REUSED,
                f"Version {metadata.version} of {metadata.name} was already pushed as "
                f"{holder.digest}; versions are immutable, so give this build a new version.",
                "org.opencontainers.image.version",
            )
            outcome = run.reject([reused], labels)
            deps.ledger.complete(key, "rejected", tag)
            return outcome
    notes = _tag_notes(tag, metadata.version)
    run.record(RecordKind.ARTIFACT_VALIDATED, details={"notes": " ".join(notes)} if notes else None)
    now = deps.clock()
    request = ApprovalRequest(
        artifact=run.artifact,
        source_region=deps.region,
        metadata=metadata,
        pushed_by=source.pushed_by if isinstance(source, ImagePushed) else None,
        registered_by=registrant.name[:320] if registrant and registrant.name else None,
        registered_by_object_id=registrant.object_id if registrant else None,
        event_id=run.event.id,
        received_at=run.event.time or now,
        validated_at=now,
        notes=notes,
        supply_chain=evidence,
        platform_digests=platform_digests,
    )
    deps.bus.send(
        APPROVAL_REQUESTS,
        OutboundMessage(
            body=request.model_dump_json().encode(),
            message_id=request.message_id,
            subject=f"{metadata.name}:{metadata.version}",
            application_properties={"region": deps.region, "model": metadata.name},
        ),
    )
    run.finish(RecordKind.APPROVAL_REQUESTED, message_id=request.message_id)
    deps.ledger.complete(key, "requested", tag)
    return IntakeOutcome(RecordKind.APPROVAL_REQUESTED, (), request.message_id)


def _tag_notes(tag: str | None, version: str) -> tuple[str, ...]:
    """A tag that reads as another version than the version label is flagged for approvers."""
    if tag is None or compare(tag, version) in (None, 0):
        return ()
    return (
        f"Tag/version mismatch: the image was pushed as tag {tag}, but its version label says "
        f"{version}; the version label is what is approved.",
    )


def reject_malformed(event_id: str, error: InputError, deps: IntakeDeps) -> IntakeOutcome:
    """An event that does not even satisfy its own schema: recorded, never retried."""
    event = IncomingEvent(
        id=str(event_id or "unknown"),
        type="",
        source="",
        subject="",
        time=None,
        data=None,
        schema="unknown",
    )
    return _Run(deps, event, ArtifactRef(kind="unknown")).reject(error.violations, {})


def handle_binding(
    binding: Any, handler: Callable[[IncomingEvent, IntakeDeps], IntakeOutcome], deps: IntakeDeps
) -> IntakeOutcome:
    """What an intake trigger does with its Event Grid binding: schema check, then ``handler``."""
    from shared.services.intake.binding import from_binding

    try:
        incoming = from_binding(binding)
    except InputError as exc:
        return reject_malformed(getattr(binding, "id", "unknown"), exc, deps)
    outcome = handler(incoming, deps)
    log.info("event %s: %s", incoming.id, outcome.kind or "ignored")
    return outcome
