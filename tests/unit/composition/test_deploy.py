"""The deployment wiring: waits per step stay below the Functions ``functionTimeout``."""

from __future__ import annotations

import json
from pathlib import Path

from shared.composition.deploy import REPO, step_budget


def function_timeout(host_json: Path) -> float:
    hours, minutes, seconds = json.loads(host_json.read_text())["functionTimeout"].split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def test_a_step_waits_less_than_the_function_may_run() -> None:
    host = REPO / "host.json"
    budget = step_budget(host)
    assert 60 <= budget <= function_timeout(host) - 120


def test_the_budget_follows_host_json_and_survives_a_broken_one(tmp_path: Path) -> None:
    host = tmp_path / "host.json"
    host.write_text(json.dumps({"functionTimeout": "00:05:00"}))
    assert step_budget.__wrapped__(host) == 120.0
    host.write_text("{not json")
    assert step_budget.__wrapped__(host) == 420.0
    host.write_text(json.dumps({"functionTimeout": "00:01:00"}))
    assert step_budget.__wrapped__(host) == 60.0  # never under a minute
