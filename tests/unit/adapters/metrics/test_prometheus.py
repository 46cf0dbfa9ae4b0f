"""The Prometheus adapter against a real HTTP server serving Prometheus' response shapes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from shared.adapters.metrics.prometheus import PROMETHEUS_SCOPE, PrometheusProvider
from shared.ports.metrics import ProviderUnreachable, QueryRefused
from tests.support.azure_transport import StaticCredential


class Server:
    def __init__(self) -> None:
        self.status = 200
        self.body: bytes = b""
        self.seen: list[tuple[str, dict[str, str]]] = []

    def answer(self, status: int, doc: Any) -> None:
        self.status = status
        self.body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()


@pytest.fixture
def server() -> Iterator[tuple[Server, str]]:
    state = Server()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlparse(self.path).query).get("query", [""])[0]
            state.seen.append((query, dict(self.headers)))
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def vector(*values: str) -> dict[str, Any]:
    result = [{"metric": {}, "value": [1733119200.123, v]} for v in values]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def test_one_series_gives_its_value_and_the_query_is_sent_verbatim(
    server: tuple[Server, str],
) -> None:
    state, url = server
    state.answer(200, vector("99.25"))
    query = 'sum(rate(model_requests_total{model="m",revision="2"}[60s]))'
    assert PrometheusProvider(url).run_query(query) == 99.25
    assert state.seen[0][0] == query


def test_empty_nan_and_infinite_answers_are_no_data(server: tuple[Server, str]) -> None:
    state, url = server
    p = PrometheusProvider(url)
    for doc in (vector(), vector("NaN"), vector("+Inf")):
        state.answer(200, doc)
        assert p.run_query("x") is None


def test_a_scalar_answer(server: tuple[Server, str]) -> None:
    state, url = server
    state.answer(200, {"status": "success", "data": {"resultType": "scalar", "result": [1, "1"]}})
    assert PrometheusProvider(url).is_online()


def test_a_bad_query_is_refused_and_several_series_are_ambiguous(
    server: tuple[Server, str],
) -> None:
    state, url = server
    state.answer(400, {"status": "error", "errorType": "bad_data", "error": "parse error"})
    with pytest.raises(QueryRefused, match="parse error"):
        PrometheusProvider(url).run_query("sum(")
    state.answer(200, vector("1", "2"))
    with pytest.raises(QueryRefused, match="2 series"):
        PrometheusProvider(url).run_query("x")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (503, b"service unavailable"),
        (200, b"<html>proxy login</html>"),
        (200, b'{"status": "success", "data": {"resultType": "vector", "result": [{"value": 1}]}}'),
        (
            200,
            b'{"status": "success", "data": {"resultType": "vector", "result": '
            b'[{"value": [1, "not a number"]}]}}',
        ),
        (200, b"[" * 10 + b"1" * (1_100_000)),
    ],
)
def test_hostile_or_broken_answers_are_unreachable_not_a_number(
    server: tuple[Server, str], status: int, body: bytes
) -> None:
    state, url = server
    state.answer(status, body)
    with pytest.raises(ProviderUnreachable):
        PrometheusProvider(url).run_query("x")
    assert not PrometheusProvider(url).is_online()


def test_a_closed_port_is_unreachable() -> None:
    with pytest.raises(ProviderUnreachable):
        PrometheusProvider("http://127.0.0.1:9", timeout=1).run_query("x")


def test_managed_prometheus_sends_an_entra_token_for_its_scope(
    server: tuple[Server, str],
) -> None:
    state, url = server
    state.answer(200, vector("1"))
    credential = StaticCredential()
    PrometheusProvider(url, credential=credential).run_query("x")
    assert credential.scopes == [(PROMETHEUS_SCOPE,)]
    assert state.seen[0][1]["Authorization"] == "Bearer recorded-token"


def test_no_token_is_unreachable(server: tuple[Server, str]) -> None:
    class Broken:
        def get_token(self, *scopes: str) -> None:
            raise RuntimeError("ManagedIdentityCredential: no identity")

    _, url = server
    with pytest.raises(ProviderUnreachable, match="no token"):
        PrometheusProvider(url, credential=Broken()).run_query("x")


def test_only_http_endpoints() -> None:
    with pytest.raises(ValueError, match="http"):
        PrometheusProvider("file:///etc/passwd")


@pytest.mark.parametrize("status", [200, 400, 503])
def test_an_answer_nested_thousands_deep_is_unreachable_not_a_recursion_error(
    server: tuple[Server, str], status: int
) -> None:
    state, url = server
    state.answer(status, b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises((ProviderUnreachable, QueryRefused)):
        PrometheusProvider(url).run_query("x")


def test_an_answer_dripped_slower_than_the_timeout_in_total_is_unreachable() -> None:
    # Each byte arrives within the socket timeout, so only a deadline on the whole answer
    # stops a provider that hangs the deployer for minutes.
    done = threading.Event()

    class Drip(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                for byte in json.dumps(vector("1")).encode():
                    if done.wait(0.05):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
            except OSError:  # the client gave up, as it should
                return

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        with pytest.raises(ProviderUnreachable, match="time"):
            PrometheusProvider(f"http://127.0.0.1:{httpd.server_address[1]}", timeout=1).run_query(
                "x"
            )
        assert time.monotonic() - started < 2.5
    finally:
        done.set()
        httpd.shutdown()
        httpd.server_close()
