"""Continuation tokens: where the next page of an auditor query starts.

A query reads an ordered list of *sources* (one partition, in one region, each ordered by row
key). A cursor is (source id, last row key returned); a token is that cursor bound to the
query it belongs to, so a token cannot be replayed against a different question.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from shared.domain import bounded_json
from shared.domain.errors import InputError, Violation
from shared.domain.lineage.chain import canonical_json, sha256_hex

TOKEN_INVALID = "CLR-LINEAGE-TOKEN-INVALID"  # noqa: S105 - an error code


@dataclass(frozen=True)
class Cursor:
    source: str
    after: str | None  # the last row key returned from that source; None: from its start


def query_fingerprint(*parts: object) -> str:
    return sha256_hex(canonical_json([str(p) for p in parts]))[:16]


def encode_token(cursor: Cursor, fingerprint: str) -> str:
    doc = canonical_json({"q": fingerprint, "s": cursor.source, "a": cursor.after})
    return base64.urlsafe_b64encode(doc.encode("utf-8")).decode("ascii").rstrip("=")


def decode_token(token: str, fingerprint: str) -> Cursor:
    def invalid(why: str) -> InputError:
        return InputError([Violation(TOKEN_INVALID, f"Invalid continuation token: {why}.")])

    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        doc = bounded_json.loads(raw.decode("utf-8"), max_depth=8)
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise invalid("not a token this service issued") from exc
    if not isinstance(doc, dict) or set(doc) != {"q", "s", "a"}:
        raise invalid("not a token this service issued")
    if doc["q"] != fingerprint:
        raise invalid("it belongs to a different query")
    source, after = doc["s"], doc["a"]
    if not isinstance(source, str) or not (after is None or isinstance(after, str)):
        raise invalid("malformed cursor")
    return Cursor(source, after)
