"""A Key Vault on the wire: an azure-core ``HttpTransport`` serving Key Vault's response shapes.

It answers the challenge (401 with ``WWW-Authenticate``) an unauthenticated request gets,
``GET /keys/{name}`` with a JSON Web Key, and ``POST /keys/{name}/{version}/sign`` with a real
ES256 signature of the posted digest made with the key it holds. ``refuse`` makes it answer
403 like a cell identity without the sign permission.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import HttpResponse, HttpTransport

VERSION = "0123456789abcdef0123456789abcdef"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _Response(HttpResponse):
    def __init__(self, request: Any, status: int, doc: Any, headers: dict[str, str]) -> None:
        super().__init__(request, None)
        self.status_code = status
        self.reason = {200: "OK", 401: "Unauthorized", 403: "Forbidden"}.get(status, "")
        self.headers = {"Content-Type": "application/json", **headers}
        self.content_type = "application/json"
        self._body = json.dumps(doc).encode() if doc is not None else b""

    def body(self) -> bytes:
        return self._body

    # the azure.core.rest response surface the generated Key Vault client reads
    def read(self) -> bytes:
        return self._body

    @property
    def content(self) -> bytes:
        return self._body

    def json(self) -> Any:
        return json.loads(self._body) if self._body else None


class FakeCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("token", 4_102_444_800)


class KeyVaultTransport(HttpTransport):
    def __init__(
        self, vault: str = "https://clr-kv.vault.azure.net", name: str = "lineage-checkpoints"
    ) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self.key = ec.generate_private_key(ec.SECP256R1())
        self.vault, self.name = vault, name
        self.requests: list[tuple[str, str]] = []
        self.refuse = False

    @property
    def kid(self) -> str:
        return f"{self.vault}/keys/{self.name}/{VERSION}"

    def __enter__(self) -> KeyVaultTransport:
        return self

    def __exit__(self, *args: Any) -> None:
        return None

    def open(self) -> None:
        return None

    def close(self) -> None:
        return None

    def send(self, request: Any, **kwargs: Any) -> HttpResponse:
        path = request.url.split("?", 1)[0][len(self.vault) :].rstrip("/")
        self.requests.append((request.method, path))
        if "Authorization" not in request.headers:
            challenge = (
                'Bearer authorization="https://login.microsoftonline.com/tenant-id", '
                'resource="https://vault.azure.net"'
            )
            return _Response(request, 401, None, {"WWW-Authenticate": challenge})
        if self.refuse:
            error = {"error": {"code": "Forbidden", "message": "no sign permission"}}
            return _Response(request, 403, error, {})
        if request.method == "GET" and path.startswith(f"/keys/{self.name}"):
            return _Response(request, 200, self._bundle(), {})
        if request.method == "POST" and path == f"/keys/{self.name}/{VERSION}/sign":
            return _Response(request, 200, self._sign(request), {})
        return _Response(request, 404, {"error": {"code": "NotFound", "message": path}}, {})

    def _bundle(self) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        jwk = {
            "kid": self.kid,
            "kty": "EC",
            "crv": "P-256",
            "key_ops": ["sign", "verify"],
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
        }
        return {"key": jwk, "attributes": {"enabled": True, "created": 1_767_225_600}}

    def _sign(self, request: Any) -> dict[str, Any]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import (
            Prehashed,
            decode_dss_signature,
        )

        body = json.loads(request.body if isinstance(request.body, (bytes, str)) else request.data)
        assert body["alg"] == "ES256"
        digest = unb64url(body["value"])
        der = self.key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        r, s = decode_dss_signature(der)
        return {"kid": self.kid, "value": b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))}
