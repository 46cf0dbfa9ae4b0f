"""The audit page: the summary an auditor needs, and hostile values rendered inert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.domain.lineage.chain import Link
from shared.domain.lineage.record import Actor, ArtifactRef, LineageRecord, Reason, RecordKind
from shared.domain.lineage.views import AuditEntry, summarise
from shared.services.lineage.audit_page import render_audit_page

EVIL = '"><script>alert(document.cookie)</script><img src=x onerror=alert(1)>'
ART = ArtifactRef(
    kind="image",
    registry="clrwesteurope.azurecr.io",
    repository="models/fraud",
    digest="sha256:" + "d" * 64,
    tag=EVIL[:100],
)


def timeline() -> list[AuditEntry]:
    steps = [
        (RecordKind.ARTIFACT_RECEIVED, "event-grid", {"pushed_by": "pusher@contoso.example"}),
        (RecordKind.APPROVAL_NOTIFIED, "clearance", {"asked": "ann@x.example, bob@x.example"}),
        (RecordKind.APPROVAL_VOTE, "ann@x.example", {"decision": "approve", "reason": EVIL}),
        (RecordKind.APPROVAL_EXPIRED, "clearance", {"did_not_answer": "bob@x.example"}),
    ]
    out, prev = [], None
    for i, (kind, who, details) in enumerate(steps):
        record = LineageRecord(
            kind=kind,
            at=datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=i),
            region="westeurope",
            actor=Actor(identity=who, established_by="signed_link"),
            artifact=ART,
            reasons=(Reason(code="CLR-<b>", message=EVIL),) if i == 3 else (),
            details=details,
        )
        link = Link.after(prev, record)
        prev = link.mark
        out.append(AuditEntry.of("westeurope", ART.key_hash, link))
    return out


def test_the_summary_names_who_was_asked_and_did_not_answer() -> None:
    s = summarise(timeline())
    assert s.pushed_by == ["pusher@contoso.example"]
    assert s.asked == ["ann@x.example", "bob@x.example"]
    assert s.voted == {"ann@x.example": "approve"}
    assert s.did_not_answer == ["bob@x.example"]
    assert s.final_kind is RecordKind.APPROVAL_EXPIRED


def test_every_value_is_escaped() -> None:
    page = render_audit_page(timeline())
    assert "<script>" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(document.cookie)&lt;/script&gt;" in page
    assert "onerror=alert(1)&gt;" in page  # inert text, not an attribute
    assert "did not answer</dt><dd>bob@x.example</dd>" in page


def test_the_page_shows_who_registered_an_azure_ml_model() -> None:
    entries = timeline()
    first = entries[0].record.model_copy(
        update={"details": {"registered_by": "registrant@contoso.example"}}
    )
    entry = AuditEntry.of("westeurope", ART.key_hash, Link.after(None, first))

    assert summarise([entry]).pushed_by == ["registrant@contoso.example"]
    assert "registrant@contoso.example" in render_audit_page([entry])
