"""Round trips and host CPU per event kind, counted at the transport.

    .venv/bin/python benchmarks/requests_per_event.py [--repeat 3] [--json] [--trace]

Every storage, queue, blob and registry request the handlers make goes through azure-core's
``RequestsTransport.send``; every mail through ``smtplib.SMTP.send_message``. This script
wraps both in this process, runs the cell's real handlers (the same code the Functions host
calls) against a private local stack (Azurite, TLS docker-registry, SMTP), one event at a
time, and prints what each event kind cost. Counts are deterministic; CPU is this process's
``time.process_time`` over the handler call (the host's CPU for that event).

``--trace`` also prints every request of the last round, per event, as ``METHOD path``.
The counting lives in tests/support/request_counts.py, shared with the guard test
tests/integration/test_request_counts.py.

The first event of each kind is a warm-up (create-if-missing of tables and queues, client
construction) and is not reported.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bench_stack import REPO

from shared.local.stack import LocalStack, StackPorts
from tests.support.request_counts import TARGETS, Bench, Counting


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


def measure(repeat: int, trace: bool = False) -> list[dict[str, Any]]:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="clearance-rt-") as root:
        stack = LocalStack(Path(root), REPO, ports=StackPorts.free())
        try:
            stack.up(timeout=180, hosts=False)  # the handlers run here, in this process
            bench = Bench(stack, Counting(stack))
            bench.one_round(0, report=False)
            for i in range(1, repeat + 1):
                bench.one_round(i, report=True)
            if trace:
                for row in bench.rows.values():
                    print(f"\n{row.kind}:")
                    print("\n".join(f"  {line}" for line in row.sent[-1]))
                print()
            return [row.summary() for row in bench.rows.values()]
        finally:
            stack.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--trace", action="store_true", help="print each event's requests")
    args = parser.parse_args()
    rows = measure(args.repeat, args.trace)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"requests per event, one event at a time ({args.repeat} rounds after a warm-up)")
    print(table(rows))


if __name__ == "__main__":
    main()
