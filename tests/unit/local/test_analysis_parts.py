"""The local stack's analysis parts: Prometheus' config, the stand-in's series and switch."""

from __future__ import annotations

import json
from pathlib import Path

from shared.local.model_standin import StandIn, write_control
from shared.local.stack import REGIONS, LocalStack, StackPorts

REPO = Path(__file__).resolve().parents[3]


def test_write_config_sets_up_prometheus_and_every_regions_repository(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path, REPO, ports=StackPorts.free())
    stack.write_config()
    for region in REGIONS:
        assert (stack.gitops_repo(region) / "HEAD").exists()
    config = json.loads((tmp_path / "prometheus.yml").read_text())
    assert config["global"]["scrape_interval"] == "1s"
    assert config["scrape_configs"][0]["static_configs"][0]["targets"] == [
        f"127.0.0.1:{stack.ports.standin}"
    ]
    catalog = json.loads(stack.catalog_file.read_text())
    assert {r["analysis"]["endpoint"] for r in catalog["regions"]} == {stack.prometheus_url}
    values = stack.local_settings("westeurope")["Values"]
    assert abs(float(values["CLEARANCE_DEPLOY_TIME_SCALE"]) - 1 / 60) < 1e-6
    assert {"standin", "prometheus"} <= set(stack.infra_parts())


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _value(text: str, prefix: str) -> float:
    line = next(x for x in text.splitlines() if x.startswith(prefix))
    return float(line.rsplit(" ", 1)[1])


def test_the_standin_grows_counters_per_revision_and_switches_on_the_file(tmp_path: Path) -> None:
    control, clock = tmp_path / "standin.json", Clock()
    standin = StandIn(control, clock=clock)
    assert "model_requests_total{" not in standin.render()  # no control file yet
    write_control(control, {"1": "healthy", "2": "bad"})
    standin.render()
    clock.t = 10.0
    text = standin.render()
    ok = 'model_requests_total{model="fraud-detector",revision="1",code="500"}'
    bad = 'model_requests_total{model="fraud-detector",revision="2",code="500"}'
    assert _value(text, ok) < _value(text, bad)
    write_control(control, {"1": "healthy", "2": "healthy"})
    clock.t = 20.0
    later = standin.render()
    assert _value(later, bad) >= _value(text, bad)  # counters never go down
    control.write_text("{not json")
    assert "model_requests_total{" not in standin.render()  # a broken switch serves nothing
