"""The Key Vault signer and public key on the wire (recorded response shapes, real crypto)."""

from __future__ import annotations

import pytest

from shared.adapters.signing.keyvault import KeyVaultSigner, key_vault_public_key
from shared.domain.lineage.heads import Checkpoint, SignedCheckpoint, parse_blob
from shared.ports.lineage import KeyUnavailable
from tests.support.keyvault_transport import FakeCredential, KeyVaultTransport

KEY_ID = "https://clr-kv.vault.azure.net/keys/lineage-checkpoints"


def test_a_checkpoint_signed_in_key_vault_verifies_with_the_key_vault_public_key() -> None:
    from datetime import UTC, datetime

    transport = KeyVaultTransport()
    signer = KeyVaultSigner(KEY_ID, FakeCredential(), transport=transport)
    checkpoint = Checkpoint(
        region="westeurope", taken_at=datetime.now(UTC), chains={}, key_id=signer.key_id
    )
    signature, kid = signer.sign(checkpoint.payload())
    assert len(signature) == 64 and kid == transport.kid
    assert ("POST", f"/keys/lineage-checkpoints/{kid.rsplit('/', 1)[1]}/sign") in transport.requests
    verifier = key_vault_public_key(KEY_ID, FakeCredential(), transport=transport)
    blob = SignedCheckpoint.of(checkpoint, signature).to_blob()
    stored = parse_blob("heads/x.json", blob)
    assert verifier.verify(stored.payload, stored.signature, stored.checkpoint.key_id)
    assert not verifier.verify(stored.payload + b" ", stored.signature, KEY_ID)


def test_a_refused_or_unreachable_key_vault_is_key_unavailable() -> None:
    transport = KeyVaultTransport()
    transport.refuse = True
    with pytest.raises(KeyUnavailable, match="did not sign"):
        KeyVaultSigner(KEY_ID, FakeCredential(), transport=transport).sign(b"payload")
    with pytest.raises(KeyUnavailable, match="cannot read"):
        key_vault_public_key(KEY_ID, FakeCredential(), transport=transport)


@pytest.mark.parametrize("bad", ["http://kv/keys/x", "https://kv.vault.azure.net/secrets/x"])
def test_a_key_id_that_is_not_a_key_vault_key_is_refused(bad: str) -> None:
    with pytest.raises(KeyUnavailable):
        KeyVaultSigner(bad, FakeCredential())
