"""Chain-head snapshots: every chain's (seq, hash) at one moment, kept in immutable storage.

Each snapshot names its predecessor and that blob's SHA-256, so the snapshots themselves form
a chain. Blob names sort newest first (an inverted millisecond timestamp), so the latest one
is the first a listing returns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.lineage.chain import HeadMark

PREFIX = "heads/"
_INVERT = 10**13


class ChainHead(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int = Field(ge=1)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")


class HeadsSnapshot(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    region: str
    taken_at: datetime
    chains: dict[str, ChainHead]
    previous: str | None = None
    previous_sha256: str | None = None

    def anchor(self, key_hash: str) -> HeadMark | None:
        head = self.chains.get(key_hash)
        return None if head is None else HeadMark(head.seq, head.hash)

    @property
    def records(self) -> int:
        return sum(h.seq for h in self.chains.values())


def snapshot_blob_name(taken_at: datetime) -> str:
    """``heads/<inverted ms>-<UTC time>.json``: a plain listing returns the newest first."""
    moment = taken_at.astimezone(UTC)
    millis = int(moment.timestamp() * 1000)
    return f"{PREFIX}{_INVERT - millis:013d}-{moment:%Y%m%dT%H%M%S}Z.json"
