"""Which checks run: the catalog's per tier, plus what a model adds; never fewer."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.domain.analysis.checks import (
    AnalysisPolicy,
    AnalysisSettings,
    Check,
    Declared,
    Relative,
    TemplateName,
    checks_for,
)
from shared.domain.errors import InputError
from shared.domain.metadata.labels import parse_metadata
from shared.domain.metadata.model import ArtifactKind


def test_defaults_per_risk_tier() -> None:
    strict = AnalysisPolicy(
        checks=(
            Check(
                name="success-rate",
                template=TemplateName.SUCCESS_RATE,
                comparison=Relative(op=">=", offset=-0.1),
                min_samples=500,
            ),
        )
    )
    settings = AnalysisSettings(
        provider="prometheus", endpoint="http://127.0.0.1:9090", by_risk_tier={"critical": strict}
    )
    assert settings.for_tier("critical") is strict
    assert [c.name for c in settings.for_tier("low").checks] == ["success-rate", "p95-latency"]


def test_a_model_adds_its_business_metric() -> None:
    declared = Declared(business_metric="fraud_declines_total")
    names = [c.name for c in checks_for(AnalysisPolicy(), declared)]
    assert names == ["success-rate", "p95-latency", "business-rate"]


def test_a_label_never_removes_a_check_of_the_catalog() -> None:
    only_latency = Declared(checks=(TemplateName.P95_LATENCY,))
    names = [c.name for c in checks_for(AnalysisPolicy(), only_latency)]
    assert names == ["success-rate", "p95-latency"]


def test_a_policy_names_each_check_once() -> None:
    from shared.domain.analysis.checks import SUCCESS_RATE

    twice = SUCCESS_RATE.model_copy(update={"comparison": Relative(op=">=", offset=-50)})
    with pytest.raises(ValidationError, match="its own name"):
        AnalysisPolicy(checks=(SUCCESS_RATE, twice))  # a lax twin would share the tally


def test_the_catalog_refuses_nonsense_thresholds() -> None:
    for bad in ({"factor": 0}, {"factor": float("nan")}, {"offset": float("inf")}):
        with pytest.raises(ValidationError):
            Relative(op="<=", **bad)


def _labels(image_labels: dict[str, str], **extra: str) -> dict[str, str]:
    return image_labels | extra


def test_labels_declare_checks_and_the_business_metric(image_labels: dict[str, str]) -> None:
    md = parse_metadata(
        _labels(
            image_labels,
            **{
                "ai.clearance.analysis.checks": "p95-latency, business-rate",
                "ai.clearance.analysis.business-metric": "fraud_declines_total",
            },
        ),
        kind=ArtifactKind.IMAGE,
    )
    assert md.analysis.checks == (TemplateName.P95_LATENCY, TemplateName.BUSINESS_RATE)
    assert md.analysis.business_metric == "fraud_declines_total"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ai.clearance.analysis.checks", "none"),
        ("ai.clearance.analysis.checks", "success-rate,rm -rf"),
        ("ai.clearance.analysis.business-metric", 'declines{model="x"} or vector(1)'),
        ("ai.clearance.analysis.business-metric", "declines_tota\u0142"),
    ],
)
def test_hostile_analysis_labels_are_refused_with_the_key(
    image_labels: dict[str, str], key: str, value: str
) -> None:
    with pytest.raises(InputError) as caught:
        parse_metadata(_labels(image_labels, **{key: value}), kind=ArtifactKind.IMAGE)
    assert [v.field for v in caught.value.violations] == [key]


def test_a_policy_without_checks_is_refused_when_the_catalog_loads() -> None:
    # An empty list analysed nothing and passed every gate at once; to turn analysis off,
    # a region leaves out ``analysis``.
    from shared.domain.analysis.checks import AnalysisPolicy

    with pytest.raises(ValidationError, match="at least 1"):
        AnalysisPolicy(checks=())


def test_a_window_shorter_than_the_interval_is_refused() -> None:
    # Measured every hour over the last 5 s, a candidate bad between measurements would pass:
    # the windows must cover the bake, not sample it.
    from shared.domain.analysis.checks import Check, TemplateName

    with pytest.raises(ValidationError, match="window_seconds"):
        Check(
            name="p95",
            template=TemplateName.P95_LATENCY,
            comparison={"kind": "absolute", "op": "<=", "threshold": 1.0},
            interval_seconds=3600,
            window_seconds=5,
        )
