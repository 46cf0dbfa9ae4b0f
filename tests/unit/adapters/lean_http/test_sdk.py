"""The table and queue SDK clients over the lean transport (as the cell builds it, wrapped in
``TracedTransport``) against a local server speaking their wire format: point reads, upserts,
an entity-group transaction (multipart/mixed both ways), queue messages."""

from __future__ import annotations

import json

from azure.data.tables import TableServiceClient, UpdateMode
from azure.storage.queue import QueueServiceClient

from shared.adapters.http_pool import cell_transport
from shared.adapters.telemetry.sdk_requests import TracedTransport
from tests.unit.adapters.lean_http.servers import Peer, Server, reply, serving
from tests.unit.adapters.test_http_pool import BATCH_REPLY, KEY

ENTITY = {"PartitionKey": "p", "RowKey": "r", "V": 7, "odata.etag": "W/\"datetime'x'\""}
QUEUE_REPLY = (
    "<?xml version='1.0' encoding='utf-8'?><QueueMessagesList><QueueMessage>"
    "<MessageId>m1</MessageId><InsertionTime>Wed, 02 Dec 2026 10:00:00 GMT</InsertionTime>"
    "<ExpirationTime>Wed, 09 Dec 2026 10:00:00 GMT</ExpirationTime>"
    "<PopReceipt>pop</PopReceipt><TimeNextVisible>Wed, 02 Dec 2026 10:00:00 GMT"
    "</TimeNextVisible></QueueMessage></QueueMessagesList>"
)


def storage(peer: Peer, server: Server) -> None:
    while (request := peer.read_request()) is not None:
        server.record(request)
        if request.target.endswith("$batch"):
            peer.send(
                reply(
                    202,
                    BATCH_REPLY.encode(),
                    {"Content-Type": "multipart/mixed; boundary=batchresponse_1"},
                )
            )
        elif "/messages" in request.target:
            peer.send(reply(201, QUEUE_REPLY.encode(), {"Content-Type": "application/xml"}))
        elif request.method == "GET":
            body = json.dumps(ENTITY).encode()
            headers = {"Content-Type": "application/json;odata=minimalmetadata;charset=utf-8"}
            peer.send(reply(200, body, {**headers, "ETag": ENTITY["odata.etag"]}))
        else:
            peer.send(reply(204, b"", {"ETag": "W/\"datetime'y'\""}))


def conn(url: str) -> str:
    return (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={KEY};TableEndpoint={url}/devstoreaccount1;"
        f"QueueEndpoint={url}/devstoreaccount1;"
    )


def test_tables_and_queues_work_over_the_lean_transport() -> None:
    transport = cell_transport({})
    with serving(storage) as server:
        tables = TableServiceClient.from_connection_string(
            conn(server.url), transport=TracedTransport(transport, "TableClient")
        )
        table = tables.get_table_client("t")
        got = table.get_entity("p", "r")
        assert got["V"] == 7 and got.metadata["etag"] == ENTITY["odata.etag"]
        table.upsert_entity({"PartitionKey": "p", "RowKey": "r", "V": 8}, mode=UpdateMode.MERGE)
        ops = [("upsert", {"PartitionKey": "p", "RowKey": f"r{i}", "V": i}) for i in range(3)]
        result = table.submit_transaction(ops)
        assert len(result) == 3 and all("etag" in r for r in result)
        queues = QueueServiceClient.from_connection_string(
            conn(server.url), transport=TracedTransport(transport, "QueueClient")
        )
        sent = queues.get_queue_client("q").send_message("hello")
        assert sent.id == "m1" and sent.pop_receipt == "pop"
        assert server.connections == 1  # every client shares the one kept connection
    batch = next(r for r in server.seen if r.target.endswith("$batch"))
    assert batch.headers["content-type"].startswith("multipart/mixed; boundary=batch_")
    assert batch.body.count(b"PATCH ") == 3 and batch.body.lower().count(b"x-ms-date:") == 3
    merge = next(r for r in server.seen if r.method == "PATCH")
    assert json.loads(merge.body)["V"] == 8
    assert all(r.headers["authorization"].startswith("SharedKey") for r in server.seen)
