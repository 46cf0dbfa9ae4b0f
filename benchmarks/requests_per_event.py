"""Round trips and host CPU per event kind, counted at the transport.

    .venv/bin/python benchmarks/requests_per_event.py [--repeat 3] [--json] [--trace] [--telemetry]

Every storage, queue, blob and registry request the handlers make goes through an azure-core
transport's ``send`` (``LeanTransport`` for tables and queues, ``RequestsTransport`` for blobs
and the registry; each storage request is also counted on the wire, and a difference fails the
run); every mail through ``smtplib.SMTP.sendmail``. This script wraps them in this
process, runs the cell's real handlers (the same code the Functions host calls) against a
private local stack (Azurite, TLS docker-registry, SMTP), one event at a time, and prints what
each event kind cost. Counts are deterministic; CPU is this process's ``time.process_time``
over the handler call (the host's CPU for that event).

``--telemetry`` runs every round twice, telemetry off and on (as the local hosts run it: a
span per invocation, one light span per storage/registry request, lineage-driven metrics,
JSONL export and the Prometheus endpoint), and prints host CPU per event for both and the
overhead. The span export is flushed inside each measured call, so its cost is counted (an
upper bound: the hosts export in batches). Target: at most 10 % more CPU per accepted event.

``--trace`` also prints every request of the last round, per event, as ``METHOD path``.
The counting lives in tests/support/request_counts.py, shared with the guard test
tests/integration/test_request_counts.py.

The first event of each kind is a warm-up (create-if-missing of tables and queues, client
construction) and is not reported.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from bench_stack import REPO
from figures import figure, met, verdict

from shared.local.stack import LocalStack, StackPorts
from tests.support.request_counts import TARGETS, Bench, Counting, Row

ACCEPTED = "new artifact, accepted"
CPU_TARGET_MS = 15.0  # host CPU per accepted event
TELEMETRY_OVERHEAD_PCT = 10.0  # more CPU per accepted event with telemetry on


def met_column(storage: int, target: int | None) -> str:
    """``met``/``missed`` against the storage-request target, blank without one."""
    if target is None:
        return ""
    return "met" if met(storage, "<=", target) else "missed"


def table(rows: list[dict[str, Any]]) -> str:
    head = f"{'event':36} {'table':>5} {'queue':>5} {'blob':>4} {'reg':>4} {'smtp':>4} {'sb*':>3}"
    head += f" {'storage':>7} {'target':>6} {'met':>6} {'total':>5} {'cpu ms':>7}"
    lines = [head, "-" * len(head)]
    for r in rows:
        mark = "" if r["stable"] else "  (varied between rounds)"
        target = TARGETS.get(r["event"])
        lines.append(
            f"{r['event']:36} {r['table']:5} {r['queue']:5} {r['blob']:4} {r['registry']:4}"
            f" {r['smtp']:4} {r['stand-in']:3} {r['storage']:7}"
            f" {'' if target is None else f'<= {target}':>6}"
            f" {met_column(r['storage'], target):>6} {r['total']:5} {r['cpu_ms']:7.1f}{mark}"
        )
    lines.append(
        "* sb: the local Service Bus stand-in's duplicate-detection row, one per message sent;"
        " Service Bus\n  detects duplicates itself, so a send is one request in Azure (the"
        " queue column) and sb is not storage"
    )
    return "\n".join(lines)


def target_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Each storage-request target, and host CPU per accepted event, on a line with its mark."""
    out = [
        figure(
            f"storage requests, {r['event']}",
            r["storage"],
            "",
            "<=",
            TARGETS[r["event"]],
            digits=0,
            width=52,
        )
        for r in rows
        if r["event"] in TARGETS
    ]
    accepted = next((r for r in rows if r["event"] == ACCEPTED), None)
    cpu = math.nan if accepted is None else accepted["cpu_ms"]
    out.append(figure("host CPU per accepted event", cpu, "ms", "<=", CPU_TARGET_MS, width=52))
    return out


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
        from shared.adapters.telemetry import runtime

        runtime.install(self.state if on else None)
        bench.telemetry = self.state if on else None


def measure(
    repeat: int, telemetry: bool = False, trace: bool = False
) -> dict[str, list[dict[str, Any]]]:
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
                # alternating, and in turn first, so drift and the growing lineage hit both
                # modes alike
                for mode in modes if i % 2 else modes[::-1]:
                    if switch is not None:
                        switch.set(bench, mode == "on")
                    bench.rows = rows[mode]
                    bench.one_round(i if mode == "off" else 1000 + i, report=True)
            if trace:
                for row in rows["off"].values():
                    print(f"\n{row.kind}:")
                    print("\n".join(f"  {line}" for line in row.sent[-1]))
                print()
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
    parser.add_argument("--trace", action="store_true", help="print each event's requests")
    parser.add_argument(
        "--telemetry", action="store_true", help="CPU per event with telemetry off and on"
    )
    args = parser.parse_args()
    results = measure(args.repeat, args.telemetry, args.trace)
    if args.json:
        doc: Any = results["off"]
        if args.telemetry:
            doc = {**results, "overhead": overhead(results)}
        print(json.dumps(doc, indent=2))
        return
    print(f"requests per event, one event at a time ({args.repeat} rounds after a warm-up)")
    print(table(results["off"]))
    print()
    print("\n".join(target_lines(results["off"])))
    if args.telemetry:
        print("\nwith telemetry (spans, metrics, JSONL export, Prometheus endpoint)")
        print(table(results["on"]))
        print(f"\n{'event':36} {'cpu off':>8} {'cpu on':>8} {'overhead':>9}")
        for event, off, on, pct in overhead(results):
            mark = ""
            if event == ACCEPTED:
                mark = "  " + verdict(pct, "<=", TELEMETRY_OVERHEAD_PCT, "%")
            print(f"{event:36} {off:8.1f} {on:8.1f} {pct:8.1f}%{mark}")


if __name__ == "__main__":
    main()
