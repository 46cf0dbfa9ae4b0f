"""POST /api/devops/checks: an Azure DevOps environment's "Invoke REST API" check (callback
mode), gated on the approval of an image in this region; and a timer that calls back the
checks whose approval was decided since.

Function-level auth (``x-functions-key``) plus the cell's check secret (X-Clearance-Check-Key);
see docs/azure-devops.md.
"""

from __future__ import annotations

import json

import azure.functions as func

from shared.composition import get_container
from shared.composition.deploy import devops_check_deps
from shared.services.approval.devops_checks import receive, sweep
from shared.settings import timers_run_on_startup

bp = func.Blueprint()


@bp.function_name("devops_check")
@bp.route(route="devops/checks", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def devops_check(req: func.HttpRequest) -> func.HttpResponse:
    headers = {k.lower(): v for k, v in req.headers.items()}
    answer = receive(headers, req.get_body() or b"", devops_check_deps(get_container()))
    return func.HttpResponse(
        json.dumps(answer.doc),
        status_code=answer.status,
        mimetype="application/json",
        headers={"Cache-Control": "no-store"},
    )


@bp.function_name("devops_check_callbacks")
@bp.schedule(schedule="*/30 * * * * *", arg_name="timer", run_on_startup=timers_run_on_startup())
def devops_check_callbacks(timer: func.TimerRequest) -> None:
    sweep(devops_check_deps(get_container()))
