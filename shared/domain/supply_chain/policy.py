"""Which signatures and attestations a region requires, per risk tier (part of the catalog).

The defaults keep Clearance's behaviour without a policy: nothing is required, and whatever
evidence an image carries is shown to approvers.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

KeyId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
# A Key Vault key identifier: https://<vault>.vault.azure.net/keys/<name>[/<version>]
KeyVaultKeyId = Annotated[
    str,
    Field(
        pattern=r"^https://[a-z0-9-]{3,24}\.vault\.(azure\.net|azure\.cn|usgovcloudapi\.net)"
        r"/keys/[A-Za-z0-9-]{1,127}(/[0-9a-f]{32})?$",
        max_length=300,
    ),
]
RiskTierName = Literal["low", "medium", "high", "critical"]
_PEM = re.compile(r"^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+-----END PUBLIC KEY-----\n?$")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OnFailure(StrEnum):
    REJECT = "reject"  # a missing or failing requirement rejects at intake and stops a rollout
    FLAG = "flag"  # accepted, shown to approvers with a red flag, recorded in the lineage


class AttestationKind(StrEnum):
    SLSA_PROVENANCE = "slsa-provenance"
    SBOM_SPDX = "sbom-spdx"
    SBOM_CYCLONEDX = "sbom-cyclonedx"
    VULNERABILITY_SCAN = "vulnerability-scan"


# in-toto predicate types, by prefix (versions follow the prefix).
PREDICATE_PREFIXES: tuple[tuple[str, AttestationKind], ...] = (
    ("https://slsa.dev/provenance/", AttestationKind.SLSA_PROVENANCE),
    ("https://spdx.dev/Document", AttestationKind.SBOM_SPDX),
    ("https://cyclonedx.org/bom", AttestationKind.SBOM_CYCLONEDX),
    ("https://cosign.sigstore.dev/attestation/vuln/", AttestationKind.VULNERABILITY_SCAN),
    ("https://in-toto.io/attestation/vulns/", AttestationKind.VULNERABILITY_SCAN),
)


def attestation_kind(predicate_type: str) -> AttestationKind | None:
    return next((k for p, k in PREDICATE_PREFIXES if predicate_type.startswith(p)), None)


class TrustedKey(_Frozen):
    """A cosign signing key (ECDSA P-256/P-384, Ed25519 or RSA) the region trusts.

    ``public_key_pem`` is what verifies; for a key held in Key Vault, Terraform exports it from
    the key (``azurerm_key_vault_key.public_key_pem``) and names the key in ``key_vault_key``,
    which the lineage and the review page then show as the signer.
    """

    key_id: KeyId
    public_key_pem: str = Field(max_length=4096)
    key_vault_key: KeyVaultKeyId | None = None

    @field_validator("public_key_pem")
    @classmethod
    def _pem(cls, value: str) -> str:
        if not _PEM.match(value.replace("\r\n", "\n")):
            raise ValueError("public_key_pem must be one PEM 'PUBLIC KEY' block")
        return value.replace("\r\n", "\n")

    @property
    def fingerprint(self) -> str:
        """sha256 of the PEM body (the DER SubjectPublicKeyInfo, base64): stable, printable."""
        import base64

        body = "".join(self.public_key_pem.strip().splitlines()[1:-1])
        return "sha256:" + hashlib.sha256(base64.b64decode(body)).hexdigest()


class SignaturePolicy(_Frozen):
    required: bool = False
    keys: tuple[TrustedKey, ...] = Field(default=(), max_length=16)
    # Key ids or fingerprints that no longer count, even if a key above still lists them.
    revoked: tuple[str, ...] = Field(default=(), max_length=64)
    attestations_required: tuple[AttestationKind, ...] = ()
    on_failure: OnFailure = OnFailure.REJECT
    # A signature is usually pushed seconds after its image: intake waits this long (by
    # letting Event Grid retry) before it treats a required signature as missing.
    grace_seconds: int = Field(default=30, ge=0, le=3600)

    @model_validator(mode="after")
    def _satisfiable(self) -> SignaturePolicy:
        ids = [k.key_id for k in self.keys]
        if len(set(ids)) != len(ids):
            raise ValueError("supply-chain key ids must be unique")
        if (self.required or self.attestations_required) and not self.keys:
            raise ValueError("a policy that requires signatures or attestations needs a key")
        return self

    def is_revoked(self, key: TrustedKey) -> bool:
        return key.key_id in self.revoked or key.fingerprint in self.revoked

    @property
    def trusted_keys(self) -> tuple[TrustedKey, ...]:
        return tuple(k for k in self.keys if not self.is_revoked(k))

    @property
    def checks_anything(self) -> bool:
        return bool(self.keys) or self.required or bool(self.attestations_required)


class RegionSupplyChain(_Frozen):
    default: SignaturePolicy = SignaturePolicy()
    by_risk_tier: dict[RiskTierName, SignaturePolicy] = Field(default_factory=dict)

    def for_tier(self, tier: str) -> SignaturePolicy:
        for name, policy in self.by_risk_tier.items():
            if name == tier:
                return policy
        return self.default
