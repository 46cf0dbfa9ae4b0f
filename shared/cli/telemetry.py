"""`clearance trace`: one artifact's journey (or one event's) from the local stack's spans."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

REPO = Path(__file__).resolve().parents[2]


def register(parent: typer.Typer) -> None:
    parent.command("trace")(trace)
    parent.command("status")(status)


def status(
    root: Path | None = typer.Option(None, "--root", help="the local stack root (default .local)"),
    region: str | None = typer.Option(None, "--region", help="only this region"),
    as_json: bool = typer.Option(False, "--json", help="one JSON document per region"),
) -> None:
    """Summarise each cell of the local stack: pending (and overdue) approvals, live models,
    stuck rollouts, dead letters, the last signed checkpoint."""
    from dataclasses import asdict

    from shared.composition import Container
    from shared.local.stack import REGIONS, LocalStack, default_root
    from shared.settings import build_settings

    stack = LocalStack(root or default_root(REPO), REPO)
    if not (stack.root / "stack.json").exists():
        raise typer.BadParameter(f"no local stack at {stack.root}: run `make run`")
    if region is not None and region not in REGIONS:
        raise typer.BadParameter(f"unknown region {region!r}", param_hint="--region")
    found = []
    for name in REGIONS:
        if region is None or name == region:
            found.append(Container(build_settings(stack.environment(name))).status())
    if as_json:
        docs = [{**asdict(s), "checkpoint_age_seconds": s.checkpoint_age_seconds} for s in found]
        typer.echo(json.dumps(docs, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(
        "region",
        "pending",
        "overdue",
        "oldest (s)",
        "live",
        "rollouts",
        "stuck",
        "dead letters",
        "checkpoint age (s)",
    )
    for s in found:
        age = s.checkpoint_age_seconds
        table.add_row(
            s.region,
            str(s.pending),
            str(len(s.overdue)),
            f"{s.oldest_pending_seconds:.0f}",
            str(len(s.live)),
            str(s.in_progress),
            ", ".join(f"{r.model} ({r.late_seconds:.0f} s late)" for r in s.stuck) or "0",
            ", ".join(f"{q}={n}" for q, n in s.dead_letters.items() if n) or "0",
            "none" if age is None else f"{age:.0f}",
        )
    Console().print(table)


def trace(
    needle: str = typer.Argument(
        ..., help="an artifact key, event id, approval id, deployment id, message id or trace id"
    ),
    root: Path | None = typer.Option(None, "--root", help="the local stack root (default .local)"),
    as_json: bool = typer.Option(False, "--json", help="every span as one JSON document"),
) -> None:
    """Show every span of the traces that name NEEDLE, as a tree (spans written by the local
    hosts under <root>/telemetry/<region>/; in Azure use the workbook in Application Insights)."""
    from shared.adapters.telemetry.jsonl import read_spans, trace_of
    from shared.local.stack import REGIONS, LocalStack, default_root

    stack = LocalStack(root or default_root(REPO), REPO)
    spans = list(read_spans([stack.telemetry_dir(r) for r in REGIONS]))
    found = trace_of(spans, needle)
    if as_json:
        typer.echo(json.dumps({"needle": needle, "spans": found}, indent=2))
        return
    if not found:
        typer.echo(f"no span names {needle!r} (under {stack.root / 'telemetry'})", err=True)
        raise typer.Exit(1)
    from rich.console import Console
    from rich.tree import Tree

    console = Console()
    for trace_id in dict.fromkeys(s["trace_id"] for s in found):
        tree = Tree(f"[bold]trace {trace_id}[/bold]")
        members = [s for s in found if s["trace_id"] == trace_id]
        _grow(tree, members, None, {s["span_id"] for s in members})
        console.print(tree)


def _grow(node: Any, spans: list[dict[str, Any]], parent: str | None, ids: set[str]) -> None:
    for span in spans:
        mine = span.get("parent_id")
        if (mine if mine in ids else None) != parent:
            continue
        child = node.add(_label(span))
        _grow(child, spans, span["span_id"], ids)


def _label(span: dict[str, Any]) -> str:
    from rich.markup import escape

    ms = ((span.get("end") or 0) - (span.get("start") or 0)) / 1e6
    attrs = span.get("attributes") or {}
    ids = [
        f"{k.removeprefix('clearance.')}={v}"
        for k, v in attrs.items()
        if k in ("clearance.event_id", "clearance.approval_id", "clearance.deployment_id")
    ]
    flag = " [red]error[/red]" if span.get("status") == "error" else ""
    return f"{escape(span['name'])} ({span.get('kind')}, {ms:.1f} ms){flag} {escape(' '.join(ids))}"
