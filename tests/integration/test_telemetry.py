"""Clearance's own telemetry on the local stack: one artifact's journey is one trace, the
metrics reach the local Prometheus under their documented names, and hostile trace context in
a message changes nothing about its processing."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from typing import Any

import pytest
from typer.testing import CliRunner

from shared.adapters.storage.queue_envelope import QueueEnvelope
from shared.adapters.telemetry.jsonl import read_spans, trace_of
from shared.cli.main import app
from shared.composition import Container
from shared.local.stack import REGIONS, SAMPLE_APPROVERS, LocalStack
from shared.queues import ALL_QUEUES, DEPLOYMENT_REQUESTS, dead_letter_queue
from tests.conftest import wait_for
from tests.integration.approval_flow import Flow, deployments, vote

pytestmark = [pytest.mark.stack, pytest.mark.slow]
ONE, TWO = SAMPLE_APPROVERS
STEPS = (
    "acr_image_pushed",
    "approval_requests",
    "approval_review_show",
    "approval_review_decide",
    "deployment_requests",
)


def spans(stack: LocalStack) -> list[dict[str, Any]]:
    return list(read_spans([stack.telemetry_dir(r) for r in REGIONS]))


def prometheus(stack: LocalStack, query: str) -> list[dict[str, Any]]:
    url = f"{stack.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=10) as answer:
        doc = json.load(answer)
    assert doc["status"] == "success", doc
    return list(doc["data"]["result"])


@pytest.fixture(scope="module")
def journey(hosts: LocalStack, cell: Container) -> Flow:
    flow = Flow(hosts, cell, "traced-ranker", "1.0.0")
    flow.wait_open()
    assert vote(flow, ONE)[0] == 200
    assert vote(flow, TWO)[0] == 200
    deployments(flow)
    return flow


def test_one_artifact_is_one_trace_with_every_step_and_its_ids(
    hosts: LocalStack, journey: Flow
) -> None:
    key = journey.artifact.model_copy(update={"tag": None}).key

    def complete() -> list[dict[str, Any]]:
        found = trace_of(spans(hosts), key)
        names = {s["attributes"].get("faas.name") for s in found}
        return found if set(STEPS) <= names else []

    found = wait_for(complete, timeout=30)
    steps = [s for s in found if s["attributes"].get("faas.name") in STEPS]
    assert len({s["trace_id"] for s in steps}) == 1, {s["trace_id"] for s in steps}
    by_name = {s["attributes"]["faas.name"]: s for s in steps}
    intake = by_name["acr_image_pushed"]
    assert intake["parent_id"] is None  # the trace starts at the Event Grid delivery
    assert intake["attributes"]["clearance.event_id"]
    assert all(s["parent_id"] for n, s in by_name.items() if n != "acr_image_pushed")
    decide = by_name["approval_review_decide"]
    assert decide["attributes"]["clearance.approval_id"] == journey.approval_id
    deploys = [s for s in steps if s["attributes"]["faas.name"] == "deployment_requests"]
    assert any(s["attributes"].get("clearance.deployment_id") for s in deploys)
    keyed = [s for s in steps if s["attributes"].get("clearance.artifact_key") == key]
    assert {s["attributes"]["faas.name"] for s in keyed} >= {"acr_image_pushed", *STEPS[1:]}
    # adapter calls are children in the same trace: azure-core requests, SMTP, git
    inner = {s["name"] for s in found if not s["attributes"].get("faas.name")}
    assert any(n.startswith(("TableClient", "QueueClient", "BlobClient")) for n in inner), inner
    assert {"smtp.send", "git.replace"} <= inner, inner

    # the CLI shows the same trace from any of its ids
    runner = CliRunner()
    result = runner.invoke(app, ["trace", journey.approval_id, "--root", str(hosts.root), "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)["spans"]
    assert {s["trace_id"] for s in shown if s["attributes"].get("faas.name") in STEPS} == {
        intake["trace_id"]
    }
    tree = runner.invoke(
        app, ["trace", intake["attributes"]["clearance.event_id"], "--root", str(hosts.root)]
    )
    assert tree.exit_code == 0 and "approval_review_decide" in tree.output


def test_metrics_reach_the_local_prometheus_under_their_names(
    hosts: LocalStack, journey: Flow
) -> None:
    def scraped(query: str) -> list[dict[str, Any]]:
        return wait_for(lambda: prometheus(hosts, query), timeout=45)

    accepted = scraped('sum(clearance_events_total{type="image_pushed",outcome="accepted"})')
    assert float(accepted[0]["value"][1]) >= 1
    assert scraped('sum(clearance_approvals_decisions_total{outcome="approved"})')
    assert scraped("sum(clearance_rollouts_total) by (strategy, outcome)")
    assert scraped("sum(clearance_intake_approval_request_latency_seconds_count)")
    assert scraped("sum(clearance_approvals_time_to_decision_seconds_count)")
    assert scraped("sum(clearance_invocations_total) by (function)")
    # the cell_status timer's gauges (worker 0 runs timers; max() over the workers)
    assert scraped("max(clearance_approvals_pending)")
    assert scraped("max(clearance_approvals_oldest_pending_age_seconds)")
    assert scraped("max(clearance_approvals_overdue)")
    assert scraped("max(clearance_rollouts_stuck)")
    depth = scraped("max(clearance_dead_letters_depth) by (queue)")
    assert {d["metric"]["queue"] for d in depth} == set(ALL_QUEUES)
    age = scraped('max(clearance_lineage_checkpoint_age_seconds{region="westeurope"})')
    assert 0 <= float(age[0]["value"][1]) < 600

    # several worker processes: each is its own target, summed by the queries. ``up`` is the
    # last scrape's outcome (a scrape times out after its 1 s interval), so wait until every
    # target answered its latest; a target that never answers (such as a dead worker's
    # leftover target file) still fails here
    def all_up() -> list[dict[str, Any]]:
        targets = prometheus(hosts, 'up{job="clearance"}')
        return targets if targets and all(t["value"][1] == "1" for t in targets) else []

    assert len(wait_for(all_up, timeout=45)) >= 1
    # bounded labels: nothing a pusher writes (tags, digests, repositories) is a label value
    series = prometheus(hosts, '{__name__=~"clearance_.*"}')
    values = {v for s in series for k, v in s["metric"].items() if k != "__name__"}
    assert not any(journey.pushed.digest in v or "traced-ranker" in v for v in values), values


@pytest.mark.parametrize(
    "traceparent",
    [
        "x" * 20_000,  # huge (a storage queue message is at most 64 KiB)
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  # forbidden version
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",  # zero trace id
        "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",  # upper case
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",  # v00 with more
        "\u0660" * 55,  # digits that are not ASCII
    ],
)
def test_hostile_traceparent_does_not_change_processing(
    hosts: LocalStack, cell: Container, traceparent: str
) -> None:
    """An unreadable deployment request with a hostile traceparent is recorded and completed
    exactly as without one: never retried, never dead-lettered."""
    message_id = f"hostile-{abs(hash(traceparent)) % 10**8}-{time.monotonic_ns()}"
    envelope = QueueEnvelope(
        message_id=message_id,
        body=b'{"not": "a deployment request"}',
        content_type="application/json",
        enqueued_time_utc=datetime.now(UTC),
        application_properties={"traceparent": traceparent, "Diagnostic-Id": traceparent},
    )
    queue = cell.queue_service.get_queue_client(DEPLOYMENT_REQUESTS)
    queue.send_message(envelope.encode())

    def handled() -> list[dict[str, Any]]:
        return [
            s for s in spans(hosts) if s["attributes"].get("messaging.message_id") == message_id
        ]

    span = wait_for(handled, timeout=30)[0]
    assert span["status"] != "error"
    assert span["parent_id"] is None  # a trace of its own, not the forged one
    assert not span["trace_id"].startswith("0af7651916cd43dd")
    dlq = cell.queue_service.get_queue_client(dead_letter_queue(DEPLOYMENT_REQUESTS))
    assert all(message_id not in m.content for m in dlq.peek_messages(max_messages=32))


def test_status_summarises_each_cell(hosts: LocalStack, journey: Flow) -> None:
    pending = Flow(hosts, journey.cell, "waiting-ranker", "1.0.0")
    pending.wait_open()
    result = CliRunner().invoke(app, ["status", "--root", str(hosts.root), "--json"])
    assert result.exit_code == 0, result.output
    cells = {c["region"]: c for c in json.loads(result.output)}
    assert set(cells) == set(REGIONS)
    weu = cells["westeurope"]
    assert weu["pending"] >= 1 and weu["overdue"] == []
    assert ["traced-ranker", "1.0.0"] in weu["live"]
    assert weu["stuck"] == []
    assert set(weu["dead_letters"]) == set(ALL_QUEUES)
    assert weu["checkpoint_age_seconds"] is not None
    table = CliRunner().invoke(app, ["status", "--root", str(hosts.root), "--region", "nowhere"])
    assert table.exit_code != 0
