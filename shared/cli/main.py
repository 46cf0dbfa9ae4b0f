"""The `clearance` command."""

from __future__ import annotations

import typer

from shared.cli import check, deploy, lineage, samples, stack, telemetry

app = typer.Typer(no_args_is_help=True, help="Clearance: from pushed to serving, safely.")
app.add_typer(stack.app, name="stack")
check.register(app)
samples.register(app)
deploy.register(app)
lineage.register(app)
telemetry.register(app)


if __name__ == "__main__":
    app()
