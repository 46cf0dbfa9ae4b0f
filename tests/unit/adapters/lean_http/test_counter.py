"""The request counter (tests/support/request_counts.py) counts storage requests twice, at the
transports and on the wire: a request sent by a transport it does not wrap fails the measure
instead of silently dropping out of the counts."""

from __future__ import annotations

import http.client
from types import SimpleNamespace

import pytest
from azure.core.rest import HttpRequest

from shared.adapters.http_pool import cell_transport, requests_transport
from tests.support.request_counts import CounterMissedRequests, Counting
from tests.unit.adapters.lean_http.servers import echo, serving


def counting_for(port: int) -> Counting:
    ports = SimpleNamespace(table=port, queue=1, blob=2, registry={})
    return Counting(SimpleNamespace(ports=ports))  # type: ignore[arg-type]


def test_both_transports_are_counted_and_agree_with_the_wire() -> None:
    with serving(echo) as server:
        counting = counting_for(server.port)
        try:
            with counting.measure() as tally:
                for transport in (cell_transport({}), requests_transport({})):
                    transport.send(HttpRequest("GET", f"{server.url}/t"))
                    transport.send(HttpRequest("POST", f"{server.url}/t", content=b"{}"))
        finally:
            counting.close()
    assert tally.counts["table"] == 4 and tally.wire["table"] == 4


def one_counted_one_not(counting: Counting, port: int) -> None:
    with counting.measure():
        cell_transport({}).send(HttpRequest("GET", f"http://127.0.0.1:{port}/t"))
        other = http.client.HTTPConnection("127.0.0.1", port)
        other.request("GET", "/t")  # a client the counter does not know
        other.getresponse().read()
        other.close()


def test_a_request_no_wrapped_transport_sent_fails_the_measure() -> None:
    with serving(echo) as server:
        counting = counting_for(server.port)
        try:
            with pytest.raises(CounterMissedRequests, match=r"'table': \(1, 2\)"):
                one_counted_one_not(counting, server.port)
        finally:
            counting.close()


def test_the_wrappers_come_off() -> None:
    import socket

    from shared.adapters.lean_http import LeanTransport

    before = (LeanTransport.send, socket.socket.sendall)
    counting_for(1).close()
    assert (LeanTransport.send, socket.socket.sendall) == before


def test_only_the_bus_stand_ins_own_table_is_left_out_of_storage() -> None:
    """The stand-in's duplicate-detection rows are counted apart, still checked on the wire;
    a table whose name merely starts the same, a batch or a query stays storage."""
    with serving(echo) as server:
        counting = counting_for(server.port)
        try:
            with counting.measure() as tally:
                transport = cell_transport({})
                for path in (
                    "/acct/busduplicates",
                    "/acct/busduplicates(PartitionKey='q',RowKey='r')",
                    "/acct/busduplicatesx",
                    "/acct/$batch",
                    "/acct/intakeledger()",
                ):
                    transport.send(HttpRequest("POST", f"{server.url}{path}", content=b"{}"))
        finally:
            counting.close()
    assert tally.counts["stand-in"] == 2 and tally.counts["table"] == 3
    assert tally.storage == 3 and tally.wire["table"] == 5
