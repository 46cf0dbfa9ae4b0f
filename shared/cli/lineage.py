"""`clearance lineage …`: the auditor's questions, answered from every region where it lives.

Reads the local stack's two Azurite accounts by default, or, with ``--catalog``, the storage
accounts of a real region catalog over Entra credentials (managed identity or ``az login``).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import NoReturn, TextIO

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from shared.adapters.storage.lineage.regions import RegionLineage, catalog_regions, region_lineage
from shared.cli.lineage_output import write_entries, write_live
from shared.domain.errors import ClearanceError, InputError
from shared.domain.lineage.evidence import (
    EvidenceFormatError,
    chain_line,
    record_line,
    region_line,
)
from shared.domain.lineage.export import FORMATS
from shared.domain.lineage.trail import Anomaly
from shared.domain.lineage.verify import Fault
from shared.domain.lineage.views import AuditEntry, IndexedArtifact
from shared.ports.lineage import CheckpointVerifier, KeyUnavailable
from shared.services.lineage.http_api import parse_time
from shared.services.lineage.queries import AuditQueries, every
from shared.services.lineage.verify import (
    Outcome,
    RegionVerification,
    verify_evidence,
    verify_region,
    verify_regions,
)

REPO = Path(__file__).resolve().parents[2]
PAGE = 1000
app = typer.Typer(
    no_args_is_help=True, help="Audit lineage: history, live, list, by-actor, export, verify."
)
err = Console(stderr=True)

RootOpt = typer.Option(None, "--root", help="local stack root (default: .local)")
CatalogOpt = typer.Option(
    None, "--catalog", help="region catalog JSON: read the real accounts with Entra credentials"
)
RegionOpt = typer.Option(None, "--region", help="only this region (default: every region)")
FormatOpt = typer.Option("table", "--format", help="table, json, ndjson or csv")


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="lineage")


def open_regions(
    root: Path | None, catalog: Path | None, region: str | None = None
) -> dict[str, RegionLineage]:
    """Each region's lineage store, in catalog order; ``region`` keeps only that one."""
    if catalog is not None:
        from azure.identity import DefaultAzureCredential

        from shared.settings import load_catalog

        parsed = load_catalog(catalog.read_text(encoding="utf-8"), source=str(catalog))
        regions = catalog_regions(parsed, DefaultAzureCredential(), region)
    else:
        from shared.composition import Container
        from shared.local.stack import REGIONS, LocalStack, default_root
        from shared.settings import build_settings

        stack = LocalStack(root or default_root(REPO), REPO)
        if not (stack.root / "stack.json").exists():
            raise typer.BadParameter(
                f"no local stack at {stack.root}: run `make run`, or pass --catalog"
            )
        regions = {}
        for name in REGIONS:
            if region is None or name == region:
                cell = Container(build_settings(stack.environment(name)))
                regions[name] = region_lineage(name, cell.table_service, cell.blob_service)
    if region is not None and region not in regions:
        raise typer.BadParameter(f"unknown region {region!r}", param_hint="--region")
    return regions


def _queries(root: Path | None, catalog: Path | None, region: str | None) -> AuditQueries:
    return AuditQueries({n: r.reader for n, r in open_regions(root, catalog, region).items()})


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="--format")
    return fmt


def _time(raw: str, name: str) -> datetime:
    try:
        return parse_time(raw, name)
    except InputError as exc:
        raise typer.BadParameter(exc.violations[0].message, param_hint=f"--{name}") from exc


@contextlib.contextmanager
def _answering() -> Iterator[None]:
    """A wrong question is a usage error; unreadable storage a clear message and exit 2."""
    try:
        yield
    except InputError as exc:
        raise typer.BadParameter("; ".join(v.message for v in exc.violations)) from exc
    except ClearanceError as exc:
        err.print(f"[red]cannot answer: {exc}[/red]")
        raise typer.Exit(2) from exc


def _print(entries: Iterator[AuditEntry], fmt: str, title: str) -> None:
    with _answering():
        count = write_entries(entries, _format(fmt), sys.stdout, title)
    if fmt == "table":
        err.print(f"{count} record(s)")


@app.command()
def history(
    model: str = typer.Argument(..., help="model name, or image repository"),
    version: str | None = typer.Option(None, "--version", help="only this version (or tag)"),
    region: str | None = RegionOpt,
    fmt: str = FormatOpt,
    root: Path | None = RootOpt,
    catalog: Path | None = CatalogOpt,
) -> None:
    """Every step of a model's artifacts: pushed, validated, asked, voted, deployed, rolled back."""
    q = _queries(root, catalog, region)
    entries = every(lambda t: q.history(model, version, limit=PAGE, token=t))
    _print(entries, fmt, f"history of {model}{f' {version}' if version else ''}")


@app.command()
def live(
    region: str | None = RegionOpt,
    fmt: str = FormatOpt,
    root: Path | None = RootOpt,
    catalog: Path | None = CatalogOpt,
    stage: str | None = typer.Option(None, "--stage", help="one stage (staging, prod, ...)"),
) -> None:
    """What runs in each region (and stage) now, since when, deployed by which approval."""
    q = _queries(root, catalog, region)
    with _answering():
        entries = every(lambda t: q.live(limit=PAGE, token=t, stage=stage))
        write_live(entries, _format(fmt), sys.stdout)


@app.command()
def served(
    model: str = typer.Argument(..., help="model name"),
    at: str = typer.Option(..., "--at", help="the moment, ISO 8601, e.g. 2026-03-01T12:00:00Z"),
    region: str | None = RegionOpt,
    fmt: str = typer.Option("table", "--format", help="table or json"),
    root: Path | None = RootOpt,
    catalog: Path | None = CatalogOpt,
    stage: str | None = typer.Option(None, "--stage", help="one stage (staging, prod, ...)"),
) -> None:
    """Which revision(s) of a model served, with what share of traffic, at a moment."""
    import json

    from shared.services.lineage.http_api import served_document

    when = _time(at, "at")
    q = _queries(root, catalog, region)
    with _answering():
        answers = q.served(model, when, region, stage)
    if fmt == "json":
        sys.stdout.write(json.dumps([served_document(a) for a in answers], indent=2) + "\n")
        return
    for a in answers:
        where = f"{a.region} ({a.stage})" if a.stage else a.region
        sys.stdout.write(f"{where} at {a.at:%Y-%m-%d %H:%M:%S} UTC:\n")
        if not a.revisions:
            sys.stdout.write("  nothing served\n")
        for r in a.revisions:
            mirror = f", mirrored {r.mirrored}%" if r.mirrored else ""
            sys.stdout.write(
                f"  {r.version:<12} {r.weight:>3}%{mirror}  {r.role:<9} since "
                f"{r.since:%Y-%m-%d %H:%M:%S}  {r.identity}  ({r.deployment_id}, {r.evidence})\n"
            )


@app.command("list")
def list_window(
    since: str = typer.Option(..., "--since", help="ISO 8601, e.g. 2026-03-01T00:00:00Z"),
    until: str = typer.Option(..., "--until", help="ISO 8601, exclusive"),
    region: str | None = RegionOpt,
    kind: str | None = typer.Option(None, "--kind", help="only this step, e.g. artifact.rejected"),
    fmt: str = FormatOpt,
    root: Path | None = RootOpt,
    catalog: Path | None = CatalogOpt,
) -> None:
    """Every record of a time window (e.g. what was rejected last week, and why)."""
    start, end = _time(since, "since"), _time(until, "until")
    q = _queries(root, catalog, region)
    entries = every(lambda t: q.window(start, end, kind=kind, limit=PAGE, token=t))
    _print(entries, fmt, f"records from {since} until {until}")


@app.command("by-actor")
def by_actor(
    identity: str = typer.Argument(..., help="an identity: e-mail, UPN or object id"),
    region: str | None = RegionOpt,
    kind: str | None = typer.Option(None, "--kind", help="only this step, e.g. approval.vote"),
    fmt: str = FormatOpt,
    root: Path | None = RootOpt,
    catalog: Path | None = CatalogOpt,
) -> None:
    """Everything an identity did, was asked to approve, or pushed."""
    q = _queries(root, catalog, region)
    entries = every(lambda t: q.by_actor(identity, kind=kind, limit=PAGE, token=t))
    _print(entries, fmt, f"records involving {identity}")


@app.command()
def export(
    fmt: str = typer.Option("ndjson", "--format", help="table, json, ndjson or csv"),
    output: Path | None = typer.Option(None, "--output", "-o", help="file (default: stdout)"),
    since: str | None = typer.Option(None, "--since", help="only records from (ISO 8601)"),
    until: str | None = typer.Option(None, "--until", help="only records until (ISO 8601)"),
    region: str | None = RegionOpt,
    root: Path | None = RootOpt,
    catalog: Path | None = CatalogOpt,
) -> None:
    """Every record (chain by chain), or a time window, with hashes: verifiable offline.

    ``--format evidence`` writes every chain with its stored bytes plus every checkpoint and
    its signature: ``clearance lineage verify --export FILE --public-key KEY`` checks it.
    """
    if fmt == "evidence":
        if since or until:
            raise typer.BadParameter("an evidence export holds every chain: no --since/--until")
        _export_evidence(open_regions(root, catalog, region), output)
        return
    fmt = _format(fmt)
    q = _queries(root, catalog, region)
    out: TextIO = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    try:
        with _answering(), progress:
            if since or until:
                if not (since and until):
                    raise typer.BadParameter("give both --since and --until, or neither")
                start, end = _time(since, "since"), _time(until, "until")
                task = progress.add_task("records", total=None)
                entries = _counted(
                    every(lambda t: q.window(start, end, limit=PAGE, token=t)), progress, task
                )
            else:
                chains = q.artifacts()
                task = progress.add_task("chains", total=len(chains))
                entries = _chains(q, chains, progress, task)
            count = write_entries(entries, fmt, out, "export")
    finally:
        if output:
            out.close()
    err.print(f"exported {count} record(s){f' to {output}' if output else ''}")


def _export_evidence(regions: dict[str, RegionLineage], output: Path | None) -> None:
    out: TextIO = output.open("w", encoding="utf-8", newline="\n") if output else sys.stdout
    count = 0
    progress = Progress(
        TextColumn("{task.description}"),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    try:
        with _answering(), progress:
            for name, stores in regions.items():
                out.write(region_line(name, sorted(stores.heads.blobs())))
                task = progress.add_task(f"{name}: records", total=None)
                for art in stores.reader.artifacts():
                    links = list(stores.reader.stored_links(art.key_hash))
                    out.write(chain_line(art.key_hash, len(links)))
                    out.writelines(record_line(x.stored_hash, x.body) for x in links)
                    count += len(links)
                    progress.advance(task, len(links))
    finally:
        if output:
            out.close()
    err.print(
        f"exported {count} record(s) with their checkpoints{f' to {output}' if output else ''}"
    )


def _counted(
    entries: Iterator[AuditEntry], progress: Progress, task: TaskID
) -> Iterator[AuditEntry]:
    for e in entries:
        progress.advance(task)
        yield e


def _chains(
    q: AuditQueries,
    chains: list[tuple[str, IndexedArtifact]],
    progress: Progress,
    task: TaskID,
) -> Iterator[AuditEntry]:
    for region, art in chains:
        yield from _chain(q, region, art.key_hash)
        progress.advance(task)


def _chain(q: AuditQueries, region: str, key_hash: str) -> Iterator[AuditEntry]:
    return every(lambda t: q.chain(key_hash, region, limit=PAGE, token=t))


EXIT_OK, EXIT_TAMPERED, EXIT_CANNOT_VERIFY = 0, 1, 3
PublicKeyOpt = typer.Option(
    None,
    "--public-key",
    help="the cell's checkpoint public key (PEM); default: the local stack's key of each region",
)
_FAULT_CLASS = {
    Fault.EDITED: "edited",
    Fault.UNREADABLE: "edited",
    Fault.BROKEN_LINK: "broken link",
    Fault.MOVED: "moved",
    Fault.SEQUENCE_GAP: "deleted record",
    Fault.TRUNCATED: "truncated",
    Fault.REWRITTEN: "rewritten",
    Fault.HEAD_MISMATCH: "head moved",
    Fault.MISSING_CHAIN: "deleted chain",
}
_ANOMALY_CLASS = {
    Anomaly.FORGED: "forged checkpoint",
    Anomaly.REPLAYED: "forged checkpoint",
    Anomaly.FORK: "checkpoint fork",
    Anomaly.ORPHAN: "checkpoint off the trail",
    Anomaly.GAP: "checkpoint deleted",
}


def _verifier(public_key: Path | None, root: Path | None, region: str) -> CheckpointVerifier:
    from shared.adapters.signing.es256 import PublicKeyVerifier

    if public_key is not None:
        return PublicKeyVerifier.from_file(public_key)
    from shared.local.stack import LocalStack, default_root

    stack = LocalStack(root or default_root(REPO), REPO)
    return PublicKeyVerifier.from_file(stack.checkpoint_public_key(region))


@app.command()
def verify(
    model: str | None = typer.Argument(None, help="verify this model's chains"),
    all_chains: bool = typer.Option(False, "--all", help="verify every chain"),
    indexes: bool = typer.Option(
        False, "--indexes", help="also check every index row against the chain record it copies"
    ),
    export_file: Path | None = typer.Option(
        None, "--export", help="verify an evidence export offline (needs --public-key)"
    ),
    public_key: Path | None = PublicKeyOpt,
    region_keys: list[str] = typer.Option(
        [], "--region-key", help="REGION=PEM: that region's public key (an export of several)"
    ),
    region: str | None = RegionOpt,
    root: Path | None = RootOpt,
    catalog: Path | None = CatalogOpt,
) -> None:
    """Recompute every hash; compare with the head rows and the newest signed checkpoint.

    Ends with one line: OK (exit 0), TAMPERED with what and where (exit 1), or CANNOT VERIFY
    (exit 3: no checkpoint yet, key unavailable, storage unreachable).
    """
    if export_file is not None:
        if public_key is None:
            raise typer.BadParameter(
                "an export is verified with --public-key", param_hint="--export"
            )
        _finish(_verify_export(export_file, public_key, region_keys))
    if (model is None) == (not all_chains):
        raise typer.BadParameter("name a model, or pass --all")
    if catalog is not None and public_key is None:
        raise typer.BadParameter("give the cell's --public-key with --catalog")
    results: list[RegionVerification] = []
    try:
        regions = open_regions(root, catalog, region)
        q = AuditQueries({n: r.reader for n, r in regions.items()})
        named = q.named(model) if model else None
        if named is not None and not named:
            _cannot(f"no chains recorded for {model!r}")
        jobs = []
        for name, stores in regions.items():
            keys = [a.key_hash for r, a in named if r == name] if named is not None else None
            if keys is not None and not keys:
                continue
            jobs.append(
                partial(
                    verify_region,
                    stores.reader,
                    stores.heads,
                    _verifier(public_key, root, name),
                    name,
                    keys,
                    indexes=stores.reader if indexes else None,
                )
            )
        # a spinner on a terminal only (stderr): the result lines stay as they are
        with (
            err.status(f"verifying {len(jobs)} region(s)...")
            if err.is_terminal
            else contextlib.nullcontext()
        ):
            verified = list(verify_regions(jobs))  # the regions at once, reported in order
        for result in verified:
            _report(result, {a.key_hash: a.artifact.key for _, a in q.artifacts(result.region)})
            results.append(result)
    except KeyUnavailable as exc:
        _cannot(f"key unavailable: {exc}")
    except ClearanceError as exc:
        _cannot(f"storage unreachable: {exc}")
    _finish(results)


def _verify_export(
    path: Path, public_key: Path, region_keys: list[str]
) -> list[RegionVerification]:
    results = []
    try:
        default = _verifier(public_key, None, "")
        named = {}
        for item in region_keys:
            name, _, pem = item.partition("=")
            if not pem:
                raise typer.BadParameter("REGION=PEM", param_hint="--region-key")
            named[name] = _verifier(Path(pem), None, name)
        with path.open(encoding="utf-8", errors="replace") as lines:
            for result in verify_evidence(lines, lambda r: named.get(r, default)):
                _report(result, {})
                results.append(result)
    except KeyUnavailable as exc:
        _cannot(f"key unavailable: {exc}")
    except OSError as exc:
        _cannot(f"cannot read {path}: {exc.strerror}")
    except EvidenceFormatError as exc:
        print(f"TAMPERED: the export's structure: {exc}")
        raise typer.Exit(EXIT_TAMPERED) from exc
    return results


def _cannot(why: str) -> NoReturn:
    print(f"CANNOT VERIFY: {why}")
    raise typer.Exit(EXIT_CANNOT_VERIFY)


def _finish(results: list[RegionVerification]) -> NoReturn:
    """The one-line summary and the exit code."""
    tampered: dict[str, int] = {}
    for r in results:
        for check in r.broken:
            assert check.fault is not None
            what = _FAULT_CLASS[check.fault.fault]
            tampered[what] = tampered.get(what, 0) + 1
        for anomaly in r.trail.anomalies:
            what = _ANOMALY_CLASS[anomaly.kind]
            tampered[what] = tampered.get(what, 0) + 1
        if r.index_faults:
            tampered["diverging index"] = tampered.get("diverging index", 0) + len(r.index_faults)
    if tampered:
        what = ", ".join(f"{k} ({n})" for k, n in sorted(tampered.items()))
        print(f"TAMPERED: {what}")
        raise typer.Exit(EXIT_TAMPERED)
    bare = [r.region for r in results if r.outcome is Outcome.CANNOT_VERIFY]
    if bare or not results:
        _cannot(f"no signed checkpoint yet in {', '.join(bare) or 'any region'}")
    records = sum(r.records for r in results)
    chains = sum(len(r.checks) for r in results)
    print(f"OK: {chains} chain(s), {records} record(s) intact and covered by signed checkpoints")
    raise typer.Exit(EXIT_OK)


def _report(result: RegionVerification, keys: dict[str, str]) -> None:
    cp = result.checkpoint
    anchor = (
        f"signed checkpoint {result.snapshot} ({cp.taken_at:%Y-%m-%d %H:%M:%S} UTC, "
        f"{result.trail.blobs} blob(s), {len(result.trail.trail)} on the trail)"
        if cp is not None
        else "no signed checkpoint yet (truncated or deleted chains go unnoticed)"
    )
    print(f"{result.region}: {len(result.checks)} chain(s), {result.records} record(s); {anchor}")
    for anomaly in result.trail.anomalies:
        print(f"  CHECKPOINT {_plain(anomaly.describe())}")
    for check in result.broken:
        assert check.fault is not None
        who = keys.get(check.key_hash, "(not in the artifacts index)") if keys else "chain"
        print(f"  BROKEN {_plain(who)} [{check.key_hash}]: {_plain(check.fault.describe())}")
    for fault in result.index_faults[:100]:
        print(f"  INDEX {_plain(fault.describe())}")
    if len(result.index_faults) > 100:
        print(f"  INDEX … and {len(result.index_faults) - 100} more diverging row(s)")
    if result.index_rows is not None and not result.index_faults:
        print(f"  indexes: {result.index_rows} row(s) match the chains")
    if result.outcome is Outcome.OK:
        print("  OK")


def _plain(text: str) -> str:
    """Attacker-written names printed as inert text: no control characters, bounded length."""
    cleaned = "".join(c if c.isprintable() else "?" for c in text)
    return cleaned[:400]
