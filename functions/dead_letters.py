"""Timer: every minute, record the cell's dead letters (Event Grid and bus) in lineage."""

from __future__ import annotations

import azure.functions as func

from shared.adapters.telemetry.spans import traced_trigger
from shared.composition import get_container
from shared.services.dead_letters import record_bus_dead_letters, record_dead_letters
from shared.settings import timers_run_on_startup

bp = func.Blueprint()


@bp.function_name("dead_letters")
@bp.schedule(schedule="0 * * * * *", arg_name="timer", run_on_startup=timers_run_on_startup())
@traced_trigger("dead_letters")
def dead_letters(timer: func.TimerRequest) -> None:
    container = get_container()
    region = container.settings.cell.name
    record_dead_letters(container.dead_letters, container.lineage, region)
    record_bus_dead_letters(container.bus_dead_letters, container.lineage, region, container.mailer)
