"""The built-in query templates, rendered for one provider, one revision and one window.

Every value substituted into a query is checked against a narrow alphabet first (model names,
versions, deployment names and metric names never contain quotes, braces or backslashes), so a
query is exactly the template with names filled in; anything else is refused.

Conventions the model's pods follow (documented in docs/deploying-models.md):

- Prometheus: ``model_requests_total{model, revision, code}`` (counter),
  ``model_request_duration_seconds_bucket{model, revision, le}`` (histogram), for the
  business rate the model's own counter ``<metric>{model, revision}``, and for a shadow's
  prediction discrepancy ``model_prediction_discrepancies_total{model, revision}`` (mirrored
  answers that differ from the live revision's); ``revision`` is the model version.
- Application Insights: ``requests`` with ``cloud_RoleName`` = model and
  ``application_Version`` = version; the business outcome as ``customDimensions[<metric>]``.
- Azure ML online endpoints: the deployment metrics ``RequestLatency_P95``,
  ``RequestsPerMinute`` and ``Errors`` (Azure Monitor, dimension ``deployment``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.domain.analysis.checks import Check, ProviderKind, TemplateName

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+:-]{0,99}$")


class UnsafeQueryValue(ValueError):
    """A value that may not be placed into a query (it could change the query's meaning)."""


@dataclass(frozen=True)
class Target:
    """Which revision a query is about."""

    model: str
    revision: str  # the model version
    deployment: str  # the AML deployment (colour) or workload name
    metric: str | None = None  # the business metric, when the check needs one


@dataclass(frozen=True)
class Queries:
    value: str
    samples: str


def _safe(value: str) -> str:
    if not _SAFE.match(value):
        raise UnsafeQueryValue(f"{value[:40]!r} is not a plain name; refusing to query with it")
    return value


def render(
    check: Check,
    provider: ProviderKind,
    target: Target,
    window_seconds: int,
    offset_seconds: int = 0,
) -> Queries:
    """The value and sample-count queries of ``check`` for ``target`` over the window that
    ends ``offset_seconds`` ago. Raises ``UnsafeQueryValue``."""
    model, rev = _safe(target.model), _safe(target.revision)
    metric = _safe(target.metric) if target.metric is not None else None
    if check.template is TemplateName.BUSINESS_RATE and metric is None:
        raise UnsafeQueryValue("the business-rate check needs the model's business metric")
    window, offset = max(int(window_seconds), 1), max(int(offset_seconds), 0)
    if provider in (ProviderKind.PROMETHEUS, ProviderKind.AZURE_PROMETHEUS):
        w = f"{window}s" + (f" offset {offset}s" if offset else "")
        return _promql(check.template, model, rev, metric, w)
    if provider is ProviderKind.LOG_ANALYTICS:
        span = (
            f"timestamp between (ago({window + offset}s) .. ago({offset}s))"
            if offset
            else f"timestamp > ago({window}s)"
        )
        return _kql(check.template, model, rev, metric, span)
    return _aml(check.template, _safe(target.deployment), f"{window}|{offset}")


def _promql(template: TemplateName, model: str, rev: str, metric: str | None, w: str) -> Queries:
    sel = f'model="{model}",revision="{rev}"'
    total = f"sum(rate(model_requests_total{{{sel}}}[{w}]))"
    samples = f"sum(increase(model_requests_total{{{sel}}}[{w}]))"
    if template is TemplateName.SUCCESS_RATE:
        ok = f'sum(rate(model_requests_total{{{sel},code!~"5.."}}[{w}]))'
        return Queries(f"100 * {ok} / {total}", samples)
    if template is TemplateName.P95_LATENCY:
        buckets = f"sum by (le) (rate(model_request_duration_seconds_bucket{{{sel}}}[{w}]))"
        return Queries(f"histogram_quantile(0.95, {buckets})", samples)
    if template is TemplateName.PREDICTION_DISCREPANCY:
        differ = f"sum(rate(model_prediction_discrepancies_total{{{sel}}}[{w}]))"
        return Queries(f"100 * {differ} / {total}", samples)
    return Queries(f"100 * sum(rate({metric}{{{sel}}}[{w}])) / {total}", samples)


def _kql(template: TemplateName, model: str, rev: str, metric: str | None, span: str) -> Queries:
    base = (
        f"requests | where {span} "
        f'| where cloud_RoleName == "{model}" and application_Version == "{rev}" '
    )
    samples = base + "| summarize value = todouble(count())"
    if template is TemplateName.SUCCESS_RATE:
        value = base + "| summarize value = 100.0 * countif(toint(resultCode) < 500) / count()"
    elif template is TemplateName.P95_LATENCY:
        value = base + "| summarize value = percentile(duration, 95) / 1000.0"
    elif template is TemplateName.PREDICTION_DISCREPANCY:
        value = (
            base + '| summarize value = 100.0 * countif(tostring(customDimensions["prediction'
            '_discrepant"]) == "true") / count()'
        )
    else:
        value = (
            base + f'| summarize value = 100.0 * countif(tostring(customDimensions["{metric}"]) '
            '== "true") / count()'
        )
    return Queries(value, samples)


def _aml(template: TemplateName, deployment: str, span: str) -> Queries:
    """``metric|aggregation|deployment|window|offset``: the AML metrics adapter's query form
    (``SuccessRate`` is computed from ``Errors`` and ``RequestsPerMinute``)."""
    samples = f"RequestsPerMinute|Total|{deployment}|{span}"
    if template is TemplateName.SUCCESS_RATE:
        return Queries(f"SuccessRate|Total|{deployment}|{span}", samples)
    if template is TemplateName.P95_LATENCY:
        return Queries(f"RequestLatency_P95|Average|{deployment}|{span}", samples)
    raise UnsafeQueryValue(f"Azure ML endpoint metrics have no {template.value} metric")
