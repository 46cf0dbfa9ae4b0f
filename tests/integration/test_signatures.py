"""Supply-chain evidence end to end on the local stack: real pushes to the TLS registry, real
cosign-format signatures in it, the real Event Grid endpoint, intake's verdict in lineage, the
approval record and the Teams card.

The local catalog's ``critical`` tier requires a signature by ``local-ci`` and lists
``local-retired`` as revoked (``LocalStack.supply_chain_policy``).
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.domain.intake.codes import IntakeCode
from shared.domain.lineage.record import RecordKind
from shared.local.images import push_image
from shared.local.samples import model_labels
from shared.local.signing import ensure_signing_key, sign_image, sign_with_skopeo
from shared.local.stack import SAMPLE_OWNER, LocalStack
from shared.local.teams_sink import read_posts
from shared.services.intake.signatures import gather_evidence
from tests.conftest import wait_for
from tests.integration.test_intake import (
    image_ref,
    records,
    registry,
    settled,
    wait_requests,
)

pytestmark = pytest.mark.stack
REGION = "westeurope"


def critical(name: str) -> dict[str, str]:
    return model_labels(name, "1.0.0", risk_tier="critical")


def push(hosts: LocalStack, name: str, signer: Any = None) -> tuple[str, Any]:
    """Push, then sign (as a pipeline would: the signature lands after the push event)."""
    client = registry(hosts, REGION)
    pushed = push_image(client, f"models/{name}", critical(name), tag="1.0.0")
    if signer is not None:
        sign_image(client, f"models/{name}", pushed.digest, signer)
    return pushed.digest, image_ref(hosts, REGION, f"models/{name}", pushed.digest)


def test_signed_image_is_verified_recorded_and_shown(hosts: LocalStack, cell: Any) -> None:
    digest, artifact = push(hosts, "signed-model", hosts.signing_keys()["local-ci"])
    (final,) = settled(cell, artifact)
    assert final.kind is RecordKind.APPROVAL_REQUESTED, final.reasons
    checked = [r for r in records(cell, artifact) if r.kind is RecordKind.SUPPLY_CHAIN_CHECKED]
    assert checked[0].details["signed_by"] == "local-ci"
    assert checked[0].details["flagged"] == "false"
    (approval,) = wait_requests(cell, digest)
    assert approval.supply_chain is not None and approval.supply_chain.signed_by == ("local-ci",)
    posts = wait_for(
        lambda: [p for p in read_posts(hosts.teams_store) if approval.approval_id in json.dumps(p)]
    )
    card = posts[0]["body"]["attachments"][0]["content"]
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Signed by"].startswith("local-ci (sha256:")  # nothing here would act as markup


@pytest.mark.parametrize(
    ("name", "key", "code"),
    [
        ("unsigned-model", None, IntakeCode.SIGNATURE_MISSING),
        ("laptop-model", "laptop", IntakeCode.SIGNATURE_INVALID),
        ("retired-model", "local-retired", IntakeCode.SIGNATURE_REVOKED),
    ],
)
def test_required_policy_rejects(
    hosts: LocalStack, cell: Any, tmp_path: Path, name: str, key: str | None, code: str
) -> None:
    signer = None
    if key == "laptop":  # a well-formed cosign key the region does not trust
        signer = ensure_signing_key(tmp_path, "laptop")
    elif key:
        signer = hosts.signing_keys()[key]
    _, artifact = push(hosts, name, signer)
    (final,) = settled(cell, artifact)
    assert final.kind is RecordKind.ARTIFACT_REJECTED
    assert [r.code for r in final.reasons] == [code]


def test_a_key_revoked_after_intake_fails_the_recheck(hosts: LocalStack, cell: Any) -> None:
    """What the step loop asks before each step, against the real registry."""
    client = registry(hosts, REGION)
    pushed = push_image(client, "models/recheck", critical("recheck"), tag="1.0.0")
    sign_image(client, "models/recheck", pushed.digest, hosts.signing_keys()["local-ci"])
    policy = cell.settings.cell.supply_chain.for_tier("critical")
    reader = cell.supply_chain_reader()
    login = hosts.login_server(REGION)
    now = datetime.now(UTC)
    ok = gather_evidence(reader, login, "models/recheck", pushed.digest, policy, now)
    assert ok.signed_by == ("local-ci",) and not ok.blocking
    revoked = policy.model_copy(update={"revoked": (*policy.revoked, "local-ci")})
    stop = gather_evidence(reader, login, "models/recheck", pushed.digest, revoked, now)
    assert stop.blocking and [p.code for p in stop.problems] == [IntakeCode.SIGNATURE_REVOKED]


def test_skopeo_signing_and_attachment_copy(hosts: LocalStack, cell: Any, tmp_path: Path) -> None:
    """Debian's skopeo 1.9 cannot sign (sigstore is patched out); it does read and copy
    cosign attachments: a signed image copied by skopeo keeps its signature, and Clearance
    verifies it at the destination."""
    client = registry(hosts, REGION)
    source = push_image(client, "staging/copied", critical("copied"), tag="1.0.0")
    key = hosts.signing_keys()["local-ci"]
    user, password = hosts.registry_credentials(REGION, SAMPLE_OWNER)
    result = sign_with_skopeo(
        hosts.login_server(REGION), "staging/copied", source.digest, key, "1.0.0",
        hosts.ca_file, tmp_path, credentials=(user, password),
    )  # fmt: skip
    if result.returncode != 0:
        assert "sigstore disabled" in result.stderr, result.stderr  # Debian's build, as documented
        sign_image(client, "staging/copied", source.digest, key)
    certs = tmp_path / "certs"
    login = hosts.login_server(REGION)
    copied = subprocess.run(
        [
            "skopeo", "--registries.d", str(tmp_path / "registries.d"), "copy",
            "--src-cert-dir", str(certs), "--dest-cert-dir", str(certs),
            "--src-creds", f"{user}:{password}", "--dest-creds", f"{user}:{password}",
            f"docker://{login}/staging/copied@{source.digest}",
            f"docker://{login}/models/copied:1.0.0",
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert copied.returncode == 0, copied.stderr
    artifact = image_ref(hosts, REGION, "models/copied", source.digest)
    (final,) = settled(cell, artifact)
    assert final.kind is RecordKind.APPROVAL_REQUESTED, final.reasons


def test_review_page_shows_the_verified_signer(hosts: LocalStack, cell: Any) -> None:
    """The approver's browser view of a signed image (refreshes docs/images/review-signed.png
    with CLEARANCE_UPDATE_SCREENSHOTS=1)."""
    import os
    import shutil

    from playwright.sync_api import sync_playwright

    from shared.cli.samples import review_links
    from shared.domain.approval.record import approval_id_for
    from tests.integration.test_review_browser import CHROMIUM, REPO

    digest, artifact = push(hosts, "signed-review", hosts.signing_keys()["local-ci"])
    wait_requests(cell, digest)
    approval_id = approval_id_for(artifact, REGION)
    links = wait_for(lambda: review_links(hosts, approval_id), timeout=30)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 420, "height": 1100})
        page.goto(next(iter(links.values())))
        assert page.get_by_text("Signature: verified (local-ci).").is_visible()
        assert page.locator("#supply-chain.ok").count() == 1
        assert page.get_by_text("Signed by").is_visible()
        shot = REPO / "docs" / "images" / "review-signed.png"
        if os.environ.get("CLEARANCE_UPDATE_SCREENSHOTS") == "1":
            page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shutil.which("chromium") or Path(CHROMIUM).exists()
