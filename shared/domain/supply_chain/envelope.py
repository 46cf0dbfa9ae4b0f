"""Reading what signers store, without trusting it: cosign simple-signing payloads, DSSE
envelopes and in-toto statements. Pure parsing; signature verification lives in the service.

Every parser returns a value or raises ``EnvelopeError`` with a sentence; none of them walks
more of a document than ``MAX_NODES`` values, whatever an attacker pushed.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from shared.domain.supply_chain.policy import AttestationKind, attestation_kind

COSIGN_SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
COSIGN_SIGNATURE_TYPES = {"cosign container image signature", "atomic container signature"}
NOTATION_ARTIFACT_TYPE = "application/vnd.cncf.notary.signature"
IN_TOTO_STATEMENTS = {"https://in-toto.io/Statement/v0.1", "https://in-toto.io/Statement/v1"}
MAX_NODES = 1_000_000  # more than a 4 MiB attestation can hold
MAX_SIGNATURE_CHARS = 2048
SEVERITIES = ("UNKNOWN", "NEGLIGIBLE", "LOW", "MEDIUM", "HIGH", "CRITICAL")


class EnvelopeError(ValueError):
    """The stored document is not what it claims to be."""


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise EnvelopeError(f"{what} is not JSON") from exc
    if not isinstance(doc, dict):
        raise EnvelopeError(f"{what} is not a JSON object")
    return doc


def b64decode(value: object, what: str) -> bytes:
    if not isinstance(value, str) or not value or len(value) > 8 * 1024 * 1024:
        raise EnvelopeError(f"{what} is missing or not base64")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeError(f"{what} is not base64") from exc


def signature_annotation(layer: dict[str, Any]) -> bytes:
    annotations = layer.get("annotations") or {}
    value = annotations.get(COSIGN_SIGNATURE_ANNOTATION) if isinstance(annotations, dict) else None
    if isinstance(value, str) and len(value) > MAX_SIGNATURE_CHARS:
        raise EnvelopeError("the signature annotation is implausibly long")
    return b64decode(value, "the signature annotation")


def check_simple_signing(payload: bytes, digest: str) -> str:
    """The signed payload must name exactly the digest Clearance is asked about; returns the
    docker reference it names (informational: a digest is the identity, not a tag)."""
    doc = _json_object(payload, "the signed payload")
    critical = doc.get("critical")
    if not isinstance(critical, dict):
        raise EnvelopeError("the signed payload has no 'critical' section")
    if critical.get("type") not in COSIGN_SIGNATURE_TYPES:
        raise EnvelopeError("the signed payload is not a container image signature")
    image = critical.get("image")
    signed = image.get("docker-manifest-digest") if isinstance(image, dict) else None
    if signed != digest:
        raise EnvelopeError(f"the signature is for {str(signed)[:80]!r}, not for {digest}")
    identity = critical.get("identity")
    ref = identity.get("docker-reference") if isinstance(identity, dict) else None
    return str(ref)[:300] if isinstance(ref, str) else ""


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[bytes, ...]

    def pae(self) -> bytes:
        """DSSE pre-authentication encoding: what each signature signs."""
        t, p = self.payload_type.encode(), self.payload
        return b"DSSEv1 %d %s %d %s" % (len(t), t, len(p), p)


def parse_dsse(data: bytes) -> Envelope:
    doc = _json_object(data, "the attestation envelope")
    payload_type = doc.get("payloadType")
    if not isinstance(payload_type, str) or len(payload_type) > 200:
        raise EnvelopeError("the attestation envelope has no payloadType")
    payload = b64decode(doc.get("payload"), "the attestation payload")
    raw_sigs = doc.get("signatures")
    if not isinstance(raw_sigs, list) or not raw_sigs:
        raise EnvelopeError("the attestation envelope carries no signature")
    sigs = tuple(
        b64decode(s.get("sig") if isinstance(s, dict) else None, "an envelope signature")
        for s in raw_sigs[:8]
    )
    return Envelope(payload_type, payload, sigs)


@dataclass(frozen=True)
class StatementSummary:
    predicate_type: str
    kind: AttestationKind | None
    builder_id: str | None = None
    sbom_packages: int | None = None
    highest_severity: str | None = None


def summarize_statement(envelope: Envelope, digest: str) -> StatementSummary:
    """An in-toto statement about ``digest``: what it is and the one figure approvers read."""
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise EnvelopeError(f"payload type {envelope.payload_type[:80]!r} is not in-toto")
    doc = _json_object(envelope.payload, "the in-toto statement")
    if doc.get("_type") not in IN_TOTO_STATEMENTS:
        raise EnvelopeError("the payload is not an in-toto statement")
    hex_digest = digest.removeprefix("sha256:")
    subjects = doc.get("subject")
    if not isinstance(subjects, list) or not any(
        isinstance(s, dict)
        and isinstance(s.get("digest"), dict)
        and s["digest"].get("sha256") == hex_digest
        for s in subjects[:64]
    ):
        raise EnvelopeError(f"the statement is not about {digest}")
    predicate_type = doc.get("predicateType")
    if not isinstance(predicate_type, str) or not predicate_type or len(predicate_type) > 200:
        raise EnvelopeError("the statement has no predicateType")
    predicate = doc.get("predicate")
    predicate = predicate if isinstance(predicate, dict) else {}
    kind = attestation_kind(predicate_type)
    if kind is AttestationKind.SLSA_PROVENANCE:
        return StatementSummary(predicate_type, kind, builder_id=_builder_id(predicate))
    if kind is AttestationKind.SBOM_SPDX:
        return StatementSummary(predicate_type, kind, sbom_packages=_count(predicate, "packages"))
    if kind is AttestationKind.SBOM_CYCLONEDX:
        return StatementSummary(predicate_type, kind, sbom_packages=_count(predicate, "components"))
    if kind is AttestationKind.VULNERABILITY_SCAN:
        return StatementSummary(predicate_type, kind, highest_severity=highest_severity(predicate))
    return StatementSummary(predicate_type, None)


def _builder_id(predicate: dict[str, Any]) -> str | None:
    builder = predicate.get("builder")  # SLSA v0.2
    run = predicate.get("runDetails")  # SLSA v1
    if isinstance(run, dict):
        builder = run.get("builder")
    value = builder.get("id") if isinstance(builder, dict) else None
    return value[:300] if isinstance(value, str) else None


def _count(predicate: dict[str, Any], key: str) -> int | None:
    items = predicate.get(key)
    return len(items) if isinstance(items, list) else None


def highest_severity(predicate: Any, max_nodes: int = MAX_NODES) -> str | None:
    """The worst ``severity`` anywhere in a scan report (Trivy, Grype and cosign's vuln
    predicate all spell it so), looking at no more than ``max_nodes`` values; a report too
    large to read whole is ``INCOMPLETE`` rather than a reassuring figure."""
    worst = -1
    stack, seen = [predicate], 0
    while stack and seen < max_nodes:
        node = stack.pop()
        seen += 1
        if isinstance(node, dict):
            for key, value in node.items():
                if str(key).lower() == "severity" and isinstance(value, str):
                    rank = SEVERITIES.index(value.upper()) if value.upper() in SEVERITIES else 0
                    worst = max(worst, rank)
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))
    if stack:
        return "INCOMPLETE"
    return SEVERITIES[worst] if worst >= 0 else None
