"""ES256 (ECDSA P-256 over SHA-256) with ``cryptography``: verifying, and the local signer.

Signatures travel as raw ``r || s`` (64 bytes), the form Key Vault returns, so a checkpoint
signed locally and one signed in Azure verify the same way. The local key pair lives in the
stack's ``keys/`` directory, outside the storage account data (as Key Vault is in Azure):
whoever can write the account cannot read the private key.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from shared.ports.lineage import KeyUnavailable

PRIVATE_FILE = "checkpoint-key.pem"
PUBLIC_FILE = "checkpoint-public.pem"


def _raw_to_der(signature: bytes) -> bytes | None:
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    if len(signature) != 64:
        return None
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    return encode_dss_signature(r, s)


def _der_to_raw(der: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def key_fingerprint(public_key: Any) -> str:
    """SHA-256 of the public key's DER SubjectPublicKeyInfo: how a key file names its key."""
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


class PublicKeyVerifier:
    """Verifies ES256 signatures with one P-256 public key (what auditors are given)."""

    def __init__(self, public_key: Any) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
            public_key.curve, ec.SECP256R1
        ):
            raise KeyUnavailable("the checkpoint public key must be an EC P-256 key")
        self._key = public_key
        self.fingerprint = key_fingerprint(public_key)

    @classmethod
    def from_pem(cls, pem: bytes) -> PublicKeyVerifier:
        from cryptography.hazmat.primitives import serialization

        try:
            return cls(serialization.load_pem_public_key(pem))
        except (ValueError, TypeError) as exc:
            raise KeyUnavailable(f"not a PEM public key: {exc}") from exc

    @classmethod
    def from_file(cls, path: Path) -> PublicKeyVerifier:
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise KeyUnavailable(f"cannot read the public key {path}: {exc.strerror}") from exc
        return cls.from_pem(pem)

    def verify(self, data: bytes, signature: bytes, key_id: str) -> bool:
        """True when ``signature`` is this key's ES256 signature of ``data`` (key id unused:
        the key, not a name an attacker can write, decides)."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        der = _raw_to_der(signature)
        if der is None:
            return False
        try:
            self._key.verify(der, data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True

    def public_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        pem: bytes = self._key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem


class KeyFileSigner:
    """The local stack's signer: an EC P-256 private key in a PEM file."""

    def __init__(self, path: Path) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except OSError as exc:
            raise KeyUnavailable(f"cannot read the signing key {path}: {exc.strerror}") from exc
        except (ValueError, TypeError) as exc:
            raise KeyUnavailable(f"{path} is not a PEM private key") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise KeyUnavailable(f"{path} is not an EC key")
        self._key = key
        self.key_id = f"file:{key_fingerprint(key.public_key())[:32]}"

    def sign(self, data: bytes) -> tuple[bytes, str]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        der = self._key.sign(data, ec.ECDSA(hashes.SHA256()))
        return _der_to_raw(der), self.key_id

    def verifier(self) -> PublicKeyVerifier:
        return PublicKeyVerifier(self._key.public_key())


def ensure_key_pair(directory: Path) -> tuple[Path, Path]:
    """Create ``directory``'s key pair once (private key mode 0600); returns (private, public)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private, public = directory / PRIVATE_FILE, directory / PUBLIC_FILE
    if private.exists() and public.exists():
        return private, public
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public
