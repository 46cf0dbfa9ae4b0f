"""Host CPU per table request: ``RequestsTransport`` against the lean transport.

    .venv/bin/python benchmarks/transport_cpu.py [--requests 300] [--rounds 5] [--batch 4]

Starts a private Azurite and sends the same table requests through one ``TableServiceClient``
per transport, in this process, one at a time: point reads of a small entity, upserts (MERGE)
of it, and entity-group transactions (``$batch``) of ``--batch`` upserts. The two transports
are built as the cell builds them (``shared.adapters.http_pool``: ``requests_transport``, today's
for blobs; ``cell_transport``, the lean one for tables and queues) and run alternately, each
round in turn first, so drift and load hit both alike. Reported: CPU µs per request
(``time.process_time`` of this process: only the client, Azurite runs in its own process),
median over the rounds, and lean/requests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from shared.adapters.http_pool import cell_transport, requests_transport  # noqa: E402
from shared.local.stack import LocalStack, StackPorts  # noqa: E402

KINDS = ("point read", "upsert", "$batch")
BUILDERS: dict[str, Callable[..., Any]] = {"requests": requests_transport, "lean": cell_transport}


def operations(conn: str, table: str, transport: Any, batch: int) -> dict[str, Callable[[], Any]]:
    from azure.data.tables import TableServiceClient, UpdateMode

    client = TableServiceClient.from_connection_string(conn, transport=transport)
    t = client.get_table_client(table)
    pk = f"p{uuid.uuid4().hex[:8]}"
    row = {"PartitionKey": pk, "RowKey": "r", "Kind": "artifact.received", "Seq": 1}
    t.upsert_entity(row)
    counter = iter(range(10**9))

    def transaction() -> Any:
        i = next(counter)
        ops = [
            ("upsert", {"PartitionKey": pk, "RowKey": f"b{i}-{j}", "Seq": j}, {"mode": "merge"})
            for j in range(batch)
        ]
        return t.submit_transaction(ops)  # type: ignore[arg-type]

    return {
        "point read": lambda: t.get_entity(pk, "r"),
        "upsert": lambda: t.upsert_entity(row, mode=UpdateMode.MERGE),
        "$batch": transaction,
    }


def per_request_us(op: Callable[[], Any], n: int) -> float:
    start = time.process_time()
    for _ in range(n):
        op()
    return (time.process_time() - start) * 1e6 / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests of each kind")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=4, help="upserts per $batch")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clearance-transport-cpu-") as root:
        stack = LocalStack(Path(root), REPO, ports=StackPorts.free())
        try:
            stack.write_config()
            stack.start_part("azurite", timeout=120)
            conn = stack.connection_string("westeurope")
            from azure.data.tables import TableServiceClient

            table = "cpu" + uuid.uuid4().hex[:8]
            TableServiceClient.from_connection_string(conn).create_table(table)
            ops = {
                name: operations(conn, table, build(os.environ), args.batch)
                for name, build in BUILDERS.items()
            }
            for name in BUILDERS:  # warm-up: connections, imports, caches
                for kind in KINDS:
                    per_request_us(ops[name][kind], 20)
            figures: dict[tuple[str, str], list[float]] = {}
            for r in range(args.rounds):
                order = list(BUILDERS) if r % 2 == 0 else list(BUILDERS)[::-1]
                for kind in KINDS:
                    for name in order:
                        us = per_request_us(ops[name][kind], args.requests)
                        figures.setdefault((name, kind), []).append(us)
            print(
                f"{args.requests} requests of each kind x {args.rounds} rounds, alternating; "
                f"$batch = {args.batch} upserts; load average {os.getloadavg()[0]:.1f}"
            )
            print(f"\n{'request':<12}{'requests µs':>13}{'lean µs':>10}{'lean/requests':>15}")
            for kind in KINDS:
                req = statistics.median(figures[("requests", kind)])
                lean = statistics.median(figures[("lean", kind)])
                print(f"{kind:<12}{req:>13.0f}{lean:>10.0f}{lean / req:>15.2f}")
        finally:
            stack.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
