"""The cell's HTTP transport: pool size, the environment read once, batches without threads."""

from __future__ import annotations

import concurrent.futures
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import TableServiceClient

from shared.adapters import http_pool
from shared.adapters.http_pool import (
    cell_transport,
    install_sequential_multipart,
    pool_size,
    requests_transport,
)
from shared.adapters.lean_http import LeanTransport
from tests.support.azure_wire import Reply, Route, WireTransport

REPO = Path(__file__).resolve().parents[3]
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def conn(endpoint: str) -> str:
    return (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={KEY};TableEndpoint={endpoint}/devstoreaccount1;"
    )


def test_the_pool_holds_every_invocation_the_host_runs_at_once() -> None:
    assert pool_size({}) == 32 + 24 + 8
    assert pool_size({"PYTHON_THREADPOOL_THREAD_COUNT": "8"}) == 8 + 24 + 8
    for junk in ("", "0", "-3", "eight", "\uff18"):  # a fullwidth digit is not a count
        assert pool_size({"PYTHON_THREADPOOL_THREAD_COUNT": junk}) == 64


def test_the_consumer_allowance_matches_host_json() -> None:
    host = json.loads((REPO / "host.json").read_text())
    calls = host["extensions"]["serviceBus"]["maxConcurrentCalls"]
    triggers = sum(
        "service_bus_queue_trigger" in p.read_text() for p in (REPO / "functions").glob("*.py")
    )
    assert triggers * calls <= http_pool.QUEUE_CONSUMER_SLOTS


def test_the_transports_read_the_environment_once() -> None:
    lean = cell_transport({"REQUESTS_CA_BUNDLE": "/etc/ca.pem"})
    assert isinstance(lean, LeanTransport)
    assert lean.connection_config.verify == "/etc/ca.pem"
    assert lean.connection_config.data_block_size == 64 * 1024
    assert lean.pool.size == 64
    assert cell_transport({"CURL_CA_BUNDLE": "/x.pem"}).connection_config.verify == "/x.pem"
    assert cell_transport({}).connection_config.verify is True
    assert cell_transport({}, verify=False).connection_config.verify is False
    quiet = requests_transport({"REQUESTS_CA_BUNDLE": "/etc/ca.pem"})
    assert quiet.session.trust_env is False
    assert quiet.connection_config.verify == "/etc/ca.pem"
    assert quiet.connection_config.data_block_size == 64 * 1024
    adapter = quiet.session.get_adapter("https://x.table.core.windows.net")
    assert adapter._pool_maxsize == 64


def test_a_proxy_in_the_environment_gets_the_requests_transport() -> None:
    """The lean transport speaks no proxy: with one configured, tables and queues go through
    requests, which reads the environment per request (requests applies NO_PROXY only so)."""
    for variable in ("HTTPS_PROXY", "http_proxy", "ALL_PROXY"):
        proxied = cell_transport({variable: "http://proxy.example:3128"})
        assert isinstance(proxied, RequestsTransport)
        assert proxied.session.trust_env is True


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def do_GET(self) -> None:
        body = b'{"value": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json;odata=nometadata")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("build", [cell_transport, requests_transport])
def test_a_proxy_variable_set_later_is_not_read_per_request(
    local_server: str, monkeypatch: pytest.MonkeyPatch, build: Any
) -> None:
    transport = build({})
    service = TableServiceClient.from_connection_string(conn(local_server), transport=transport)
    # a proxy that answers nothing: a session reading the environment per request would fail
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    for _ in range(3):
        assert list(service.get_table_client("t").query_entities("PartitionKey eq 'x'")) == []
    # one pool: the clients of one transport share its connections
    if isinstance(transport, LeanTransport):
        assert transport.pool.idle() == 1
    else:
        assert len(transport.session.get_adapter(local_server).poolmanager.pools) == 1


BATCH_REPLY = (
    "--batchresponse_1\r\n"
    "Content-Type: multipart/mixed; boundary=changesetresponse_1\r\n\r\n"
    + "".join(
        "--changesetresponse_1\r\n"
        "Content-Type: application/http\r\n"
        "Content-Transfer-Encoding: binary\r\n\r\n"
        "HTTP/1.1 204 No Content\r\n"
        "DataServiceVersion: 1.0;\r\n"
        f"ETag: W/\"datetime'2026-01-01T00%3A00%3A0{i}.000Z'\"\r\n\r\n"
        for i in range(3)
    )
    + "--changesetresponse_1--\r\n--batchresponse_1--\r\n"
)


class _NoThreadPools:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("a thread pool was started")


def test_an_entity_group_transaction_starts_no_thread_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_sequential_multipart()
    wire = WireTransport(
        Route(
            "POST",
            r"\$batch",
            [
                Reply(
                    202,
                    BATCH_REPLY.encode(),
                    {"Content-Type": "multipart/mixed; boundary=batchresponse_1"},
                )
            ],
        )
    )
    client = TableServiceClient.from_connection_string(conn("http://127.0.0.1:1"), transport=wire)
    table = client.get_table_client("t")
    ops = [("upsert", {"PartitionKey": "p", "RowKey": f"r{i}", "V": i}) for i in range(3)]
    monkeypatch.setattr(concurrent.futures, "ThreadPoolExecutor", _NoThreadPools)
    result = table.submit_transaction(ops)
    assert len(result) == 3 and all("etag" in r for r in result)
    body = wire.seen[0].body.decode()
    assert body.lower().count("x-ms-date:") == 3  # each operation still gets its headers
    # the control: azure-core's own preparation starts a thread pool
    from azure.core.rest import HttpRequest

    outer, changeset = HttpRequest("POST", "http://x/$batch"), HttpRequest("POST", "")
    changeset.set_multipart_mixed(HttpRequest("PUT", "http://x/t(1)"), boundary="c")
    outer.set_multipart_mixed(changeset, boundary="b")
    with pytest.raises(AssertionError, match="thread pool"):
        http_pool.ORIGINALS["prepare"](outer)
