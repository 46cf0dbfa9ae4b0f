"""The local key pair: generated once, private key mode 0600, raw r||s signatures verify."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.adapters.signing.es256 import KeyFileSigner, PublicKeyVerifier, ensure_key_pair
from shared.ports.lineage import KeyUnavailable


def test_a_key_file_signs_and_its_public_key_verifies(tmp_path: Path) -> None:
    private, public = ensure_key_pair(tmp_path / "keys")
    assert private.stat().st_mode & 0o777 == 0o600
    assert ensure_key_pair(tmp_path / "keys") == (private, public)  # not regenerated
    signer = KeyFileSigner(private)
    signature, key_id = signer.sign(b"payload")
    verifier = PublicKeyVerifier.from_file(public)
    assert len(signature) == 64 and key_id.startswith("file:")
    assert verifier.verify(b"payload", signature, key_id)
    assert not verifier.verify(b"payload!", signature, key_id)
    assert not verifier.verify(b"payload", signature[:-1], key_id)
    assert not verifier.verify(b"payload", b"\x00" * 64, key_id)


def test_missing_or_wrong_keys_are_key_unavailable(tmp_path: Path) -> None:
    with pytest.raises(KeyUnavailable):
        KeyFileSigner(tmp_path / "nope.pem")
    (tmp_path / "junk.pem").write_bytes(b"-----BEGIN PUBLIC KEY-----\njunk\n")
    with pytest.raises(KeyUnavailable):
        PublicKeyVerifier.from_file(tmp_path / "junk.pem")
