"""python -m shared.local.devhost --settings .local/westeurope/local.settings.json --port 7071"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
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
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # as host.json's "Azure.Core": "Warning": SDK request logging stays out of the host log
    logging.getLogger("azure").setLevel(logging.WARNING)
    # The real host exports local.settings.json Values before it imports the app.
    export_local_settings(args.settings)
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


if __name__ == "__main__":
    sys.exit(main())
