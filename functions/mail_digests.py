"""Timer: every 5 minutes, one digest per address of the rejection mails held back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import azure.functions as func

from shared.adapters.telemetry.spans import traced_trigger
from shared.composition import get_container
from shared.services.mail_digest import send_digests

bp = func.Blueprint()


@bp.function_name("mail_digests")
@bp.schedule(schedule="0 */5 * * * *", arg_name="timer", run_on_startup=False)
@traced_trigger("mail_digests")
def mail_digests(timer: func.TimerRequest) -> None:
    container = get_container()
    window = container.settings.mail_digest_window_seconds
    if window == 0:
        return
    send_digests(
        container.mailer, container.digest_store, datetime.now(UTC), timedelta(seconds=window)
    )
