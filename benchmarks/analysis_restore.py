"""Detection to restore: from the first failing measurement to the restore commit (GitOps).

    .venv/bin/python benchmarks/analysis_restore.py [--runs 5]

A private stack's Azurite, Debian's Prometheus (1 s scrapes), the model stand-in and the
westeurope registry (each release is a real image there: the deployer re-checks its signatures
before every step, as in Azure); the westeurope cell's own composition (Table Storage state and
lineage on Azurite, the GitOps driver committing to the region's repository, the Prometheus
provider), with bake times scaled down (a minute lasts a second). Each run rolls out a canary
whose candidate turns bad once the first canary step is out; the deployment messages are
delivered in order at their due time by this script (no host). Figures per run:

- measurement -> restore commit: the failing measurement (its queries) to the restore commit
  pushed and recorded (the target: <= 90 s);
- turned bad -> restore commit: from switching the candidate bad, which adds the wait for the
  next measurement and for the window's error share to cross the bound.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from figures import verdict  # noqa: E402

from shared.composition import Container  # noqa: E402
from shared.composition.deploy import deployment_deps  # noqa: E402
from shared.domain.deploy.request import DeploymentRequest  # noqa: E402
from shared.domain.lineage.record import ArtifactRef  # noqa: E402
from shared.domain.metadata.model import ModelMetadata  # noqa: E402
from shared.local.images import push_image  # noqa: E402
from shared.local.model_standin import write_control  # noqa: E402
from shared.local.samples import model_labels  # noqa: E402
from shared.local.stack import LocalStack, StackPorts  # noqa: E402
from shared.ports.messaging import OutboundMessage  # noqa: E402
from shared.services.deploy.rollouts import DeployOutcome, handle_deployment_request  # noqa: E402
from shared.settings import build_settings  # noqa: E402

TARGET_SECONDS = 90.0


@dataclass
class ListBus:
    """The deployment messages, delivered by this script at their due time."""

    sent: list[OutboundMessage] = field(default_factory=list)

    def send(self, queue: str, message: OutboundMessage) -> None:
        self.sent.append(message)


def request(stack: LocalStack, model: str, version: str) -> DeploymentRequest:
    metadata = ModelMetadata.model_validate(
        {
            "name": model,
            "version": version,
            "owner": "owner@contoso.example",
            "regions": ["westeurope"],
            "residency": "EU",
            "risk_tier": "high",
            "rollout": {"strategy": "canary", "steps": [10, 50, 100], "bake_minutes": 30},
            "serving": {
                "kind": "image",
                "port": 8080,
                "health_path": "/healthz",
                "resources": {"cpu": "500m", "memory": "1Gi"},
            },
        }
    )
    labels = model_labels(model, version, region="westeurope", zone="EU")
    client = stack.registry_client("westeurope")
    digest = push_image(client, f"models/{model}", labels, tag=version).digest
    return DeploymentRequest(
        approval_id=f"apr-bench-{model}-{version}",
        region="westeurope",
        artifact=ArtifactRef(
            kind="image",
            registry=stack.login_server("westeurope"),
            repository=f"models/{model}",
            digest=digest,
            tag=version,
        ),
        metadata=metadata,
        approved_by=("approver.one@contoso.example", "approver.two@contoso.example"),
        approved_at=datetime.now(UTC),
    )


def run_once(stack: LocalStack, container: Container, n: int) -> tuple[float, float]:
    deps = deployment_deps(container)
    bus = ListBus()
    deps.bus = bus
    model = f"bench-{n}-{int(time.time())}"
    write_control(stack.standin_control, {"1": "healthy", "2": "healthy"}, model=model)
    time.sleep(6)  # a full 5 s window of the live revision
    assert handle_deployment_request(request(stack, model, "1"), deps) is DeployOutcome.SUCCEEDED
    bus.sent.clear()
    assert handle_deployment_request(request(stack, model, "2"), deps) is DeployOutcome.STEPPED
    turned_bad = time.monotonic()
    write_control(stack.standin_control, {"1": "healthy", "2": "bad"}, model=model)
    while bus.sent:
        message = bus.sent.pop(0)
        due = message.scheduled_enqueue_time
        if due is not None:
            time.sleep(max((due - datetime.now(UTC)).total_seconds(), 0.0))
        measured = time.monotonic()
        outcome = handle_deployment_request(
            DeploymentRequest.model_validate_json(message.body), deps
        )
        if outcome is DeployOutcome.ROLLED_BACK:
            done = time.monotonic()
            return done - measured, done - turned_bad
        if outcome not in (DeployOutcome.ANALYSING, DeployOutcome.STEPPED):
            raise RuntimeError(f"unexpected outcome {outcome}")
    raise RuntimeError("the bad canary was not rolled back")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clearance-bench-") as root:
        stack = LocalStack(Path(root), REPO, ports=StackPorts.free(), registry_notifications=False)
        try:
            stack.write_config()
            for part in (
                "azurite",
                "smtp",
                "teams",
                "standin",
                "prometheus",
                "registry-westeurope",
            ):
                stack.start_part(part, timeout=60)
            container = Container(build_settings(stack.environment("westeurope")))
            figures = [run_once(stack, container, n) for n in range(args.runs)]
        finally:
            stack.down()
    restore = [f[0] for f in figures]
    overall = [f[1] for f in figures]
    print(f"runs                                : {len(figures)}")
    print(
        f"failing measurement -> restore commit: max {max(restore):6.2f} s  "
        f"median {sorted(restore)[len(restore) // 2]:6.2f} s  "
        f"{verdict(max(restore), '<=', TARGET_SECONDS, 's')}"
    )
    print(
        f"candidate turned bad -> restore      : max {max(overall):6.2f} s  "
        f"median {sorted(overall)[len(overall) // 2]:6.2f} s  (1 s interval, 5 s window locally)"
    )
    print("within target                       :", all(r <= TARGET_SECONDS for r in restore))


if __name__ == "__main__":
    main()
