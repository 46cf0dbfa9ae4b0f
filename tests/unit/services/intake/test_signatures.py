"""Discovery and verification of signatures and attestations, over a fake registry, with
real keys in cosign's format and the same signer the local stack uses."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.domain.errors import TransientError
from shared.domain.intake.codes import IntakeCode
from shared.domain.supply_chain.policy import AttestationKind, OnFailure, SignaturePolicy
from shared.local.signing import SigningKey, attest_image, sign_image
from shared.services.intake.signatures import gather_evidence
from tests.support.fakes import FakeRegistry
from tests.support.supply_chain import keys, required

NOW = datetime(2026, 12, 2, tzinfo=UTC)
HOST, REPO = "registry.example", "models/fraud"
SLSA = "https://slsa.dev/provenance/v1"
SPDX = "https://spdx.dev/Document"
VULN = "https://cosign.sigstore.dev/attestation/vuln/v1"


@pytest.fixture(scope="module")
def signing(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SigningKey]:
    return keys(Path(tmp_path_factory.mktemp("keys")))


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry()


def image(registry: FakeRegistry, name: str = "a") -> str:
    return registry.add_image({"name": name})


def check(registry: FakeRegistry, digest: str, policy: SignaturePolicy):  # type: ignore[no-untyped-def]
    return gather_evidence(registry, HOST, REPO, digest, policy, NOW)


def codes(evidence) -> list[str]:  # type: ignore[no-untyped-def]
    return [p.code for p in evidence.problems]


def test_signed_by_a_trusted_key_verifies(registry: FakeRegistry, signing) -> None:  # type: ignore[no-untyped-def]
    digest = image(registry)
    sign_image(registry, REPO, digest, signing["ci"])
    evidence = check(registry, digest, required(signing))
    assert evidence.signed_by == ("ci",)
    assert evidence.signer_keys[0].startswith("sha256:")
    assert not evidence.problems and not evidence.blocking


def test_unsigned_is_missing_and_blocks_under_required(registry: FakeRegistry, signing) -> None:  # type: ignore[no-untyped-def]
    evidence = check(registry, image(registry), required(signing))
    assert codes(evidence) == [IntakeCode.SIGNATURE_MISSING]
    assert evidence.blocking


def test_unsigned_is_only_noted_when_not_required(registry: FakeRegistry, signing) -> None:  # type: ignore[no-untyped-def]
    evidence = check(registry, image(registry), required(signing, required=False))
    assert evidence.problems == () and not evidence.blocking


def test_a_key_nobody_trusts_is_invalid(registry: FakeRegistry, signing) -> None:  # type: ignore[no-untyped-def]
    digest = image(registry)
    sign_image(registry, REPO, digest, signing["laptop"])
    evidence = check(registry, digest, required(signing))
    assert codes(evidence) == [IntakeCode.SIGNATURE_INVALID]
    assert "does not trust" in evidence.problems[0].message
    assert evidence.blocking and evidence.signed_by == ()


def test_a_revoked_key_no_longer_counts(registry: FakeRegistry, signing) -> None:  # type: ignore[no-untyped-def]
    digest = image(registry)
    sign_image(registry, REPO, digest, signing["retired"])
    evidence = check(registry, digest, required(signing))
    assert codes(evidence) == [IntakeCode.SIGNATURE_REVOKED]
    assert evidence.blocking


def test_revoked_by_fingerprint_too(registry: FakeRegistry, signing) -> None:  # type: ignore[no-untyped-def]
    digest = image(registry)
    sign_image(registry, REPO, digest, signing["ci"])
    policy = required(signing)
    fingerprint = policy.keys[0].fingerprint
    evidence = check(registry, digest, required(signing, revoked=("retired", fingerprint)))
    assert codes(evidence) == [IntakeCode.SIGNATURE_REVOKED]


def test_a_signature_replayed_from_another_image_is_refused(
    registry: FakeRegistry, signing
) -> None:  # type: ignore[no-untyped-def]
    signed, victim = image(registry, "signed"), image(registry, "victim")
    sig = sign_image(registry, REPO, signed, signing["ci"])
    registry.tags[f"sha256-{victim.removeprefix('sha256:')}.sig"] = sig  # copied tag
    evidence = check(registry, victim, required(signing))
    assert codes(evidence) == [IntakeCode.SIGNATURE_INVALID]
    assert f"not for {victim}" in evidence.problems[0].message


def test_a_payload_edited_behind_the_signature_is_refused(registry: FakeRegistry, signing) -> None:  # type: ignore[no-untyped-def]
    digest = image(registry)
    sig = sign_image(registry, REPO, digest, signing["ci"])
    layer = registry.manifests[sig]["layers"][0]
    payload = json.loads(registry.blobs[layer["digest"]])
    payload["optional"] = {"note": "added later"}
    registry.blobs[layer["digest"]] = json.dumps(payload).encode()  # storage edited in place
    evidence = check(registry, digest, required(signing))
    assert codes(evidence) == [IntakeCode.SIGNATURE_INVALID]


@pytest.mark.parametrize(
    "annotation", ["not base64 !!", "", "A" * 5000, base64.b64encode(b"\x00" * 70).decode()]
)
def test_hostile_signature_annotations_are_findings_not_crashes(
    registry: FakeRegistry,
    signing,
    annotation: str,  # type: ignore[no-untyped-def]
) -> None:
    digest = image(registry)
    sig = sign_image(registry, REPO, digest, signing["ci"])
    registry.manifests[sig]["layers"][0]["annotations"] = {
        "dev.cosignproject.cosign/signature": annotation
    }
    evidence = check(registry, digest, required(signing))
    assert codes(evidence) == [IntakeCode.SIGNATURE_INVALID]


def test_an_oversized_payload_is_not_read(registry: FakeRegistry, signing) -> None:  # type: ignore[no-untyped-def]
    digest = image(registry)
    sig = sign_image(registry, REPO, digest, signing["ci"])
    layer = registry.manifests[sig]["layers"][0]
    registry.blobs[layer["digest"]] = b"{" + b" " * (65 * 1024) + b"}"
    evidence = check(registry, digest, required(signing))
    assert codes(evidence) == [IntakeCode.SIGNATURE_INVALID]


def test_many_referrers_are_bounded(registry: FakeRegistry, signing) -> None:  # type: ignore[no-untyped-def]
    digest = image(registry)
    registry.referrers[digest] = [
        {"digest": f"sha256:{i:064x}", "artifactType": "x"} for i in range(10_000)
    ]
    evidence = check(registry, digest, required(signing))
    assert len(evidence.signatures) <= 32
    assert evidence.blocking


def test_referrers_are_read_and_notation_is_reported_unverified(
    registry: FakeRegistry,
    signing,  # type: ignore[no-untyped-def]
) -> None:
    digest = image(registry)
    notation = registry.add_image({"n": "1"})
    registry.referrers[digest] = [
        {"digest": notation, "artifactType": "application/vnd.cncf.notary.signature"}
    ]
    registry.manifests[notation]["artifactType"] = "application/vnd.cncf.notary.signature"
    evidence = check(registry, digest, required(signing))
    assert [s.format for s in evidence.signatures] == ["notation"]
    assert codes(evidence) == [IntakeCode.SIGNATURE_INVALID]


def test_attestations_are_verified_and_summarised(registry: FakeRegistry, signing) -> None:  # type: ignore[no-untyped-def]
    digest = image(registry)
    sign_image(registry, REPO, digest, signing["ci"])
    builder = {"runDetails": {"builder": {"id": "https://github.com/contoso/ml/.github/build"}}}
    attest_image(registry, REPO, digest, signing["ci"], SLSA, builder)
    evidence = check(
        registry,
        digest,
        required(signing, attestations_required=(AttestationKind.SLSA_PROVENANCE,)),
    )
    assert not evidence.problems
    (slsa,) = evidence.attestations
    assert slsa.builder_id == "https://github.com/contoso/ml/.github/build"
    assert slsa.key_id == "ci"


def test_sbom_and_vulnerability_figures(registry: FakeRegistry, signing) -> None:  # type: ignore[no-untyped-def]
    for predicate_type, predicate, expect in [
        (SPDX, {"packages": [{"name": "a"}, {"name": "b"}]}, ("sbom_packages", 2)),
        (
            VULN,
            {
                "scanner": {
                    "result": {
                        "Results": [
                            {
                                "Vulnerabilities": [
                                    {"Severity": "LOW"},
                                    {"Severity": "HIGH"},
                                    {"severity": "medium"},
                                ]
                            }
                        ]
                    }
                }
            },
            ("highest_severity", "HIGH"),
        ),
    ]:
        digest = image(registry, predicate_type)
        attest_image(registry, REPO, digest, signing["ci"], predicate_type, predicate)
        (att,) = check(registry, digest, required(signing, required=False)).attestations
        assert getattr(att, expect[0]) == expect[1]


def test_a_required_attestation_by_an_untrusted_key_is_missing(
    registry: FakeRegistry,
    signing,  # type: ignore[no-untyped-def]
) -> None:
    digest = image(registry)
    sign_image(registry, REPO, digest, signing["ci"])
    attest_image(registry, REPO, digest, signing["laptop"], SLSA, {})
    evidence = check(
        registry,
        digest,
        required(signing, attestations_required=(AttestationKind.SLSA_PROVENANCE,)),
    )
    assert codes(evidence) == [IntakeCode.ATTESTATION_MISSING]
    assert evidence.blocking


def test_an_attestation_about_another_image_does_not_count(
    registry: FakeRegistry,
    signing,  # type: ignore[no-untyped-def]
) -> None:
    other, digest = image(registry, "other"), image(registry, "this")
    att = attest_image(registry, REPO, other, signing["ci"], SLSA, {})
    registry.tags[f"sha256-{digest.removeprefix('sha256:')}.att"] = att
    evidence = check(registry, digest, required(signing, required=False))
    assert "not about" in (evidence.attestations[0].problem or "")
    assert codes(evidence) == [IntakeCode.ATTESTATION_INVALID] and not evidence.blocking


def test_flag_policy_shows_but_never_blocks(registry: FakeRegistry, signing) -> None:  # type: ignore[no-untyped-def]
    evidence = check(registry, image(registry), required(signing, on_failure=OnFailure.FLAG))
    assert evidence.flagged and not evidence.blocking


def test_an_unreachable_registry_is_transient(registry: FakeRegistry, signing) -> None:  # type: ignore[no-untyped-def]
    digest = image(registry)
    registry.unreachable = True
    with pytest.raises(TransientError):
        check(registry, digest, required(signing))


# -- intake: one call in the handler -----------------------------------------------------------


@pytest.fixture
def intake(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Intake over fakes with the local stack's catalog: ``critical`` requires ``local-ci``."""
    from shared.local.stack import LocalStack, StackPorts
    from shared.services.intake.handlers import IntakeDeps
    from shared.settings import load_catalog
    from tests.support.fakes import FakeBus, FakeLedger, FakeLineage, FakeMailer

    stack = LocalStack(tmp_path, Path(__file__).resolve().parents[4], ports=StackPorts())
    registry = FakeRegistry()
    made = IntakeDeps(
        region="westeurope",
        catalog=load_catalog(json.dumps(stack.catalog())),
        registry=registry,
        ledger=FakeLedger(),
        lineage=FakeLineage(),
        bus=FakeBus(),
        mailer=FakeMailer(),
        evidence=registry,
        clock=lambda: NOW,
    )
    made.signing = stack.signing_keys()  # type: ignore[attr-defined]
    return made


def push(intake, risk_tier: str, sign_with: str | None = None, time=NOW):  # type: ignore[no-untyped-def]
    from shared.local.samples import model_labels
    from tests.unit.services.intake.test_handlers import pushed

    digest = intake.registry.add_image(model_labels(risk_tier=risk_tier))
    if sign_with:
        sign_image(intake.registry, "models/fraud", digest, intake.signing[sign_with])
    event = pushed(intake, digest)
    return digest, event.__class__(**{**event.__dict__, "time": time})


def test_intake_waits_for_a_required_signature_then_rejects(intake) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from shared.domain.lineage.record import RecordKind
    from shared.services.intake.handlers import handle_image_pushed

    _, event = push(intake, "critical")
    with pytest.raises(TransientError, match="no signature"):
        handle_image_pushed(event, intake)  # young push: Event Grid delivers again
    late = event.__class__(**{**event.__dict__, "time": NOW - timedelta(seconds=60)})
    outcome = handle_image_pushed(late, intake)
    assert outcome.kind is RecordKind.ARTIFACT_REJECTED
    assert [r.code for r in outcome.reasons] == [IntakeCode.SIGNATURE_MISSING]
    kinds = [r.kind for r in intake.lineage.records]
    assert RecordKind.SUPPLY_CHAIN_CHECKED in kinds
    assert intake.bus.sent == []


@pytest.mark.parametrize(
    ("key", "code"),
    [(None, None), ("local-retired", IntakeCode.SIGNATURE_REVOKED)],
)
def test_intake_under_required_policy(intake, key, code) -> None:  # type: ignore[no-untyped-def]
    from shared.domain.approval.request import ApprovalRequest
    from shared.domain.lineage.record import RecordKind
    from shared.services.intake.handlers import handle_image_pushed

    _, event = push(intake, "critical", key or "local-ci")
    outcome = handle_image_pushed(event, intake)
    if code is None:
        assert outcome.kind is RecordKind.APPROVAL_REQUESTED
        request = ApprovalRequest.model_validate_json(intake.bus.sent[0][1].body)
        assert request.supply_chain is not None
        assert request.supply_chain.signed_by == ("local-ci",)
        checked = next(
            r for r in intake.lineage.records if r.kind is RecordKind.SUPPLY_CHAIN_CHECKED
        )
        assert checked.details["signed_by"] == "local-ci"
    else:
        assert [r.code for r in outcome.reasons] == [code]


def test_a_tier_without_policy_reads_nothing_more(intake) -> None:  # type: ignore[no-untyped-def]
    from shared.domain.lineage.record import RecordKind
    from shared.services.intake.handlers import handle_image_pushed

    _, event = push(intake, "low")
    outcome = handle_image_pushed(event, intake)
    assert outcome.kind is RecordKind.APPROVAL_REQUESTED
    assert all(r.kind is not RecordKind.SUPPLY_CHAIN_CHECKED for r in intake.lineage.records)
    assert len(intake.registry.requests) == 1  # the manifest only: no referrers, no tags
