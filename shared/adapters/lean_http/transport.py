"""``LeanTransport``: an azure-core ``HttpTransport`` speaking HTTP/1.1 over sockets itself.

For the table and queue clients (small JSON/XML requests and answers; the whole body is read
into memory before ``send`` returns, also for ``stream=True``). Blob clients keep
``RequestsTransport``: they stream downloads. No proxies: ``cell_transport`` falls back to
``RequestsTransport`` when the environment configures one.

Errors as ``RequestsTransport`` raises them, each ``from`` its cause: no connection (refused,
DNS, TLS verification) -> ``ServiceRequestError``, within the connect timeout or
``ServiceRequestTimeoutError``; anything after the request went out -> ``ServiceResponseError``
(read timeout: ``ServiceResponseTimeoutError``); a body cut short -> ``IncompleteReadError``.
A reused keep-alive connection that turns out closed before any response byte (the server
dropped it while idle: it never saw the request) is retried once on a new connection; nothing
else is retried here (azure-core's ``RetryPolicy`` does that).
"""

from __future__ import annotations

import logging
import re
import ssl
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from azure.core.configuration import ConnectionConfiguration
from azure.core.exceptions import (
    IncompleteReadError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline.transport import HttpRequest as LegacyRequest
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest import HttpRequest as RestRequest

from shared.adapters.lean_http import wire
from shared.adapters.lean_http.pool import Origin, Pool
from shared.adapters.lean_http.responses import LegacyResponse, RestResponse

log = logging.getLogger(__name__)

_DEFAULT_PORTS = {"http": 80, "https": 443}
# what requests' requote_uri leaves as is; anything else in a target is percent-encoded
_SAFE = "!#$%&'()*+,/:;=?@[]~"
_UNSAFE = re.compile(r"[^A-Za-z0-9\-._~!#$%&'()*+,/:;=?@\[\]]")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_SKIPPED = frozenset({"content-length", "transfer-encoding"})
_SEND_TOGETHER = 64 * 1024  # head and body in one write up to this size


class _Stale(Exception):
    """A reused connection closed before any response byte: safe to send again."""


class LeanTransport(HttpTransport):
    """Keep-alive HTTP/1.1 for azure-core clients; thread-safe, one pool for all of them.

    ``close()`` (a client leaving its ``with``) keeps the pool when ``pool_owner`` is False,
    as ``RequestsTransport(session_owner=False)`` keeps its session; ``clear()`` always closes
    the idle connections."""

    def __init__(
        self,
        *,
        pool_size: int = 10,
        pool_owner: bool = True,
        max_body: int = wire.MAX_BODY,
        **kwargs: Any,
    ) -> None:
        self.connection_config = ConnectionConfiguration(**kwargs)
        self.pool = Pool(pool_size)
        self._pool_owner = pool_owner
        self._max_body = max_body

    def open(self) -> None:
        pass

    def close(self) -> None:
        if self._pool_owner:
            self.pool.clear()

    def clear(self) -> None:
        self.pool.clear()

    def __enter__(self) -> LeanTransport:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()

    def send(self, request: Any, **kwargs: Any) -> Any:
        config = self.connection_config
        stream = kwargs.pop("stream", False)
        connect_timeout = kwargs.pop("connection_timeout", config.timeout)
        if isinstance(connect_timeout, tuple):
            if "read_timeout" in kwargs:
                raise ValueError("Cannot set tuple connection_timeout and read_timeout together")
            connect_timeout, read_timeout = connect_timeout
        else:
            read_timeout = kwargs.pop("read_timeout", config.read_timeout)
        if kwargs.pop("proxies", None):
            raise ValueError("LeanTransport does not speak proxies: use RequestsTransport")
        verify = kwargs.pop("connection_verify", config.verify)
        cert = kwargs.pop("connection_cert", config.cert)
        scheme, host, port, host_header, target = split_url(request.url)
        origin: Origin = (scheme, host, port, verify, cert)
        method = request.method.upper()
        message = _message(request, method, target, host_header)
        exchange = self._exchange(request, origin, method, message, connect_timeout, read_timeout)
        if isinstance(request, RestRequest):
            response = RestResponse(
                request=request, internal_response=exchange, block_size=config.data_block_size
            )
            if not stream:
                response.read()
                response.close()
            return response
        return LegacyResponse(request, exchange, config.data_block_size)

    def _exchange(
        self,
        request: Any,
        origin: Origin,
        method: str,
        message: tuple[bytes, bytes, bool],
        connect_timeout: float | None,
        read_timeout: float | None,
    ) -> wire.Response:
        conn = self.pool.take(origin)
        if conn is not None:
            try:
                return self._round_trip(conn, origin, method, message, read_timeout, True)
            except _Stale as stale:
                self._note_resend(request, stale)
        conn = self._connect(origin, connect_timeout)
        return self._round_trip(conn, origin, method, message, read_timeout, False)

    def _note_resend(self, request: Any, stale: Exception) -> None:
        """A request sent again on a new connection (the request counter's hook)."""
        log.debug("keep-alive connection closed by the server (%s): sending again", stale)

    def _connect(self, origin: Origin, timeout: float | None) -> wire.Connection:
        where = f"{origin[0]}://{origin[1]}:{origin[2]}"
        try:
            return self.pool.connect(origin, timeout)
        except TimeoutError as exc:
            raise ServiceRequestTimeoutError(f"connecting to {where}: {exc}", error=exc) from exc
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ServiceRequestError(f"connecting to {where}: {exc}", error=exc) from exc

    def _round_trip(
        self,
        conn: wire.Connection,
        origin: Origin,
        method: str,
        message: tuple[bytes, bytes, bool],
        read_timeout: float | None,
        reused: bool,
    ) -> wire.Response:
        try:
            response = self._send_and_read(conn, method, message, read_timeout, reused)
        except BaseException:
            conn.close()
            raise
        if response.reusable and not message[2]:
            self.pool.give(origin, conn)
        else:
            conn.close()
        return response

    def _send_and_read(
        self,
        conn: wire.Connection,
        method: str,
        message: tuple[bytes, bytes, bool],
        read_timeout: float | None,
        reused: bool,
    ) -> wire.Response:
        head, body, _ = message
        try:
            conn.sock.settimeout(read_timeout)
            if len(body) <= _SEND_TOGETHER:
                conn.sock.sendall(head + body)
            else:
                conn.sock.sendall(head)
                conn.sock.sendall(body)
        except TimeoutError as exc:
            raise ServiceResponseTimeoutError(f"sending the request: {exc}", error=exc) from exc
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as exc:
            if reused:
                raise _Stale(exc) from exc
            raise ServiceResponseError(f"sending the request: {exc}", error=exc) from exc
        except OSError as exc:
            raise ServiceResponseError(f"sending the request: {exc}", error=exc) from exc
        try:
            return wire.read_response(conn, method, read_timeout, self._max_body)
        except wire.ClosedBeforeResponse as exc:
            if reused:
                raise _Stale(exc) from exc
            message_text = f"the server closed the connection without a response: {exc}"
            raise ServiceResponseError(message_text, error=exc) from exc
        except wire.Truncated as exc:
            raise IncompleteReadError(f"incomplete response body: {exc}", error=exc) from exc
        except wire.ProtocolFault as exc:
            raise ServiceResponseError(f"malformed response: {exc}", error=exc) from exc
        except TimeoutError as exc:
            message_text = f"no response within the read timeout ({read_timeout} s): {exc}"
            raise ServiceResponseTimeoutError(message_text, error=exc) from exc
        except OSError as exc:
            raise ServiceResponseError(f"reading the response: {exc}", error=exc) from exc


def split_url(url: str) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, Host header, request target) of an absolute http(s) URL; the
    target is the path and query as given (fragment dropped; only characters that may not
    appear in a request line are percent-encoded, as requests does)."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in _DEFAULT_PORTS:
        raise ServiceRequestError(f"not an http(s) URL: {url[:100]!r}")
    cut = len(rest)
    for mark in "/?#":
        at = rest.find(mark, 0, cut)
        if at >= 0:
            cut = at
    host, port, host_header = _authority(scheme, rest[:cut])
    target = rest[cut:].partition("#")[0]
    if not target.startswith("/"):
        target = "/" + target
    if _UNSAFE.search(target):
        target = quote(target, safe=_SAFE)
    return scheme, host, port, host_header, target


@lru_cache(maxsize=256)
def _authority(scheme: str, netloc: str) -> tuple[str, int, str]:
    hostport = netloc.rpartition("@")[2]
    if hostport.startswith("["):
        host, _, after = hostport[1:].partition("]")
        port_text = after[1:] if after.startswith(":") else ""
        shown = f"[{host}]"
    else:
        host, _, port_text = hostport.partition(":")
        shown = host
    if not host or (port_text and not (port_text.isascii() and port_text.isdigit())):
        raise ServiceRequestError(f"not a host[:port]: {netloc[:100]!r}")
    port = int(port_text) if port_text else _DEFAULT_PORTS[scheme]
    if not 0 < port < 65536:
        raise ServiceRequestError(f"port out of range: {netloc[:100]!r}")
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
        shown = host
    default = port == _DEFAULT_PORTS[scheme]
    return host, port, shown if default else f"{shown}:{port}"


def _message(request: Any, method: str, target: str, host_header: str) -> tuple[bytes, bytes, bool]:
    """The request head (as given, plus Host and Content-Length) and body, as bytes, and
    whether the request asks to close the connection after the response."""
    body = _body(request)
    lines = [f"{method} {target} HTTP/1.1"]
    has_host = close = False
    for name, value in request.headers.items():
        lower = name.lower()
        if lower in _SKIPPED:
            continue
        if lower == "host":
            has_host = True
        elif lower == "connection":
            close = "close" in str(value).lower()
        lines.append(f"{name}: {value}")
    if not has_host:
        lines.insert(1, f"Host: {host_header}")
    if body or method not in ("GET", "HEAD"):
        lines.append(f"Content-Length: {len(body)}")
    text = "\r\n".join(lines) + "\r\n\r\n"
    # a CR or LF inside a name or value would split a header line: refuse the request
    if text.count("\n") != len(lines) + 1 or text.count("\r") != len(lines) + 1 or "\0" in text:
        raise ServiceRequestError("a request header contains CR, LF or NUL")
    for name in request.headers:
        if name not in _VALID_NAMES:
            if not _TOKEN.match(name):
                raise ServiceRequestError(f"not a header name: {name[:100]!r}")
            if len(_VALID_NAMES) < 4096:
                _VALID_NAMES.add(name)
    try:
        return text.encode("latin-1"), body, close
    except UnicodeEncodeError as exc:
        raise ServiceRequestError(f"a request header is not latin-1: {exc}", error=exc) from exc


_VALID_NAMES: set[str] = set()


def _body(request: Any) -> bytes:
    if isinstance(request, RestRequest):
        data, files = request._data, request._files
    elif isinstance(request, LegacyRequest):
        data, files = request.data, request.files
    else:
        data, files = getattr(request, "data", None), getattr(request, "files", None)
    if files:
        raise ServiceRequestError("multipart/form-data bodies need RequestsTransport")
    if data is None:
        return b""
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    if isinstance(data, dict):
        from urllib.parse import urlencode

        return urlencode(data, doseq=True).encode("ascii")
    if hasattr(data, "read"):
        data = data.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    try:
        return b"".join(c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in data)
    except TypeError as exc:
        raise ServiceRequestError(f"cannot send a {type(data).__name__} body", error=exc) from exc


__all__ = ["LeanTransport", "split_url"]
