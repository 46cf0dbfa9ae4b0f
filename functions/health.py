"""GET /api/health: the cell answers with its region and whether its settings are valid."""

from __future__ import annotations

import json

import azure.functions as func

from shared.services.health import check_health

bp = func.Blueprint()


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    report = check_health()
    return func.HttpResponse(
        json.dumps(report.as_dict()),
        status_code=200 if report.ok else 503,
        mimetype="application/json",
    )
