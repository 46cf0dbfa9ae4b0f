"""Timer: every 30 s, publish the cell's status as gauges (pending and overdue approvals,
stuck rollouts, dead-letter depth, checkpoint age): what the cell's alerts watch."""

from __future__ import annotations

import azure.functions as func

from shared.adapters.telemetry.spans import publish_status, traced_trigger
from shared.composition import get_container
from shared.settings import timers_run_on_startup

bp = func.Blueprint()


@bp.function_name("cell_status")
@bp.schedule(schedule="*/30 * * * * *", arg_name="timer", run_on_startup=timers_run_on_startup())
@traced_trigger("cell_status")
def cell_status(timer: func.TimerRequest) -> None:
    publish_status(get_container().status())
