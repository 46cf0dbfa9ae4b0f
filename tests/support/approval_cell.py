"""An approval cell over fakes: a policy, a directory, Teams and mail recorded."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.domain.approval.links import LinkSigner
from shared.domain.approval.request import ApprovalRequest
from shared.domain.catalog import ApprovalPolicy, RegionApproval, RegionCatalog
from shared.domain.identity import IdentityRules
from shared.domain.lineage.record import ArtifactRef
from shared.domain.metadata.labels import parse_metadata
from shared.domain.metadata.model import ArtifactKind
from shared.local.samples import model_labels
from shared.ports.directory import DirectoryUser
from shared.services.approval.requests import ApprovalDeps
from tests.support.approval_fakes import FakeApprovalStore, FakeDirectory
from tests.support.fakes import FakeBus, FakeLineage, FakeMailer

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
GROUP = "0a0a0a0a-1111-2222-3333-444444444444"
TENANT = "7e7e7e7e-0000-0000-0000-000000000000"
ONE, TWO, THREE = (f"approver.{n}@contoso.example" for n in ("one", "two", "three"))
OID = {
    ONE: "11111111-0000-0000-0000-000000000001",
    TWO: "22222222-0000-0000-0000-000000000002",
    THREE: "33333333-0000-0000-0000-000000000003",
}
STRANGER_OID = "99999999-0000-0000-0000-000000000009"
PLATFORM = "platform@contoso.example"


@dataclass
class FakeTeams:
    posts: list[dict[str, Any]] = field(default_factory=list)

    def post(self, payload: dict[str, Any]) -> None:
        self.posts.append(payload)


def request_for(
    owner: str = "owner@contoso.example", pushed_by: str | None = None, version: str = "1.0.0"
) -> ApprovalRequest:
    metadata = parse_metadata(model_labels("scorer", version, owner=owner), kind=ArtifactKind.IMAGE)
    return ApprovalRequest(
        artifact=ArtifactRef(
            kind="image",
            registry="clearancewesteurope.azurecr.io",
            repository="scorer",
            digest="sha256:" + version.replace(".", "")[:1] * 64,
        ),
        source_region="westeurope",
        metadata=metadata,
        pushed_by=pushed_by,
        event_id="e1",
        received_at=T0,
        validated_at=T0,
    )


def deps_for(catalog: RegionCatalog, policy: ApprovalPolicy, **overrides: Any) -> ApprovalDeps:
    cell = catalog.region("westeurope").model_copy(
        update={"approval": RegionApproval(default=policy)}
    )
    directory = FakeDirectory(
        {GROUP: [DirectoryUser(OID[a], a.upper()) for a in (ONE, TWO, THREE)]}
    )
    values: dict[str, Any] = {
        "cell": cell,
        "store": FakeApprovalStore(),
        "lineage": FakeLineage(),
        "bus": FakeBus(),
        "mailer": FakeMailer(),
        "signer": LinkSigner({"k1": b"k" * 32}),
        "teams": FakeTeams(),
        "clock": lambda: T0,
        "identity": IdentityRules(owner_domains=("contoso.example",)),
        "directory": directory,
        "platform_email": PLATFORM,
        "tenant_id": TENANT,
    }
    values.update(overrides)
    return ApprovalDeps(**values)


def token_in(mail_text: str) -> str:
    found = re.search(r"[?&]t=([A-Za-z0-9_.-]+)", mail_text)
    assert found is not None
    return found.group(1)


def csrf_in(page: str) -> str:
    found = re.search(r"name='csrf' value='([^']+)'", page)
    assert found is not None
    return found.group(1)
