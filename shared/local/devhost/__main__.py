"""python -m shared.local.devhost --settings .local/westeurope/local.settings.json --port 7071

With ``FUNCTIONS_WORKER_PROCESS_COUNT`` > 1 (from local.settings.json, as in Azure, or
``--workers``) this process starts that many worker processes and waits for them: each serves
the same port (``SO_REUSEPORT``: the kernel spreads connections over them), polls the queues
and runs the Event Grid deliveries of what it received; timers run in worker 0 only, as Azure
runs a timer function on one instance at a time.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from shared.local.devhost.app_index import export_local_settings, load_app, load_host_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="clearance-devhost", description=__doc__)
    parser.add_argument("--app", default="function_app:app")
    parser.add_argument("--settings", type=Path, required=True, help="a local.settings.json")
    parser.add_argument("--host-json", type=Path, default=Path("host.json"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--registry-event-function", default="acr_image_pushed")
    parser.add_argument("--eventgrid-retry-delays", default="1,2,5,10,30")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument(
        "--workers", type=int, default=None, help="default: FUNCTIONS_WORKER_PROCESS_COUNT or 1"
    )
    parser.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # as host.json's "Azure.Core": "Warning": SDK request logging stays out of the host log
    logging.getLogger("azure").setLevel(logging.WARNING)
    # The real host exports local.settings.json Values before it imports the app.
    export_local_settings(args.settings)
    workers = args.workers or worker_count(os.environ)
    if workers > 1 and args.worker_index is None:
        return supervise(sys.argv[1:] if argv is None else argv, workers)
    from shared.composition import Container
    from shared.local.devhost.easy_auth import LocalEasyAuth
    from shared.local.devhost.server import DevHost

    container = Container()
    container.settings.cell  # noqa: B018 - fail fast on a bad catalog or region
    host = DevHost(
        load_app(args.app),
        host=args.host,
        port=args.port,
        host_json=load_host_json(args.host_json),
        container=container,
        registry_event_function=args.registry_event_function or None,
        eventgrid_retry_delays=[float(x) for x in args.eventgrid_retry_delays.split(",") if x],
        reuse_port=args.worker_index is not None,
        timers=not args.worker_index,  # None (a single process) or worker 0
        easy_auth=LocalEasyAuth.from_environment(),
    ).start()
    logging.getLogger(__name__).info(
        "Clearance host for %s on %s (%d functions)",
        container.settings.region,
        host.base_url,
        len(host.index.functions),
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    host.stop()
    return 0


def worker_count(environ: os._Environ[str] | dict[str, str]) -> int:
    raw = environ.get("FUNCTIONS_WORKER_PROCESS_COUNT", "1") or "1"
    try:
        count = int(raw)
    except ValueError:
        raise SystemExit(f"FUNCTIONS_WORKER_PROCESS_COUNT: not a whole number: {raw!r}") from None
    if not 1 <= count <= 10:  # the Functions host's own limit
        raise SystemExit(f"FUNCTIONS_WORKER_PROCESS_COUNT: must be 1 to 10; got {count}")
    return count


def supervise(argv: list[str], workers: int) -> int:
    """Start ``workers`` worker processes on the same port; stop them all when one ends or
    when this process is told to stop (they share its process group, so the stack's
    ``stop`` reaches them too)."""
    log = logging.getLogger(__name__)
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "shared.local.devhost", *argv, "--worker-index", str(i)]
        )
        for i in range(workers)
    ]
    log.info("started %d worker processes: %s", workers, [c.pid for c in children])
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    while not done.is_set() and all(c.poll() is None for c in children):
        done.wait(0.5)
    for c in children:
        if c.poll() is None:
            c.terminate()
    deadline = time.monotonic() + 10
    for c in children:
        try:
            c.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            c.kill()
    failed = [c.returncode for c in children if c.returncode not in (0, -signal.SIGTERM)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
