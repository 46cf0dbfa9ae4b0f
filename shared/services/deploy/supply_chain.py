"""Before every deployment step: the image's signatures, re-verified against today's policy.

The digest is pinned, but a key may have been revoked or removed from the catalog, or a
signature deleted, since the approval. A blocking finding stops the rollout (the step loop
rolls back or fails with ``CLR-DEPLOY-SUPPLY-CHAIN``); an unreachable registry raises
``TransientError`` like any other dependency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.domain.catalog import RegionEntry
from shared.domain.deploy.codes import DeployCode
from shared.domain.deploy.plan import DeploymentPlan
from shared.domain.errors import Violation
from shared.ports.registry import SupplyChainReader
from shared.services.intake.signatures import gather_evidence


@dataclass(frozen=True)
class Recheck:
    summary: str  # recorded with the step
    violation: Violation | None = None  # set: the step must not run


def recheck(
    reader: SupplyChainReader,
    cell: RegionEntry,
    plan: DeploymentPlan,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Recheck:
    artifact = plan.release.artifact
    if artifact.kind != "image" or not artifact.registry or not artifact.repository:
        return Recheck("not applicable (not an image)")
    if not artifact.digest:
        return Recheck("not applicable (no digest)")
    policy = cell.supply_chain.for_tier(str(plan.metadata.risk_tier))
    if not policy.checks_anything:
        return Recheck("no policy")
    evidence = gather_evidence(
        reader, artifact.registry, artifact.repository, artifact.digest, policy, clock()
    )
    signed = f"signed by {', '.join(evidence.signed_by)}" if evidence.signed_by else "unsigned"
    if not evidence.blocking:
        flags = f"; flagged: {', '.join(p.code for p in evidence.problems)}" * evidence.flagged
        return Recheck(f"re-verified: {signed}{flags}")
    why = "; ".join(f"{p.code}: {p.message}" for p in evidence.problems)
    return Recheck(
        f"failed: {signed}",
        Violation(DeployCode.SUPPLY_CHAIN, f"Supply-chain re-check before the step: {why}"[:1000]),
    )
