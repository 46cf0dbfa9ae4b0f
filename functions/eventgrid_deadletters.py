"""Timer: every minute, record the cell's Event Grid dead letters in lineage."""

from __future__ import annotations

import azure.functions as func

from shared.composition import get_container
from shared.services.dead_letters import record_dead_letters

bp = func.Blueprint()


@bp.function_name("eventgrid_deadletters")
@bp.schedule(schedule="0 * * * * *", arg_name="timer", run_on_startup=True)
def eventgrid_deadletters(timer: func.TimerRequest) -> None:
    container = get_container()
    record_dead_letters(container.dead_letters, container.lineage, container.settings.cell.name)
