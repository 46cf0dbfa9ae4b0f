"""Lineage queries on 100,000 records in Azurite: index partitions vs a full scan, and verify.

    .venv/bin/python benchmarks/lineage_bench.py [--artifacts 1000] [--records 100] [--samples 30]
    .venv/bin/python benchmarks/lineage_bench.py --quick      (10,000 records, about a minute)

Loads ``artifacts`` chains of ``records`` records each, half in each local region (westeurope,
swedencentral), with the writer's own rows (chain, head, every index) in entity-group
transactions. Then times each auditor query as the CLI runs it (every page, both regions) and
the same answer computed from a full scan of both accounts (the answers are compared), and
``verify`` of every chain against its head and a fresh signed checkpoint (online, against
Azurite; target >= 20,000 records/s), ``verify --indexes``, and the offline check of an
evidence export (target >= 200,000 records/s).
The default run takes about 10 minutes on 2 cores, most of it Azurite loading 475,000 entities.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from figures import verdict  # noqa: E402

from shared.adapters.storage.lineage.bulk import (  # noqa: E402
    chain_entities,
    live_entities,
    write_entities,
)
from shared.adapters.storage.lineage.entities import body_of  # noqa: E402
from shared.adapters.storage.lineage.regions import RegionLineage, region_lineage  # noqa: E402
from shared.composition import Container  # noqa: E402
from shared.domain.lineage.chain import Link  # noqa: E402
from shared.domain.lineage.evidence import chain_line, record_line, region_line  # noqa: E402
from shared.domain.lineage.index import (  # noqa: E402
    DEPLOYMENT_KINDS,
    DeploymentEvent,
    current_live,
    identities_of,
    model_of,
    normalise_identity,
    normalise_name,
)
from shared.domain.lineage.record import (  # noqa: E402
    Actor,
    ArtifactRef,
    Correlation,
    LineageRecord,
    RecordKind,
)
from shared.local.stack import REGIONS, LocalStack, StackPorts  # noqa: E402
from shared.services.lineage.heads import take_checkpoint  # noqa: E402
from shared.services.lineage.queries import AuditQueries, every  # noqa: E402
from shared.services.lineage.verify import (  # noqa: E402
    Outcome,
    RegionVerification,
    verify_evidence,
    verify_region,
    verify_regions,
)
from shared.settings import build_settings  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 30
APPROVERS = [f"approver{i:02d}@contoso.example" for i in range(40)]
SYSTEM = Actor(identity="clearance", established_by="managed_identity")
CYCLE = [
    RecordKind.ARTIFACT_RETAGGED,
    RecordKind.APPROVAL_REQUESTED,
    RecordKind.APPROVAL_NOTIFIED,
    RecordKind.APPROVAL_VOTE,
    RecordKind.APPROVAL_VOTE,
    RecordKind.APPROVAL_APPROVED,
    RecordKind.DEPLOYMENT_STARTED,
    RecordKind.DEPLOYMENT_SUCCEEDED,
]
Key = tuple[str, str, int]  # (region, key hash, seq): one record, wherever it is answered


# -- synthetic lineage ---------------------------------------------------------------------
def artifact_records(
    rng: random.Random, region: str, model: str, version: int, n: int
) -> list[LineageRecord]:
    art = ArtifactRef(
        kind="image",
        registry=f"clr{region}.azurecr.io",
        repository=f"models/{model}",
        digest="sha256:" + rng.randbytes(32).hex(),
        tag=f"{version}.0.0",
        model=model,
        version=f"{version}.0.0",
    )
    at = T0 + timedelta(minutes=rng.randrange(DAYS * 24 * 60 - n * 10))
    asked = rng.sample(APPROVERS, 3)
    out = [
        _rec(
            art,
            region,
            RecordKind.ARTIFACT_RECEIVED,
            at,
            details={"pushed_by": "ci@contoso.example"},
        ),
        _rec(art, region, RecordKind.ARTIFACT_VALIDATED, at),
    ]
    for i in range(n - 2):
        kind = CYCLE[i % len(CYCLE)]
        if kind is RecordKind.DEPLOYMENT_SUCCEEDED and rng.random() < 0.2:
            kind = RecordKind.DEPLOYMENT_ROLLED_BACK
        when = at + timedelta(minutes=10 * (i + 2))
        if kind is RecordKind.APPROVAL_NOTIFIED:
            asked = rng.sample(APPROVERS, 3)
            out.append(_rec(art, region, kind, when, details={"asked": ", ".join(asked)}))
        elif kind is RecordKind.APPROVAL_VOTE:
            voter = Actor(identity=rng.choice(asked), established_by="signed_link")
            out.append(_rec(art, region, kind, when, actor=voter, details={"decision": "approve"}))
        else:
            out.append(_rec(art, region, kind, when))
    return out


def _rec(
    art: ArtifactRef,
    region: str,
    kind: RecordKind,
    at: datetime,
    actor: Actor = SYSTEM,
    details: dict[str, str] | None = None,
) -> LineageRecord:
    where = {"cluster": f"aks-{region}", "namespace": "models"} if kind in DEPLOYMENT_KINDS else {}
    return LineageRecord(
        kind=kind,
        at=at,
        region=region,
        actor=actor,
        artifact=art,
        correlation=Correlation(
            event_id=f"evt-{at:%H%M%S}", approval_id=f"apr-{art.key_hash[:12]}"
        ),
        where=where,
        details=details or {},
    )


def load(cells: dict[str, Container], artifacts: int, records: int) -> tuple[int, int, float]:
    rng = random.Random(7)
    models = max(1, artifacts // 10)
    start, entities, transactions = time.perf_counter(), 0, 0
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    err = Console(stderr=True)
    progress = Progress(  # on a terminal only: the figures on stdout stay as they are
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    progress.start()
    for region in REGIONS:
        task = progress.add_task(f"loading {region}", total=artifacts // len(REGIONS))
        table = cells[region].table_service.get_table_client("lineage")
        table.create_table()
        deployments: list[list[Link]] = []
        batch: list[dict[str, Any]] = []
        for a in range(artifacts // len(REGIONS)):
            recs = artifact_records(
                rng, region, f"model-{a % models:03d}", a // models + 1, records
            )
            rows, links = chain_entities(recs)
            batch.extend(rows)
            deployments.append([ln for ln in links if ln.record.kind in DEPLOYMENT_KINDS])
            progress.advance(task)
            if len(batch) > 40_000:
                entities += len(batch)
                transactions += write_entities(table, batch, workers=4)
                batch = []
        batch.extend(live_entities(deployments))
        entities += len(batch)
        transactions += write_entities(table, batch, workers=4)
        progress.remove_task(task)
        print(f"  loaded {region}", flush=True)
    progress.stop()
    return entities, transactions, time.perf_counter() - start


# -- the same answers from a full scan -------------------------------------------------------
def full_scan(regions: dict[str, RegionLineage]) -> list[tuple[str, Link]]:
    """Every record of both accounts, the way one would without indexes: scan, then decode."""
    out = []
    for region, stores in regions.items():
        rows = stores.reader.scan("RowKey ge 'seq-' and RowKey lt 'seq.'")
        out.extend((region, Link.parse(body_of(e))) for e in rows)
    return out


def scan_history(rows: list[tuple[str, Link]], model: str) -> set[Key]:
    m = normalise_name(model)
    return {_key(r, ln) for r, ln in rows if normalise_name(ln.record.artifact.model or "") == m}


def scan_window(rows: list[tuple[str, Link]], since: datetime, until: datetime) -> set[Key]:
    return {_key(r, ln) for r, ln in rows if since <= ln.record.at < until}


def scan_actor(rows: list[tuple[str, Link]], identity: str) -> set[Key]:
    who = normalise_identity(identity)
    return {
        _key(r, ln)
        for r, ln in rows
        if any(normalise_identity(i) == who for i, _ in identities_of(ln.record))
    }


def scan_live(rows: list[tuple[str, Link]]) -> set[Key]:
    events: dict[tuple[str, str], list[DeploymentEvent]] = defaultdict(list)
    for r, ln in rows:
        model = model_of(ln.record)
        if ln.record.kind in DEPLOYMENT_KINDS and model:
            key_hash = ln.record.artifact.key_hash
            events[(r, model)].append(
                DeploymentEvent(ln.record.at, ln.record.kind, key_hash, ln.seq)
            )
    live = {(r, current_live(ev)) for (r, _), ev in events.items()}
    return {(r, e.key_hash, e.seq) for r, e in live if e is not None}


def _key(region: str, link: Link) -> Key:
    return (region, link.record.artifact.key_hash, link.seq)


# -- measuring -----------------------------------------------------------------------------
def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def pct(samples: list[float]) -> tuple[float, float]:
    if len(samples) == 1:
        return samples[0], samples[0]
    return statistics.median(samples), statistics.quantiles(samples, n=20, method="inclusive")[18]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--artifacts", type=int, default=1000)
    parser.add_argument("--records", type=int, default=100, help="records per artifact")
    parser.add_argument("--samples", type=int, default=30, help="runs of each indexed query")
    parser.add_argument("--scans", type=int, default=3, help="runs of the full-scan baseline")
    parser.add_argument("--verify-runs", type=int, default=3, help="runs of verify --all")
    parser.add_argument("--quick", action="store_true", help="100 artifacts x 100 records")
    parser.add_argument(
        "--offline-only",
        type=int,
        metavar="RECORDS",
        help="only the offline check of a synthetic export of RECORDS records (no Azurite)",
    )
    args = parser.parse_args()
    if args.offline_only:
        return offline_synthetic(args.offline_only)
    if args.quick:
        args.artifacts, args.samples, args.scans = 100, 5, 1

    with tempfile.TemporaryDirectory(prefix="clearance-lineage-bench-") as root:
        stack = LocalStack(Path(root), REPO, ports=StackPorts.free())
        try:
            stack.up(timeout=180, hosts=False)
            cells = {r: Container(build_settings(stack.environment(r))) for r in REGIONS}
            return run(args, cells)
        finally:
            stack.down()


def run(args: argparse.Namespace, cells: dict[str, Container]) -> int:
    total = args.artifacts * args.records
    print(f"loading {total:,} records ({args.artifacts:,} artifacts) into Azurite ...", flush=True)
    entities, transactions, took = load(cells, args.artifacts, args.records)
    print(
        f"loaded {entities:,} entities (chains + indexes) in {transactions:,} transactions, "
        f"{took:.0f} s ({total / took:,.0f} records/s)"
    )
    regions = {r: region_lineage(r, c.table_service, c.blob_service) for r, c in cells.items()}
    q = AuditQueries({r: s.reader for r, s in regions.items()})
    rng = random.Random(11)
    models = [f"model-{i:03d}" for i in range(max(1, args.artifacts // 10))]
    days = [T0 + timedelta(days=d) for d in range(DAYS - 1)]

    def history(m: str) -> set[Key]:
        return {
            (e.region, e.key_hash, e.seq)
            for e in every(lambda t: q.history(m, limit=1000, token=t))
        }

    def live(_: object) -> set[Key]:
        items = every(lambda t: q.live(limit=1000, token=t))
        return {(x.region, x.entry.key_hash, x.entry.seq) for x in items}

    def window(day: datetime) -> set[Key]:
        pages = every(lambda t: q.window(day, day + timedelta(days=1), limit=1000, token=t))
        return {(e.region, e.key_hash, e.seq) for e in pages}

    def actor(who: str) -> set[Key]:
        pages = every(lambda t: q.by_actor(who, limit=1000, token=t))
        return {(e.region, e.key_hash, e.seq) for e in pages}

    queries: list[
        tuple[str, Callable[[Any], set[Key]], Callable[[], Any], Callable[..., set[Key]]]
    ] = [
        ("history <model>", history, lambda: rng.choice(models), scan_history),
        ("live", live, lambda: None, lambda rows, _: scan_live(rows)),
        (
            "list (one day)",
            window,
            lambda: rng.choice(days),
            lambda rows, d: scan_window(rows, d, d + timedelta(days=1)),
        ),
        ("by-actor <identity>", actor, lambda: rng.choice(APPROVERS), scan_actor),
    ]
    scans: list[float] = []
    scanned: list[tuple[str, Link]] = []
    for _ in range(args.scans):
        took, scanned = timed(lambda: full_scan(regions))
        scans.append(took)
    scan = statistics.median(scans)
    print(
        f"\nfull scan of both accounts: {len(scanned):,} records, p50 {scan:.2f} s (n={args.scans})"
    )
    print(f"\n{'query':<22}{'answer':>8}{'p50':>10}{'p95':>10}{'full scan':>12}{'ratio':>9}  same")
    for name, indexed, arg, baseline in queries:
        line, same = measure(name, indexed, arg, baseline, scanned, scan, args.samples)
        print(line, flush=True)
        if not same:
            return 1

    return verify_figures(args, cells, regions)


def verify_figures(
    args: argparse.Namespace, cells: dict[str, Container], regions: dict[str, RegionLineage]
) -> int:
    def checkpoint(r: str, s: RegionLineage) -> Any:
        c = cells[r]
        return take_checkpoint(s.reader, s.heads, c.checkpoint_signer, c.checkpoint_verifier, r)

    snap_took, _ = timed(lambda: [checkpoint(r, s) for r, s in regions.items()])

    def verify_all(indexes: bool) -> list[RegionVerification]:
        """As ``clearance lineage verify --all`` runs it: the regions at once."""
        return verify_regions(
            [
                partial(
                    verify_region,
                    s.reader,
                    s.heads,
                    cells[r].checkpoint_verifier,
                    r,
                    indexes=s.reader if indexes else None,
                )
                for r, s in regions.items()
            ]
        )

    runs = [timed(lambda: verify_all(False)) for _ in range(max(1, args.verify_runs))]
    took, results = min(runs, key=itemgetter(0))
    median = statistics.median(t for t, _ in runs)
    records = sum(v.records for v in results)
    bad = max(sum(v.outcome is not Outcome.OK for v in r) for _, r in runs)
    chains = sum(len(v.checks) for v in results)
    print(f"\nsigned checkpoints of {chains:,} chains (both regions): {snap_took:.1f} s")
    print(
        f"verify --all (online, Azurite): {records:,} records, best of {len(runs)} "
        f"{took:.2f} s = {records / took:,.0f} records/s (median {records / median:,.0f}; "
        f"{bad} region(s) not OK) {verdict(records / took, '>=', 20_000, 'records/s')}"
    )
    itook, iresults = timed(lambda: verify_all(True))
    rows = sum(v.index_rows or 0 for v in iresults)
    faults = sum(len(v.index_faults) for v in iresults)
    print(
        f"verify --all --indexes: {records:,} records + {rows:,} index rows in {itook:.2f} s = "
        f"{records / itook:,.0f} records/s, {faults} diverging"
    )
    _, offline_ok = offline(regions, cells)
    ok = bad == 0 and faults == 0 and offline_ok and records == args.artifacts * args.records
    return 0 if ok else 1


def offline(regions: dict[str, RegionLineage], cells: dict[str, Container]) -> tuple[float, bool]:
    """Export every chain with its checkpoints, then verify the file with no Azure access."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "evidence.txt"
        with path.open("w", encoding="utf-8", newline="\n") as out:
            for name, stores in regions.items():
                out.write(region_line(name, sorted(stores.heads.blobs())))
                for art in stores.reader.artifacts():
                    links = list(stores.reader.stored_links(art.key_hash))
                    out.write(chain_line(art.key_hash, len(links)))
                    out.writelines(record_line(x.stored_hash, x.body) for x in links)
        keys = {r: cells[r].checkpoint_verifier for r in regions}
        with path.open(encoding="utf-8") as lines:
            took, results = timed(lambda: list(verify_evidence(lines, keys.__getitem__)))
    records = sum(v.records for v in results)
    good = all(v.outcome is Outcome.OK for v in results)
    print(
        f"verify --export (offline): {records:,} records in {took:.2f} s = "
        f"{records / took:,.0f} records/s, {'OK' if good else 'NOT OK'} "
        f"{verdict(records / took, '>=', 200_000, 'records/s')}"
    )
    return records / took, good


def offline_synthetic(total: int) -> int:
    """A signed export of ``total`` records built in memory, verified as the CLI does."""
    from shared.adapters.signing.es256 import KeyFileSigner, ensure_key_pair
    from shared.domain.lineage.chain import GENESIS
    from shared.domain.lineage.heads import ChainHead, Checkpoint, SignedCheckpoint

    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        signer = KeyFileSigner(ensure_key_pair(Path(tmp) / "keys")[0])
        lines, heads = [], {}
        for a in range(max(1, total // 100)):
            links, prev = [], GENESIS
            for rec in artifact_records(rng, "westeurope", f"model-{a % 100:03d}", a + 1, 100):
                link = Link.make(len(links) + 1, prev, rec)
                links.append(link)
                prev = link.hash
            key_hash = links[0].record.artifact.key_hash
            heads[key_hash] = ChainHead(seq=len(links), hash=prev)
            lines.append(chain_line(key_hash, len(links)))
            lines.extend(record_line(x.hash, x.body) for x in links)
        cp = Checkpoint(
            region="westeurope",
            taken_at=datetime.now(UTC),
            chains=heads,
            key_id=signer.key_id,
        )
        signed = SignedCheckpoint.of(cp, signer.sign(cp.payload())[0])
        path = Path(tmp) / "evidence.txt"
        path.write_text(
            region_line("westeurope", [(signed.name, signed.to_blob())]) + "".join(lines)
        )
        verifier = signer.verifier()
        best = None
        for _ in range(3):
            with path.open(encoding="utf-8") as f:
                took, results = timed(lambda f=f: list(verify_evidence(f, lambda r: verifier)))
            best = took if best is None else min(best, took)
        records = sum(v.records for v in results)
        ok = all(v.outcome is Outcome.OK for v in results)
    print(
        f"verify --export (offline, synthetic): {records:,} records, best of 3 {best:.2f} s = "
        f"{records / best:,.0f} records/s, {'OK' if ok else 'NOT OK'} "
        f"{verdict(records / best, '>=', 200_000, 'records/s')}"
    )
    return 0 if ok else 1


def measure(
    name: str,
    indexed: Callable[[Any], set[Key]],
    arg: Callable[[], Any],
    baseline: Callable[..., set[Key]],
    scanned: list[tuple[str, Link]],
    scan: float,
    samples: int,
) -> tuple[str, bool]:
    """Time the indexed query; the baseline is the scan plus filtering its rows in Python."""
    times, sizes, filters, same = [], [], [], True
    for _ in range(samples):
        a = arg()
        took, answer = timed(lambda a=a: indexed(a))
        times.append(took)
        sizes.append(len(answer))
        filter_took, expected = timed(lambda a=a: baseline(scanned, a))
        filters.append(filter_took)
        same = same and answer == expected
    p50, p95 = pct(times)
    full = scan + statistics.median(filters)
    line = (
        f"{name:<22}{statistics.median(sizes):>8.0f}{p50 * 1000:>8.1f}ms{p95 * 1000:>8.1f}ms"
        f"{full * 1000:>10.0f}ms{full / p50:>8.0f}x  {'yes' if same else 'NO'}"
    )
    return line, same


if __name__ == "__main__":
    sys.exit(main())
