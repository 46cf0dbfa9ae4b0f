"""A stand-in for a model's pods: Prometheus series of requests, errors and latency per revision.

    python -m shared.local.model_standin --port 9101 --control .local/standin.json

GET /metrics serves ``model_requests_total{model, revision, code}``,
``model_request_duration_seconds_bucket{model, revision, le}`` and the business counter
``model_declines_total{model, revision}`` for every revision the control file lists; the
counters grow with wall-clock time at each revision's rate. The control file is the switch:

    {"model": "fraud-detector", "revisions": {"1": "healthy", "2": "bad"}, "rate": 40}

``healthy`` answers 0.1 % server errors with a p95 near 0.2 s; ``bad`` 5 % errors, a p95 near
0.9 s and twice the declines; ``quiet`` is healthy at one request every few seconds (too few
samples). The file is read on every scrape, so writing it switches the candidate at once.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from shared.local.http_server import QuietThreadingHTTPServer

BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0)
# Cumulative share of requests at or under each bucket.
PROFILES: dict[str, dict[str, Any]] = {
    "healthy": {
        "errors": 0.001,
        "declines": 0.02,
        "discrepant": 0.01,
        "cdf": (0.30, 0.60, 0.96, 0.99, 1.0, 1.0, 1.0),
        "scale": 1.0,
    },
    "bad": {
        "errors": 0.05,
        "declines": 0.04,
        "discrepant": 0.20,
        "cdf": (0.05, 0.10, 0.30, 0.50, 0.80, 0.97, 1.0),
        "scale": 1.0,
    },
    "quiet": {
        "errors": 0.001,
        "declines": 0.02,
        "discrepant": 0.01,
        "cdf": (0.30, 0.60, 0.96, 0.99, 1.0, 1.0, 1.0),
        "scale": 0.005,
    },
}


@dataclass
class Counters:
    requests: float = 0.0
    errors: float = 0.0
    declines: float = 0.0
    discrepant: float = 0.0
    buckets: list[float] = field(default_factory=lambda: [0.0] * len(BUCKETS))
    latency_sum: float = 0.0


class StandIn:
    def __init__(self, control: Path, clock: Any = time.monotonic) -> None:
        self.control = control
        self.clock = clock
        self.counters: dict[str, Counters] = {}
        self.last = clock()
        self.lock = threading.Lock()

    def _read(self) -> tuple[str, dict[str, str], float]:
        try:
            doc = json.loads(self.control.read_text(encoding="utf-8"))
            revisions = {
                str(k): str(v) for k, v in dict(doc.get("revisions", {})).items() if v in PROFILES
            }
            return str(doc.get("model", "fraud-detector")), revisions, float(doc.get("rate", 40))
        except (OSError, ValueError, TypeError, AttributeError):
            return "fraud-detector", {}, 40.0

    def render(self) -> str:
        model, revisions, rate = self._read()
        with self.lock:
            now = self.clock()
            elapsed, self.last = max(now - self.last, 0.0), now
            for revision, health in revisions.items():
                p = PROFILES[health]
                n = rate * p["scale"] * elapsed
                c = self.counters.setdefault(revision, Counters())
                c.requests += n
                c.errors += n * p["errors"]
                c.declines += n * p["declines"]
                c.discrepant += n * p["discrepant"]
                for i, share in enumerate(p["cdf"]):
                    c.buckets[i] += n * share
                c.latency_sum += n * (0.12 if health != "bad" else 0.45)
            return _exposition(model, {r: self.counters[r] for r in revisions})


def _exposition(model: str, counters: dict[str, Counters]) -> str:
    lines = [
        "# TYPE model_requests_total counter",
        "# TYPE model_request_duration_seconds histogram",
        "# TYPE model_declines_total counter",
        "# TYPE model_prediction_discrepancies_total counter",
    ]
    for revision, c in counters.items():
        sel = f'model="{model}",revision="{revision}"'
        lines.append(f'model_requests_total{{{sel},code="200"}} {c.requests - c.errors:.3f}')
        lines.append(f'model_requests_total{{{sel},code="500"}} {c.errors:.3f}')
        for le, count in zip(BUCKETS, c.buckets, strict=True):
            lines.append(f'model_request_duration_seconds_bucket{{{sel},le="{le}"}} {count:.3f}')
        lines.append(f'model_request_duration_seconds_bucket{{{sel},le="+Inf"}} {c.requests:.3f}')
        lines.append(f"model_request_duration_seconds_sum{{{sel}}} {c.latency_sum:.3f}")
        lines.append(f"model_request_duration_seconds_count{{{sel}}} {c.requests:.3f}")
        lines.append(f"model_declines_total{{{sel}}} {c.declines:.3f}")
        lines.append(f"model_prediction_discrepancies_total{{{sel}}} {c.discrepant:.3f}")
    return "\n".join(lines) + "\n"


def write_control(control: Path, revisions: dict[str, str], model: str = "fraud-detector") -> None:
    """Switch the stand-in (atomically: a scrape never reads half a file)."""
    tmp = control.with_suffix(".tmp")
    tmp.write_text(json.dumps({"model": model, "revisions": revisions}), encoding="utf-8")
    tmp.replace(control)


def make_server(host: str, port: int, standin: StandIn) -> QuietThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, ctype = standin.render().encode(), "text/plain; version=0.0.4"
                status = 200
            elif self.path == "/health":
                body, ctype, status = b"ok", "text/plain", 200
            else:
                body, ctype, status = b"not found", "text/plain", 404
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return QuietThreadingHTTPServer((host, port), Handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9101)
    parser.add_argument("--control", type=Path, required=True)
    args = parser.parse_args()
    server = make_server(args.host, args.port, StandIn(args.control))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()


if __name__ == "__main__":
    main()
