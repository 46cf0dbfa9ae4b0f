"""The local signer: cosign's encrypted key format round-trips, and a signature made before the
image manifest is pushed is what intake later verifies."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from nacl.exceptions import CryptoError

from shared.local.images import push_image
from shared.local.signing import (
    PEM_TYPE,
    decrypt_cosign_key,
    encrypt_cosign_key,
    ensure_signing_key,
    sign_image,
)
from shared.services.intake.signatures import gather_evidence
from tests.support.fakes import FakeRegistry
from tests.support.supply_chain import required


def test_cosign_key_format_round_trips_and_refuses_a_wrong_passphrase() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = encrypt_cosign_key(key, b"secret")
    assert pem.startswith(f"-----BEGIN {PEM_TYPE}-----\n")
    doc = json.loads(base64.b64decode("".join(pem.strip().splitlines()[1:-1])))
    assert doc["kdf"]["name"] == "scrypt" and doc["kdf"]["params"] == {"N": 32768, "r": 8, "p": 1}
    assert doc["cipher"]["name"] == "nacl/secretbox"
    assert len(base64.b64decode(doc["cipher"]["nonce"])) == 24
    assert decrypt_cosign_key(pem, b"secret").private_numbers() == key.private_numbers()
    with pytest.raises(CryptoError):
        decrypt_cosign_key(pem, b"wrong")


def test_keys_are_created_once_and_private(tmp_path: Path) -> None:
    first = ensure_signing_key(tmp_path, "ci")
    again = ensure_signing_key(tmp_path, "ci")
    assert first.public_pem == again.public_pem
    assert first.private_key.stat().st_mode & 0o077 == 0
    assert first.passphrase_file.stat().st_mode & 0o077 == 0


def test_signing_before_the_push_is_found_by_intake(tmp_path: Path) -> None:
    signing = {k: ensure_signing_key(tmp_path, k) for k in ("ci", "laptop", "retired")}
    registry = FakeRegistry()
    seen: list[str] = []

    def sign(digest: str) -> None:
        assert digest not in registry.manifests  # the image is not pushed yet
        sign_image(registry, "models/x", digest, signing["ci"])
        seen.append(digest)

    pushed = push_image(registry, "models/x", {"a": "b"}, tag="1", before_manifest=sign)
    assert seen == [pushed.digest]
    evidence = gather_evidence(
        registry, "r", "models/x", pushed.digest, required(signing), datetime.now(UTC)
    )
    assert evidence.signed_by == ("ci",)
