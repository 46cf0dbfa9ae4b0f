"""Signatures and attestations of one image: discovered in its registry, verified against the
region's keys, judged by its policy. Called once by intake and before every deployment step.

Discovery: the OCI referrers API, then cosign's tag scheme (``sha256-<hex>.sig`` / ``.att``),
bounded in manifests, layers and bytes. Verification: ``cryptography`` checks each cosign
signature over its simple-signing payload (which must name the digest) and each DSSE envelope
over its pre-authentication encoding; in-toto statements are summarised for approvers.
Anything unreadable is a finding with a reason, never a crash; only an unreachable registry
raises (``TransientError``) so the platform retries.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from shared.domain.catalog import RegionEntry
from shared.domain.errors import TerminalError, TransientError, Violation
from shared.domain.intake.events import ImagePushed
from shared.domain.lineage.record import Reason
from shared.domain.metadata.model import ModelMetadata
from shared.domain.supply_chain.envelope import (
    DSSE_MEDIA_TYPE,
    NOTATION_ARTIFACT_TYPE,
    SIMPLE_SIGNING_MEDIA_TYPE,
    EnvelopeError,
    check_simple_signing,
    parse_dsse,
    signature_annotation,
    summarize_statement,
)
from shared.domain.supply_chain.policy import SignaturePolicy, TrustedKey
from shared.domain.supply_chain.verdict import (
    AttestationSummary,
    FoundSignature,
    SupplyChainEvidence,
    evaluate,
    only_missing,
)
from shared.ports.registry import SupplyChainReader

log = logging.getLogger(__name__)

MAX_REFERRERS = 16
MAX_SIGNATURE_LAYERS = 8  # per signature manifest
MAX_MANIFEST_BYTES = 256 * 1024
MAX_PAYLOAD_BYTES = 64 * 1024
MAX_ATTESTATION_BYTES = 4 * 1024 * 1024
MAX_TOTAL_BYTES = 16 * 1024 * 1024
COSIGN_SIG_ARTIFACT = "application/vnd.dev.cosign.artifact.sig.v1+json"
COSIGN_ATT_ARTIFACT = "application/vnd.dev.cosign.artifact.att.v1+json"


def verify_with(key: TrustedKey, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` over ``message`` verifies with ``key`` (cosign's algorithms)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

    try:
        public = serialization.load_pem_public_key(key.public_key_pem.encode())
        if isinstance(public, ec.EllipticCurvePublicKey):
            digest = {384: hashes.SHA384(), 521: hashes.SHA512()}.get(
                public.curve.key_size, hashes.SHA256()
            )
            public.verify(signature, message, ec.ECDSA(digest))
        elif isinstance(public, ed25519.Ed25519PublicKey):
            public.verify(signature, message)
        elif isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        else:
            return False
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_TOTAL_BYTES

    def take(self, limit: int) -> int:
        if self.left <= 0:
            raise TerminalError("the evidence of this image exceeds the total size Clearance reads")
        return min(limit, self.left)

    def spend(self, n: int) -> None:
        self.left -= n


class _Discovery:
    def __init__(
        self, reader: SupplyChainReader, login_server: str, repository: str, digest: str
    ) -> None:
        self.reader, self.server, self.repo, self.digest = reader, login_server, repository, digest
        self.budget = _Budget()

    def blob(self, digest: str, limit: int) -> bytes:
        data = self.reader.get_blob_bytes(
            self.server, self.repo, digest, max_bytes=self.budget.take(limit)
        )
        self.budget.spend(len(data))
        return data

    def manifests(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(found_by, digest, manifest) of every signature / attestation candidate."""
        found: list[tuple[str, str, dict[str, Any]]] = []
        seen: set[str] = set()
        for d in self.reader.list_referrers(
            self.server, self.repo, self.digest, max_count=MAX_REFERRERS
        ):
            ref = str(d.get("digest", ""))
            if not ref.startswith("sha256:") or ref in seen:
                continue
            seen.add(ref)
            try:
                manifest = self.reader.get_manifest(self.server, self.repo, ref)
            except TerminalError as exc:
                found.append(("referrers", ref, {"_problem": str(exc)}))
                continue
            manifest.setdefault("artifactType", d.get("artifactType"))
            found.append(("referrers", ref, manifest))
        hex_digest = self.digest.removeprefix("sha256:")
        for suffix in ("sig", "att"):
            try:
                tagged = self.reader.find_tagged_manifest(
                    self.server,
                    self.repo,
                    f"sha256-{hex_digest}.{suffix}",
                    max_bytes=MAX_MANIFEST_BYTES,
                )
            except TerminalError as exc:
                found.append(("tag", f"sha256-{hex_digest}.{suffix}", {"_problem": str(exc)}))
                continue
            if tagged is not None and tagged[0] not in seen:
                seen.add(tagged[0])
                found.append(("tag", tagged[0], {**tagged[1], "_suffix": suffix}))
        return found


def _layers(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    layers = manifest.get("layers")
    return (
        [x for x in layers if isinstance(x, dict)][:MAX_SIGNATURE_LAYERS]
        if isinstance(layers, list)
        else []
    )


def _is_attestation(manifest: dict[str, Any]) -> bool:
    if manifest.get("_suffix") == "att" or manifest.get("artifactType") == COSIGN_ATT_ARTIFACT:
        return True
    return any(x.get("mediaType") == DSSE_MEDIA_TYPE for x in _layers(manifest))


def _verify_signature_layer(
    found: _Discovery, policy: SignaturePolicy, found_by: str, ref: str, layer: dict[str, Any]
) -> FoundSignature:
    def result(**kw: Any) -> FoundSignature:
        return FoundSignature(manifest_digest=ref[:100], found_by=found_by, format="cosign", **kw)

    try:
        signature = signature_annotation(layer)
        payload = found.blob(str(layer.get("digest", "")), MAX_PAYLOAD_BYTES)
    except (EnvelopeError, TerminalError) as exc:
        return result(problem=str(exc)[:300])
    matching = [k for k in policy.keys if verify_with(k, signature, payload)]
    if not matching:
        return result(problem="signed by a key this region does not trust")
    try:
        check_simple_signing(payload, found.digest)
    except EnvelopeError as exc:
        return result(problem=str(exc)[:300])
    trusted = [k for k in matching if not policy.is_revoked(k)]
    if not trusted:
        return result(revoked_key=matching[0].key_id, problem="signed by a revoked key")
    return result(key_id=trusted[0].key_id)


def _attestation(
    found: _Discovery, policy: SignaturePolicy, layer: dict[str, Any]
) -> AttestationSummary:
    annotations = layer.get("annotations") if isinstance(layer.get("annotations"), dict) else {}
    declared = str((annotations or {}).get("predicateType", "unknown"))[:200]
    try:
        envelope = parse_dsse(found.blob(str(layer.get("digest", "")), MAX_ATTESTATION_BYTES))
        summary = summarize_statement(envelope, found.digest)
    except (EnvelopeError, TerminalError) as exc:
        return AttestationSummary(predicate_type=declared, problem=str(exc)[:300])
    fields = {
        "predicate_type": summary.predicate_type,
        "kind": summary.kind,
        "builder_id": summary.builder_id,
        "sbom_packages": summary.sbom_packages,
        "highest_severity": summary.highest_severity,
    }
    message = envelope.pae()
    signers = [
        k for k in policy.keys if any(verify_with(k, s, message) for s in envelope.signatures)
    ]
    trusted = [k for k in signers if not policy.is_revoked(k)]
    if trusted:
        return AttestationSummary(**fields, key_id=trusted[0].key_id)
    why = "signed by a revoked key" if signers else "not signed by a key this region trusts"
    return AttestationSummary(**fields, problem=why)


def gather_evidence(
    reader: SupplyChainReader,
    login_server: str,
    repository: str,
    digest: str,
    policy: SignaturePolicy,
    now: datetime,
) -> SupplyChainEvidence:
    """Find, verify and judge the signatures and attestations of ``repository@digest``."""
    found = _Discovery(reader, login_server, repository, digest)
    signatures: list[FoundSignature] = []
    attestations: list[AttestationSummary] = []
    for found_by, ref, manifest in found.manifests():
        if "_problem" in manifest:
            signatures.append(
                FoundSignature(
                    manifest_digest=ref[:100],
                    found_by=found_by,
                    format="unknown",
                    problem=str(manifest["_problem"])[:300],
                )
            )
            continue
        if manifest.get("artifactType") == NOTATION_ARTIFACT_TYPE:
            signatures.append(
                FoundSignature(
                    manifest_digest=ref,
                    found_by=found_by,
                    format="notation",
                    problem="Notation signatures are not verified by Clearance yet",
                )
            )
            continue
        if _is_attestation(manifest):
            attestations.extend(
                _attestation(found, policy, layer)
                for layer in _layers(manifest)
                if layer.get("mediaType") == DSSE_MEDIA_TYPE
            )
            continue
        cosign = [x for x in _layers(manifest) if x.get("mediaType") == SIMPLE_SIGNING_MEDIA_TYPE]
        if not cosign and found_by == "referrers":
            continue  # an SBOM or other referrer Clearance does not read
        signatures.extend(
            _verify_signature_layer(found, policy, found_by, ref, layer) for layer in cosign
        )
    problems, blocking = evaluate(policy, signatures, attestations)
    verified = {s.key_id for s in signatures if s.key_id}
    keys = [k for k in policy.keys if k.key_id in verified]
    return SupplyChainEvidence(
        digest=digest,
        checked_at=now,
        required=policy.required,
        signed_by=tuple(k.key_id for k in keys),
        signer_keys=tuple(k.key_vault_key or k.fingerprint for k in keys),
        signatures=tuple(signatures[: MAX_REFERRERS * 2]),
        attestations=tuple(attestations[:MAX_REFERRERS]),
        problems=tuple(Reason.of(p) for p in problems),
        blocking=blocking,
    )


def problems_of(evidence: SupplyChainEvidence) -> list[Violation]:
    return [Violation(p.code, p.message, p.field) for p in evidence.problems]


def intake_evidence(
    reader: SupplyChainReader,
    cell: RegionEntry,
    pushed: ImagePushed,
    metadata: ModelMetadata,
    now: datetime,
    *,
    received_at: datetime | None,
    patient: bool,
) -> SupplyChainEvidence | None:
    """The evidence intake records and sends to approvers; ``None`` when the policy of the
    image's risk tier checks nothing. While a required signature is merely not there yet and
    the push is younger than the grace period, raises ``TransientError`` so Event Grid
    delivers the event again (``patient=False``: the image is rejected anyway, do not wait)."""
    policy = cell.supply_chain.for_tier(str(metadata.risk_tier))
    if not policy.checks_anything:
        return None
    evidence = gather_evidence(
        reader, pushed.login_server, pushed.repository, pushed.digest, policy, now
    )
    age = now - (received_at or now)
    if (
        patient
        and evidence.blocking
        and only_missing(problems_of(evidence))
        and age < timedelta(seconds=policy.grace_seconds)
    ):
        raise TransientError(
            f"no signature for {pushed.digest} yet; waiting up to {policy.grace_seconds}s "
            "for the signer to push it"
        )
    return evidence
