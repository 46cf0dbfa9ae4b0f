"""`clearance rollback`, `clearance deployments` and `clearance promote`: what runs where,
taking it back, and moving it on to the next stage.

Both act as the region's cell: with the local stack's settings (``--root``, default
``.local``), or with the cell's settings in the environment (``CLEARANCE_*``) in Azure.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from shared.composition import Container
from shared.settings import build_settings

REPO = Path(__file__).resolve().parents[2]
console = Console(width=140)


def register(app: typer.Typer) -> None:
    app.command("rollback")(rollback)
    app.command("deployments")(deployments)
    app.command("promote")(promote)


def _container(region: str, root: Path | None) -> Container:
    from shared.local.stack import LocalStack, default_root

    stack = LocalStack(root or default_root(REPO), REPO)
    if (stack.root / "stack.json").exists():
        return Container(build_settings(stack.environment(region)))
    if root is not None:
        raise typer.BadParameter(f"no local stack under {root}: run `make run` first")
    settings = build_settings()
    if settings.region != region:
        raise typer.BadParameter(
            f"these settings are the {settings.region} cell's; a cell acts for its own region only"
        )
    return Container(settings)


def rollback(
    model: str = typer.Argument(..., help="the model to roll back"),
    region: str = typer.Option(..., "--region", help="the region (cell) it runs in"),
    as_: str = typer.Option(..., "--as", help="your identity; must be an approver of the model"),
    reason: str = typer.Option("", help="why; recorded in lineage and the commit"),
    root: Path | None = typer.Option(None, help="local stack root (default .local)"),
    wait: float = typer.Option(60.0, help="seconds to wait for the outcome (0: do not wait)"),
) -> None:
    """Restore the revision that ran before the live one (or abort a rollout under way)."""
    from shared.composition.deploy import rollback_deps
    from shared.services.deploy.rollback import RollbackRefused, request_rollback

    container = _container(region, root)
    deps = rollback_deps(container)
    try:
        ticket = request_rollback(model, [as_], "unknown", reason or None, deps)
    except RollbackRefused as exc:
        console.print(f"[red]refused ({exc.status}):[/red] {exc}")
        raise typer.Exit(1) from exc
    what = "aborting the rollout of" if ticket.aborts_rollout else "rolling back"
    console.print(
        f"{what} {ticket.rolls_back}; restoring {ticket.restores} ({ticket.deployment_id})"
    )
    if wait <= 0:
        return
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        state, _ = deps.state.get(region, model)
        if state.rollout is None and (
            ticket.aborts_rollout
            or (state.live and state.live.deployment_id == ticket.deployment_id)
        ):
            live = state.live.summary() if state.live else "nothing"
            console.print(f"[green]done:[/green] {model} in {region} runs {live}")
            return
        time.sleep(0.5)
    console.print(f"[yellow]queued; no outcome within {wait:.0f}s[/yellow] (see lineage)")
    raise typer.Exit(1)


def promote(
    model: str = typer.Argument(..., help="the model to promote"),
    region: str = typer.Option(..., "--region", help="the region (cell) it runs in"),
    to: str = typer.Option(..., "--to", help="the stage to promote to (e.g. prod)"),
    as_: str = typer.Option(..., "--as", help="your identity; must be the model's owner"),
    digest: str = typer.Option("", help="the digest (default: what the previous stage runs)"),
    root: Path | None = typer.Option(None, help="local stack root (default .local)"),
) -> None:
    """Ask for the promotion of what the previous stage runs and verified to stage ``--to``."""
    from shared.domain.deploy.promotion import state_key
    from shared.services.approval.stages import StageRefused
    from shared.services.approval.stages import promote as request

    container = _container(region, root)
    deps = container.approvals()
    if not digest:
        try:
            previous = deps.cell.previous_stage(to)
        except KeyError as exc:
            raise typer.BadParameter(f"{region} has no stage {to!r}") from exc
        if previous is None:
            raise typer.BadParameter(f"{to} is the first stage of {region}")
        states = deps.stage_state
        live = (
            states.get(region, state_key(deps.cell, model, previous.name))[0].live
            if states
            else None
        )
        if live is None:
            console.print(f"[red]refused:[/red] {model} runs nowhere in {previous.name}")
            raise typer.Exit(1)
        digest = live.identity
    try:
        approval = request(model, digest, to, as_, deps)
    except StageRefused as exc:
        console.print(f"[red]refused:[/red] {exc}")
        raise typer.Exit(1) from exc
    for note in approval.notes:
        console.print(f"  {note}")
    console.print(f"promotion of {model} to {to}: {approval.state.value} ({approval.approval_id})")


def deployments(
    region: str = typer.Option(..., "--region"),
    root: Path | None = typer.Option(None, help="local stack root (default .local)"),
) -> None:
    """What is live per model in the region, since when, and what it replaced."""
    from shared.composition.deploy import rollback_deps

    deps = rollback_deps(_container(region, root))
    table = Table("model", "live", "since (UTC)", "approval", "replaced", "rollout", title=region)
    for state in sorted(deps.state.list_region(region), key=lambda s: s.model):
        live, previous, rollout = state.live, state.previous, state.rollout
        table.add_row(
            state.model,
            live.summary() if live else "-",
            f"{live.since:%Y-%m-%d %H:%M:%S}" if live and live.since else "-",
            live.approval_id if live else "-",
            previous.summary() if previous else "-",
            f"{rollout.deployment_id} step {rollout.next_step + 1}/{rollout.steps}"
            if rollout
            else "-",
        )
    console.print(table)
