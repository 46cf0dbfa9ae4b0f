"""Stages in the region catalog: order, defaults, per-stage targets, residency per stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shared.domain.catalog import RegionCatalog, UnknownStageError
from tests.support import deploy_samples as s


def doc(tmp_path: Path, deployer: str = "kubernetes") -> dict[str, Any]:
    return s.catalog(tmp_path, deployer=deployer).model_dump(mode="json")


def with_stages(d: dict[str, Any], stages: list[dict[str, Any]], region: int = 0) -> dict[str, Any]:
    d["regions"][region]["stages"] = stages
    return d


def test_a_region_without_stages_is_one_production_stage(tmp_path: Path) -> None:
    region = RegionCatalog.model_validate(doc(tmp_path)).regions[0]
    (only,) = region.stage_list
    assert only.name == "prod" and only.production and not region.staged
    assert region.for_stage(None) is region
    assert region.stage_approval(None, "low") == region.approval.default  # type: ignore[arg-type]


def test_stages_in_order_with_the_last_production_by_default(tmp_path: Path) -> None:
    d = with_stages(
        doc(tmp_path),
        [{"name": "dev", "name_prefix": "dev"}, {"name": "staging", "name_prefix": "stg"},
         {"name": "prod"}],
    )  # fmt: skip
    region = RegionCatalog.model_validate(d).regions[0]
    assert [(x.name, x.production) for x in region.stage_list] == [
        ("dev", False), ("staging", False), ("prod", True),
    ]  # fmt: skip
    assert region.next_stage("dev").name == "staging"  # type: ignore[union-attr]
    assert region.previous_stage("dev") is None and region.next_stage("prod") is None
    assert region.stage_approval("dev", "low") is None  # no approval listed: no human
    with pytest.raises(UnknownStageError):
        region.stage("qa")


@pytest.mark.parametrize(
    ("stages", "match"),
    [
        ([{"name": "prod"}, {"name": "prod", "name_prefix": "x"}], "stage names repeat"),
        ([{"name": "staging"}, {"name": "prod"}], "share one namespace"),
        ([{"name": "Prod"}], "pattern"),
        ([{"name": "prod", "windows": {"time_zone": "Nowhere/Else"}}], "unknown time zone"),
    ],
)
def test_bad_stages_are_refused(tmp_path: Path, stages: list[dict[str, Any]], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        RegionCatalog.model_validate(with_stages(doc(tmp_path), stages))


def test_two_gitops_stages_need_their_own_paths(tmp_path: Path) -> None:
    d = with_stages(doc(tmp_path, "gitops"), [{"name": "staging"}, {"name": "prod"}])
    with pytest.raises(ValidationError, match="share one GitOps path"):
        RegionCatalog.model_validate(d)
    g = d["regions"][0]["gitops"]
    d["regions"][0]["stages"][0]["gitops"] = {**g, "path": g["path"] + "-staging"}
    RegionCatalog.model_validate(d)


def test_a_stage_may_not_deploy_onto_another_regions_cluster(tmp_path: Path) -> None:
    d = doc(tmp_path)
    foreign = d["regions"][1]["aks"]
    with_stages(d, [{"name": "staging", "aks": foreign}, {"name": "prod"}])
    with pytest.raises(ValidationError, match="every stage stays in its own region"):
        RegionCatalog.model_validate(d)
