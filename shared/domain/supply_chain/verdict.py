"""What was found for one image, and what the region's policy makes of it.

``SupplyChainEvidence`` travels in the approval request, is stored with the approval, shown to
approvers and summarised in the lineage. ``evaluate`` is the one place that turns findings and
a policy into problems, and says whether they block.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.errors import Violation
from shared.domain.intake.codes import IntakeCode
from shared.domain.lineage.record import Reason
from shared.domain.supply_chain.policy import AttestationKind, OnFailure, SignaturePolicy


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FoundSignature(_Frozen):
    """One signature found in the registry and what verifying it gave."""

    manifest_digest: str = Field(max_length=100)
    found_by: Literal["referrers", "tag"]
    format: Literal["cosign", "notation", "unknown"]
    key_id: str | None = None  # the trusted key it verifies with
    revoked_key: str | None = None  # a key it verifies with that is revoked
    problem: str | None = Field(default=None, max_length=300)


class AttestationSummary(_Frozen):
    predicate_type: str = Field(max_length=200)
    kind: AttestationKind | None = None
    key_id: str | None = None  # the trusted key that signed the envelope
    builder_id: str | None = Field(default=None, max_length=300)
    sbom_packages: int | None = None
    highest_severity: str | None = None
    problem: str | None = Field(default=None, max_length=300)

    @property
    def verified(self) -> bool:
        return self.key_id is not None and self.problem is None

    def describe(self) -> str:
        name = str(self.kind) if self.kind else self.predicate_type
        figures = []
        if self.builder_id:
            figures.append(f"builder {self.builder_id}")
        if self.sbom_packages is not None:
            figures.append(f"{self.sbom_packages} packages")
        if self.kind is AttestationKind.VULNERABILITY_SCAN:
            figures.append(f"highest severity {self.highest_severity or 'none found'}")
        state = f"signed by {self.key_id}" if self.verified else f"NOT VERIFIED: {self.problem}"
        return f"{name} ({', '.join([*figures, state])})"


class SupplyChainEvidence(_Frozen):
    digest: str
    checked_at: datetime
    required: bool = False
    signed_by: tuple[str, ...] = ()  # trusted key ids that verified a signature
    signer_keys: tuple[str, ...] = ()  # their fingerprints or Key Vault key ids
    signatures: tuple[FoundSignature, ...] = ()
    attestations: tuple[AttestationSummary, ...] = ()
    problems: tuple[Reason, ...] = ()
    blocking: bool = False

    @property
    def flagged(self) -> bool:
        return bool(self.problems)

    def lineage_details(self) -> dict[str, str]:
        return {
            "signed_by": ", ".join(self.signed_by) or "nobody",
            "signer_keys": ", ".join(self.signer_keys),
            "signatures_found": str(len(self.signatures)),
            "attestations": "; ".join(a.describe() for a in self.attestations)[:2000] or "none",
            "required": str(self.required).lower(),
            "flagged": str(self.flagged).lower(),
        }


def evaluate(
    policy: SignaturePolicy,
    signatures: Sequence[FoundSignature],
    attestations: Sequence[AttestationSummary],
) -> tuple[tuple[Violation, ...], bool]:
    """The problems a policy sees in the findings, and whether they block (reject / stop)."""
    problems: list[Violation] = []
    verified = [s for s in signatures if s.key_id]
    if not verified:
        revoked = sorted({s.revoked_key for s in signatures if s.revoked_key})
        if revoked:
            problems.append(
                Violation(
                    IntakeCode.SIGNATURE_REVOKED,
                    f"The image is signed only by revoked key(s): {', '.join(revoked)}.",
                )
            )
        elif signatures:
            why = "; ".join(sorted({s.problem or "not verifiable" for s in signatures}))[:600]
            problems.append(
                Violation(
                    IntakeCode.SIGNATURE_INVALID,
                    f"{len(signatures)} signature(s) found, none verifies with a key this "
                    f"region trusts: {why}.",
                )
            )
        elif policy.required:
            problems.append(
                Violation(
                    IntakeCode.SIGNATURE_MISSING,
                    "The region requires a signature by one of its keys; the registry holds "
                    "none for this digest.",
                )
            )
    for kind in policy.attestations_required:
        if not any(a.kind is kind and a.verified for a in attestations):
            problems.append(
                Violation(
                    IntakeCode.ATTESTATION_MISSING,
                    f"The region requires a {kind} attestation signed by one of its keys; "
                    "none was found.",
                )
            )
    for a in attestations:
        if not a.verified and a.kind not in policy.attestations_required:
            problems.append(
                Violation(
                    IntakeCode.ATTESTATION_INVALID,
                    f"An attestation ({a.kind or a.predicate_type}) does not verify: {a.problem}.",
                )
            )
    blocking = policy.on_failure is OnFailure.REJECT and any(
        p.code != IntakeCode.ATTESTATION_INVALID
        and (policy.required or p.code == IntakeCode.ATTESTATION_MISSING)
        for p in problems
    )
    return tuple(problems), blocking


def only_missing(problems: Sequence[Violation]) -> bool:
    """Nothing found yet, and nothing found wrong: the signature may still be on its way."""
    return bool(problems) and all(
        p.code in (IntakeCode.SIGNATURE_MISSING, IntakeCode.ATTESTATION_MISSING) for p in problems
    )
