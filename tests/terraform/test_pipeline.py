"""azure-pipelines.yml: tests, then plans for every region, then one gated deployment per
region, dev first and prod in rollout order."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from tests.terraform.environments import ENVIRONMENT_NAMES, regions_in_rollout_order
from tests.terraform.hcl import REPO

PIPELINE = REPO / "azure-pipelines.yml"
REGION_STAGE = ".azure-pipelines/region-stage.yml"
PLAN_JOB = ".azure-pipelines/plan-job.yml"
ROLLOUT = [("dev", r) for r in regions_in_rollout_order("dev")] + [
    ("prod", r) for r in regions_in_rollout_order("prod")
]


def _load(path: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / path).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def pipeline() -> dict[str, Any]:
    return _load(PIPELINE.name)


def rollout_problems(pipeline: dict[str, Any]) -> list[str]:
    """Differences between the pipeline's stages and test -> plan -> one apply per region."""
    stages = pipeline["stages"]
    problems = []
    if [s.get("stage") for s in stages[:2]] != ["test", "plan"]:
        problems.append("the first stages must be test, then plan")
    elif stages[1].get("dependsOn") != "test":
        problems.append("plan must depend on test")
    planned = [
        (j["parameters"]["environment"], j["parameters"]["region"])
        for j in stages[1]["jobs"]
        if j.get("template") == PLAN_JOB
    ]
    if sorted(planned) != sorted(ROLLOUT):
        problems.append(f"plans {planned} != regions {ROLLOUT}")
    applies = [s for s in stages[2:] if s.get("template") == REGION_STAGE]
    order = [(s["parameters"]["environment"], s["parameters"]["region"]) for s in applies]
    if order != ROLLOUT:
        problems.append(f"apply order {order} != rollout order {ROLLOUT}")
    previous = "plan"
    for stage in applies:
        params = stage["parameters"]
        if params["dependsOn"] != [previous]:
            problems.append(f"{params} must depend on {previous} only")
        previous = f"apply_{params['environment']}_{params['region']}"
    return problems


def test_pipeline_rolls_out_region_by_region(pipeline: dict[str, Any]) -> None:
    assert ENVIRONMENT_NAMES == ["dev", "prod"]
    assert rollout_problems(pipeline) == []


def test_test_stage_runs_make_test(pipeline: dict[str, Any]) -> None:
    steps = pipeline["stages"][0]["jobs"][0]["steps"]
    assert any("make test" in step.get("script", "") for step in steps)


def test_a_skipped_or_reordered_region_is_caught(pipeline: dict[str, Any]) -> None:
    dropped = copy.deepcopy(pipeline)
    del dropped["stages"][-1]
    assert any("apply order" in p for p in rollout_problems(dropped))
    swapped = copy.deepcopy(pipeline)
    swapped["stages"][3], swapped["stages"][4] = swapped["stages"][4], swapped["stages"][3]
    assert rollout_problems(swapped)
    parallel = copy.deepcopy(pipeline)
    parallel["stages"][-1]["parameters"]["dependsOn"] = ["plan"]
    assert rollout_problems(parallel)


def test_region_stage_is_a_gated_deployment_that_applies_and_deploys() -> None:
    (stage,) = _load(REGION_STAGE)["stages"]
    assert stage["stage"] == "apply_${{ parameters.environment }}_${{ parameters.region }}"
    assert stage["dependsOn"] == "${{ parameters.dependsOn }}"
    (job,) = stage["jobs"]
    assert job["environment"] == "clearance-${{ parameters.environment }}-${{ parameters.region }}"
    steps = job["strategy"]["runOnce"]["deploy"]["steps"]
    scripts = "\n".join(s.get("inputs", {}).get("inlineScript", "") for s in steps)
    apply_at = scripts.index("terraform apply -input=false tfplan")
    assert apply_at < scripts.index("az functionapp deployment source config-zip")


def test_plan_job_plans_one_region_with_its_own_state() -> None:
    (job,) = _load(PLAN_JOB)["jobs"]
    init = _load(".azure-pipelines/terraform-init.yml")["steps"][0]["script"]
    assert "key=${{ parameters.environment }}/${{ parameters.region }}.tfstate" in init
    plan = job["steps"][1]["inputs"]["inlineScript"]
    assert '-var="region=${{ parameters.region }}"' in plan
    assert "-out=tfplan" in plan
