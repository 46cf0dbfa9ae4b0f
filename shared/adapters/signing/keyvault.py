"""Checkpoint signing with an Azure Key Vault key (EC P-256, ``ES256`` over the SHA-256 digest).

The cell's identity holds a sign-only role on the key (Terraform); the private key never
leaves Key Vault. One Key Vault call per checkpoint, never per record. The public half is read
with ``KeyClient.get_key`` for the cell's own verification; auditors get it as a PEM file.
SDK errors become ``KeyUnavailable`` here, at the boundary.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlparse

from shared.adapters.signing.es256 import PublicKeyVerifier
from shared.ports.lineage import KeyUnavailable


def _split(key_id: str) -> tuple[str, str]:
    """``https://<vault>.vault.azure.net/keys/<name>[/<version>]`` -> (vault URL, name)."""
    parsed = urlparse(key_id)
    parts = [p for p in parsed.path.split("/") if p]
    if parsed.scheme != "https" or len(parts) < 2 or parts[0] != "keys":
        raise KeyUnavailable(f"not a Key Vault key id: {key_id!r}")
    return f"https://{parsed.netloc}", parts[1]


class KeyVaultSigner:
    def __init__(self, key_id: str, credential: Any, **client_kwargs: Any) -> None:
        _split(key_id)
        self._key_id = key_id
        self._credential = credential
        self._kwargs = client_kwargs
        self._client: Any = None

    @property
    def key_id(self) -> str:
        return self._key_id

    def _crypto(self) -> Any:
        if self._client is None:
            from azure.keyvault.keys.crypto import CryptographyClient

            self._client = CryptographyClient(self._key_id, self._credential, **self._kwargs)
        return self._client

    def sign(self, data: bytes) -> tuple[bytes, str]:
        from azure.core.exceptions import AzureError
        from azure.keyvault.keys.crypto import SignatureAlgorithm

        digest = hashlib.sha256(data).digest()
        try:
            result = self._crypto().sign(SignatureAlgorithm.es256, digest)
        except AzureError as exc:
            raise KeyUnavailable(f"Key Vault did not sign the checkpoint: {exc}") from exc
        signature = bytes(result.signature)
        if len(signature) != 64:
            raise KeyUnavailable(f"Key Vault returned a {len(signature)}-byte ES256 signature")
        return signature, str(result.key_id or self._key_id)


def key_vault_public_key(key_id: str, credential: Any, **client_kwargs: Any) -> PublicKeyVerifier:
    """The verifier for the Key Vault key's current version (``KeyClient.get_key``)."""
    from azure.core.exceptions import AzureError
    from azure.keyvault.keys import KeyClient

    vault, name = _split(key_id)
    try:
        key = KeyClient(vault, credential, **client_kwargs).get_key(name)
    except AzureError as exc:
        raise KeyUnavailable(f"cannot read the checkpoint key from Key Vault: {exc}") from exc
    jwk: Any = key.key
    kty, crv = (str(getattr(v, "value", v)) for v in (jwk.kty, jwk.crv))
    if kty not in ("EC", "EC-HSM") or crv != "P-256" or not jwk.x or not jwk.y:
        raise KeyUnavailable(f"the checkpoint key {name} is not an EC P-256 key")
    from cryptography.hazmat.primitives.asymmetric import ec

    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(jwk.x, "big"), int.from_bytes(jwk.y, "big"), ec.SECP256R1()
    )
    try:
        return PublicKeyVerifier(numbers.public_key())
    except ValueError as exc:
        raise KeyUnavailable(f"the checkpoint key {name} is not a valid P-256 point") from exc
