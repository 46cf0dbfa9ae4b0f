"""Timer: every 15 minutes, notice and retire expired shadow and canary phases."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.composition import get_container
from shared.composition.deploy import expiry_deps
from shared.services.deploy.expiry import sweep
from shared.settings import timers_run_on_startup

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.function_name("deployment_expiry")
@bp.schedule(schedule="0 */15 * * * *", arg_name="timer", run_on_startup=timers_run_on_startup())
def deployment_expiry(timer: func.TimerRequest) -> None:
    done = sweep(expiry_deps(get_container()))
    if done:
        log.info("expiry: %s", ", ".join(f"{k} {v.value}" for k, v in sorted(done.items())))
