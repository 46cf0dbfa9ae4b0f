"""The local dashboard's PromQL reads the metrics the app exports, under their Prometheus names."""

from __future__ import annotations

import json
import re
from pathlib import Path

from shared.adapters.telemetry import instruments

REPO = Path(__file__).resolve().parents[4]
UNITS = {
    "clearance.approvals.oldest_pending_age",
    "clearance.lineage.checkpoint_age",
    "clearance.intake.approval_request_latency",
    "clearance.approvals.time_to_decision",
}
COUNTERS = {
    instruments.EVENTS,
    instruments.APPROVAL_DECISIONS,
    instruments.ROLLOUTS,
    instruments.ANALYSIS_VERDICTS,
    instruments.INVOCATIONS,
}


def prometheus_names() -> set[str]:
    out = set()
    for key, name in vars(instruments).items():
        if not (key.isupper() and isinstance(name, str) and name.startswith("clearance.")):
            continue
        base = name.replace(".", "_") + ("_seconds" if name in UNITS else "")
        out |= {base + "_total"} if name in COUNTERS else {base, base + "_bucket"}
    return out


def test_every_panel_reads_an_exported_metric() -> None:
    doc = json.loads((REPO / "docs" / "dashboards" / "clearance-local.json").read_text())
    exprs = [t["expr"] for p in doc["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"\b(clearance_[a-z_]+)", e)}
    assert used and used <= prometheus_names(), used - prometheus_names()
