"""Signed checkpoints: every chain's (seq, hash) at one moment, signed, chained, in blob storage.

A checkpoint's *payload* is the canonical JSON of its fields; its *digest* is SHA-256 over
those bytes, and each checkpoint names its predecessor's digest, so the checkpoints form a
chain of their own. The payload is signed (ES256: ECDSA P-256 over SHA-256, signature as
raw ``r || s``) with a key the storage account cannot reach (Key Vault in Azure, a key file
outside the account locally). A blob holds ``{"alg", "payload", "signature"}`` with the payload
as the exact string that was signed; nothing about a blob is trusted until its signature
verifies. Blob names sort newest first (an inverted millisecond timestamp) for people reading
a listing; verification never relies on them (see ``shared.domain.lineage.trail``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.domain.lineage.chain import HeadMark, canonical_json, utc_iso

PREFIX = "heads/"
ALGORITHM = "ES256"
MAX_BLOB = (
    64 * 1024 * 1024
)  # bytes; a larger blob is not read (a checkpoint of 400k chains: ~40 MB)
_INVERT = 10**13


class CheckpointFormatError(ValueError):
    """A blob is not a checkpoint (malformed, wrong version, not canonical)."""


class ChainHead(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int = Field(ge=1)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")


class Checkpoint(BaseModel):
    """What is signed: the cell's chain heads, when, by which key, after which checkpoint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[2] = 2
    region: str = Field(max_length=64)
    taken_at: datetime
    chains: dict[str, ChainHead]
    previous: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    key_id: str = Field(max_length=512)

    def anchor(self, key_hash: str) -> HeadMark | None:
        head = self.chains.get(key_hash)
        return None if head is None else HeadMark(head.seq, head.hash)

    @property
    def records(self) -> int:
        return sum(h.seq for h in self.chains.values())

    def payload(self) -> bytes:
        doc: dict[str, Any] = self.model_dump(mode="json")
        doc["taken_at"] = utc_iso(self.taken_at)
        return canonical_json(doc).encode("utf-8")


def digest_of(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint with its signature, as stored under ``name``."""

    name: str
    checkpoint: Checkpoint
    payload: bytes
    signature: bytes

    @classmethod
    def of(cls, checkpoint: Checkpoint, signature: bytes) -> SignedCheckpoint:
        payload = checkpoint.payload()
        name = checkpoint_blob_name(checkpoint.taken_at, digest_of(payload))
        return cls(name, checkpoint, payload, signature)

    @property
    def digest(self) -> str:
        return digest_of(self.payload)

    def to_blob(self) -> bytes:
        doc = {
            "alg": ALGORITHM,
            "payload": self.payload.decode("utf-8"),
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }
        return canonical_json(doc).encode("utf-8")


def parse_blob(name: str, raw: bytes) -> SignedCheckpoint:
    """Read a stored blob; raises ``CheckpointFormatError`` for anything that is not one.

    The signature is *not* checked here (that needs the public key): see ``trail``.
    """
    if len(raw) > MAX_BLOB:
        raise CheckpointFormatError(f"{len(raw)} bytes, more than a checkpoint can be")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointFormatError("not JSON") from exc
    if not isinstance(doc, dict) or set(doc) != {"alg", "payload", "signature"}:
        raise CheckpointFormatError("not a signed checkpoint (alg, payload, signature)")
    if doc["alg"] != ALGORITHM:
        raise CheckpointFormatError(f"unknown signature algorithm {str(doc['alg'])[:20]!r}")
    if not isinstance(doc["payload"], str) or not isinstance(doc["signature"], str):
        raise CheckpointFormatError("payload and signature must be strings")
    try:
        signature = base64.b64decode(doc["signature"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CheckpointFormatError("the signature is not base64") from exc
    payload = doc["payload"].encode("utf-8")
    try:
        checkpoint = Checkpoint.model_validate_json(payload)
    except ValidationError as exc:
        raise CheckpointFormatError(
            f"the payload is not a checkpoint ({exc.error_count()} error(s))"
        ) from exc
    if checkpoint.payload() != payload:
        raise CheckpointFormatError("the payload is not in canonical form")
    return SignedCheckpoint(name, checkpoint, payload, signature)


def checkpoint_blob_name(taken_at: datetime, digest: str) -> str:
    """``heads/<inverted ms>-<UTC time>Z-<digest prefix>.json``: newest first in a listing."""
    moment = taken_at.astimezone(UTC)
    millis = int(moment.timestamp() * 1000)
    return f"{PREFIX}{_INVERT - millis:013d}-{moment:%Y%m%dT%H%M%S}Z-{digest[:16]}.json"
