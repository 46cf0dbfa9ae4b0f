"""Golden manifests per strategy, each object valid for the catalog's Kubernetes version.

Regenerate after an intended change: CLEARANCE_UPDATE_GOLDEN=1 pytest tests/unit/deploy
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.domain.catalog import RegionEntry
from shared.domain.deploy.manifests.gitops import to_yaml
from shared.domain.deploy.manifests.validation import validate_manifests
from tests.support import deploy_samples as s
from tests.support.manifest_cases import describe, phases, plan_for

GOLDEN = Path(__file__).resolve().parents[4] / "golden" / "deploy"
STRATEGIES = sorted(s.ROLLOUTS)


def _render(cell: RegionEntry, strategy: str) -> str:
    plan = plan_for(cell, s.image_metadata(strategy, "1.0.0"))
    docs = [describe(p) for p in phases(plan)]
    return "".join(f"---\n{to_yaml(doc)}" for doc in docs)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_manifests_match_the_golden_file(cell: RegionEntry, strategy: str) -> None:
    rendered = _render(cell, strategy)
    golden = GOLDEN / f"{strategy}.yaml"
    if os.environ.get("CLEARANCE_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(rendered, encoding="utf-8")
    assert golden.exists(), f"missing {golden}; run with CLEARANCE_UPDATE_GOLDEN=1"
    assert rendered == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_rendering_is_deterministic(cell: RegionEntry, strategy: str) -> None:
    assert _render(cell, strategy) == _render(cell, strategy)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_object_of_every_phase_is_schema_valid(cell: RegionEntry, strategy: str) -> None:
    for phase in phases(plan_for(cell, s.image_metadata(strategy))):
        assert validate_manifests(phase.desired, "1.30") == len(phase.desired)


def test_the_validator_refuses_an_unknown_field() -> None:
    from shared.domain.deploy.codes import PlanError

    bad: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "x", "namespace": "y"},
        "spec": {"ports": [{"port": 80}], "sidecar": True},
    }
    with pytest.raises(PlanError, match="sidecar"):
        validate_manifests([bad], "1.30")


def _pod(cell: RegionEntry) -> dict[str, Any]:
    plan = plan_for(cell, s.image_metadata("rolling"))
    deployment = next(m for m in phases(plan)[0].first if m["kind"] == "Deployment")
    pod: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return pod


def test_the_pod_spec_is_hardened(cell: RegionEntry) -> None:
    pod = _pod(cell)
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["privileged"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "500m", "memory": "2Gi"},
    }
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http", "scheme": "HTTP"}
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]


def test_the_image_is_pulled_from_the_regions_registry_by_digest(cell: RegionEntry) -> None:
    image = _pod(cell)["containers"][0]["image"]
    registry, _, rest = image.partition("/")
    assert registry == cell.registry.login_server
    assert rest.startswith("models/fraud-detector@sha256:")


def test_labels_and_annotations_carry_model_version_digest_and_approval(
    cell: RegionEntry,
) -> None:
    plan = plan_for(cell, s.image_metadata("rolling"))
    deployment = next(m for m in phases(plan)[0].first if m["kind"] == "Deployment")
    labels = deployment["metadata"]["labels"]
    notes = deployment["metadata"]["annotations"]
    assert labels["clearance.ai/model"] == "fraud-detector"
    assert labels["app.kubernetes.io/version"] == "1.0.0"
    assert labels["clearance.ai/approval"] == plan.release.approval_id
    assert notes["clearance.ai/digest"] == plan.release.artifact.digest
    assert notes["clearance.ai/approval-id"] == plan.release.approval_id
    assert notes["clearance.ai/deployment-id"] == plan.deployment_id


def test_golden_files_parse_as_yaml() -> None:
    for path in GOLDEN.glob("*.yaml"):
        assert all(doc["step"] for doc in yaml.safe_load_all(path.read_text()))
