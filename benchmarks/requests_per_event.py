"""Round trips and host CPU per event kind, counted at the transport.

    .venv/bin/python benchmarks/requests_per_event.py [--repeat 3] [--json] [--telemetry]

Every storage, queue, blob and registry request the handlers make goes through azure-core's
``RequestsTransport.send``; every mail through ``smtplib.SMTP.send_message``. This script
wraps both in this process, runs the cell's real handlers (the same code the Functions host
calls) against a private local stack (Azurite, TLS docker-registry, SMTP), one event at a
time, and prints what each event kind cost. Counts are deterministic; CPU is this process's
``time.process_time`` over the handler call (the host's CPU for that event).

``--telemetry`` runs every round twice, telemetry off then on (as the local hosts run it: a
span per invocation, azure-core's span per request, lineage-driven metrics, JSONL export and
the Prometheus endpoint), and prints host CPU per event for both and the overhead. The span
export is flushed inside each measured call, so its cost is counted (an upper bound: the hosts
export in batches). Target: at most 10 % more CPU per accepted event.

The first event of each kind is a warm-up (create-if-missing of tables and queues, client
construction) and is not reported.
"""

from __future__ import annotations

import argparse
import json
import smtplib
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from bench_stack import REPO, labels

from shared.local.stack import SAMPLE_APPROVERS, LocalStack, StackPorts

REGION = "westeurope"
ZONE = "EU"
KINDS = ("table", "queue", "blob", "registry", "smtp", "other")
# Storage requests (table + queue + blob) per event: the targets of the hot-path issue.
TARGETS = {
    "new artifact, accepted": 7,
    "approval consumer": 8,
    "exact redelivery (same event id)": 2,
    "duplicate (new id)": 2,
    "re-tag of a known digest": 3,
    "rejected": 5,
    "deciding vote": 10,
}


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str) -> None:
        with self.lock:
            self.counts[kind] += 1


class Counting:
    """Wraps the transports once; ``measure`` collects what one call sends."""

    def __init__(self, stack: LocalStack) -> None:
        ports = stack.ports
        self._by_port = {
            ports.table: "table",
            ports.queue: "queue",
            ports.blob: "blob",
            **{p: "registry" for p in ports.registry.values()},
        }
        self._tally: Tally | None = None
        self._install()

    def _install(self) -> None:
        from azure.core.pipeline.transport import RequestsTransport

        counting = self
        original_send = RequestsTransport.send

        def send(transport: Any, request: Any, **kwargs: Any) -> Any:
            counting._count(counting._by_port.get(urlsplit(request.url).port or 0, "other"))
            return original_send(transport, request, **kwargs)

        RequestsTransport.send = send  # type: ignore[method-assign]
        original_mail = smtplib.SMTP.send_message

        def send_message(smtp: Any, *args: Any, **kwargs: Any) -> Any:
            counting._count("smtp")
            return original_mail(smtp, *args, **kwargs)

        smtplib.SMTP.send_message = send_message  # type: ignore[method-assign]

    def _count(self, kind: str) -> None:
        if self._tally is not None:
            self._tally.add(kind)

    @contextmanager
    def measure(self) -> Iterator[Tally]:
        tally = Tally()
        self._tally = tally
        try:
            yield tally
        finally:
            self._tally = None


@dataclass
class Row:
    kind: str
    counts: list[Counter[str]] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        last = self.counts[-1]
        stable = all(c == last for c in self.counts)
        storage = sum(last[k] for k in ("table", "queue", "blob"))
        return {
            "event": self.kind,
            **{k: last[k] for k in KINDS},
            "storage": storage,
            "total": sum(last.values()),
            "stable": stable,
            "cpu_ms": statistics.median(self.cpu_ms),
        }


def binding(event: dict[str, Any]) -> Any:
    import azure.functions as func

    return func.EventGridEvent(
        id=event["id"],
        data=event["data"],
        topic=event.get("topic", ""),
        subject=event["subject"],
        event_type=event["eventType"],
        event_time=datetime.fromisoformat(event["eventTime"]),
        data_version=event.get("dataVersion", "1.0"),
    )


class Bench:
    def __init__(self, stack: LocalStack, counting: Counting) -> None:
        from shared.composition import Container
        from shared.settings import build_settings

        self.stack = stack
        self.counting = counting
        self.container = Container(build_settings(stack.environment(REGION)))
        self.registry = stack.registry_client(REGION)
        self.rows: dict[str, Row] = {}
        self.telemetry: Any = None  # the configured telemetry while a round runs with it

    def run(self, kind: str, call: Callable[[], Any], *, report: bool, bound: Any = None) -> Any:
        if self.telemetry is not None:
            from shared.adapters.telemetry.spans import traced_trigger

            inner = call
            traced = traced_trigger(FUNCTIONS.get(kind, "bench"))(lambda binding: inner())

            def call() -> Any:
                out = traced(binding=bound)
                self.telemetry.flush_spans()
                return out

        with self.counting.measure() as tally:
            start = time.process_time()
            result = call()
            cpu = (time.process_time() - start) * 1000
        if report:
            row = self.rows.setdefault(kind, Row(kind))
            row.counts.append(Counter(tally.counts))
            row.cpu_ms.append(cpu)
        return result

    def push(self, name: str, tag: str, *, bad: bool = False) -> tuple[str, str]:
        from shared.local.images import push_image

        values = labels(name, "1.0.0", REGION, ZONE)
        if bad:
            values["ai.clearance.serving.port"] = "80"
        pushed = push_image(self.registry, f"models/{name}", values, tag=tag)
        return f"models/{name}", pushed.digest

    def intake(self, event: dict[str, Any]) -> Any:
        from shared.services.intake.handlers import handle_binding, handle_image_pushed

        return handle_binding(binding(event), handle_image_pushed, self.container.intake())

    def take_approval_request(self) -> Any:
        """The approval-requests message the accepted event sent, read off the local queue."""
        from shared.adapters.storage.queue_envelope import QueueEnvelope
        from shared.domain.approval.request import ApprovalRequest
        from shared.queues import APPROVAL_REQUESTS

        queue = self.container.queue_service.get_queue_client(APPROVAL_REQUESTS)
        message = next(iter(queue.receive_messages(messages_per_page=1, visibility_timeout=60)))
        queue.delete_message(message)
        return ApprovalRequest.model_validate_json(QueueEnvelope.decode(message.content).body)

    def vote(self, approval_id: str, approver: str) -> Any:
        from shared.services.approval import review

        deps = self.container.approvals()
        token = deps.signer.sign(approval_id, approver, datetime.now(UTC) + timedelta(hours=1))
        form = {"t": token, "csrf": deps.signer.csrf_token(token), "decision": "approve"}
        return review.decide(approval_id, form, None, deps)

    def one_round(self, i: int, *, report: bool) -> None:
        from shared.local.events import image_pushed
        from shared.services.approval.requests import open_request

        name = f"rt-{i:03d}"
        repository, digest = self.push(name, "1.0.0")
        event = image_pushed(self.stack, REGION, repository, digest, "1.0.0")
        self.run(
            "new artifact, accepted",
            lambda: self.intake(event),
            report=report,
            bound=binding(event),
        )
        request = self.take_approval_request()
        deps = self.container.approvals()
        approval = self.run("approval consumer", lambda: open_request(request, deps), report=report)
        self.run("exact redelivery (same event id)", lambda: self.intake(event), report=report)
        twin = image_pushed(self.stack, REGION, repository, digest, "1.0.0")
        self.run("duplicate (new id)", lambda: self.intake(twin), report=report)
        retag = image_pushed(self.stack, REGION, repository, digest, "stable")
        self.run("re-tag of a known digest", lambda: self.intake(retag), report=report)
        bad_repository, bad_digest = self.push(f"{name}-bad", "1.0.0", bad=True)
        rejected = image_pushed(self.stack, REGION, bad_repository, bad_digest, "1.0.0")
        self.run("rejected", lambda: self.intake(rejected), report=report)
        first, second = SAMPLE_APPROVERS[:2]
        self.run("first vote", lambda: self.vote(approval.approval_id, first), report=report)
        self.run("deciding vote", lambda: self.vote(approval.approval_id, second), report=report)
        # the signed checkpoint the decision asked for, signed off the vote's request path
        checkpoint = self.container.decision_checkpoints.flush
        self.run("checkpoint after a decision (async)", checkpoint, report=report)


def table(rows: list[dict[str, Any]]) -> str:
    head = f"{'event':36} {'table':>5} {'queue':>5} {'blob':>4} {'reg':>4} {'smtp':>4}"
    head += f" {'storage':>7} {'target':>6} {'total':>5} {'cpu ms':>7}"
    lines = [head, "-" * len(head)]
    for r in rows:
        mark = "" if r["stable"] else "  (varied between rounds)"
        lines.append(
            f"{r['event']:36} {r['table']:5} {r['queue']:5} {r['blob']:4} {r['registry']:4}"
            f" {r['smtp']:4} {r['storage']:7} {TARGETS.get(r['event'], ''):>6}"
            f" {r['total']:5} {r['cpu_ms']:7.1f}{mark}"
        )
    return "\n".join(lines)


FUNCTIONS = {
    "new artifact, accepted": "acr_image_pushed",
    "exact redelivery (same event id)": "acr_image_pushed",
    "duplicate (new id)": "acr_image_pushed",
    "re-tag of a known digest": "acr_image_pushed",
    "rejected": "acr_image_pushed",
    "approval consumer": "approval_requests",
    "first vote": "approval_review_decide",
    "deciding vote": "approval_review_decide",
}


class Switch:
    """Telemetry on or off in this process, between rounds."""

    def __init__(self, folder: Any) -> None:
        import os

        from shared.adapters.telemetry import runtime

        os.environ["CLEARANCE_TELEMETRY_DIR"] = str(folder)
        runtime.reset_for_tests()
        self.state = runtime.telemetry()
        assert self.state is not None, "telemetry did not configure"
        from opentelemetry import trace

        provider = trace.get_tracer_provider()
        self.state.flush_spans = provider.force_flush  # type: ignore[attr-defined]

    def set(self, bench: Bench, on: bool) -> None:
        from azure.core.settings import settings

        from shared.adapters.telemetry import runtime

        runtime.install(self.state if on else None)
        settings.tracing_implementation = "opentelemetry" if on else None
        settings.tracing_enabled = on
        bench.telemetry = self.state if on else None


def measure(repeat: int, telemetry: bool = False) -> dict[str, list[dict[str, Any]]]:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="clearance-rt-") as root:
        stack = LocalStack(Path(root), REPO, ports=StackPorts.free())
        try:
            stack.up(timeout=180, hosts=False)  # the handlers run here, in this process
            bench = Bench(stack, Counting(stack))
            switch = Switch(Path(root) / "telemetry") if telemetry else None
            rows: dict[str, dict[str, Row]] = {"off": {}, "on": {}}
            modes = ("off", "on") if telemetry else ("off",)
            for mode in modes:  # a warm-up round in each mode
                if switch is not None:
                    switch.set(bench, mode == "on")
                bench.rows = rows[mode]
                bench.one_round(0 if mode == "off" else 1000, report=False)
            for i in range(1, repeat + 1):
                # alternating, and in turn first, so drift and the growing lineage (each
                # deciding vote checkpoints every chain so far) hit both modes alike
                for mode in modes if i % 2 else modes[::-1]:
                    if switch is not None:
                        switch.set(bench, mode == "on")
                    bench.rows = rows[mode]
                    bench.one_round(i if mode == "off" else 1000 + i, report=True)
            return {m: [row.summary() for row in rows[m].values()] for m in modes}
        finally:
            stack.down()


def overhead(results: dict[str, list[dict[str, Any]]]) -> list[tuple[str, float, float, float]]:
    on = {r["event"]: r for r in results["on"]}
    out = []
    for r in results["off"]:
        traced = on[r["event"]]
        out.append(
            (r["event"], r["cpu_ms"], traced["cpu_ms"], 100 * (traced["cpu_ms"] / r["cpu_ms"] - 1))
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--telemetry", action="store_true", help="CPU per event with telemetry off and on"
    )
    args = parser.parse_args()
    results = measure(args.repeat, args.telemetry)
    if args.json:
        doc: Any = results["off"] if not args.telemetry else results
        if args.telemetry:
            doc = {**results, "overhead": overhead(results)}
        print(json.dumps(doc, indent=2))
        return
    print(f"requests per event, one event at a time ({args.repeat} rounds after a warm-up)")
    print(table(results["off"]))
    if args.telemetry:
        print("\nwith telemetry (spans, metrics, JSONL export, Prometheus endpoint)")
        print(table(results["on"]))
        print(f"\n{'event':36} {'cpu off':>8} {'cpu on':>8} {'overhead':>9}")
        for event, off, on, pct in overhead(results):
            print(f"{event:36} {off:8.1f} {on:8.1f} {pct:8.1f}%")


if __name__ == "__main__":
    main()
