"""The benchmarks that nothing else runs still run: each script, cut to one short run, ends
with exit code 0 and prints its figure next to its target (a benchmark broken by a change of
the code it measures fails here, not in the next ``make bench``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.stack, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def run(script: str, *args: str, timeout: float = 240) -> str:
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), *args],
        cwd=REPO / "benchmarks",
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


def test_detection_to_restore_runs_a_real_rollback() -> None:
    out = run("analysis_restore.py", "--runs", "1")
    assert "failing measurement -> restore commit" in out
    assert "(target <= 90 s: met)" in out, out


def test_cold_import_prints_its_ratio_against_the_target() -> None:
    out = run("cold_import.py", "--runs", "1")
    assert "ratio" in out
    assert "(target <= 0.35: " in out, out
