"""Host CPU per entity-group transaction: azure-core's email-based multipart code vs the lean one.

    PYTHONPATH=$PWD flock /tmp/clearance-it.lock .venv/bin/python benchmarks/batch_cpu.py \\
        [--rounds 7] [--per-round 20]

Starts a private Azurite on free ports, and commits ``submit_transaction`` batches of 3, 10
and 100 upserts through the cell's transport (``cell_transport``), alternating in one process
between azure-core's own multipart code (``multipart.originals()``) and the lean replacement
(``shared/adapters/multipart.py``), each round in turn first. CPU is this process's
``time.process_time`` per ``submit_transaction`` (Azurite's own CPU is not counted); the
figure per variant is the median of the rounds' means.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_stack import REPO

from shared.adapters import multipart
from shared.adapters.http_pool import cell_transport
from shared.local.stack import REGIONS, LocalStack, StackPorts

SIZES = (3, 10, 100)


def operations(n: int, round_: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            "upsert",
            {
                "PartitionKey": f"p{n}",
                "RowKey": f"r{i:03d}",
                "Round": round_,
                "Note": "a value with some text, é and a\nline break",
                "Count": i,
            },
        )
        for i in range(n)
    ]


def cpu_per_batch(table: Any, n: int, count: int, round_: int) -> float:
    ops = operations(n, round_)
    started = time.process_time()
    for _ in range(count):
        results = table.submit_transaction(ops)
    spent = time.process_time() - started
    assert len(results) == n
    return spent / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--per-round", type=int, default=20)
    args = parser.parse_args()
    from azure.data.tables import TableServiceClient

    with tempfile.TemporaryDirectory(prefix="clearance-batch-") as root:
        stack = LocalStack(Path(root), REPO, ports=StackPorts.free())
        try:
            stack.start_part("azurite", timeout=60)
            conn = stack.connection_string(REGIONS[0])
            service = TableServiceClient.from_connection_string(conn, transport=cell_transport({}))
            table = service.create_table_if_not_exists("batchcpu")
            samples: dict[tuple[int, str], list[float]] = {}
            for n in SIZES:  # warm-up: connections, both code paths, Azurite's JIT
                cpu_per_batch(table, n, 3, 0)
                with multipart.originals():
                    cpu_per_batch(table, n, 3, 0)
            for round_ in range(1, args.rounds + 1):
                order = ("email", "lean") if round_ % 2 else ("lean", "email")
                for n in SIZES:
                    count = max(2, args.per_round * 10 // n) if n < 100 else args.per_round
                    for variant in order:
                        if variant == "email":
                            with multipart.originals():
                                cpu = cpu_per_batch(table, n, count, round_)
                        else:
                            cpu = cpu_per_batch(table, n, count, round_)
                        samples.setdefault((n, variant), []).append(cpu)
        finally:
            stack.down()
    print(
        f"CPU µs per submit_transaction against Azurite, {args.rounds} alternating rounds"
        " (median of round means)"
    )
    print(f"{'upserts':>7} {'email':>10} {'lean':>10} {'saved':>10} {'ratio':>6}")
    for n in SIZES:
        email = statistics.median(samples[(n, "email")])
        lean = statistics.median(samples[(n, "lean")])
        print(f"{n:7} {email:10.0f} {lean:10.0f} {email - lean:10.0f} {lean / email:6.2f}")


if __name__ == "__main__":
    main()
