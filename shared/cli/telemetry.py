"""`clearance trace`: one artifact's journey (or one event's) from the local stack's spans."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

REPO = Path(__file__).resolve().parents[2]


def register(parent: typer.Typer) -> None:
    parent.command("trace")(trace)


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
