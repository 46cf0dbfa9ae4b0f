"""What approvers see of the supply-chain evidence: signer, attestations, a red flag; every
value an outsider could have written (predicate types, problem texts) is escaped."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.domain.lineage.record import Reason
from shared.domain.supply_chain.policy import AttestationKind
from shared.domain.supply_chain.verdict import AttestationSummary, SupplyChainEvidence
from shared.services.approval.evidence import evidence_card_block, evidence_facts, evidence_html
from shared.services.approval.messages import card_text

NOW = datetime(2026, 12, 2, tzinfo=UTC)
HOSTILE = "<script>alert(1)</script>[x](http://evil)"


def evidence(**kw: object) -> SupplyChainEvidence:
    return SupplyChainEvidence.model_validate(
        {"digest": "sha256:" + "a" * 64, "checked_at": NOW, **kw}
    )


def test_no_policy_renders_nothing() -> None:
    assert evidence_facts(None) == [] and evidence_html(None) == ""
    assert evidence_card_block(None, card_text) == []


def test_verified_signature_and_attestation_summary() -> None:
    ev = evidence(
        signed_by=("ci",),
        signer_keys=("https://kv.vault.azure.net/keys/signing",),
        attestations=(
            AttestationSummary(
                predicate_type="https://slsa.dev/provenance/v1",
                kind=AttestationKind.SLSA_PROVENANCE,
                key_id="ci",
                builder_id="https://github.com/contoso/build",
            ),
        ),
    )
    facts = dict(evidence_facts(ev))
    assert facts["Signed by"] == "ci (https://kv.vault.azure.net/keys/signing)"
    assert "builder https://github.com/contoso/build" in facts["Attestations"]
    assert "class='ok'" in evidence_html(ev)


def test_flagged_evidence_is_red_and_escaped() -> None:
    ev = evidence(
        required=True,
        problems=(Reason(code="CLR-INTAKE-ATTESTATION-INVALID", message=HOSTILE),),
        attestations=(AttestationSummary(predicate_type=HOSTILE, problem=HOSTILE),),
    )
    page = evidence_html(ev)
    assert "role='alert'" in page and "<script>" not in page
    assert dict(evidence_facts(ev))["Signed by"] == "NOT SIGNED by a trusted key"
    (block,) = evidence_card_block(ev, card_text)
    assert block["color"] == "Attention"
    # no link can form: brackets are escaped and the scheme is broken by a word joiner
    text = block["text"]
    assert "\\](" in text and "](http://" not in text and "<script>" not in text
