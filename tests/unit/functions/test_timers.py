"""Timer triggers run on startup only on the local stack, never in Azure (every Flex
Consumption scale-out would fire them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shared.settings import timers_run_on_startup

REPO = Path(__file__).resolve().parents[3]
PROBE = """
import json, function_app
timers = {}
for fn in function_app.app.get_functions():
    trigger = fn.get_trigger()
    if type(trigger).__name__ == "TimerTrigger":
        timers[fn.get_function_name()] = bool(getattr(trigger, "run_on_startup", False))
print(json.dumps(timers))
"""


def timers(env: dict[str, str]) -> dict[str, bool]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), **env},
    )
    result: dict[str, bool] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_no_timer_runs_on_startup_in_azure_even_if_the_setting_is_copied_there() -> None:
    found = timers({"WEBSITE_INSTANCE_ID": "abc", "CLEARANCE_TIMERS_RUN_ON_STARTUP": "true"})
    assert found and not any(found.values())


def test_no_timer_runs_on_startup_by_default() -> None:
    found = timers({})
    assert found and not any(found.values())


def test_the_local_stack_may_run_the_dead_letter_timer_on_startup() -> None:
    assert timers({"CLEARANCE_TIMERS_RUN_ON_STARTUP": "true"})["dead_letters"] is True


@pytest.mark.parametrize("value", ["", "false", "0", "no", "TRUE\u200b"])
def test_anything_but_a_plain_yes_is_off(value: str) -> None:
    assert timers_run_on_startup({"CLEARANCE_TIMERS_RUN_ON_STARTUP": value}) is False
