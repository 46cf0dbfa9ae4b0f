"""Export formats (JSON, NDJSON, CSV) that read back to the same entries.

Every exported entry carries its chain position and hashes, so an export can be checked
offline: ``AuditEntry.proves_itself()`` recomputes each hash from the parsed record. CSV has
readable columns for spreadsheets plus ``record``, the record's canonical JSON; reading a CSV
back checks that the readable columns still agree with it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from shared.domain import bounded_json
from shared.domain.bounded_json import UNBOUNDED_SIZE
from shared.domain.lineage.chain import canonical_json, record_document, utc_iso
from shared.domain.lineage.views import AuditEntry

FORMATS = ("table", "json", "ndjson", "csv")
COLUMNS = (
    "region",
    "key_hash",
    "seq",
    "hash",
    "prev_hash",
    "role",
    "at",
    "kind",
    "actor",
    "established_by",
    "artifact_kind",
    "registry",
    "repository",
    "digest",
    "tag",
    "workspace",
    "model",
    "version",
    "event_id",
    "approval_id",
    "deployment_id",
    "where",
    "reasons",
    "details",
    "record",
)


class ExportFormatError(ValueError):
    """An export that does not read back: malformed, or edited after it was written."""


def entry_document(entry: AuditEntry) -> dict[str, Any]:
    doc = entry.model_dump(mode="json")
    doc["record"] = record_document(entry.record)
    return doc


def to_json(entries: Iterable[AuditEntry]) -> str:
    return json.dumps([entry_document(e) for e in entries], indent=2, ensure_ascii=False) + "\n"


def to_ndjson_line(entry: AuditEntry) -> str:
    return canonical_json(entry_document(entry)) + "\n"


def to_csv_row(entry: AuditEntry) -> dict[str, str]:
    r, a, c = entry.record, entry.record.artifact, entry.record.correlation
    flat = {
        "region": entry.region,
        "key_hash": entry.key_hash,
        "seq": str(entry.seq),
        "hash": entry.hash,
        "prev_hash": entry.prev_hash,
        "role": entry.role or "",
        "at": utc_iso(r.at),
        "kind": str(r.kind),
        "actor": r.actor.identity,
        "established_by": r.actor.established_by,
        "artifact_kind": a.kind,
        "registry": a.registry or "",
        "repository": a.repository or "",
        "digest": a.digest or "",
        "tag": a.tag or "",
        "workspace": a.workspace or "",
        "model": a.model or "",
        "version": a.version or "",
        "event_id": c.event_id or "",
        "approval_id": c.approval_id or "",
        "deployment_id": c.deployment_id or "",
        "where": canonical_json(r.where),
        "reasons": canonical_json([x.model_dump(mode="json") for x in r.reasons]),
        "details": canonical_json(r.details),
        "record": canonical_json(record_document(r)),
    }
    return {k: _defuse(v) for k, v in flat.items()}


def csv_header() -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(COLUMNS)
    return out.getvalue()


def csv_line(entry: AuditEntry) -> str:
    out = io.StringIO()
    csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n").writerow(to_csv_row(entry))
    return out.getvalue()


def to_csv(entries: Iterable[AuditEntry]) -> str:
    return csv_header() + "".join(csv_line(e) for e in entries)


def read_json(text: str) -> list[AuditEntry]:
    try:
        docs = bounded_json.loads(text, max_bytes=UNBOUNDED_SIZE)
    except ValueError as exc:  # not JSON, or nested past the depth limit
        raise ExportFormatError(f"not JSON: {getattr(exc, 'msg', exc)}") from exc
    if not isinstance(docs, list):
        raise ExportFormatError("a JSON export is an array of entries")
    return [_entry(d, f"entry {i + 1}") for i, d in enumerate(docs)]


def read_ndjson(text: str) -> list[AuditEntry]:
    out = []
    for i, line in enumerate(text.splitlines()):
        if line.strip():
            try:
                doc = bounded_json.loads(line, max_bytes=UNBOUNDED_SIZE)
            except ValueError as exc:  # not JSON, or nested past the depth limit
                raise ExportFormatError(
                    f"line {i + 1}: not JSON: {getattr(exc, 'msg', exc)}"
                ) from exc
            out.append(_entry(doc, f"line {i + 1}"))
    return out


def read_csv(text: str) -> list[AuditEntry]:
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise ExportFormatError(f"CSV columns must be: {', '.join(COLUMNS)}")
    out = []
    for i, row in enumerate(reader):
        row = {k: _undefuse(v) for k, v in row.items()}
        where = f"row {i + 2}"
        try:
            record = bounded_json.loads(row["record"], max_bytes=UNBOUNDED_SIZE)
        except ValueError as exc:
            raise ExportFormatError(f"{where}: the record column is not JSON") from exc
        doc = {
            "region": row["region"],
            "key_hash": row["key_hash"],
            "seq": row["seq"],
            "hash": row["hash"],
            "prev_hash": row["prev_hash"],
            "role": row["role"] or None,
            "record": record,
        }
        entry = _entry(doc, where)
        again = {k: _undefuse(v) for k, v in to_csv_row(entry).items()}
        changed = [k for k in COLUMNS if again[k] != row[k]]
        if changed:
            raise ExportFormatError(f"{where}: columns disagree with the record: {changed}")
        out.append(entry)
    return out


def _entry(doc: Any, where: str) -> AuditEntry:
    try:
        return AuditEntry.model_validate(doc)
    except ValidationError as exc:
        raise ExportFormatError(
            f"{where}: not an audit entry ({exc.error_count()} errors)"
        ) from exc


_QUOTED = ("=", "+", "-", "@", "\t", "\r", "'")


def _defuse(value: str) -> str:
    """Spreadsheets execute cells starting with = + - @ (OWASP CSV injection): such values,
    and values starting with the quote itself, get a leading quote; reading removes it."""
    return "'" + value if value.startswith(_QUOTED) else value


def _undefuse(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(_QUOTED) else value
