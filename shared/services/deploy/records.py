"""Lineage records and owner mail for one deployment message."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from shared.domain.deploy.plan import DeploymentPlan
from shared.domain.deploy.request import DeploymentRequest
from shared.domain.errors import Violation
from shared.domain.lineage.index import PRODUCTION_DETAIL
from shared.domain.lineage.record import (
    Actor,
    ArtifactRef,
    Correlation,
    LineageRecord,
    Reason,
    RecordKind,
)
from shared.ports.lineage import LineageWriter
from shared.ports.mail import Mailer, OutboundMail
from shared.services.owner_mail import describe, header_safe

log = logging.getLogger(__name__)


def deployer_actor(region: str) -> Actor:
    return Actor(identity=f"clearance-deployer@{region}", established_by="managed_identity")


class DeploymentRecorder:
    """Every record of one request shares its correlation; keys make redeliveries harmless."""

    def __init__(
        self,
        lineage: LineageWriter,
        request: DeploymentRequest,
        deployment_id: str,
        clock: Callable[[], datetime],
        *,
        stage: str | None = None,
        production: bool = True,
    ) -> None:
        self._lineage = lineage
        self.request = request
        self.deployment_id = deployment_id
        self._clock = clock
        # a non-production stage's records say so: its live row is its own (lineage ``live``)
        self._stage = {"stage": stage or request.stage or ""} | (
            {} if production else {PRODUCTION_DETAIL: "false"}
        )

    def record(
        self,
        kind: RecordKind,
        key: str,
        *,
        reasons: Sequence[Violation] = (),
        details: dict[str, str] | None = None,
        where: dict[str, str] | None = None,
        artifact: ArtifactRef | None = None,
        actor: Actor | None = None,
    ) -> bool:
        request = self.request
        record = LineageRecord(
            kind=kind,
            at=self._clock(),
            region=request.region,
            actor=actor or deployer_actor(request.region),
            artifact=artifact or request.artifact,
            correlation=Correlation(
                approval_id=request.approval_id, deployment_id=self.deployment_id
            ),
            reasons=tuple(Reason.of(v) for v in reasons),
            where=where or {},
            details={k: v for k, v in (self._stage | (details or {})).items() if v},
        )
        return self._lineage.append(record, idempotency_key=f"{self.deployment_id}|{key}")


def outcome_mail(
    to: Sequence[str],
    plan_or_request: DeploymentPlan | DeploymentRequest,
    headline: str,
    reasons: Sequence[Violation],
) -> OutboundMail:
    """A plain account of what happened; every metadata-derived value is escaped."""
    if isinstance(plan_or_request, DeploymentPlan):
        artifact, region = plan_or_request.release.artifact, plan_or_request.region
        name, version = plan_or_request.model, plan_or_request.metadata.version
    else:
        artifact, region = plan_or_request.artifact, plan_or_request.region
        name, version = plan_or_request.metadata.name, plan_or_request.metadata.version
    what = describe(artifact)
    lines = [f"- {v.code}: {v.message}" for v in reasons]
    text = "\n".join(
        [
            headline,
            "",
            f"Model: {name} {version}",
            f"Artifact: {what}",
            f"Region: {region}",
            "",
            *lines,
        ]
    )
    items = "".join(
        f"<li><code>{html.escape(v.code)}</code>: {html.escape(v.message)}</li>" for v in reasons
    )
    body = (
        f"<p>{html.escape(headline)}</p><p>Model: <code>{html.escape(name)} "
        f"{html.escape(version)}</code><br>Artifact: <code>{html.escape(what)}</code><br>"
        f"Region: {html.escape(region)}</p><ul>{items}</ul>"
    )
    subject = header_safe(f"Clearance: {headline} ({name} {version}, {region})")
    return OutboundMail(to=tuple(to), subject=subject, text=text, html=body)


def tell(mailer: Mailer | None, mail: OutboundMail) -> None:
    """Mail is a courtesy: a mail failure never changes a deployment's outcome."""
    if mailer is None or not mail.to:
        return
    try:
        mailer.send(mail)
    except Exception:  # logged; the outcome is already in lineage
        log.warning("could not mail %s about %s", ", ".join(mail.to), mail.subject, exc_info=True)
