"""Signing keys and policies for supply-chain tests (keys generated per test session)."""

from __future__ import annotations

from pathlib import Path

from shared.domain.supply_chain.policy import SignaturePolicy, TrustedKey
from shared.local.signing import SigningKey, ensure_signing_key


def keys(directory: Path) -> dict[str, SigningKey]:
    return {k: ensure_signing_key(directory, k) for k in ("ci", "laptop", "retired")}


def trusted(key: SigningKey) -> TrustedKey:
    return TrustedKey(key_id=key.key_id, public_key_pem=key.public_pem)


def required(signing: dict[str, SigningKey], **changes: object) -> SignaturePolicy:
    """Trusts ``ci`` and (revoked) ``retired``; ``laptop`` is a key nobody trusts."""
    fields: dict[str, object] = {
        "required": True,
        "keys": (trusted(signing["ci"]), trusted(signing["retired"])),
        "revoked": ("retired",),
        **changes,
    }
    return SignaturePolicy.model_validate(fields)
