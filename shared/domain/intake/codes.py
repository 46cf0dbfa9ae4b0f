"""Stable violation codes for artifact intake: metadata parsing (META) and intake policy (INTAKE).

Codes are part of the public contract: model owners, dashboards and alerts match on them.
Add codes; never rename or reuse one. ``docs/metadata-contract.md`` lists them from ``MEANINGS``.
"""

from __future__ import annotations

from enum import StrEnum


class IntakeCode(StrEnum):
    META_TOO_MANY = "CLR-META-TOO-MANY"
    META_TOO_LONG = "CLR-META-TOO-LONG"
    META_CONTROL_CHAR = "CLR-META-CONTROL-CHAR"
    META_UNKNOWN_KEY = "CLR-META-UNKNOWN-KEY"
    META_MISSING = "CLR-META-MISSING"
    META_INVALID = "CLR-META-INVALID"
    META_NOT_APPLICABLE = "CLR-META-NOT-APPLICABLE"
    META_CONFLICT = "CLR-META-CONFLICT"
    META_CONFUSABLE = "CLR-META-CONFUSABLE"
    META_MIXED_SCRIPT = "CLR-META-MIXED-SCRIPT"
    INTAKE_UNKNOWN_REGION = "CLR-INTAKE-UNKNOWN-REGION"
    INTAKE_UNKNOWN_ZONE = "CLR-INTAKE-UNKNOWN-ZONE"
    INTAKE_RESIDENCY = "CLR-INTAKE-RESIDENCY"
    INTAKE_SOURCE_NOT_TARGET = "CLR-INTAKE-SOURCE-NOT-TARGET"
    INTAKE_SOURCE_RESIDENCY = "CLR-INTAKE-SOURCE-RESIDENCY"
    INTAKE_NO_AML_WORKSPACE = "CLR-INTAKE-NO-AML-WORKSPACE"
    INTAKE_STRATEGY_UNSUPPORTED = "CLR-INTAKE-STRATEGY-UNSUPPORTED"
    INTAKE_UNKNOWN_REGISTRY = "CLR-INTAKE-UNKNOWN-REGISTRY"
    INTAKE_CROSS_REGION = "CLR-INTAKE-CROSS-REGION"
    INTAKE_FOREIGN_WORKSPACE = "CLR-INTAKE-FOREIGN-WORKSPACE"
    INTAKE_PLATFORM_LABELS = "CLR-INTAKE-PLATFORM-LABELS"
    INTAKE_VERSION_REUSED = "CLR-INTAKE-VERSION-REUSED"
    INTAKE_INDEX_REJECTED = "CLR-INTAKE-INDEX-REJECTED"
    INTAKE_EXPIRY = "CLR-INTAKE-EXPIRY"
    INTAKE_CHARGEBACK_MISSING = "CLR-INTAKE-CHARGEBACK-MISSING"
    META_MOVING_VERSION = "CLR-META-MOVING-VERSION"
    META_SOURCE_CONFLICT = "CLR-META-SOURCE-CONFLICT"
    SIGNATURE_MISSING = "CLR-INTAKE-SIGNATURE-MISSING"
    SIGNATURE_INVALID = "CLR-INTAKE-SIGNATURE-INVALID"
    SIGNATURE_REVOKED = "CLR-INTAKE-SIGNATURE-REVOKED"
    ATTESTATION_MISSING = "CLR-INTAKE-ATTESTATION-MISSING"
    ATTESTATION_INVALID = "CLR-INTAKE-ATTESTATION-INVALID"
    EVENT_MALFORMED = "CLR-EVENT-MALFORMED"
    EVENT_UNREADABLE = "CLR-EVENT-UNREADABLE"
    EVENT_DEAD_LETTERED = "CLR-EVENT-DEAD-LETTERED"
    BUS_DEAD_LETTERED = "CLR-BUS-DEAD-LETTERED"
    EVENT_CONFLICT = "CLR-EVENT-CONFLICT"
    EVENT_TOO_LARGE = "CLR-EVENT-TOO-LARGE"


MEANINGS: dict[IntakeCode, str] = {
    IntakeCode.META_TOO_MANY: "The artifact carries more labels/tags than Clearance reads.",
    IntakeCode.META_TOO_LONG: (
        "A key or value is longer than its limit (global or per key, e.g. the description)."
    ),
    IntakeCode.META_CONTROL_CHAR: (
        "A value contains a control, invisible-format or line-separator character "
        "(newline, tab, escape, bidi override, ...)."
    ),
    IntakeCode.META_UNKNOWN_KEY: (
        "A key starts with `ai.clearance.` but is not part of the contract (often a typo)."
    ),
    IntakeCode.META_MISSING: "A required key is absent or empty.",
    IntakeCode.META_INVALID: "A value does not have the required format or range.",
    IntakeCode.META_NOT_APPLICABLE: (
        "A key does not apply to this artifact kind or to the chosen rollout strategy."
    ),
    IntakeCode.META_CONFLICT: (
        "A tag disagrees with the Azure ML registration (model name or version)."
    ),
    IntakeCode.META_CONFUSABLE: (
        "An identity (the owner address) uses a Unicode compatibility form, such as a fullwidth "
        "letter, that looks like a plain letter: it could pass for someone else's address."
    ),
    IntakeCode.META_MIXED_SCRIPT: (
        "An identity (the owner address) mixes letters of several scripts, such as a Cyrillic "
        "o in a Latin address: it could pass for someone else's address."
    ),
    IntakeCode.INTAKE_UNKNOWN_REGION: "A target region is not in the region catalog.",
    IntakeCode.INTAKE_UNKNOWN_ZONE: "The residency zone is not in the region catalog.",
    IntakeCode.INTAKE_RESIDENCY: "The residency zone does not allow a target region.",
    IntakeCode.INTAKE_SOURCE_NOT_TARGET: (
        "The artifact was pushed/registered in a region that is not one of its targets."
    ),
    IntakeCode.INTAKE_SOURCE_RESIDENCY: (
        "The artifact was pushed/registered in a region its residency zone does not allow."
    ),
    IntakeCode.INTAKE_NO_AML_WORKSPACE: (
        "An Azure ML model targets a region that has no Azure ML workspace in the catalog."
    ),
    IntakeCode.INTAKE_STRATEGY_UNSUPPORTED: (
        "The rollout strategy is not available on the deployment target "
        "(shadow on Azure ML Kubernetes online endpoints)."
    ),
    IntakeCode.INTAKE_UNKNOWN_REGISTRY: (
        "The image comes from a registry that is not in the catalog; nothing is pulled from it."
    ),
    IntakeCode.INTAKE_CROSS_REGION: (
        "The image's registry belongs to another region than the cell that received it."
    ),
    IntakeCode.INTAKE_FOREIGN_WORKSPACE: (
        "The model was registered in a workspace that is not the receiving region's workspace."
    ),
    IntakeCode.INTAKE_PLATFORM_LABELS: (
        "The platforms of a multi-platform image carry different labels."
    ),
    IntakeCode.INTAKE_VERSION_REUSED: (
        "The model version was already pushed with different content; versions are immutable."
    ),
    IntakeCode.INTAKE_INDEX_REJECTED: (
        "The image is part of an image index that was rejected (or was itself rejected): "
        "nothing in a rejected index is approved or deployed, and an open request is withdrawn."
    ),
    IntakeCode.INTAKE_EXPIRY: (
        "The expiry label asks for more than a target region's limit, or for less than the "
        "planned shadow/canary phase."
    ),
    IntakeCode.INTAKE_CHARGEBACK_MISSING: (
        "A target region requires chargeback labels (team, cost centre) that the artifact "
        "does not carry."
    ),
    IntakeCode.META_MOVING_VERSION: (
        "The version is a moving name (latest, stable, main, ...); versions are immutable, "
        "so use a semantic version such as 1.4.0."
    ),
    IntakeCode.META_SOURCE_CONFLICT: (
        "A key is set both as a manifest annotation and as an image label (config label), "
        "with different values."
    ),
    IntakeCode.SIGNATURE_MISSING: (
        "The region's policy requires a signature by one of its keys and the registry holds "
        "none for the digest (after the grace period)."
    ),
    IntakeCode.SIGNATURE_INVALID: (
        "Signatures exist but none verifies with a trusted key, or one signs another digest."
    ),
    IntakeCode.SIGNATURE_REVOKED: "The only keys that signed the image are revoked.",
    IntakeCode.ATTESTATION_MISSING: (
        "The region's policy requires an attestation type (SLSA provenance, SBOM, "
        "vulnerability scan) signed by one of its keys; none was found."
    ),
    IntakeCode.ATTESTATION_INVALID: (
        "An attestation is present but does not verify (shown to approvers, never blocking)."
    ),
    IntakeCode.EVENT_MALFORMED: "The Event Grid event itself is incomplete or malformed.",
    IntakeCode.EVENT_UNREADABLE: (
        "The pushed manifest or its config cannot be read as an image (missing, oversized, "
        "not matching its digest, not JSON)."
    ),
    IntakeCode.EVENT_DEAD_LETTERED: (
        "Event Grid gave up delivering the event (its retries ran out); the cause is recorded."
    ),
    IntakeCode.BUS_DEAD_LETTERED: (
        "A queue message failed on every delivery and was dead-lettered; the cause is recorded."
    ),
    IntakeCode.EVENT_CONFLICT: (
        "An event id was delivered again with different content; both contents' digests are "
        "recorded (`artifact.event_conflict`) and the second delivery is handled on its own."
    ),
    IntakeCode.EVENT_TOO_LARGE: (
        "The event (or its data) is nested too deeply or is too large to be read; it is "
        "refused unread and never retried."
    ),
}
