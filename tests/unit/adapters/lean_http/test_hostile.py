"""Servers that answer badly: over the limits, malformed, slow. Each gives a clear azure-core
error quickly, and nothing grows without bound."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from azure.core.exceptions import (
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.rest import HttpRequest

from shared.adapters.lean_http import LeanTransport
from tests.unit.adapters.lean_http.servers import Peer, Server, serving


def answering(data: bytes, then_wait: float = 0.0) -> Callable[[Peer, Server], None]:
    def handler(peer: Peer, server: Server) -> None:
        if peer.read_request() is not None:
            try:
                peer.send(data)
            except OSError:
                return
            server.stop.wait(then_wait)  # and keep the connection open: no EOF to stop on

    return handler


HOSTILE = {
    "a header line of 70 KiB": b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",
    "64 KiB of headers, no end": b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 20_000,
    "101 headers": b"HTTP/1.1 200 OK\r\n"
    + b"".join(b"X-%d: v\r\n" % i for i in range(101))
    + b"Content-Length: 0\r\n\r\n",
    "a status line of garbage": b"SMTP 220 hello\r\n\r\n",
    "a status code of letters": b"HTTP/1.1 2xx OK\r\nContent-Length: 0\r\n\r\n",
    "a status line of 100 KiB": b"HTTP/1.1 200 " + b"O" * 100_000,
    "HTTP/2 on an HTTP/1.1 connection": b"HTTP/2 200\r\n\r\n",
    "a negative Content-Length": b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello",
    "a Content-Length of garbage": b"HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello",
    "two different Content-Lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
    b"Content-Length: 6\r\n\r\nhello!",
    "a Content-Length over the body limit": b"HTTP/1.1 200 OK\r\nContent-Length: "
    + str(10**15).encode()
    + b"\r\n\r\n",
    "a chunk size that is not hex": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"zz\r\nhello\r\n0\r\n\r\n",
    "a chunk size with a 0x prefix": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"0x5\r\nhello\r\n0\r\n\r\n",
    "a chunk size of 2**64": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"10000000000000000\r\n",
    "a chunk-size line without end": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;" + b"x" * 20_000,
    "a chunk without its CRLF": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhelloXX0\r\n\r\n",
    "endless trailers": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
    + b"X-T: 1\r\n" * 10_000,
    "a header without a colon": b"HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 0\r\n\r\n",
    "a header name with a space": b"HTTP/1.1 200 OK\r\nBad Name: 1\r\nContent-Length: 0\r\n\r\n",
    "endless 100 Continue": b"HTTP/1.1 100 Continue\r\n\r\n" * 20,
    "a gzip body that is not gzip": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
    b"Content-Length: 5\r\n\r\nhello",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_answer_is_a_clear_error_at_once(case: str) -> None:
    with serving(answering(HOSTILE[case], then_wait=5)) as server:
        started = time.monotonic()
        with pytest.raises(ServiceResponseError) as caught:
            LeanTransport(read_timeout=10).send(HttpRequest("GET", f"{server.url}/"))
        took = time.monotonic() - started
    assert took < 2, f"{case}: took {took:.1f} s"
    assert not isinstance(caught.value, ServiceResponseTimeoutError), caught.value
    assert caught.value.__cause__ is not None
    assert "malformed response" in str(caught.value)


def test_a_server_that_never_answers_times_out_within_the_read_timeout() -> None:
    with serving(answering(b"", then_wait=5)) as server:
        started = time.monotonic()
        with pytest.raises(ServiceResponseTimeoutError):
            LeanTransport(read_timeout=0.5).send(HttpRequest("GET", f"{server.url}/"))
        assert time.monotonic() - started < 1.5


def test_a_head_dripped_a_byte_at_a_time_times_out_as_a_whole() -> None:
    def drip(peer: Peer, server: Server) -> None:
        if peer.read_request() is not None:
            for byte in b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 100:
                peer.send(bytes([byte]))
                if server.stop.wait(0.05):  # each read in time, the head never done in time
                    return

    with serving(drip) as server:
        started = time.monotonic()
        with pytest.raises(ServiceResponseTimeoutError):
            LeanTransport(read_timeout=0.6).send(HttpRequest("GET", f"{server.url}/"))
        assert time.monotonic() - started < 1.5


def test_the_per_request_read_timeout_wins() -> None:
    with serving(answering(b"", then_wait=5)) as server:
        started = time.monotonic()
        with pytest.raises(ServiceResponseTimeoutError):
            LeanTransport().send(HttpRequest("GET", f"{server.url}/"), read_timeout=0.3)
        assert time.monotonic() - started < 1.5


def test_a_tls_handshake_that_never_completes_is_a_request_timeout() -> None:
    """A listener that accepts the TCP connection and never answers the ClientHello: the
    handshake is part of connecting, so the connect timeout applies."""

    def mute(peer: Peer, server: Server) -> None:
        server.stop.wait(5)

    with serving(mute) as server:
        started = time.monotonic()
        with pytest.raises(ServiceRequestTimeoutError) as caught:
            LeanTransport(connection_timeout=0.3).send(
                HttpRequest("GET", server.url.replace("http:", "https:") + "/")
            )
        assert time.monotonic() - started < 1.5
    assert isinstance(caught.value.__cause__, TimeoutError)
