"""Queries are the templates with names filled in, and nothing else."""

from __future__ import annotations

import pytest

from shared.domain.analysis.checks import (
    BUSINESS_RATE,
    P95_LATENCY,
    SUCCESS_RATE,
    ProviderKind,
)
from shared.domain.analysis.templates import Target, UnsafeQueryValue, render

T = Target(model="fraud-detector", revision="1.4.2", deployment="green", metric="declines_total")


def test_promql_success_rate_selects_the_revision_over_the_window() -> None:
    q = render(SUCCESS_RATE, ProviderKind.PROMETHEUS, T, 300)
    sel = 'model="fraud-detector",revision="1.4.2"'
    assert q.value == (
        f'100 * sum(rate(model_requests_total{{{sel},code!~"5.."}}[300s])) / '
        f"sum(rate(model_requests_total{{{sel}}}[300s]))"
    )
    assert q.samples == f"sum(increase(model_requests_total{{{sel}}}[300s]))"


def test_promql_offset_for_a_baseline_before_the_switch() -> None:
    q = render(P95_LATENCY, ProviderKind.AZURE_PROMETHEUS, T, 60, offset_seconds=120)
    assert "[60s offset 120s]" in q.value


def test_business_rate_uses_the_models_metric_and_needs_one() -> None:
    q = render(BUSINESS_RATE, ProviderKind.PROMETHEUS, T, 60)
    assert q.value.startswith('100 * sum(rate(declines_total{model="fraud-detector"')
    with pytest.raises(UnsafeQueryValue):
        render(BUSINESS_RATE, ProviderKind.PROMETHEUS, Target("m", "1", "blue"), 60)


def test_kql_and_aml_forms() -> None:
    q = render(SUCCESS_RATE, ProviderKind.LOG_ANALYTICS, T, 300)
    assert 'cloud_RoleName == "fraud-detector" and application_Version == "1.4.2"' in q.value
    assert "timestamp > ago(300s)" in q.value
    late = render(SUCCESS_RATE, ProviderKind.LOG_ANALYTICS, T, 300, offset_seconds=60)
    assert "timestamp between (ago(360s) .. ago(60s))" in late.value
    aml = render(P95_LATENCY, ProviderKind.AML_METRICS, T, 300)
    assert aml.value == "RequestLatency_P95|Average|green|300|0"
    assert aml.samples == "RequestsPerMinute|Total|green|300|0"
    with pytest.raises(UnsafeQueryValue):
        render(BUSINESS_RATE, ProviderKind.AML_METRICS, T, 300)


@pytest.mark.parametrize(
    "hostile",
    [
        '1.0"} or vector(1) #',
        "1.0\\",
        '1" | union secrets | "',
        "1.0\u200b",  # zero-width space
        "\uff11.0",  # fullwidth digit one: looks like 1.0
        "1|Average|blue",  # would reshape the AML query form
        "",
    ],
)
def test_a_value_that_could_change_the_query_is_refused(hostile: str) -> None:
    for provider in ProviderKind:
        with pytest.raises(UnsafeQueryValue):
            render(SUCCESS_RATE, provider, Target("fraud-detector", hostile, hostile), 60)


def test_prediction_discrepancy_for_a_shadow() -> None:
    from shared.domain.analysis.checks import PREDICTION_DISCREPANCY

    q = render(PREDICTION_DISCREPANCY, ProviderKind.PROMETHEUS, T, 60)
    assert q.value.startswith(
        '100 * sum(rate(model_prediction_discrepancies_total{model="fraud-detector",'
    )
    kql = render(PREDICTION_DISCREPANCY, ProviderKind.LOG_ANALYTICS, T, 60)
    assert 'customDimensions["prediction_discrepant"]' in kql.value
    with pytest.raises(UnsafeQueryValue):
        render(PREDICTION_DISCREPANCY, ProviderKind.AML_METRICS, T, 60)
