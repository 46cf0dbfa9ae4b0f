"""GET /api/lineage/{view}/{key?}: the cell's read-only lineage API (function key; Entra in front).

Views and parameters: ``shared.services.lineage.http_api``; docs/auditors.md.
"""

from __future__ import annotations

import azure.functions as func

from shared.adapters.storage.lineage.regions import region_lineage
from shared.adapters.telemetry.spans import traced_trigger
from shared.composition import get_container
from shared.services.lineage.http_api import answer
from shared.services.lineage.queries import AuditQueries
from shared.services.lineage.verify import verify_artifact

bp = func.Blueprint()


@bp.function_name("lineage_api")
@bp.route(route="lineage/{view}/{key?}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@traced_trigger("lineage_api")
def lineage_api(req: func.HttpRequest) -> func.HttpResponse:
    container = get_container()
    region = container.settings.cell.name
    own = region_lineage(region, container.table_service, container.blob_service)
    result = answer(
        req.route_params.get("view", ""),
        req.route_params.get("key"),
        dict(req.params),
        AuditQueries({region: own.reader}),
        region,
        lambda key_hash: verify_artifact(
            own.reader, own.reader, own.heads, container.checkpoint_verifier, region, key_hash
        ),
    )
    return func.HttpResponse(
        result.body,
        status_code=result.status,
        mimetype=result.content_type,
        charset="utf-8",
        headers=result.headers,
    )
