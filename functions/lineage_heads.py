"""Timer: every 15 minutes, snapshot every lineage chain's head into immutable blob storage."""

from __future__ import annotations

import azure.functions as func

from shared.adapters.storage.lineage.regions import region_lineage
from shared.composition import get_container
from shared.services.lineage.heads import snapshot_heads

bp = func.Blueprint()


@bp.function_name("lineage_heads")
@bp.schedule(schedule="0 */15 * * * *", arg_name="timer", run_on_startup=False)
def lineage_heads(timer: func.TimerRequest) -> None:
    container = get_container()
    region = container.settings.cell.name
    own = region_lineage(region, container.table_service, container.blob_service)
    snapshot_heads(own.reader, own.heads, region)
