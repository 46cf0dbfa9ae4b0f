"""The lean transport's exchanges with a well-behaved local server: methods and bodies, both
request flavours, keep-alive reuse, a server dropping idle connections, chunked answers, a
body cut short, 32 threads at once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from azure.core.exceptions import IncompleteReadError, ServiceRequestError, ServiceResponseError
from azure.core.pipeline.transport import HttpRequest as LegacyRequest
from azure.core.rest import HttpRequest

from shared.adapters.lean_http import LeanTransport
from shared.adapters.lean_http.transport import split_url
from tests.unit.adapters.lean_http.servers import Peer, Server, echo, reply, serving


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "MERGE"])
def test_each_method_goes_out_with_its_body_and_comes_back(method: str) -> None:
    body = "" if method == "GET" else '{"RowKey": "r\u00e9"}'
    with serving(echo) as server:
        url = f"{server.url}/devstoreaccount1/t(PartitionKey='p',RowKey='r%20s')?$select=A,B"
        got = LeanTransport().send(HttpRequest(method, url, content=body, headers={"X-A": "1"}))
        seen = server.seen[0]
    target = "/devstoreaccount1/t(PartitionKey='p',RowKey='r%20s')?$select=A,B"
    assert got.status_code == 200 and got.reason == "OK"
    assert got.text() == f"{method} {target} {body}"
    assert got.headers["content-type"] == got.headers["Content-Type"] == got.content_type
    assert seen.headers["host"] == f"127.0.0.1:{server.port}"
    assert seen.headers["x-a"] == "1"
    assert seen.body == body.encode()
    assert ("content-length" in seen.headers) == (method != "GET")


def test_the_legacy_request_flavour_gets_the_legacy_response() -> None:
    with serving(echo) as server:
        request = LegacyRequest("POST", f"{server.url}/q/messages")
        request.set_bytes_body(b"<QueueMessage/>")
        got = LeanTransport().send(request)
    assert got.status_code == 200
    assert got.body() == b"POST /q/messages <QueueMessage/>"
    assert b"".join(got.stream_download(None)) == got.body()
    assert got.text() == "POST /q/messages <QueueMessage/>"


def test_a_streamed_rest_response_is_still_readable_every_way() -> None:
    with serving(echo) as server:
        got = LeanTransport().send(HttpRequest("GET", f"{server.url}/x"), stream=True)
        assert b"".join(got.iter_bytes()) == b"GET /x "
    again = got.read()
    assert again == b"GET /x " and got.is_stream_consumed


def test_one_connection_carries_many_requests() -> None:
    transport = LeanTransport()
    with serving(echo) as server:
        for i in range(20):
            assert transport.send(HttpRequest("GET", f"{server.url}/{i}")).status_code == 200
        assert server.connections == 1
        assert len(server.seen) == 20


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    def one_per_connection(peer: Peer, server: Server) -> None:
        request = peer.read_request()
        assert request is not None
        server.record(request)
        peer.send(reply(200, b"ok"))  # keep-alive promised, then the server drops it

    transport = LeanTransport()
    with serving(one_per_connection) as server:
        for _ in range(3):
            assert transport.send(HttpRequest("GET", f"{server.url}/")).text() == "ok"
            time.sleep(0.05)
        assert server.connections == 3 and len(server.seen) == 3


def test_a_reused_connection_closed_before_the_response_is_retried_once() -> None:
    """The server reads the second request on a kept connection and closes without a byte
    (what an idle timeout racing the request looks like): sent again once, on a new one."""
    calls = []

    def drop_second(peer: Peer, server: Server) -> None:
        first = peer.read_request()
        if first is None:
            return
        server.record(first)
        peer.send(reply(200, b"one"))
        if peer.read_request() is not None:
            calls.append("dropped")  # closes without answering

    transport = LeanTransport()
    resent: list[str] = []
    transport._note_resend = lambda request, stale: resent.append(request.url)  # type: ignore[method-assign]
    with serving(drop_second) as server:
        assert transport.send(HttpRequest("GET", f"{server.url}/a")).text() == "one"
        assert transport.send(HttpRequest("POST", f"{server.url}/b", content=b"x")).text() == "one"
        assert server.connections == 2
    assert calls == ["dropped"] and resent == [f"{server.url}/b"]


def test_a_fresh_connection_closed_before_the_response_is_not_retried() -> None:
    def drop_at_once(peer: Peer, server: Server) -> None:
        request = peer.read_request()
        if request is not None:
            server.record(request)

    with serving(drop_at_once) as server:
        with pytest.raises(ServiceResponseError, match="without a response"):
            LeanTransport().send(HttpRequest("GET", f"{server.url}/"))
        assert server.connections == 1


def test_a_body_cut_short_is_an_incomplete_read_and_the_connection_is_dropped() -> None:
    def short(peer: Peer, server: Server) -> None:
        if peer.read_request() is not None:
            peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")

    with serving(short) as server:
        transport = LeanTransport()
        with pytest.raises(IncompleteReadError, match="9 of 100") as caught:
            transport.send(HttpRequest("GET", f"{server.url}/"))
        assert caught.value.__cause__ is not None
        assert transport.pool.idle() == 0


def test_chunked_answers_with_extensions_and_trailers() -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
        b'4;name=value\r\n{"a"\r\n'
        b"9\r\n: [1, 2]}\r\n"
        b"0;last\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n"
    )

    def chunked(peer: Peer, server: Server) -> None:
        while peer.read_request() is not None:
            peer.send(answer)

    transport = LeanTransport()
    with serving(chunked) as server:
        for _ in range(2):
            got = transport.send(HttpRequest("GET", f"{server.url}/"))
            assert got.json() == {"a": [1, 2]}
        assert server.connections == 1  # read to its end: the connection was kept


def test_a_chunked_body_cut_short_is_an_incomplete_read() -> None:
    def cut(peer: Peer, server: Server) -> None:
        if peer.read_request() is not None:
            peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc")

    with serving(cut) as server, pytest.raises(IncompleteReadError):
        LeanTransport().send(HttpRequest("GET", f"{server.url}/"))


def test_no_body_is_read_for_head_204_and_304_and_repeated_headers_are_joined() -> None:
    def bodiless(peer: Peer, server: Server) -> None:
        while (request := peer.read_request()) is not None:
            status = int(request.target.strip("/"))
            # a Content-Length on HEAD/204/304 describes a body that is not there
            peer.send(
                f"HTTP/1.1 {status} X\r\nContent-Length: 5\r\nSet-Thing: a\r\n"
                "set-thing: b\r\n\r\n".encode()
            )

    transport = LeanTransport()
    with serving(bodiless) as server:
        for method, status in (("HEAD", 200), ("GET", 204), ("GET", 304)):
            got = transport.send(HttpRequest(method, f"{server.url}/{status}"))
            assert got.status_code == status and got.content == b""
            assert got.headers["SET-THING"] == "a, b"
        assert server.connections == 1


def test_a_close_from_either_side_ends_the_connection() -> None:
    def closing(peer: Peer, server: Server) -> None:
        while (request := peer.read_request()) is not None:
            server.record(request)
            peer.send(reply(200, b"x", {"Connection": "close"}))

    transport = LeanTransport()
    with serving(closing) as server:
        for _ in range(2):
            transport.send(HttpRequest("GET", f"{server.url}/"))
        assert server.connections == 2
    with serving(echo) as server:
        for _ in range(2):
            transport.send(HttpRequest("GET", f"{server.url}/", headers={"Connection": "close"}))
        assert transport.pool.idle() == 0


def test_thirty_two_threads_share_one_transport() -> None:
    transport = LeanTransport(pool_size=8)
    with serving(echo) as server:

        def call(i: int) -> str:
            got = transport.send(HttpRequest("POST", f"{server.url}/{i}", content=f"b{i}"))
            return str(got.text())

        with ThreadPoolExecutor(32) as pool:
            answers = list(pool.map(call, range(640)))
        assert answers == [f"POST /{i} b{i}" for i in range(640)]
        assert transport.pool.idle() <= 8
        assert server.connections <= 640 and len(server.seen) == 640
    assert threading.active_count() < 40


def test_nothing_is_sent_to_a_port_nobody_listens_on() -> None:
    with serving(echo) as server:
        url = server.url
    with pytest.raises(ServiceRequestError) as caught:
        LeanTransport().send(HttpRequest("GET", f"{url}/"))
    assert isinstance(caught.value.__cause__, OSError)


def test_urls_are_sent_as_built_and_headers_cannot_be_smuggled() -> None:
    assert split_url("https://a.table.core.windows.net/t()?$filter=x%20eq%201#frag") == (
        "https",
        "a.table.core.windows.net",
        443,
        "a.table.core.windows.net",
        "/t()?$filter=x%20eq%201",
    )
    assert split_url("http://[::1]:8080?x=1")[1:] == ("::1", 8080, "[::1]:8080", "/?x=1")
    assert split_url("http://h/a b\u00e9")[4] == "/a%20b%C3%A9"
    for bad in ("ftp://h/", "http://h:x/", "http://:80/", "http://h:0/"):
        with pytest.raises(ServiceRequestError):
            split_url(bad)
    with serving(echo) as server:
        for headers in ({"X-A": "1\r\nX-Evil: 1"}, {"X A": "1"}, {"X-A": "\u20ac"}):
            with pytest.raises(ServiceRequestError):
                LeanTransport().send(HttpRequest("GET", f"{server.url}/", headers=headers))
        assert server.seen == []
