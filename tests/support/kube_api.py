"""An HTTP fake of the Kubernetes API server on loopback, for the kubernetes adapter's wire
tests: discovery, server-side apply (PATCH with ``application/apply-patch+yaml``), delete,
read and watch of Deployments, with scripted answers (status codes, watch streams that close
early or stay silent).

Every request is recorded (``seen``) so a test can check paths, queries, content types and
bodies; a request nobody scripted is answered 404 and listed in ``unexpected``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

RESOURCES: dict[str, list[tuple[str, str, bool]]] = {
    # group/version -> (plural, kind, namespaced)
    "v1": [("namespaces", "Namespace", False), ("services", "Service", True)],
    "apps/v1": [("deployments", "Deployment", True)],
    "autoscaling/v2": [("horizontalpodautoscalers", "HorizontalPodAutoscaler", True)],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    "networking.k8s.io/v1": [
        ("ingresses", "Ingress", True),
        ("networkpolicies", "NetworkPolicy", True),
    ],
}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def manifest(self) -> Any:
        return yaml.safe_load(self.body)


@dataclass
class WatchScript:
    """What one watch request gets: events (Deployment objects), then how the stream ends."""

    events: list[dict[str, Any]] = field(default_factory=list)
    end: str = "close"  # close | silent (send nothing more, keep the connection) | gone (410)
    silent_for: float = 5.0


Answer = tuple[int, Any]


@dataclass
class FakeApiServer:
    seen: list[Request] = field(default_factory=list)
    unexpected: list[Request] = field(default_factory=list)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> object
    answers: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)
    watches: list[WatchScript] = field(default_factory=list)
    ready_after_watches: int = 0  # the Deployment reports ready from this watch on
    watch_count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    # -- scripting ----------------------------------------------------------------------------
    def answer(self, method: str, path_suffix: str, *answers: Answer) -> None:
        """The next requests ``method`` to a path ending in ``path_suffix`` get ``answers``."""
        self.answers[(method, path_suffix)] = list(answers)

    def requests(self, method: str, contains: str = "") -> list[Request]:
        return [r for r in self.seen if r.method == method and contains in r.path]

    # -- serving ------------------------------------------------------------------------------
    def handle(self, request: Request) -> tuple[int, Any, str] | Iterator[bytes]:
        with self.lock:
            self.seen.append(request)
            for (method, suffix), queued in self.answers.items():
                if method == request.method and request.path.endswith(suffix) and queued:
                    status, body = queued.pop(0)
                    return status, body, "application/json"
        path = request.path
        if path == "/version":
            return 200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0"}, "application/json"
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"]}, "application/json"
        if path == "/apis":
            return 200, _groups(), "application/json"
        for group_version, resources in RESOURCES.items():
            prefix = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
            if path == prefix:
                return 200, _resource_list(group_version, resources), "application/json"
        if request.method == "PATCH":
            return self._apply(request)
        if request.method == "DELETE":
            with self.lock:
                found = self.objects.pop(path, None)
            if found is None:
                return 404, _status(404, "NotFound", "not found"), "application/json"
            return 200, _status(200, "Success", "deleted"), "application/json"
        if request.method == "GET" and path.endswith("/deployments") and request.query.get("watch"):
            return self._watch(request)
        if request.method == "GET":
            with self.lock:
                found = self.objects.get(path)
                ready = self.watch_count >= self.ready_after_watches
            if found is None:
                return 404, _status(404, "NotFound", "not found"), "application/json"
            return 200, _with_status(found, ready), "application/json"
        self.unexpected.append(request)
        return 404, _status(404, "NotFound", "unscripted"), "application/json"

    def _apply(self, request: Request) -> tuple[int, Any, str]:
        manifest = request.manifest()
        with self.lock:
            previous = self.objects.get(request.path)
            generation = int((previous or {}).get("metadata", {}).get("generation", 0)) + 1
            manifest.setdefault("metadata", {})["generation"] = generation
            self.objects[request.path] = manifest
        return 200, manifest, "application/json"

    def _watch(self, request: Request) -> Iterator[bytes]:
        with self.lock:
            self.watch_count += 1
            script = self.watches.pop(0) if self.watches else WatchScript(end="close")
            ready = self.watch_count >= self.ready_after_watches
            name = request.query.get("fieldSelector", [""])[0].split("=", 1)[-1]
            path = request.path + "/" + name
            found = self.objects.get(path)

        def lines() -> Iterator[bytes]:
            events = list(script.events)
            if not events and found is not None and ready:
                events = [_with_status(found, True)]
            for obj in events:
                yield (json.dumps({"type": "MODIFIED", "object": obj}) + "\n").encode()
            if script.end == "gone":
                gone = _status(410, "Expired", "too old resource version")
                yield (json.dumps({"type": "ERROR", "object": gone}) + "\n").encode()
            elif script.end == "silent":
                time.sleep(script.silent_for)

        return lines()


def _groups() -> Any:
    groups = []
    for group_version in RESOURCES:
        if group_version == "v1":
            continue
        group, version = group_version.split("/")
        gv = {"groupVersion": group_version, "version": version}
        groups.append({"name": group, "versions": [gv], "preferredVersion": gv})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _resource_list(group_version: str, resources: list[tuple[str, str, bool]]) -> Any:
    return {
        "kind": "APIResourceList",
        "groupVersion": group_version,
        "resources": [
            {
                "name": plural,
                "singularName": kind.lower(),
                "namespaced": namespaced,
                "kind": kind,
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
            }
            for plural, kind, namespaced in resources
        ],
    }


def _status(code: int, reason: str, message: str) -> Any:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure" if code >= 400 else "Success",
        "reason": reason,
        "message": message,
        "code": code,
    }


def _with_status(obj: dict[str, Any], ready: bool) -> dict[str, Any]:
    if obj.get("kind") != "Deployment":
        return obj
    replicas = int(obj.get("spec", {}).get("replicas", 1) or 1)
    generation = int(obj.get("metadata", {}).get("generation", 1))
    done = replicas if ready else 0
    conditions = [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}]
    if ready:
        conditions = [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
        ]
    return {
        **obj,
        "status": {
            "observedGeneration": generation,
            "replicas": replicas,
            "updatedReplicas": done,
            "readyReplicas": done,
            "availableReplicas": done,
            "conditions": conditions,
        },
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query),
            content_type=self.headers.get("Content-Type", ""),
            body=self.rfile.read(length) if length else b"",
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        result = self.server.fake.handle(request)
        if isinstance(result, tuple):
            status, body, content_type = result
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for chunk in result:
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    do_GET = do_PATCH = do_DELETE = do_POST = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeApiServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


@contextmanager
def api_server(configure: Callable[[FakeApiServer], None] | None = None) -> Iterator[FakeApiServer]:
    fake = FakeApiServer()
    if configure is not None:
        configure(fake)
    server = _Server(fake)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
