"""build_plan: only this region, only its own registry by digest, only its own workspace."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.domain.catalog import RegionEntry
from shared.domain.deploy.codes import DeployCode, PlanError
from shared.domain.deploy.plan import DriverKind, build_plan, deployment_id_for
from shared.domain.deploy.steps import steps_for
from shared.domain.lineage.record import ArtifactRef
from tests.support import deploy_samples as s


def _code(exc: pytest.ExceptionInfo[PlanError]) -> str:
    return exc.value.violation.code


def test_plan_names_what_where_and_how(cell: RegionEntry) -> None:
    request = s.image_request(cell, s.image_metadata("canary"))
    plan = build_plan(request, cell, None)
    assert plan.driver is DriverKind.KUBERNETES
    assert plan.namespace == "model-fraud-detector"
    assert plan.release.image == (
        f"{cell.registry.login_server}/models/fraud-detector@{request.artifact.digest}"
    )
    assert plan.release.workload == "fraud-detector"
    assert plan.kubernetes_version == "1.35"
    assert plan.deployment_id == deployment_id_for(request.approval_id, "westeurope")


def test_deployment_id_is_stable_and_distinct_for_a_rollback() -> None:
    assert deployment_id_for("apr-1", "westeurope") == deployment_id_for("apr-1", "westeurope")
    assert deployment_id_for("apr-1", "westeurope", "dep-x") != deployment_id_for(
        "apr-1", "westeurope"
    )


def test_driver_follows_the_region_and_the_artifact_kind(tmp_path: Path) -> None:
    gitops = s.cell(tmp_path, deployer="gitops")
    assert build_plan(s.image_request(gitops), gitops, None).driver is DriverKind.GITOPS
    assert build_plan(s.aml_request(gitops), gitops, None).driver is DriverKind.AML


def test_team_namespace_mode(tmp_path: Path) -> None:
    team = s.cell(tmp_path, namespace_mode="team")
    assert build_plan(s.image_request(team), team, None).namespace == "team-payments-ml"
    no_team = s.image_metadata(team=None)
    assert build_plan(s.image_request(team, no_team), team, None).namespace == (
        "model-fraud-detector"
    )


def test_a_model_named_like_a_system_namespace_stays_out_of_it(cell: RegionEntry) -> None:
    md = s.image_metadata(name="kube-system")
    assert build_plan(s.image_request(cell, md), cell, None).namespace == "model-kube-system"


def test_another_regions_request_is_refused(tmp_path: Path) -> None:
    catalog = s.catalog(tmp_path)
    sweden = catalog.region("swedencentral")
    request = s.image_request(catalog.region("westeurope"))
    with pytest.raises(PlanError) as exc:
        build_plan(request, sweden, None)
    assert _code(exc) == DeployCode.WRONG_REGION


def test_a_region_the_model_does_not_target_is_refused(tmp_path: Path) -> None:
    sweden = s.catalog(tmp_path).region("swedencentral")
    with pytest.raises(PlanError) as exc:
        build_plan(s.image_request(sweden), sweden, None)
    assert _code(exc) == DeployCode.NOT_TARGETED


def test_an_image_from_another_registry_is_refused(cell: RegionEntry) -> None:
    request = s.image_request(cell)
    foreign = request.model_copy(
        update={"artifact": request.artifact.model_copy(update={"registry": "evil.example.com"})}
    )
    with pytest.raises(PlanError) as exc:
        build_plan(foreign, cell, None)
    assert _code(exc) == DeployCode.FOREIGN_REGISTRY


@pytest.mark.parametrize("digest", [None, "latest", "sha256:abc", "sha512:" + "a" * 128])
def test_an_image_not_named_by_a_sha256_digest_is_refused(
    cell: RegionEntry, digest: str | None
) -> None:
    request = s.image_request(cell)
    bad = request.model_copy(
        update={"artifact": request.artifact.model_copy(update={"digest": digest})}
    )
    with pytest.raises(PlanError) as exc:
        build_plan(bad, cell, None)
    assert _code(exc) == DeployCode.BAD_ARTIFACT


@pytest.mark.parametrize("approval_id", ["apr 1", "apr-1\nApproved-By: mallory", "é"])
def test_approval_ids_that_could_forge_a_trailer_are_refused(
    cell: RegionEntry, approval_id: str
) -> None:
    with pytest.raises(PlanError) as exc:
        build_plan(s.image_request(cell, approval_id=approval_id), cell, None)
    assert _code(exc) == DeployCode.BAD_APPROVAL


def test_approver_identities_with_control_characters_are_refused(cell: RegionEntry) -> None:
    request = s.image_request(cell).model_copy(
        update={"approved_by": ("a@contoso.example\nApproval-Id: forged",)}
    )
    with pytest.raises(PlanError) as exc:
        build_plan(request, cell, None)
    assert _code(exc) == DeployCode.BAD_APPROVAL


def test_aml_model_from_another_workspace_is_refused(cell: RegionEntry) -> None:
    request = s.aml_request(cell)
    foreign = request.model_copy(
        update={"artifact": ArtifactRef(kind="aml_model", workspace="mlw-other",
                                        model="churn-model", version="3")}
    )  # fmt: skip
    with pytest.raises(PlanError) as exc:
        build_plan(foreign, cell, None)
    assert _code(exc) == DeployCode.FOREIGN_WORKSPACE


def test_shadow_is_refused_for_kubernetes_online_endpoints(cell: RegionEntry) -> None:
    shadow = s.aml_metadata().model_copy(update={"rollout": s.image_metadata("shadow").rollout})
    with pytest.raises(PlanError) as exc:
        build_plan(s.aml_request(cell, shadow), cell, None)
    assert _code(exc) == DeployCode.STRATEGY_UNSUPPORTED


def test_blue_green_colours_alternate(cell: RegionEntry) -> None:
    md = s.image_metadata("blue-green")
    first = build_plan(s.image_request(cell, md), cell, None).release
    assert (first.workload, first.track) == ("fraud-detector-blue", "blue")
    live = first.model_copy(update={"since": datetime.now(UTC)})
    second = build_plan(s.image_request(cell, s.image_metadata("blue-green", "2")), cell, live)
    assert (second.release.workload, second.release.track) == ("fraud-detector-green", "green")


def test_namespace_change_between_versions_is_refused(tmp_path: Path) -> None:
    team = s.cell(tmp_path, namespace_mode="team")
    live = build_plan(s.image_request(team), team, None).release
    moved = s.image_metadata(version="2", team="other-team")
    with pytest.raises(PlanError) as exc:
        build_plan(s.image_request(team, moved), team, live)
    assert _code(exc) == DeployCode.NAMESPACE_CHANGED


def test_a_rollback_restores_the_revision_as_it_ran_with_the_fast_strategy(
    cell: RegionEntry,
) -> None:
    old = build_plan(s.image_request(cell, s.image_metadata("blue-green", "1")), cell, None)
    live = build_plan(
        s.image_request(cell, s.image_metadata("blue-green", "2")), cell, old.release
    ).release
    request = s.image_request(
        cell, s.image_metadata("blue-green", "1"), rollback_of=live.deployment_id
    )
    plan = build_plan(request, cell, live, restoring=old.release)
    assert plan.is_rollback and plan.strategy.strategy == "rolling"
    assert plan.release.workload == old.release.workload == "fraud-detector-blue"
    assert plan.release.identity == old.release.identity
    assert plan.release.restored_from == old.release.deployment_id
    assert [st.name for st in steps_for(plan)] == ["restore"]
