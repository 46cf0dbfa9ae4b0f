"""Pure helpers of the benchmarks: percentiles, and a figure printed next to its target.

Every figure with a target prints on one line ending in ``(target <= 15 ms: met)`` or
``(target <= 15 ms: missed)``; ``report.py`` collects those lines into the summary of
``make bench``. No stack, no I/O: the unit tests import this module alone.
"""

from __future__ import annotations

import math
import operator
import statistics
from collections.abc import Callable, Sequence

COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
MARK = "(target "  # every line with a target carries it; report.py greps for it


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 (inclusive method); NaN without samples, the sample itself for one."""
    values = [float(s) for s in samples]
    if not values:
        return {"p50": math.nan, "p95": math.nan, "p99": math.nan}
    if len(values) == 1:
        return {"p50": values[0], "p95": values[0], "p99": values[0]}
    qs = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": statistics.median(values), "p95": qs[94], "p99": qs[98]}


def met(value: float, op: str, target: float) -> bool:
    """Whether ``value op target`` holds; a missing figure (NaN) never meets its target."""
    if op not in COMPARE:
        raise ValueError(f"unknown comparison {op!r}, expected one of {sorted(COMPARE)}")
    if math.isnan(value):
        return False
    return COMPARE[op](value, target)


def number(value: float) -> str:
    """A target as written: 100, 0.35, 7 (no trailing zeros)."""
    return f"{value:g}"


def verdict(value: float, op: str, target: float, unit: str = "") -> str:
    """``(target <= 15 ms: met)``; ``missed (no samples)`` for a missing figure."""
    suffix = f" {unit}" if unit else ""
    word = "met" if met(value, op, target) else "missed"
    if math.isnan(value):
        word = "missed, no samples"
    return f"{MARK}{op} {number(target)}{suffix}: {word})"


def figure(
    label: str,
    value: float,
    unit: str,
    op: str,
    target: float,
    *,
    width: int = 44,
    digits: int = 1,
) -> str:
    """``label  67.0 ms  (target <= 15 ms: missed)``, the label padded to ``width``."""
    shown = "n/a" if math.isnan(value) else f"{value:.{digits}f}"
    return f"{label:{width}} {shown:>8} {unit:<4}  {verdict(value, op, target, unit)}"


def milliseconds(seconds: float) -> str:
    """``   123.4 ms`` (8 wide), ``     n/a ms`` for a missing figure."""
    return f"{'n/a' if math.isnan(seconds) else f'{seconds * 1000:.1f}':>8} ms"


def latency_line(label: str, seconds: Sequence[float], op: str, target_ms: float) -> str:
    """``label: p50 .. ms  p95 .. ms  p99 .. ms  (target p95 < 250 ms: met)``"""
    p = percentiles(seconds)
    shown = "  ".join(f"{k} {milliseconds(v)}" for k, v in p.items())
    mark = verdict(p["p95"] * 1000, op, target_ms, "ms").replace(MARK, f"{MARK}p95 ", 1)
    return f"{label}: {shown}  {mark}"


def check(found: int, expected: int) -> str:
    """A correctness check, not a target: ``ok`` or ``WRONG, expected N``."""
    return "ok" if found == expected else f"WRONG, expected {expected}"


def targeted(output: str) -> list[tuple[str, str]]:
    """The lines of a benchmark's output that carry a target, each with the ``### `` section
    it is printed under ("" before the first), for the summary of ``make bench``."""
    section, found = "", []
    for line in output.splitlines():
        if line.startswith("### "):
            section = line[4:].strip()
        elif MARK in line:
            found.append((section, line.strip()))
    return found
