"""Log Analytics (KQL) and Azure ML endpoint metrics through the real azure-monitor-query
clients, with the network replaced by recorded response shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from shared.adapters.metrics.aml_metrics import (
    AmlMetricsProvider,
    endpoint_resource,
    metrics_client,
)
from shared.adapters.metrics.log_analytics import LogAnalyticsProvider, logs_client
from shared.ports.metrics import ProviderUnreachable, QueryRefused
from tests.support.azure_transport import RecordedTransport, StaticCredential, unreachable

WORKSPACE = "11111111-2222-3333-4444-555555555555"
NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
RESOURCE = endpoint_resource("sub-1", "rg-westeurope", "mlw-westeurope", "churn-model")


def table(rows: list[list[Any]], column: str = "value") -> dict[str, Any]:
    return {
        "tables": [
            {"name": "PrimaryResult", "columns": [{"name": column, "type": "real"}], "rows": rows}
        ]
    }


def logs(answer: Any) -> tuple[LogAnalyticsProvider, RecordedTransport]:
    transport = RecordedTransport(answer)
    client = logs_client(StaticCredential(), transport=transport, retry_total=0)
    return LogAnalyticsProvider(client, WORKSPACE), transport


def test_kql_one_value_and_the_exact_query_sent() -> None:
    provider, transport = logs(lambda r: (200, table([[99.5]])))
    kql = "requests | where timestamp > ago(300s) | summarize value = 100.0 * countif(1) / count()"
    assert provider.run_query(kql) == 99.5
    sent = transport.requests[0]
    assert f"/workspaces/{WORKSPACE}/query" in sent.url
    assert json.loads(sent.content)["query"] == kql
    assert sent.headers["Authorization"] == "Bearer recorded-token"


def test_kql_empty_null_and_nan_are_no_data() -> None:
    for rows in ([], [[None]], [["NaN"]]):
        provider, _ = logs(lambda r, rows=rows: (200, table(rows)))
        assert provider.run_query("requests") is None


def test_kql_partial_results_are_not_evidence() -> None:
    doc = table([[99.5]]) | {
        "error": {"code": "PartialError", "message": "some shards timed out", "details": []}
    }
    provider, _ = logs(lambda r: (200, doc))
    with pytest.raises(ProviderUnreachable, match="partial"):
        provider.run_query("requests")


def test_kql_refusals_and_outages() -> None:
    bad = {"error": {"code": "BadArgumentError", "message": "Syntax error"}}
    provider, _ = logs(lambda r: (400, bad))
    with pytest.raises(QueryRefused):
        provider.run_query("requests |")
    provider, _ = logs(lambda r: (503, {"error": {"code": "ServiceUnavailable", "message": ""}}))
    with pytest.raises(ProviderUnreachable):
        provider.run_query("requests")
    provider, _ = logs(unreachable)
    with pytest.raises(ProviderUnreachable):
        provider.run_query("requests")
    assert not provider.is_online()


def test_kql_a_query_with_the_wrong_shape_is_refused() -> None:
    provider, _ = logs(lambda r: (200, table([[1.0], [2.0]])))
    with pytest.raises(QueryRefused):
        provider.run_query("requests")
    provider, _ = logs(lambda r: (200, table([[1.0]], column="count_")))
    with pytest.raises(QueryRefused):
        provider.run_query("requests")


def metric_doc(name: str, aggregation: str, values: list[float | None]) -> dict[str, Any]:
    data = [
        {"timeStamp": f"2026-12-02T05:5{i}:00Z", **({aggregation: v} if v is not None else {})}
        for i, v in enumerate(values)
    ]
    return {
        "cost": 0,
        "timespan": "2026-12-02T05:55:00Z/2026-12-02T06:00:00Z",
        "interval": "PT1M",
        "value": [
            {
                "id": f"{RESOURCE}/providers/Microsoft.Insights/metrics/{name}",
                "type": "Microsoft.Insights/metrics",
                "name": {"value": name, "localizedValue": name},
                "displayDescription": "",
                "unit": "Count",
                "timeseries": [
                    {
                        "metadatavalues": [
                            {
                                "name": {"value": "deployment", "localizedValue": "deployment"},
                                "value": "green",
                            }
                        ],
                        "data": data,
                    }
                ],
                "errorCode": "Success",
            }
        ],
        "namespace": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
        "resourceregion": "westeurope",
    }


def aml(answer: Any) -> tuple[AmlMetricsProvider, RecordedTransport]:
    transport = RecordedTransport(answer)
    client = metrics_client(StaticCredential(), transport=transport, retry_total=0)
    return AmlMetricsProvider(client, RESOURCE, clock=lambda: NOW), transport


def _params(request: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(request.url).query).items()}


def test_latency_is_the_mean_of_the_minutes_for_one_deployment() -> None:
    provider, transport = aml(
        lambda r: (200, metric_doc("RequestLatency_P95", "average", [100.0, 140.0, None]))
    )
    assert provider.run_query("RequestLatency_P95|Average|green|300|0") == 120.0
    params = _params(transport.requests[0])
    assert params["metricnames"] == "RequestLatency_P95"
    assert params["$filter"] == "deployment eq 'green'"
    assert params["timespan"].startswith("2026-12-02T05:55:00")


def test_success_rate_from_requests_split_by_status_class() -> None:
    def answer(request: Any) -> tuple[int, Any]:
        if "5xx" in _params(request)["$filter"]:
            return 200, metric_doc("RequestsPerMinute", "total", [1.0, 1.0])
        return 200, metric_doc("RequestsPerMinute", "total", [100.0, 100.0])

    provider, _ = aml(answer)
    assert provider.run_query("SuccessRate|Total|green|300|0") == 99.0
    provider, _ = aml(lambda r: (200, metric_doc("RequestsPerMinute", "total", [])))
    assert provider.run_query("SuccessRate|Total|green|300|0") is None


def test_the_offset_moves_the_window_back() -> None:
    provider, transport = aml(lambda r: (200, metric_doc("RequestsPerMinute", "total", [5.0])))
    assert provider.run_query("RequestsPerMinute|Total|blue|300|600") == 5.0
    assert _params(transport.requests[0])["timespan"].startswith("2026-12-02T05:45:00")


@pytest.mark.parametrize(
    "query",
    [
        "RequestLatency_P95|Average|green' or deployment eq 'blue|300|0",
        "CpuUtilizationPercentage|Average|green|300|0",
        "RequestLatency_P95|Average|green|300",
        "",
    ],
)
def test_anything_but_the_template_form_is_refused_before_a_request(query: str) -> None:
    provider, transport = aml(lambda r: (200, {}))
    with pytest.raises(QueryRefused):
        provider.run_query(query)
    assert transport.requests == []


def test_metrics_outages() -> None:
    provider, _ = aml(unreachable)
    with pytest.raises(ProviderUnreachable):
        provider.run_query("RequestsPerMinute|Total|blue|300|0")
    assert not provider.is_online()
    provider, _ = aml(lambda r: (429, {"error": {"code": "TooManyRequests", "message": "slow"}}))
    with pytest.raises(ProviderUnreachable):
        provider.run_query("RequestsPerMinute|Total|blue|300|0")
