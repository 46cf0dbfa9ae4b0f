"""An HTTP receiver that keeps every Azure DevOps plan event (local stand-in for Azure DevOps).

    python -m shared.local.devops_sink --port 7090 --store .local/devops

POST <any path>/_apis/distributedtask/hubs/<hub>/plans/<plan>/events?api-version=... stores
the path, query, Authorization header and JSON body and answers 204 like Azure DevOps; a token
listed in ``refuse_tokens`` gets 401. GET /events lists everything received (JSON);
GET /health answers 200.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import signal
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shared.local.http_server import QuietThreadingHTTPServer

MAX_POST_BYTES = 64 * 1024
_EVENTS = re.compile(r"^/.*/_apis/distributedtask/hubs/[A-Za-z]+/plans/[0-9a-f-]{36}/events$")


def _token_of(authorization: str) -> str | None:
    """The token of ``Basic base64(":" + token)``, as Azure DevOps reads it."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme != "Basic":
        return None
    try:
        user_token = base64.b64decode(encoded, validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return user_token.partition(":")[2] or None


def read_events(store: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(store.glob("*.json"))]


def make_server(
    host: str, port: int, store: Path, refuse_tokens: frozenset[str] = frozenset()
) -> QuietThreadingHTTPServer:
    store.mkdir(parents=True, exist_ok=True)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _reply(self, status: int, body: bytes = b"") -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/health":
                self._reply(200, b'{"status":"ok"}')
            elif self.path == "/events":
                self._reply(200, json.dumps(read_events(store)).encode())
            else:
                self._reply(404)

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            if not _EVENTS.match(parts.path):
                self._reply(404)
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_POST_BYTES:
                self._reply(413)
                return
            auth = self.headers.get("Authorization") or ""
            if _token_of(auth) in refuse_tokens:
                self._reply(401)
                return
            try:
                body = json.loads(self.rfile.read(length))
            except (UnicodeDecodeError, json.JSONDecodeError):
                self._reply(400)
                return
            record = {
                "path": parts.path,
                "query": parts.query,
                "authorization": auth,
                "content_type": self.headers.get("Content-Type"),
                "body": body,
                "received": time.time(),
            }
            name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.json"
            partial = store / f".{name}.partial"
            partial.write_text(json.dumps(record), encoding="utf-8")
            partial.replace(store / name)
            self._reply(204)

    return QuietThreadingHTTPServer((host, port), Handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7090)
    parser.add_argument("--store", type=Path, required=True)
    args = parser.parse_args()
    server = make_server(args.host, args.port, args.store)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    server.shutdown()


if __name__ == "__main__":
    main()
