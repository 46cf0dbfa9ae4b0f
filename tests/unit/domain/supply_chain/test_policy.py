"""The supply-chain policy in the catalog: defaults keep today's behaviour; hostile or careless
entries are refused when the catalog loads."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError

from shared.domain.catalog import RiskTier
from shared.domain.supply_chain.policy import (
    RegionSupplyChain,
    RiskTierName,
    SignaturePolicy,
    TrustedKey,
    attestation_kind,
)
from tests.support import deploy_samples as s


def pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def test_a_catalog_without_policy_checks_nothing() -> None:
    cell = s.cell()
    assert cell.supply_chain == RegionSupplyChain()
    for tier in RiskTier:
        assert not cell.supply_chain.for_tier(tier).checks_anything


def test_tier_names_are_the_risk_tiers() -> None:
    assert set(RiskTierName.__args__) == {t.value for t in RiskTier}  # type: ignore[attr-defined]


def test_per_tier_policy_falls_back_to_the_default() -> None:
    key = TrustedKey(key_id="ci", public_key_pem=pem())
    chain = RegionSupplyChain(
        by_risk_tier={"critical": SignaturePolicy(required=True, keys=(key,))}
    )
    assert chain.for_tier("critical").required
    assert not chain.for_tier("low").required


def test_required_without_any_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="needs a key"):
        SignaturePolicy(required=True)


def test_all_keys_revoked_is_allowed_and_trusts_nobody() -> None:
    """An incident response: revoking the only key must not take the cell down."""
    key = TrustedKey(key_id="ci", public_key_pem=pem())
    policy = SignaturePolicy(required=True, keys=(key,), revoked=("ci",))
    assert policy.trusted_keys == ()


@pytest.mark.parametrize(
    "key_id",
    ["l\u043ecal-ci", "CI", "", "ci key", "a" * 65, "ci\u200b"],  # Cyrillic o, upper, zero-width
)
def test_look_alike_or_odd_key_ids_are_refused(key_id: str) -> None:
    with pytest.raises(ValidationError):
        TrustedKey(key_id=key_id, public_key_pem=pem())


@pytest.mark.parametrize(
    "value",
    [
        "",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        pem() + pem(),
        pem().replace("PUBLIC KEY", "CERTIFICATE"),
    ],
)
def test_only_one_public_key_block_is_accepted(value: str) -> None:
    with pytest.raises(ValidationError):
        TrustedKey(key_id="ci", public_key_pem=value)


def test_key_vault_references_are_key_identifiers() -> None:
    TrustedKey(
        key_id="ci",
        public_key_pem=pem(),
        key_vault_key="https://kv-clearance.vault.azure.net/keys/image-signing",
    )
    with pytest.raises(ValidationError):
        TrustedKey(key_id="ci", public_key_pem=pem(), key_vault_key="https://evil.example/keys/x")


def test_duplicate_key_ids_are_refused() -> None:
    key = TrustedKey(key_id="ci", public_key_pem=pem())
    with pytest.raises(ValidationError, match="unique"):
        SignaturePolicy(keys=(key, key))


def test_revocation_by_fingerprint() -> None:
    key = TrustedKey(key_id="ci", public_key_pem=pem())
    assert SignaturePolicy(keys=(key,), revoked=(key.fingerprint,)).trusted_keys == ()


@pytest.mark.parametrize(
    ("predicate", "kind"),
    [
        ("https://slsa.dev/provenance/v1", "slsa-provenance"),
        ("https://spdx.dev/Document/v2.3", "sbom-spdx"),
        ("https://cyclonedx.org/bom/v1.5", "sbom-cyclonedx"),
        ("https://cosign.sigstore.dev/attestation/vuln/v1", "vulnerability-scan"),
        ("https://slsa.dev.evil.example/provenance/v1", None),
    ],
)
def test_predicate_types(predicate: str, kind: str | None) -> None:
    found = attestation_kind(predicate)
    assert (found.value if found else None) == kind
