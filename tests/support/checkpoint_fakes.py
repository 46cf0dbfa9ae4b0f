"""An in-memory checkpoint container and an in-memory ES256 key pair for checkpoint tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from shared.adapters.signing.es256 import PublicKeyVerifier, _der_to_raw


@dataclass
class MemoryCheckpoints:
    """A blob container: create never overwrites; anyone (the attacker) may ``put``."""

    stored: dict[str, bytes] = field(default_factory=dict)

    def blobs(self) -> Iterator[tuple[str, bytes]]:
        return iter(list(self.stored.items()))

    def create(self, name: str, data: bytes) -> None:
        assert name not in self.stored, "checkpoints are never overwritten"
        self.stored[name] = data

    def names(self) -> list[str]:
        return list(self.stored)

    def read(self, name: str) -> bytes:
        return self.stored.get(name, b"")

    def put(self, name: str, data: bytes) -> None:
        self.stored[name] = data


class MemorySigner:
    """An EC P-256 key pair held in memory; counts signatures (one per checkpoint)."""

    def __init__(self, key_id: str = "test-key") -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self._key = ec.generate_private_key(ec.SECP256R1())
        self.key_id = key_id
        self.signed = 0

    def sign(self, data: bytes) -> tuple[bytes, str]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        self.signed += 1
        return _der_to_raw(self._key.sign(data, ec.ECDSA(hashes.SHA256()))), self.key_id

    def verifier(self) -> PublicKeyVerifier:
        return PublicKeyVerifier(self._key.public_key())
