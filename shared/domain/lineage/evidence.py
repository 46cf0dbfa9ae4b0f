"""The evidence export: records, checkpoints and signatures, verifiable with no Azure access.

A text file, one item per line::

    {"evidence":1,"region":"westeurope","blobs":[{"name":…,"data":<base64>},…]}
    {"chain":"<artifact key hash>","records":8}
    <sha256 hex> <the record's stored body, byte for byte>
    …

Each region section carries every blob stored under the checkpoint prefix (genuine or not:
the auditor's verify sorts them out with the public key), then each chain's records in order.
The record lines hold the exact bytes that were hashed, so checking one is a SHA-256 and a
few string comparisons: no decoding, which is what makes offline verification fast.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from shared.domain.lineage.chain import canonical_json, seq_row_key
from shared.domain.lineage.verify import StoredLink

VERSION = 1


class EvidenceFormatError(ValueError):
    """The file is not an evidence export (or its structure was edited)."""


def region_line(region: str, blobs: Iterable[tuple[str, bytes]]) -> str:
    items = [{"name": n, "data": base64.b64encode(d).decode("ascii")} for n, d in blobs]
    return canonical_json({"evidence": VERSION, "region": region, "blobs": items}) + "\n"


def chain_line(key_hash: str, records: int) -> str:
    return canonical_json({"chain": key_hash, "records": records}) + "\n"


def record_line(stored_hash: str, body: str) -> str:
    return f"{stored_hash} {body}\n"


@dataclass
class EvidenceChain:
    key_hash: str
    records: list[tuple[str, str]] = field(default_factory=list)  # (hash, body) in order

    @property
    def links(self) -> list[StoredLink]:
        """The records as stored links (for the detailed check of a chain that fails)."""
        return [
            StoredLink(seq_row_key(i), body, stored_hash, body[9:73])
            for i, (stored_hash, body) in enumerate(self.records, start=1)
        ]


@dataclass
class EvidenceRegion:
    region: str
    blobs: list[tuple[str, bytes]]
    chains: list[EvidenceChain] = field(default_factory=list)


def read_evidence(lines: Iterable[str]) -> Iterator[EvidenceRegion]:
    """The regions of an export, each with its blobs and chains (record lines as links)."""
    region: EvidenceRegion | None = None
    chain: EvidenceChain | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw[:-1] if raw.endswith("\n") else raw
        if len(line) > 65 and line[64] == " ":
            if chain is None:
                raise EvidenceFormatError(f"line {number}: a record outside any chain")
            chain.records.append((line[:64], line[65:]))
            continue
        if not line.strip():
            continue
        doc = _header(line, number)
        if "evidence" in doc:
            if region is not None:
                yield region
            region, chain = _region(doc, number), None
        elif region is None:
            raise EvidenceFormatError(f"line {number}: a chain before any region header")
        else:
            chain = EvidenceChain(_key_hash(doc, number))
            region.chains.append(chain)
    if region is None:
        raise EvidenceFormatError("no region header: not an evidence export")
    yield region


def _header(line: str, number: int) -> dict[str, object]:
    try:
        doc = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise EvidenceFormatError(f"line {number}: neither a record nor a header") from exc
    if not isinstance(doc, dict):
        raise EvidenceFormatError(f"line {number}: neither a record nor a header")
    return doc


def _region(doc: dict[str, object], number: int) -> EvidenceRegion:
    blobs, region = doc.get("blobs"), doc.get("region")
    if doc.get("evidence") != VERSION or not isinstance(region, str) or not isinstance(blobs, list):
        raise EvidenceFormatError(f"line {number}: not a version {VERSION} region header")
    out = []
    for item in blobs:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise EvidenceFormatError(f"line {number}: a checkpoint entry without a name")
        try:
            data = base64.b64decode(str(item.get("data", "")), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise EvidenceFormatError(f"line {number}: checkpoint data is not base64") from exc
        out.append((str(item["name"]), data))
    return EvidenceRegion(region, out)


def _key_hash(doc: dict[str, object], number: int) -> str:
    key_hash = doc.get("chain")
    if not isinstance(key_hash, str) or len(key_hash) != 64:
        raise EvidenceFormatError(f"line {number}: not a chain header")
    return key_hash
