"""The benchmarks' pure helpers: percentiles, a figure next to its target with met/missed, and
the summary ``make bench`` prints (benchmarks/figures.py, benchmarks/report.py --dry-run)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import it as a sibling
    import figures as module

    return module


def test_percentiles_of_a_known_sample(figures: ModuleType) -> None:
    p = figures.percentiles([float(i) for i in range(1, 101)])
    assert p == pytest.approx({"p50": 50.5, "p95": 95.05, "p99": 99.01})


def test_percentiles_without_samples_and_of_one(figures: ModuleType) -> None:
    assert all(math.isnan(v) for v in figures.percentiles([]).values())
    # statistics.quantiles refuses a single data point; one vote is still a figure
    assert figures.percentiles([0.25]) == {"p50": 0.25, "p95": 0.25, "p99": 0.25}


@pytest.mark.parametrize(
    ("value", "op", "target", "expected"),
    [
        (15.0, "<=", 15, True),  # the boundary meets an at-most target
        (15.01, "<=", 15, False),
        (250.0, "<", 250, False),  # ... and misses a strict one
        (249.9, "<", 250, True),
        (100.0, ">=", 100, True),
        (99.9, ">=", 100, False),
        (math.inf, "<=", 10, False),
        (-math.inf, ">=", 100, False),
        (math.nan, "<=", 10, False),  # no figure never meets a target
        (math.nan, ">=", 0, False),
    ],
)
def test_met(figures: ModuleType, value: float, op: str, target: float, expected: bool) -> None:
    assert figures.met(value, op, target) is expected


def test_an_unknown_comparison_is_refused(figures: ModuleType) -> None:
    with pytest.raises(ValueError, match="unknown comparison"):
        figures.met(1.0, "=<", 2)


def test_verdict_and_figure_lines(figures: ModuleType) -> None:
    assert figures.verdict(67.0, "<=", 15, "ms") == "(target <= 15 ms: missed)"
    assert figures.verdict(7, "<=", 7) == "(target <= 7: met)"
    assert figures.verdict(math.nan, "<", 250, "ms") == "(target < 250 ms: missed, no samples)"
    line = figures.figure("host CPU per accepted event", 67.04, "ms", "<=", 15)
    assert line.startswith("host CPU per accepted event ")
    assert " 67.0 ms " in line
    assert line.endswith("(target <= 15 ms: missed)")
    assert " n/a " in figures.figure("x", math.nan, "ms", "<=", 15)


def test_latency_line_marks_the_p95(figures: ModuleType) -> None:
    line = figures.latency_line("deciding vote", [0.05] * 96 + [0.5] * 4, "<", 100)
    assert line.startswith("deciding vote: p50     50.0 ms  p95     50.0 ms  p99    500.0 ms")
    assert line.endswith("(target p95 < 100 ms: met)")
    slow = figures.latency_line("deciding vote", [0.05] * 90 + [0.5] * 10, "<", 100)
    assert slow.endswith("(target p95 < 100 ms: missed)")
    empty = figures.latency_line("deciding vote", [], "<", 100)
    assert "n/a ms" in empty
    assert empty.endswith("missed, no samples)")


def test_check_is_not_a_target(figures: ModuleType) -> None:
    assert figures.check(63, 63) == "ok"
    assert figures.check(62, 63) == "WRONG, expected 63"
    assert figures.targeted(f"approval requests: 62 ({figures.check(62, 63)})") == []


def test_targeted_keeps_the_section_of_each_line(figures: ModuleType) -> None:
    output = "\n".join(
        [
            "cpu  12 ms  (target <= 15 ms: missed)",
            "### closed loop, one host",
            "wall time : 3 s",
            "throughput : 20 per host (target >= 100 events/s: missed)",
            "### open loop",
            "push -> approval request: p95 1 ms  (target p95 < 250 ms: met)",
        ]
    )
    assert figures.targeted(output) == [
        ("", "cpu  12 ms  (target <= 15 ms: missed)"),
        ("closed loop, one host", "throughput : 20 per host (target >= 100 events/s: missed)"),
        ("open loop", "push -> approval request: p95 1 ms  (target p95 < 250 ms: met)"),
    ]


def test_report_dry_run_prints_the_summary_and_writes_nothing(tmp_path: Path) -> None:
    page = REPO / "docs" / "benchmarks.md"
    before = page.read_bytes()
    (tmp_path / "decision_latency.txt").write_text(
        "### open loop\ndeciding vote: p95 3 ms  (target p95 < 100 ms: met)\n"
    )
    (tmp_path / "requests_per_event.txt").write_text(
        "host CPU per accepted event   62.2 ms  (target <= 15 ms: missed)\n"
    )
    run = subprocess.run(
        [sys.executable, str(BENCHMARKS / "report.py"), "--dry-run", "--outputs", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert page.read_bytes() == before
    summary = run.stdout.split("== figures against their targets\n", 1)[1]
    assert summary.splitlines()[:2] == [
        "[decision_latency.py, open loop] deciding vote: p95 3 ms (target p95 < 100 ms: met)",
        "[requests_per_event.py] host CPU per accepted event 62.2 ms (target <= 15 ms: missed)",
    ]
    assert "(not run: no saved output)" in run.stdout  # the scripts without a saved output
    assert "| open loop at 50 votes/s: deciding vote -> deployment request p95 < 100 ms |" in (
        run.stdout
    )
    assert "not written" in run.stdout
    assert "when it started: not recorded." in run.stdout  # no load.txt saved


def test_report_rebuilds_a_saved_runs_exit_code_duration_and_load(tmp_path: Path) -> None:
    """What ``--save`` keeps besides the output (``<script>.run``, ``load.txt``) comes back in
    the page ``--outputs`` builds: a failed script stays failed."""
    (tmp_path / "cold_import.txt").write_text("ratio : 0.4  (target <= 0.35: missed)\n")
    (tmp_path / "cold_import.run").write_text("1 12.4\n")
    (tmp_path / "load.txt").write_text("0.26, 0.28, 0.13\n")
    run = subprocess.run(
        [sys.executable, str(BENCHMARKS / "report.py"), "--dry-run", "--outputs", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert run.returncode == 1, run.stdout  # one benchmark failed
    assert "(took 12 s, exit code 1)" in run.stdout
    assert "when it started: 0.26, 0.28, 0.13." in run.stdout


def test_requests_per_event_marks_each_storage_target_and_the_cpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import requests_per_event as rpe

    def row(event: str, storage: int, cpu: float) -> dict[str, object]:
        counts = {"table": storage, "queue": 0, "blob": 0, "registry": 2, "smtp": 0, "stand-in": 0}
        return {"event": event, **counts, "storage": storage, "total": storage + 2,
                "stable": True, "cpu_ms": cpu}  # fmt: skip

    rows = [row(rpe.ACCEPTED, 7, 15.0), row("rejected", 6, 40.0), row("first vote", 5, 9.0)]
    lines = rpe.target_lines(rows)
    assert lines[0].startswith("storage requests, new artifact, accepted")
    assert lines[0].endswith("(target <= 7: met)")  # at the target meets it
    assert lines[1].endswith("(target <= 5: missed)")
    assert len(lines) == 3  # "first vote" has no target: no line
    assert lines[2].startswith("host CPU per accepted event")
    assert lines[2].endswith("(target <= 15 ms: met)")
    table = rpe.table(rows).splitlines()
    assert table[2].split()[-5:] == ["<=", "7", "met", "9", "15.0"]
    assert table[3].split()[-5:] == ["<=", "5", "missed", "8", "40.0"]
    assert "met" not in table[4] and "missed" not in table[4]
    # no accepted row (e.g. the round failed): the CPU target is missed, not silently dropped
    assert rpe.target_lines([row("rejected", 5, 1.0)])[-1].endswith("missed, no samples)")
