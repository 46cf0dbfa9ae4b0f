"""Expiry and chargeback: the catalog policy, the label contract, intake, manifests and AML tags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from shared.domain.catalog import RegionCatalog
from shared.domain.deploy import chargeback, expiry
from shared.domain.deploy.aml import deployment_spec, endpoint_spec
from shared.domain.deploy.expiry import Action, ExpiryPolicy, Phase
from shared.domain.deploy.k8s_names import is_label_value
from shared.domain.deploy.plan import build_plan
from shared.domain.errors import InputError
from shared.domain.intake.codes import IntakeCode
from shared.domain.intake.policy import placement_violations
from shared.domain.metadata.labels import parse_metadata
from shared.domain.metadata.model import ArtifactKind
from tests.support import deploy_samples as s
from tests.support.manifest_cases import phases, plan_for

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _catalog_with(catalog: RegionCatalog, **region_fields: object) -> RegionCatalog:
    doc = catalog.model_dump(mode="json")
    for region in doc["regions"]:
        region.update(region_fields)
    return RegionCatalog.model_validate(doc)


# -- expiry policy ---------------------------------------------------------------------------


def test_a_default_longer_than_the_limit_is_refused_by_the_catalog() -> None:
    with pytest.raises(ValidationError, match="shadow_hours"):
        ExpiryPolicy(shadow_hours=100, max_hours=48)


def test_the_label_wins_within_the_limit_and_the_default_applies_without_it() -> None:
    policy = ExpiryPolicy(canary_hours=48, non_production_hours=100, max_hours=100)
    labelled = s.image_metadata("canary", expiry_hours=90)
    plain = s.image_metadata("canary")

    assert expiry.lifetime(labelled, policy, Phase.CANARY) == timedelta(hours=90)
    assert expiry.lifetime(plain, policy, Phase.CANARY) == timedelta(hours=48)
    assert expiry.lifetime(plain, policy, Phase.NON_PRODUCTION) == timedelta(hours=100)


def test_the_expiry_never_falls_inside_the_planned_phase() -> None:
    # A week of shadow against a 72 h default: the phase runs its course, plus the grace.
    week = s.image_metadata(
        "shadow", rollout={"strategy": "shadow", "mirror_percent": 5, "duration_minutes": 10080}
    )
    deadline = expiry.phase_deadline(week, week.rollout, T0, ExpiryPolicy())

    assert deadline == T0 + timedelta(minutes=10080) + expiry.GRACE


def test_rolling_and_blue_green_have_no_phase_to_expire() -> None:
    for strategy in ("rolling", "blue-green"):
        md = s.image_metadata(strategy)
        assert expiry.phase_deadline(md, md.rollout, T0, ExpiryPolicy()) is None


def test_production_stages_never_expire_and_other_stages_do() -> None:
    md = s.image_metadata("rolling", expiry_hours=5)
    policy = ExpiryPolicy()

    assert expiry.stage_deadline(md, T0, production=True, policy=policy) is None
    assert expiry.stage_deadline(md, T0, production=False, policy=policy) == T0 + timedelta(hours=5)


@pytest.mark.parametrize(
    ("now", "action"),
    [
        (T0, Action.NONE),
        (T0 + timedelta(hours=23, minutes=59), Action.NONE),
        (T0 + timedelta(hours=24), Action.NOTIFY),
        (T0 + timedelta(hours=47, minutes=59), Action.NOTIFY),
        (T0 + timedelta(hours=48), Action.RETIRE),
        (T0 + timedelta(days=30), Action.RETIRE),
    ],
)
def test_decide_notifies_within_the_notice_and_retires_at_the_deadline(
    now: datetime, action: Action
) -> None:
    policy = ExpiryPolicy(notice_hours=24)

    assert expiry.decide(now, T0 + timedelta(hours=48), policy) is action


def test_no_notice_when_the_policy_asks_for_none() -> None:
    policy = ExpiryPolicy(notice_hours=0)

    assert expiry.decide(T0, T0 + timedelta(minutes=1), policy) is Action.NONE


# -- labels and intake -----------------------------------------------------------------------


def test_an_expiry_label_over_the_limit_is_refused_at_intake_with_the_region(
    image_labels: dict[str, str], catalog: RegionCatalog
) -> None:
    strict = _catalog_with(
        catalog,
        expiry={
            "max_hours": 24,
            "canary_hours": 12,
            "shadow_hours": 12,
            "non_production_hours": 24,
        },
    )
    md = parse_metadata(image_labels | {"ai.clearance.expiry-hours": "25"}, kind=ArtifactKind.IMAGE)

    found = placement_violations(md, "westeurope", strict)

    assert [v.code for v in found] == [IntakeCode.INTAKE_EXPIRY] * 2
    assert "25 hours, more than the limit of 24 hours" in found[0].message
    assert "westeurope" in found[0].message and "swedencentral" in found[1].message
    assert found[0].field == "ai.clearance.expiry-hours"


def test_an_expiry_shorter_than_the_canary_is_refused(
    image_labels: dict[str, str], catalog: RegionCatalog
) -> None:
    labels = image_labels | {
        "ai.clearance.regions": "westeurope",
        "ai.clearance.rollout.canary.bake-minutes": "600",  # 2 x 10 h of baking
        "ai.clearance.expiry-hours": "20",
    }
    md = parse_metadata(labels, kind=ArtifactKind.IMAGE)

    (found,) = placement_violations(md, "westeurope", catalog)

    assert found.code == IntakeCode.INTAKE_EXPIRY
    assert "less than the planned canary phase" in found.message


def test_an_expiry_within_the_limit_passes(
    image_labels: dict[str, str], catalog: RegionCatalog
) -> None:
    md = parse_metadata(
        image_labels | {"ai.clearance.expiry-hours": "720"}, kind=ArtifactKind.IMAGE
    )

    assert placement_violations(md, "westeurope", catalog) == []
    assert md.expiry_hours == 720


@pytest.mark.parametrize("value", ["0", "-1", "8761", "1e3", "48h", "\uff14\uff18", " 48"])
def test_an_expiry_that_is_not_a_whole_number_of_hours_is_a_contract_error(
    image_labels: dict[str, str], value: str
) -> None:
    with pytest.raises(InputError) as caught:
        parse_metadata(image_labels | {"ai.clearance.expiry-hours": value}, kind=ArtifactKind.IMAGE)

    assert {v.field for v in caught.value.violations} == {"ai.clearance.expiry-hours"}


def test_a_region_that_requires_chargeback_refuses_an_artifact_without_it(
    image_labels: dict[str, str], catalog: RegionCatalog
) -> None:
    strict = _catalog_with(catalog, chargeback={"require": ["team", "cost_centre"]})
    md = parse_metadata(
        image_labels | {"ai.clearance.regions": "westeurope"}, kind=ArtifactKind.IMAGE
    )

    found = placement_violations(md, "westeurope", strict)

    assert [(v.code, v.field) for v in found] == [
        (IntakeCode.INTAKE_CHARGEBACK_MISSING, "ai.clearance.team"),
        (IntakeCode.INTAKE_CHARGEBACK_MISSING, "ai.clearance.cost-centre"),
    ]
    complete = parse_metadata(
        image_labels
        | {
            "ai.clearance.regions": "westeurope",
            "ai.clearance.team": "payments-ml",
            "ai.clearance.cost-centre": "CC-4711",
        },
        kind=ArtifactKind.IMAGE,
    )
    assert placement_violations(complete, "westeurope", strict) == []


@pytest.mark.parametrize(
    "value",
    [
        "\u0421\u0421-4711",  # Cyrillic capital es, twice: looks like CC
        "CC\u20104711",  # Unicode hyphen
        "\uff23\uff23-4711",  # fullwidth
        "CC-4711\u200b",  # zero-width space
        "x" * 64,  # over-long
        "cc; rm -rf /",
        'cc"\n  evil: true',
        "cc-4711-",  # must end alphanumeric
        "-cc",
        "cc/4711",
        "${COST}",
    ],
)
def test_a_cost_centre_that_is_no_label_value_is_refused_at_intake(
    image_labels: dict[str, str], value: str
) -> None:
    with pytest.raises(InputError) as caught:
        parse_metadata(image_labels | {"ai.clearance.cost-centre": value}, kind=ArtifactKind.IMAGE)

    assert {v.field for v in caught.value.violations} == {"ai.clearance.cost-centre"}


# -- manifests and AML tags ------------------------------------------------------------------


@pytest.mark.parametrize("strategy", sorted(s.ROLLOUTS))
def test_every_rendered_object_carries_valid_chargeback_labels(strategy: str) -> None:
    cell = s.cell(deployer="kubernetes")
    plan = plan_for(cell, s.image_metadata(strategy, "1.0.0+build.7"))
    objects = [m for phase in phases(plan) for m in phase.desired if m["kind"] != "Namespace"]

    assert objects
    for manifest in objects:
        labels = manifest["metadata"]["labels"]
        assert labels["clearance.ai/owner"].startswith("owner_contoso.example-")
        assert labels["clearance.ai/team"] == "payments-ml"
        assert labels["clearance.ai/cost-centre"] == "CC-4711"
        assert labels["clearance.ai/stage"] == "prod"
        # The restore phase renders the previous revision (0.9.0) with its own version.
        version = labels["clearance.ai/model-version"]
        assert version == "0.9.0" or version.startswith("1.0.0_build.7-")
        assert all(is_label_value(v) for v in labels.values()), labels
        template = manifest.get("spec", {}).get("template", {}).get("metadata", {})
        if template:  # pods are what cost tools group
            assert template["labels"]["clearance.ai/cost-centre"] == "CC-4711"


def test_owner_labels_stay_distinct_and_valid_for_hostile_addresses() -> None:
    owners = [
        "a.b@contoso.example",
        "a_b@contoso.example",
        "jörg@contoso.example",
        "x" * 60 + "@contoso.example",
    ]
    values = [chargeback.labels(s.image_metadata(owner=o))["clearance.ai/owner"] for o in owners]

    assert all(is_label_value(v) for v in values)
    assert len(set(values)) == len(values)


def test_aml_endpoint_and_deployment_carry_the_chargeback_tags() -> None:
    cell = s.cell()
    md = s.aml_metadata("canary").model_copy(update={"team": "growth-ml", "cost_centre": "CC-9"})
    plan = build_plan(s.aml_request(cell, md), cell, None)

    for tags in (endpoint_spec(plan, {})["tags"], deployment_spec(plan, plan.release)["tags"]):
        assert tags["clearance.owner"] == "owner@contoso.example"
        assert tags["clearance.team"] == "growth-ml"
        assert tags["clearance.cost-centre"] == "CC-9"
        assert tags["clearance.stage"] == "prod"
        assert tags["clearance.model-version"] == "3"
