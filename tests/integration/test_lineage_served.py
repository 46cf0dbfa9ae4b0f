"""`clearance lineage served MODEL --at TIME` and the API's ``served`` view, on real storage:
a canary run by the deployer (metrics faked) writes the records the answers are replayed from."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from shared.cli import lineage as cli
from shared.composition import Container
from shared.domain.analysis.checks import AnalysisSettings
from shared.domain.lineage.record import LineageRecord, RecordKind
from shared.local.stack import LocalStack
from shared.services.deploy.analysis import AnalysisDeps
from shared.services.deploy.rollouts import DeployOutcome
from tests.integration.lineage_support import writer
from tests.integration.test_lineage_audit import api
from tests.support import deploy_samples as s
from tests.support.deploy_fakes import FakeClock
from tests.support.deploy_world import World
from tests.support.metrics_fakes import FakeMetrics

pytestmark = pytest.mark.stack
MODEL = f"served-{uuid.uuid4().hex[:8]}"
START = datetime.fromisoformat("2026-06-20T08:00:00+00:00")  # a day no other test writes
Cells = Callable[[str], Container]


@pytest.fixture(scope="module")
def story(cell_container: Cells) -> list[LineageRecord]:
    """v1 promoted; v2 canaried 10/50 and promoted; v3 canaried at 10 %, failed, restored."""
    cell = cell_container("westeurope")
    entry = s.cell(None, deployer="kubernetes").model_copy(
        update={"analysis": AnalysisSettings(provider="prometheus", endpoint="http://x")}
    )
    metrics = FakeMetrics()
    world = World(entry, clock=FakeClock(START))
    store = writer(cell)

    class Tee:
        def append(self, record: LineageRecord, *, idempotency_key: str | None = None) -> bool:
            world.lineage.append(record, idempotency_key=idempotency_key)
            return store.append(record, idempotency_key=idempotency_key)

    world.deps.lineage = Tee()
    world.deps.analysis = AnalysisDeps(provider_for=lambda plan: metrics, sleep=lambda _: None)

    def release(version: str) -> Any:
        md = s.image_metadata("canary", version, name=MODEL)
        return s.image_request(world.cell, md)

    assert world.run(release("1"))[-1] is DeployOutcome.SUCCEEDED
    world.clock.advance(3600)
    assert world.run(release("2"))[-1] is DeployOutcome.SUCCEEDED
    world.clock.advance(3600)
    metrics.series("3").success = 90.0
    assert world.run(release("3"))[-1] is DeployOutcome.ROLLED_BACK
    return world.lineage.records


def _at(records: list[LineageRecord], kind: RecordKind, version: str, step: str = "") -> datetime:
    for r in records:
        if r.kind is kind and r.artifact.tag == version and r.details.get("step", "") == step:
            return r.at + timedelta(seconds=30)
    raise AssertionError(f"no {kind} {version} {step}")


def cli_served(stack: LocalStack, at: datetime) -> list[dict[str, Any]]:
    args = ["served", MODEL, "--at", at.isoformat(), "--region", "westeurope", "--format", "json"]
    result = CliRunner().invoke(cli.app, [*args, "--root", str(stack.root)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert len(doc) == 1 and doc[0]["region"] == "westeurope"
    return [(r["version"], r["weight"], r["role"]) for r in doc[0]["revisions"]]


def test_which_version_served_when(story: list[LineageRecord], stack: LocalStack) -> None:
    started, succeeded = RecordKind.DEPLOYMENT_STARTED, RecordKind.DEPLOYMENT_SUCCEEDED
    assert cli_served(stack, START - timedelta(minutes=1)) == []
    assert cli_served(stack, _at(story, succeeded, "1")) == [("1", 100, "stable")]
    assert cli_served(stack, _at(story, started, "2", "canary-10")) == [
        ("1", 90, "stable"),
        ("2", 10, "canary"),
    ]
    assert cli_served(stack, _at(story, started, "2", "canary-50")) == [
        ("1", 50, "stable"),
        ("2", 50, "canary"),
    ]
    assert cli_served(stack, _at(story, succeeded, "2")) == [("2", 100, "stable")]
    assert cli_served(stack, _at(story, started, "3", "canary-10")) == [
        ("2", 90, "stable"),
        ("3", 10, "canary"),
    ]
    assert cli_served(stack, _at(story, RecordKind.DEPLOYMENT_ROLLED_BACK, "3", "canary-50")) == [
        ("2", 100, "stable")
    ]


def test_the_api_answers_the_same_and_refuses_bad_questions(
    story: list[LineageRecord],
    cell_container: Cells,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    west = cell_container("westeurope")
    when = _at(story, RecordKind.DEPLOYMENT_STARTED, "3", "canary-10")
    status, body, _ = api(monkeypatch, west, "served", model=MODEL, at=when.isoformat())
    assert status == 200, body
    doc = json.loads(body)
    assert [(r["version"], r["weight"]) for r in doc["revisions"]] == [("2", 90), ("3", 10)]
    assert all("#" in r["evidence"] for r in doc["revisions"])
    for params in ({"model": MODEL}, {"model": MODEL, "at": "yesterday"}, {"at": when.isoformat()}):
        status, body, _ = api(monkeypatch, west, "served", **params)
        assert status == 400, body
    status, _, _ = api(
        monkeypatch, west, "served", model=MODEL, at=when.isoformat(), region="swedencentral"
    )
    assert status == 404
