"""Run every benchmark script and collect the figures into docs/benchmarks.md.

.venv/bin/python benchmarks/report.py        (what `make bench` runs)
.venv/bin/python benchmarks/report.py --save DIR
    (also keeps each script's output in DIR/<script>.txt)
.venv/bin/python benchmarks/report.py --dry-run --outputs DIR
    (the page from saved outputs DIR/<script>.txt, printed, nothing run or written)
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from figures import targeted

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
NOT_BENCHMARKS = {"bench_stack.py", "figures.py", "report.py"}  # helpers, not benchmarks
TARGETS = """\
| target | figure |
| --- | --- |
| cold import of `function_app` <= 0.35x the eager import of its SDKs | `cold_import.py` ratio |
| storage requests per event: accepted <= 7, rejected <= 5, duplicate <= 2, re-tag <= 3, exact redelivery <= 2, deciding vote <= 10, approval consumer <= 8 | `requests_per_event.py` `storage` column and `storage requests, ...` lines |
| host CPU per accepted event <= 15 ms | `requests_per_event.py` `host CPU per accepted event` (`cpu ms` of the accepted row) |
| host CPU per event <= 10 ms averaged over the burst mix | `intake_burst.py` `host CPU per event` (from /proc, every run) |
| one host on this 2-core machine >= 100 events/s on the burst mix | `intake_burst.py` closed loop, one host: `throughput ... per host` |
| open loop at 50 events/s: push -> approval request p95 < 250 ms | `intake_burst.py` open loop, steady mix: `push -> approval request` p50/p95/p99 |
| open loop at 50 votes/s: deciding vote -> deployment request p95 < 100 ms | `decision_latency.py` open loop: `deciding vote -> deployment request enqueued` p50/p95/p99 |
| lineage queries read partitions, never scan | `lineage_bench.py` ratios to a full scan |
| lineage verify: >= 200,000 records/s offline, >= 20,000 records/s against Azurite | `lineage_bench.py --quick` |
| host CPU per accepted event with telemetry on <= 1.10x off | `requests_per_event.py --telemetry` (not run by `make bench`) |
| first failing measurement -> restore commit (GitOps) <= 90 s | `analysis_restore.py` max |

Every script prints each figure that has a target on one line with the target and `met` or
`missed`; the section "Figures against their targets" below collects those lines.
"""  # noqa: E501 (a Markdown table, one row a line)


READING = """\
## Reading the figures

- **Correctness holds under load**: the burst must end with exactly one approval request per
  distinct image and exactly one terminal lineage record per event; the script prints both.
- **A host is CPU-bound, and its CPU goes to requests.** A host is one Python process (the
  GIL): one host's events/s is about the core it gets (0.87 here) over its CPU per event
  (`intake_burst.py`, from `/proc`). That CPU is the intake handlers (`profile_intake.py`, per
  event of the same mix) plus the approval consumers running in the same process (one run per
  accepted image). `profile_intake.py`'s groups are flat: the transport's syscalls (loopback,
  Azurite's share of TCP included), the tables SDK and azure-core per request, our own code
  at about an eighth. What is left to cut is requests (`requests_per_event.py`). The lineage's
  catalog rows (artifact, name and by-actor rows) already share one partition, one transaction
  per append (docs/lineage.md); the rows still above target need the intake ledger's part of
  the layout change (the claim, event memory and completion in the chain's partition), described
  with every figure's before and after in [benchmarks-history.md](benchmarks-history.md).
- **Open loop**: the burst mix offered at a fixed rate, steadily: each image's four events
  fall within 2 s of its slot, so new images (intake's accepted path and the approval consumer
  after it, about 25 ms of host CPU together) arrive at a quarter of the rate throughout. The
  `new images offered` line gives the mean and the busiest second. The shuffled run offers the
  same events shuffled over the whole run, as this benchmark did before 2026-12-04: most
  images' first event then falls in the first seconds (three to four times the mean), the host
  is saturated for those seconds and the latency is that burst's queueing; it is printed for
  comparison, without a target. When the offered rate is above what one host sustains, the
  backlog grows for the whole run and the figures are queueing, not the cost of a request.
- The per-delivery latency of the closed loops includes waiting for a free host thread: the
  load generator keeps 32 deliveries in flight.
- In Azure every round trip is a network hop to Table Storage (milliseconds), served in
  parallel, and a cell scales out on Flex Consumption (instances, each with
  `FUNCTIONS_WORKER_PROCESS_COUNT` workers); the request and CPU counts per event are the
  figures that carry over.
- **Cold import** (`cold_import.py`) is measured as the package ships: with the app's bytecode
  compiled (the host runs the package read-only).
- **Detection to restore** (`analysis_restore.py`): the failing measurement and the restore
  run in one invocation, so the figure is the Prometheus queries, the state and lineage writes
  and the restore commit and push. In Azure add Table Storage and Azure DevOps/GitHub round
  trips (seconds, not tens of seconds); the time from a regression to its first failing
  measurement is at most one analysis interval (60 s by default) plus the managed Prometheus
  scrape interval, and is a catalog setting, not a cost of the machinery.
"""


def machine() -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(
            ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")
        ).split()[1]
        memory = f"{int(mem) / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        memory = "unknown"
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory} memory, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; Azurite, docker-registry "
        "and both local hosts run on the same machine as the load generator."
    )


def run_script(script: Path, outputs: Path | None) -> tuple[str, int, float]:
    """The script's output, exit code and duration; from ``outputs/<name>.txt`` if given."""
    if outputs is not None:
        saved = outputs / f"{script.stem}.txt"
        if not saved.is_file():
            return "(not run: no saved output)", 0, 0.0
        run = outputs / f"{script.stem}.run"  # "<exit code> <seconds>", written by --save
        code, took = run.read_text().split() if run.is_file() else ("0", "0")
        return saved.read_text().strip(), int(code), float(took)
    start = time.perf_counter()
    run = subprocess.run(
        [sys.executable, str(script)],
        cwd=HERE,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    output = (run.stdout + (run.stderr if run.returncode else "")).strip()
    return output, run.returncode, time.perf_counter() - start


def summary(outputs: dict[str, str]) -> str:
    """Every line with a target, per script and section, as ``make bench`` prints it last."""
    lines = []
    for name, output in outputs.items():
        for section, line in targeted(output):
            where = f"{name}, {section}" if section else name
            lines.append(f"[{where}] {' '.join(line.split())}")  # padding is per script
    return "\n".join(lines) or "(no figure with a target was printed)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--outputs",
        type=Path,
        help="read each script's output from DIR/<script>.txt instead of running it",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the page instead of writing docs/benchmarks.md",
    )
    parser.add_argument(
        "--save",
        type=Path,
        help="also write each script's output to DIR/<script>.txt (for --outputs later)",
    )
    args = parser.parse_args()
    if args.save is not None:
        args.save.mkdir(parents=True, exist_ok=True)
    scripts = sorted(p for p in HERE.glob("*.py") if p.name not in NOT_BENCHMARKS)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())  # CPU figures need a quiet machine
    if args.outputs is not None:  # the load when the saved outputs were made, if recorded
        saved = args.outputs / "load.txt"
        load = saved.read_text().strip() if saved.is_file() else "not recorded"
    elif args.save is not None:
        (args.save / "load.txt").write_text(load + "\n")
    sections = []
    printed: dict[str, str] = {}
    failed = 0
    for script in scripts:
        command = f".venv/bin/python benchmarks/{script.name}"
        print(f"== {command}", flush=True)
        output, code, took = run_script(script, args.outputs)
        print(output, flush=True)
        printed[script.name] = output
        if args.save is not None and args.outputs is None:
            (args.save / f"{script.stem}.txt").write_text(output + "\n")
            (args.save / f"{script.stem}.run").write_text(f"{code} {took:.1f}\n")
        if code:
            failed += 1
        doc = (script.read_text().split('"""')[1].strip().splitlines() or [""])[0]
        sections.append(
            f"## {script.name}\n\n{doc}\n\n```\n$ {command}\n{output}\n```\n\n"
            f"(took {took:.0f} s, exit code {code})\n"
        )
    figures = summary(printed)
    print(f"\n== figures against their targets\n{figures}", flush=True)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = (
        "# Benchmarks\n\nGenerated by `make bench` (`.venv/bin/python benchmarks/report.py`) "
        f"on {now}.\n\nMachine: {machine()} Load average (1, 5, 15 min) when it started: "
        f"{load}.\n\n## Targets\n\n{TARGETS}\n"
        f"## Figures against their targets\n\n```\n{figures}\n```\n\n{READING}\n"
        + "\n".join(sections)
    )
    if args.dry_run:
        print(f"\n== docs/benchmarks.md (--dry-run, not written)\n{text}")
    else:
        (REPO / "docs" / "benchmarks.md").write_text(text)
        print(f"wrote docs/benchmarks.md ({len(scripts)} benchmarks, {failed} failed)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
