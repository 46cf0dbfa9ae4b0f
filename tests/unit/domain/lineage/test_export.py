"""Exports read back to the same entries, and still prove their hashes offline."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.cli.lineage_output import write_entries
from shared.domain.lineage.chain import Link
from shared.domain.lineage.export import (
    ExportFormatError,
    read_csv,
    read_json,
    read_ndjson,
    to_csv,
)
from shared.domain.lineage.record import (
    Actor,
    ArtifactRef,
    Correlation,
    LineageRecord,
    Reason,
    RecordKind,
)
from shared.domain.lineage.views import AuditEntry

HOSTILE = '=HYPERLINK("http://evil"),\n"quoted"; <script>alert(1)</script> ünï'


def entries() -> list[AuditEntry]:
    art = ArtifactRef(
        kind="image",
        registry="clrwesteurope.azurecr.io",
        repository="models/fraud",
        digest="sha256:" + "c" * 64,
        tag="=1+2,beta",
    )
    out, prev = [], None
    for i, kind in enumerate(
        [RecordKind.ARTIFACT_RECEIVED, RecordKind.ARTIFACT_REJECTED, RecordKind.APPROVAL_VOTE]
    ):
        record = LineageRecord(
            kind=kind,
            at=datetime(2026, 3, 1, 9, i, 7, 123456, tzinfo=UTC),
            region="westeurope",
            actor=Actor(identity="'@contoso.example", established_by="easy_auth"),
            artifact=art,
            correlation=Correlation(event_id="e-1", approval_id=None, deployment_id="d,1"),
            reasons=(Reason(code="CLR-X", message=HOSTILE, field="ai.clearance.owner"),),
            where={"cluster": "aks", "namespace": "+ns"},
            details={"label": HOSTILE, "": "empty key"},
        )
        link = Link.after(prev, record)
        prev = link.mark
        out.append(AuditEntry.of("westeurope", art.key_hash, link, role="actor" if i else None))
    return out


@pytest.mark.parametrize(
    ("fmt", "read"), [("json", read_json), ("ndjson", read_ndjson), ("csv", read_csv)]
)
def test_every_format_round_trips_and_still_proves_its_hashes(fmt: str, read: object) -> None:
    buffer = io.StringIO()
    assert write_entries(iter(entries()), fmt, buffer) == 3
    back = read(buffer.getvalue())  # type: ignore[operator]
    assert back == entries()
    assert all(e.proves_itself() for e in back)


def test_csv_cells_cannot_run_as_spreadsheet_formulas() -> None:
    text = to_csv(entries())
    assert ',"=1+2' not in text and ",=1+2" not in text
    assert '"\'=1+2,beta"' in text  # the defusing quote inside the quoted cell


def test_an_edited_csv_column_is_detected() -> None:
    text = to_csv(entries()).replace("easy_auth", "managed_identity", 1)
    with pytest.raises(ExportFormatError, match="established_by"):
        read_csv(text)


def test_an_edited_record_reads_back_but_no_longer_proves_its_hash() -> None:
    buffer = io.StringIO()
    write_entries(iter(entries()), "json", buffer)
    forged = read_json(buffer.getvalue().replace('"d,1"', '"d,2"', 1))
    assert forged[0].record.correlation.deployment_id == "d,2"
    assert not forged[0].proves_itself()
    assert all(e.proves_itself() for e in forged[1:])


@pytest.mark.parametrize("reader", [read_json, read_ndjson])
def test_an_export_nested_thousands_deep_is_a_format_error(reader: Any) -> None:
    # An auditor verifies an export someone handed over: a hostile file is a clear error.
    with pytest.raises(ExportFormatError, match="not JSON"):
        reader("[" * 100_000 + "]" * 100_000)
