"""`clearance rollback` and `clearance deployments` against a cell built from fakes."""

from __future__ import annotations

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from shared.cli import deploy as cli
from shared.domain.catalog import RegionEntry
from tests.support import deploy_samples as s
from tests.support.deploy_world import World


@pytest.fixture
def world(cell: RegionEntry, monkeypatch: pytest.MonkeyPatch) -> World:
    w = World(cell)
    for version in ("1", "2"):
        w.run(s.image_request(cell, s.image_metadata("rolling", version)))
    monkeypatch.setattr(cli, "_container", lambda region, root: None)
    monkeypatch.setattr(cli, "console", Console(width=400))
    import shared.composition.deploy as setup

    monkeypatch.setattr(setup, "rollback_deps", lambda container: w.rollback_deps)
    return w


def app() -> typer.Typer:
    application = typer.Typer()
    cli.register(application)
    return application


def test_rollback_command_queues_and_reports_the_restore(world: World) -> None:
    args = ["rollback", "fraud-detector", "--region", "westeurope",
            "--as", "approver.two@contoso.example", "--reason", "bad", "--wait", "0"]  # fmt: skip
    result = CliRunner().invoke(app(), args)
    assert result.exit_code == 0, result.output
    assert "restoring 1 (sha256:" in result.output
    world.drain()
    live = world.state().live
    assert live is not None and live.metadata.version == "1"


def test_rollback_by_someone_else_is_refused(world: World) -> None:
    args = ["rollback", "fraud-detector", "--region", "westeurope", "--as", "x@contoso.example"]
    result = CliRunner().invoke(app(), args)
    assert result.exit_code == 1 and "refused (404)" in result.output  # as unknown


def test_deployments_lists_what_is_live(world: World) -> None:
    result = CliRunner().invoke(app(), ["deployments", "--region", "westeurope"])
    assert result.exit_code == 0, result.output
    assert "fraud-detector" in result.output and "2 (sha256:" in result.output
