"""An HTTP receiver that keeps every Teams Workflows webhook post (local stand-in for Teams).

    python -m shared.local.teams_sink --port 7080 --store .local/teams

POST /webhook/<channel> stores the JSON body and answers 202 like a Workflows webhook.
GET /messages lists everything received (JSON); GET /health answers 200.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from shared.local.http_server import QuietThreadingHTTPServer

MAX_POST_BYTES = 1024 * 1024


def read_posts(store: Path) -> list[dict[str, Any]]:
    posts = []
    for path in sorted(store.glob("*.json")):
        posts.append(json.loads(path.read_text(encoding="utf-8")))
    return posts


def make_server(host: str, port: int, store: Path) -> QuietThreadingHTTPServer:
    store.mkdir(parents=True, exist_ok=True)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _reply(self, status: int, body: bytes = b"", ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/health":
                self._reply(200, b'{"status":"ok"}')
            elif self.path == "/messages":
                self._reply(200, json.dumps(read_posts(store)).encode())
            else:
                self._reply(404)

        def do_POST(self) -> None:
            if not self.path.startswith("/webhook/"):
                self._reply(404)
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_POST_BYTES:
                self._reply(413)
                return
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError):
                self._reply(400, b'{"error":"body is not JSON"}')
                return
            record = {
                "channel": self.path[len("/webhook/") :],
                "received": time.time(),
                "body": body,
            }
            name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.json"
            partial = store / f".{name}.partial"  # readers never see a half-written post
            partial.write_text(json.dumps(record), encoding="utf-8")
            partial.replace(store / name)
            self._reply(202)

    return QuietThreadingHTTPServer((host, port), Handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7080)
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
