"""The hash chain: each artifact's records form one ordered chain, each link hashing the last.

A link's *body* is the canonical JSON (sorted keys, no spaces, UTF-8, UTC times with
microseconds) of ``{"v": 1, "seq": n, "prev": <hash of link n-1>, "record": {...}}`` and its
hash is SHA-256 over those bytes. The body is stored verbatim, so verification hashes exactly
the bytes that were written: a later change to the record model cannot change old hashes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from shared.domain import bounded_json
from shared.domain.bounded_json import UNBOUNDED_SIZE
from shared.domain.lineage.record import LineageRecord

GENESIS = "0" * 64  # the "previous hash" of a chain's first link
BODY_VERSION = 1
SEQ_PREFIX = "seq-"
SEQ_DIGITS = 10


class ChainFormatError(ValueError):
    """A stored body is not a well-formed link."""


def seq_row_key(seq: int) -> str:
    return f"{SEQ_PREFIX}{seq:0{SEQ_DIGITS}d}"


def _ascii_digits(text: str) -> bool:
    # str.isdigit() alone also accepts superscript and Arabic-Indic digits
    return text.isascii() and text.isdigit()


def seq_of(row_key: str) -> int | None:
    """The sequence number of a ``seq-…`` row key; None for any other row key."""
    digits = row_key[len(SEQ_PREFIX) :]
    if not row_key.startswith(SEQ_PREFIX) or len(digits) != SEQ_DIGITS or not _ascii_digits(digits):
        return None
    return int(digits)


def utc_iso(at: datetime) -> str:
    """One textual form per instant: ``2025-01-31T12:00:00.000000Z``."""
    moment = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_document(record: LineageRecord) -> dict[str, Any]:
    doc: dict[str, Any] = record.model_dump(mode="json")
    doc["at"] = utc_iso(record.at)
    return doc


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class HeadMark:
    """Where a chain ends (or ended when a snapshot was taken)."""

    seq: int
    hash: str


@dataclass(frozen=True)
class Link:
    """One record in its place in the chain."""

    seq: int
    prev_hash: str
    record: LineageRecord
    body: str
    hash: str

    @classmethod
    def make(cls, seq: int, prev_hash: str, record: LineageRecord) -> Link:
        if seq < 1:
            raise ValueError("sequence numbers start at 1")
        doc = {"v": BODY_VERSION, "seq": seq, "prev": prev_hash, "record": record_document(record)}
        body = canonical_json(doc)
        return cls(seq, prev_hash, record, body, sha256_hex(body))

    @classmethod
    def after(cls, head: HeadMark | None, record: LineageRecord) -> Link:
        """The link that appends ``record`` to a chain ending at ``head`` (None: empty chain)."""
        if head is None:
            return cls.make(1, GENESIS, record)
        return cls.make(head.seq + 1, head.hash, record)

    @classmethod
    def parse(cls, body: str) -> Link:
        """Read a stored body back; the hash is computed from the stored bytes themselves."""
        try:
            doc = bounded_json.loads(body, max_bytes=UNBOUNDED_SIZE)
        except ValueError as exc:  # not JSON, or nested past the depth limit
            raise ChainFormatError(f"not JSON: {getattr(exc, 'msg', exc)}") from exc
        if not isinstance(doc, dict) or set(doc) != {"v", "seq", "prev", "record"}:
            raise ChainFormatError("not a link document (v, seq, prev, record)")
        if doc["v"] != BODY_VERSION or not isinstance(doc["seq"], int):
            raise ChainFormatError(f"unknown link version {doc['v']!r} or bad seq")
        if not isinstance(doc["prev"], str) or len(doc["prev"]) != 64:
            raise ChainFormatError("prev is not a SHA-256 hex digest")
        if canonical_json(doc) != body:
            raise ChainFormatError("body is not in canonical form")
        try:
            record = LineageRecord.model_validate(doc["record"])
        except ValidationError as exc:
            raise ChainFormatError(
                f"record does not validate: {exc.error_count()} error(s)"
            ) from exc
        return cls(doc["seq"], doc["prev"], record, body, sha256_hex(body))

    @property
    def mark(self) -> HeadMark:
        return HeadMark(self.seq, self.hash)

    @property
    def row_key(self) -> str:
        return seq_row_key(self.seq)
