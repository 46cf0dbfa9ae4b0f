"""Timer triggers fired on their NCRONTAB schedule (UTC), as the Functions host does."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from azure.functions.timer import TimerRequest

from shared.local.devhost.app_index import IndexedFunction
from shared.local.devhost.ncrontab import Schedule

log = logging.getLogger(__name__)


class TimerRunner:
    def __init__(self, fn: IndexedFunction) -> None:
        self.fn = fn
        self.schedule = Schedule.parse(fn.trigger.schedule)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"timer-{fn.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _fire(self, past_due: bool) -> None:
        try:
            self.fn.invoke(TimerRequest(past_due=past_due))
        except Exception:
            log.exception("timer function %s failed", self.fn.name)

    def _loop(self) -> None:
        if self.fn.trigger.run_on_startup:
            self._fire(past_due=False)
        while not self._stop.is_set():
            now = datetime.now(UTC)
            due = self.schedule.next_after(now)
            if self._stop.wait((due - now).total_seconds()):
                return
            self._fire(past_due=(datetime.now(UTC) - due).total_seconds() > 60)
