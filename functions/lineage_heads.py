"""Timer: every 20 s, sign a checkpoint of every lineage chain's head if any head moved."""

from __future__ import annotations

import azure.functions as func

from shared.adapters.storage.lineage.checkpoint_lock import TableCheckpointLock
from shared.adapters.storage.lineage.regions import region_lineage
from shared.composition import get_container
from shared.services.lineage.heads import CHECKPOINT_SCHEDULE, take_checkpoint

bp = func.Blueprint()


@bp.function_name("lineage_heads")
@bp.schedule(schedule=CHECKPOINT_SCHEDULE, arg_name="timer", run_on_startup=True)
def lineage_heads(timer: func.TimerRequest) -> None:
    container = get_container()
    region = container.settings.cell.name
    own = region_lineage(region, container.table_service, container.blob_service)
    take_checkpoint(
        own.reader,
        own.heads,
        container.checkpoint_signer,
        container.checkpoint_verifier,
        region,
        lineage=container.lineage,
        lock=TableCheckpointLock(container.table_service),
    )
