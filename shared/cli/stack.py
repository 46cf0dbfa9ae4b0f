"""`clearance stack up|down|status`: the two-region local stack."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from shared.local.stack import REGIONS, LocalStack, default_root

app = typer.Typer(help="Run the two-region local stack (Azurite, registries, SMTP, Teams, hosts).")
console = Console(width=120)
REPO = Path(__file__).resolve().parents[2]


def _stack(root: Path | None) -> LocalStack:
    return LocalStack(root or default_root(REPO), REPO)


@app.command()
def up(
    root: Path | None = typer.Option(None, help="where stack data lives (default .local/)"),
    timeout: float = typer.Option(120.0, help="seconds to wait for every part to answer"),
    stages: bool = typer.Option(
        True,
        help="each region deploys to a 'staging' stage (no human approval, bakes, promotes "
        "itself) then 'prod' (two approvers); --no-stages: one stage, straight to prod",
    ),
) -> None:
    """Start (or keep) every part and wait until each one answers."""
    stack = LocalStack(root or default_root(REPO), REPO, stages=stages)
    try:
        stack.up(timeout=timeout)
    except RuntimeError as exc:
        console.print(f"[red]stack up failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    print_urls(stack)


@app.command()
def down(root: Path | None = typer.Option(None)) -> None:
    """Stop the processes the stack started (by their recorded PIDs only)."""
    stopped = _stack(root).down()
    console.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


@app.command()
def status(root: Path | None = typer.Option(None)) -> None:
    """Show each part with its PID and whether it answers."""
    report = _stack(root).status()
    table = Table("part", "pid", "healthy")
    for name, row in report.items():
        table.add_row(name, str(row["pid"] or "-"), "yes" if row["healthy"] else "no")
    console.print(table)
    if not all(r["healthy"] for r in report.values()):
        raise typer.Exit(1)


def print_urls(stack: LocalStack) -> None:
    table = Table("region", "registry (ACR)", "Functions host", "storage (Azurite account)")
    for region in REGIONS:
        table.add_row(
            region,
            f"https://{stack.login_server(region)}",
            stack.host_url(region),
            f"clr{region}",
        )
    console.print(table)
    p = stack.ports
    console.print(f"SMTP (all mail kept in {stack.maildir}): 127.0.0.1:{p.smtp}")
    console.print(f"Teams webhook receiver: http://127.0.0.1:{p.teams}/messages")
    console.print(f"Registry CA: {stack.ca_file}")
