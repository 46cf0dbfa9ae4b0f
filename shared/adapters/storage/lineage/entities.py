"""Table entities of the lineage store: the chain rows and the index rows written with them.

Pure functions from a link to entities, shared by the writer and the bulk loader, so both
write exactly the same rows. A record body longer than one string property is split over
``Body``, ``Body1``, ``Body2``… (a property holds 64 KiB; an entity 1 MiB).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.domain.errors import TerminalError
from shared.domain.lineage.chain import HeadMark, Link
from shared.domain.lineage.index import (
    ARTIFACTS,
    DEPLOYMENT_KINDS,
    HEAD_ROW,
    actor_row_key,
    chain_partition,
    day_partition,
    deployment_partition,
    idempotency_row_key,
    identities_of,
    live_stage,
    model_of,
    moment_row_key,
    name_row_key,
    names_of,
    version_of,
)

Entity = dict[str, Any]
CHUNK = 30_000  # characters; a string property holds 32K UTF-16 code units
MAX_CHUNKS = 16


def body_properties(body: str) -> Entity:
    chunks = [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)] or [""]
    if len(chunks) > MAX_CHUNKS:
        raise TerminalError(f"lineage record too large to store ({len(body)} characters)")
    return {("Body" if i == 0 else f"Body{i}"): chunk for i, chunk in enumerate(chunks)}


def body_of(entity: Entity) -> str:
    parts = [str(entity.get("Body") or "")]
    i = 1
    while entity.get(f"Body{i}") is not None:
        parts.append(str(entity[f"Body{i}"]))
        i += 1
    return "".join(parts)


def pointer(key_hash: str, link: Link) -> Entity:
    """What every row carrying a record holds: where it sits in which chain, and the record."""
    return {
        "KeyHash": key_hash,
        "Seq": link.seq,
        "Hash": link.hash,
        "PrevHash": link.prev_hash,
        "Kind": str(link.record.kind),
        "At": link.record.at,
        **body_properties(link.body),
    }


def chain_row(key_hash: str, link: Link) -> Entity:
    return {
        "PartitionKey": chain_partition(key_hash),
        "RowKey": link.row_key,
        **pointer(key_hash, link),
    }


def head_row(key_hash: str, mark: HeadMark) -> Entity:
    return {
        "PartitionKey": chain_partition(key_hash),
        "RowKey": HEAD_ROW,
        "Seq": mark.seq,
        "Hash": mark.hash,
    }


def marker_row(key_hash: str, idempotency_key: str, seq: int) -> Entity:
    return {
        "PartitionKey": chain_partition(key_hash),
        "RowKey": idempotency_row_key(idempotency_key),
        "Seq": seq,
        "IdempotencyKey": idempotency_key[:1024],
    }


def needs_names(link: Link) -> bool:
    """Name rows are written with a chain's first record and whenever a record names its model."""
    record = link.record
    return link.seq == 1 or bool(record.artifact.model or record.details.get("model"))


def index_rows(key_hash: str, link: Link, first_at: datetime) -> list[Entity]:
    """The rows that answer the auditor queries without a scan; written after the chain row.

    Each is deterministic in (artifact, seq), so writing it again (a retry) changes nothing.
    ``first_at`` is the time of the chain's first record (orders ``history``).
    """
    record = link.record
    rows: list[Entity] = [
        {
            "PartitionKey": day_partition(record.at),
            "RowKey": moment_row_key(record.at, key_hash, link.seq),
            **pointer(key_hash, link),
        }
    ]
    for identity, role in identities_of(record):
        rows.append(
            {
                "PartitionKey": ARTIFACTS,
                "RowKey": actor_row_key(identity, record.at, key_hash, link.seq, role),
                "Identity": identity,
                "Role": role,
                **pointer(key_hash, link),
            }
        )
    artifact = {
        "ArtifactKey": record.artifact.key,
        "Artifact": record.artifact.model_dump_json(),
        "Region": record.region,
    }
    if link.seq == 1:
        rows.append(
            {"PartitionKey": ARTIFACTS, "RowKey": key_hash, "FirstAt": record.at, **artifact}
        )
    if needs_names(link):
        extra: Entity = {"FirstAt": first_at}
        version = version_of(record)
        if version:
            extra["Version"] = version
        if record.artifact.tag:
            extra["Tag"] = record.artifact.tag
        for name in names_of(record):
            rows.append(
                {
                    "PartitionKey": ARTIFACTS,
                    "RowKey": name_row_key(name, key_hash),
                    "Name": name,
                    **artifact,
                    **extra,
                }
            )
    model = model_of(record)
    if record.kind in DEPLOYMENT_KINDS and model:
        rows.append(
            {
                "PartitionKey": deployment_partition(model),
                "RowKey": moment_row_key(record.at, key_hash, link.seq),
                "Model": model,
                # the live row this record feeds (absent: the model's own row)
                **({"LiveStage": stage} if (stage := live_stage(record)) else {}),
                **pointer(key_hash, link),
            }
        )
    return rows
