"""Each strategy as steps: names, bake times, gates and the step after which it is live."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.domain.catalog import RegionEntry
from shared.domain.deploy.plan import DeploymentPlan, build_plan
from shared.domain.deploy.steps import steps_for
from tests.support import deploy_samples as s


def _plan(cell: RegionEntry, strategy: str, *, previous: bool) -> DeploymentPlan:
    live = None
    if previous:
        old = build_plan(s.image_request(cell, s.image_metadata("rolling", "0.9")), cell, None)
        live = old.release.model_copy(update={"since": datetime.now(UTC)})
    return build_plan(s.image_request(cell, s.image_metadata(strategy)), cell, live)


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("rolling", [("promote", 0, False, True)]),
        (
            "blue-green",
            [("deploy-blue", 0, False, False), ("switch", 1800, True, True),
             ("retire", 0, True, False)],
        ),
        (
            "canary",
            [("canary-10", 900, False, False), ("canary-50", 900, True, False),
             ("promote", 0, True, True)],
        ),
        ("shadow", [("shadow", 3600, False, False), ("promote", 0, True, True)]),
    ],
)  # fmt: skip
def test_steps_with_a_previous_revision(
    cell: RegionEntry, strategy: str, expected: list[tuple[str, int, bool, bool]]
) -> None:
    steps = steps_for(_plan(cell, strategy, previous=True))
    assert [(x.name, x.bake_seconds, x.gated, x.serving) for x in steps] == expected


@pytest.mark.parametrize(
    ("strategy", "names"),
    [("rolling", ["promote"]), ("blue-green", ["deploy-blue", "switch"]),
     ("canary", ["promote"]), ("shadow", ["promote"])],
)  # fmt: skip
def test_a_first_deployment_has_nothing_to_compare_with(
    cell: RegionEntry, strategy: str, names: list[str]
) -> None:
    assert [x.name for x in steps_for(_plan(cell, strategy, previous=False))] == names


def test_canary_weights_and_shadow_share_come_from_the_contract(cell: RegionEntry) -> None:
    assert [x.weight for x in steps_for(_plan(cell, "canary", previous=True))] == [10, 50, None]
    assert steps_for(_plan(cell, "shadow", previous=True))[0].weight == 20
