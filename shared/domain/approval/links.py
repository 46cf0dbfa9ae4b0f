"""Signed approval links: one per approver and approval, HMAC-SHA256, with a key id to rotate.

A token is ``<payload>.<signature>``, both base64url: the payload is the JSON
``{"aid": approval id, "sub": approver, "exp": unix seconds, "kid": key id}``, the signature is
HMAC-SHA256 over the payload with the key named by ``kid``. The newest key (greatest id, e.g.
``k20261121``) signs; every configured key verifies, so a key can be rotated without breaking
links already sent. The CSRF token of the review form is bound to the link token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from shared.domain import bounded_json

MAX_TOKEN_LENGTH = 2048


class LinkProblem(StrEnum):
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    WRONG_APPROVAL = "wrong_approval"


class LinkError(Exception):
    def __init__(self, problem: LinkProblem) -> None:
        self.problem = problem
        super().__init__(problem.value)


@dataclass(frozen=True)
class LinkClaims:
    approval_id: str
    approver: str
    expires_at: datetime
    key_id: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


_URLSAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _unb64(text: str) -> bytes:
    """Canonical unpadded base64url only: one token has exactly one spelling (no padding, no
    standard alphabet, no ignored characters, no stray trailing bits)."""
    if not set(text) <= _URLSAFE or len(text) % 4 == 1:
        raise ValueError("not canonical base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not canonical base64url")
    return data


class LinkSigner:
    def __init__(self, keys: Mapping[str, bytes]) -> None:
        if not keys:
            raise ValueError("at least one link-signing key is needed")
        self._keys = dict(keys)
        self.current_key_id = max(self._keys)

    def _mac(self, key_id: str, message: bytes) -> bytes:
        return hmac.new(self._keys[key_id], message, hashlib.sha256).digest()

    def sign(self, approval_id: str, approver: str, expires_at: datetime) -> str:
        payload = json.dumps(
            {
                "aid": approval_id,
                "sub": approver,
                "exp": int(expires_at.timestamp()),
                "kid": self.current_key_id,
            },
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        encoded = _b64(payload)
        return f"{encoded}.{_b64(self._mac(self.current_key_id, encoded.encode()))}"

    def verify(self, token: str, approval_id: str, now: datetime) -> LinkClaims:
        """The claims of a genuine, unexpired link for ``approval_id``; raises ``LinkError``."""
        if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
            raise LinkError(LinkProblem.MALFORMED)
        encoded, signature = token.split(".")
        try:
            doc = bounded_json.loads(_unb64(encoded), max_bytes=MAX_TOKEN_LENGTH, max_depth=2)
            given = _unb64(signature)
            key_id, aid, sub, exp = (
                str(doc["kid"]),
                str(doc["aid"]),
                str(doc["sub"]),
                int(doc["exp"]),
            )
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
            raise LinkError(LinkProblem.MALFORMED) from None
        if key_id not in self._keys:
            raise LinkError(LinkProblem.UNKNOWN_KEY)
        if not hmac.compare_digest(self._mac(key_id, encoded.encode()), given):
            raise LinkError(LinkProblem.BAD_SIGNATURE)
        if not hmac.compare_digest(aid.encode(), approval_id.encode()):
            raise LinkError(LinkProblem.WRONG_APPROVAL)
        expires_at = datetime.fromtimestamp(exp, UTC)
        if now >= expires_at:
            raise LinkError(LinkProblem.EXPIRED)
        return LinkClaims(aid, sub, expires_at, key_id)

    def csrf_token(self, link_token: str) -> str:
        """Bound to the link: a form posted without the page the link opened is refused."""
        return _b64(self._mac(self.current_key_id, b"csrf|" + link_token.encode()))

    def check_csrf(self, link_token: str, csrf: str) -> bool:
        expected = [_b64(self._mac(k, b"csrf|" + link_token.encode())) for k in self._keys]
        return any(hmac.compare_digest(e.encode(), csrf.encode()) for e in expected)
