"""Configured once per process, lazily, at the first trigger invocation (never at import).

- ``CLEARANCE_TELEMETRY=off``: nothing (no SDK loaded; the wrappers call straight through).
- ``APPLICATIONINSIGHTS_CONNECTION_STRING`` (Azure): ``azure-monitor-opentelemetry`` exports
  spans and metrics to the cell's Application Insights, signed in with the Function App's
  identity when ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING`` says ``Authorization=AAD``.
  The distro's azure-core tracing and its ``requests``/``urllib``/``urllib3`` instrumentation
  are switched off (three to four spans per SDK request, most of telemetry's CPU): each storage
  or registry request is instead one light span of ours (``sdk_requests``).
- ``CLEARANCE_TELEMETRY_DIR`` (local stack): spans as JSONL files in that folder (read by
  ``clearance trace``), metrics on a Prometheus endpoint per process, announced to the local
  Prometheus through a file_sd target file (``targets/<pid>.json``).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SERVICE_NAME = "clearance"
_lock = threading.Lock()
_state: Telemetry | bool | None = None  # None: not yet configured; False: off


@dataclass
class Telemetry:
    tracer: Any
    meters: Any  # instruments.Instruments
    mode: str  # "azure" or "local"
    flush: Any = None


def telemetry() -> Telemetry | None:
    """The process's telemetry, configured on first use; None when it is off."""
    state = _state
    if state is None:
        state = _configure_once()
    return state if isinstance(state, Telemetry) else None


def configured() -> Telemetry | None:
    """The telemetry if a trigger already configured it (never configures)."""
    return _state if isinstance(_state, Telemetry) else None


def _configure_once() -> Telemetry | bool:
    global _state
    with _lock:
        if _state is None:
            try:
                _state = _configure(os.environ) or False
            except Exception:
                log.exception("telemetry could not be configured; running without it")
                _state = False
        return _state


def reset_for_tests() -> None:
    global _state
    with _lock:
        state, _state = _state, None
    if isinstance(state, Telemetry) and state.flush is not None:
        state.flush()


def _configure(env: Any) -> Telemetry | None:
    if str(env.get("CLEARANCE_TELEMETRY", "")).lower() == "off":
        return None
    if env.get("APPLICATIONINSIGHTS_CONNECTION_STRING"):
        return _azure(env)
    folder = env.get("CLEARANCE_TELEMETRY_DIR")
    if folder:
        return _local(Path(folder), env)
    return None


def _resource(env: Any) -> Any:
    from opentelemetry.sdk.resources import Resource

    return Resource.create(
        {
            "service.name": SERVICE_NAME,
            "service.instance.id": f"{env.get('CLEARANCE_REGION', 'unknown')}-{os.getpid()}",
            "cloud.region": str(env.get("CLEARANCE_REGION", "unknown")),
        }
    )


def _azure(env: Any) -> Telemetry:
    from azure.monitor.opentelemetry import configure_azure_monitor
    from opentelemetry import metrics, trace

    from shared.adapters.telemetry.instruments import Instruments

    kwargs: dict[str, Any] = {
        "connection_string": env["APPLICATIONINSIGHTS_CONNECTION_STRING"],
        "resource": _resource(env),
        "enable_live_metrics": False,
        "logger_name": "clearance-telemetry-none",  # logs already reach App Insights
        "instrumentation_options": INSTRUMENTATION_OPTIONS,
    }
    auth = _auth_fields(str(env.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "")))
    if auth.get("authorization", "").upper() == "AAD":
        from azure.identity import ManagedIdentityCredential

        client_id = auth.get("clientid")
        kwargs["credential"] = ManagedIdentityCredential(client_id=client_id)
    configure_azure_monitor(**kwargs)
    return Telemetry(
        tracer=trace.get_tracer(SERVICE_NAME),
        meters=Instruments(metrics.get_meter(SERVICE_NAME)),
        mode="azure",
    )


# spans per SDK request come from ``sdk_requests`` (one each), not from these
INSTRUMENTATION_OPTIONS = {
    name: {"enabled": False} for name in ("azure_sdk", "requests", "urllib", "urllib3")
}


def _auth_fields(text: str) -> dict[str, str]:
    fields = {}
    for part in text.split(";"):
        key, _, value = part.partition("=")
        if key.strip():
            fields[key.strip().lower()] = value.strip()
    return fields


def _local(folder: Path, env: Any) -> Telemetry:
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON
    from prometheus_client import start_http_server

    from shared.adapters.telemetry.instruments import Instruments
    from shared.adapters.telemetry.jsonl import JsonlSpanExporter

    folder.mkdir(parents=True, exist_ok=True)
    resource = _resource(env)
    # ALWAYS_ON, not parent-based: a message's "not sampled" flag cannot switch our tracing off
    provider = TracerProvider(resource=resource, sampler=ALWAYS_ON)
    processor = BatchSpanProcessor(
        JsonlSpanExporter(
            folder  # type: ignore[arg-type]
            / f"spans-{os.getpid()}.jsonl"
        ),
        schedule_delay_millis=500,
    )
    provider.add_span_processor(processor)
    reader = PrometheusMetricReader()
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    from opentelemetry import metrics, trace

    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(meter_provider)
    server, _thread = start_http_server(0, addr="127.0.0.1")
    target = _announce(folder, int(server.server_port), env)

    def flush() -> None:
        processor.force_flush()
        provider.shutdown()
        meter_provider.shutdown()  # unregisters its collector
        server.shutdown()
        target.unlink(missing_ok=True)

    atexit.register(lambda: target.unlink(missing_ok=True))
    atexit.register(processor.force_flush)
    return Telemetry(
        tracer=provider.get_tracer(SERVICE_NAME),
        meters=Instruments(meter_provider.get_meter(SERVICE_NAME)),
        mode="local",
        flush=flush,
    )


def _announce(folder: Path, port: int, env: Any) -> Path:
    """A Prometheus file_sd target for this process (one per devhost worker). Files left by
    workers that are gone (killed before their exit handler ran) are removed first: Prometheus
    would scrape their dead ports for ever and report the target down."""
    targets = folder / "targets"
    targets.mkdir(parents=True, exist_ok=True)
    _sweep_stale(targets)
    path = targets / f"{os.getpid()}.json"
    doc = [
        {
            "targets": [f"127.0.0.1:{port}"],
            "labels": {"region": str(env.get("CLEARANCE_REGION", "unknown"))},
        }
    ]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc))
    tmp.replace(path)
    return path


def _sweep_stale(targets: Path) -> None:
    for path in targets.glob("*.json"):
        try:
            pid = int(path.stem)
        except ValueError:
            continue  # not a worker's file
        if pid != os.getpid() and not _alive(pid):
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def install(state: Telemetry | None) -> None:
    """Use ``state`` (tests, benchmarks: an in-memory exporter); None switches telemetry off."""
    global _state
    with _lock:
        _state = state if state is not None else False
