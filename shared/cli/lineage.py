"""`clearance lineage …`: the auditor's questions, answered from every region where it lives.

Reads the local stack's two Azurite accounts by default, or, with ``--catalog``, the storage
accounts of a real region catalog over Entra credentials (managed identity or ``az login``).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TextIO

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
from shared.domain.lineage.export import FORMATS
from shared.domain.lineage.views import AuditEntry, IndexedArtifact
from shared.services.lineage.http_api import parse_time
from shared.services.lineage.queries import AuditQueries, every
from shared.services.lineage.verify import RegionVerification, verify_region

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
) -> None:
    """What runs in each region now, since when, deployed by which approval."""
    q = _queries(root, catalog, region)
    with _answering():
        write_live(every(lambda t: q.live(limit=PAGE, token=t)), _format(fmt), sys.stdout)


@app.command()
def served(
    model: str = typer.Argument(..., help="model name"),
    at: str = typer.Option(..., "--at", help="the moment, ISO 8601, e.g. 2026-03-01T12:00:00Z"),
    region: str | None = RegionOpt,
    fmt: str = typer.Option("table", "--format", help="table or json"),
    root: Path | None = RootOpt,
    catalog: Path | None = CatalogOpt,
) -> None:
    """Which revision(s) of a model served, with what share of traffic, at a moment."""
    import json

    from shared.services.lineage.http_api import served_document

    when = _time(at, "at")
    q = _queries(root, catalog, region)
    with _answering():
        answers = q.served(model, when, region)
    if fmt == "json":
        sys.stdout.write(json.dumps([served_document(a) for a in answers], indent=2) + "\n")
        return
    for a in answers:
        sys.stdout.write(f"{a.region} at {a.at:%Y-%m-%d %H:%M:%S} UTC:\n")
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
    """Every record (chain by chain), or a time window, with hashes: verifiable offline."""
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


@app.command()
def verify(
    model: str | None = typer.Argument(None, help="verify this model's chains"),
    all_chains: bool = typer.Option(False, "--all", help="verify every chain"),
    region: str | None = RegionOpt,
    root: Path | None = RootOpt,
    catalog: Path | None = CatalogOpt,
) -> None:
    """Recompute every hash; compare with the head rows and the newest chain-head snapshot.

    Prints OK, or the first broken link of each damaged chain; exits 1 on any damage or a
    missing chain.
    """
    if (model is None) == (not all_chains):
        raise typer.BadParameter("name a model, or pass --all")
    regions = open_regions(root, catalog, region)
    q = AuditQueries({n: r.reader for n, r in regions.items()})
    damaged = 0
    try:
        named = q.named(model) if model else None
        if named is not None and not named:
            err.print(f"[red]no chains recorded for {model!r}[/red]")
            raise typer.Exit(1)
        for name, stores in regions.items():
            keys = [a.key_hash for r, a in named if r == name] if named is not None else None
            if keys is not None and not keys:
                continue
            result = verify_region(stores.reader, stores.heads, name, keys)
            damaged += _report(result, {a.key_hash: a.artifact.key for _, a in q.artifacts(name)})
    except ClearanceError as exc:
        err.print(f"[red]cannot verify: {exc}[/red]")
        raise typer.Exit(2) from exc
    if damaged:
        raise typer.Exit(1)


def _report(result: RegionVerification, keys: dict[str, str]) -> int:
    anchor = result.snapshot or "no chain-head snapshot yet (deleted chains go unnoticed)"
    print(f"{result.region}: {len(result.checks)} chain(s), {result.records} record(s); {anchor}")
    for check in result.broken:
        assert check.fault is not None
        who = keys.get(check.key_hash, "(not in the artifacts index)")
        print(f"  BROKEN {who} [{check.key_hash}]: {check.fault.describe()}")
    if not result.broken:
        print("  OK")
    return len(result.broken)
