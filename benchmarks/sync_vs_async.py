"""Host CPU per storage request: the sync SDK clients (requests) vs the async ones (aiohttp).

    .venv/bin/python benchmarks/sync_vs_async.py [--requests 600] [--concurrency 1 8]

Starts a private Azurite and, for each concurrency, sends the same table requests both ways:
upserts of small entities, point reads of them, and one-partition queries (the shapes of the
hot path). Sync runs ``concurrency`` threads over one ``TableServiceClient`` on the cell's
transport (``shared.adapters.http_pool``, the one the hosts use); async runs ``concurrency``
tasks over ``azure.data.tables.aio`` with azure-core's aiohttp transport, on one event loop.
Reported per request: host CPU (``time.process_time`` of this process, which is only the
client: Azurite runs in its own process) and wall time. Each figure is the best of
``--rounds`` rounds, so other load on the machine inflates them less.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from shared.adapters.http_pool import cell_transport  # noqa: E402
from shared.local.stack import LocalStack, StackPorts  # noqa: E402

KINDS = ("upsert", "point read", "query")


def entity(pk: str, i: int) -> dict[str, Any]:
    return {"PartitionKey": pk, "RowKey": f"r{i:06d}", "Kind": "artifact.received", "Seq": i}


def run_sync(
    conn: str, table: str, n: int, concurrency: int, cell: bool = True
) -> dict[str, tuple[float, float]]:
    """``cell``: on the cell's transport; else on the SDK's default one (the before)."""
    from azure.data.tables import TableServiceClient, UpdateMode

    kwargs = {"transport": cell_transport(os.environ, size=concurrency + 4)} if cell else {}
    service = TableServiceClient.from_connection_string(conn, **kwargs)
    client = service.get_table_client(table)
    pk = f"s{uuid.uuid4().hex[:8]}"
    ops: dict[str, Callable[[int], Any]] = {
        "upsert": lambda i: client.upsert_entity(entity(pk, i), mode=UpdateMode.MERGE),
        "point read": lambda i: client.get_entity(pk, f"r{i:06d}"),
        "query": lambda i: list(
            client.query_entities(
                "PartitionKey eq @pk and RowKey eq @rk",
                parameters={"pk": pk, "rk": f"r{i:06d}"},
            )
        ),
    }
    out = {}
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(ops["upsert"], range(min(n, 20))))  # warm-up: connections, imports
        for kind in KINDS:
            cpu, wall = time.process_time(), time.perf_counter()
            list(pool.map(ops[kind], range(n)))
            out[kind] = (
                (time.process_time() - cpu) * 1000 / n,
                (time.perf_counter() - wall) * 1000 / n,
            )
    return out


def run_async(conn: str, table: str, n: int, concurrency: int) -> dict[str, tuple[float, float]]:
    async def main() -> dict[str, tuple[float, float]]:
        from azure.data.tables import UpdateMode
        from azure.data.tables.aio import TableServiceClient

        async with TableServiceClient.from_connection_string(conn) as service:
            client = service.get_table_client(table)
            pk = f"a{uuid.uuid4().hex[:8]}"
            gate = asyncio.Semaphore(concurrency)

            async def op(kind: str, i: int) -> None:
                async with gate:
                    if kind == "upsert":
                        await client.upsert_entity(entity(pk, i), mode=UpdateMode.MERGE)
                    elif kind == "point read":
                        await client.get_entity(pk, f"r{i:06d}")
                    else:
                        flt = "PartitionKey eq @pk and RowKey eq @rk"
                        params = {"pk": pk, "rk": f"r{i:06d}"}
                        [e async for e in client.query_entities(flt, parameters=params)]

            await asyncio.gather(*(op("upsert", i) for i in range(min(n, 20))))
            out = {}
            for kind in KINDS:
                cpu, wall = time.process_time(), time.perf_counter()
                await asyncio.gather(*(op(kind, i) for i in range(n)))
                out[kind] = (
                    (time.process_time() - cpu) * 1000 / n,
                    (time.perf_counter() - wall) * 1000 / n,
                )
            return out

    return asyncio.run(main())


def best(rounds: list[dict[str, tuple[float, float]]]) -> dict[str, tuple[float, float]]:
    return {k: min(r[k] for r in rounds) for k in KINDS}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600, help="requests of each kind")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clearance-sync-async-") as root:
        stack = LocalStack(Path(root), REPO, ports=StackPorts.free())
        try:
            stack.write_config()
            stack.start_part("azurite", timeout=120)
            conn = stack.connection_string("westeurope")
            from azure.data.tables import TableServiceClient

            table = "bench" + uuid.uuid4().hex[:8]
            TableServiceClient.from_connection_string(conn).create_table(table)
            print(f"{args.requests} requests of each kind, best of {args.rounds} rounds")
            print(f"load average {os.getloadavg()[0]:.1f}; threads {threading.active_count()}")
            print("\nms per request: CPU of this process (wall in brackets); sync default = the")
            print("SDK's own transport, sync cell = shared.adapters.http_pool's, async = aio")
            print(f"\n{'kind':<12}{'conc':>5}{'sync default':>18}{'sync cell':>18}"
                  f"{'async':>18}{'async/cell':>11}")  # fmt: skip
            n = args.requests
            for c in args.concurrency:
                default = best([run_sync(conn, table, n, c, False) for _ in range(args.rounds)])
                sync = best([run_sync(conn, table, n, c) for _ in range(args.rounds)])
                aio = best([run_async(conn, table, n, c) for _ in range(args.rounds)])
                for kind in KINDS:
                    (dc, dw), (sc, sw), (ac, aw) = default[kind], sync[kind], aio[kind]
                    print(f"{kind:<12}{c:>5}{dc:>9.2f} ({dw:5.2f}){sc:>9.2f} ({sw:5.2f})"
                          f"{ac:>9.2f} ({aw:5.2f}){ac / sc:>11.2f}")  # fmt: skip
                ratios = [aio[k][0] / sync[k][0] for k in KINDS]
                print(f"{'':<12}{c:>5}  async/sync CPU, median {statistics.median(ratios):.2f}")
        finally:
            stack.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
