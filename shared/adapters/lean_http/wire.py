"""HTTP/1.1 on one socket: one request written, one response read (status, headers, body).

Hand-written instead of ``http.client`` (which parses every response's headers with
``email.parser``). Strict where a lenient parser would guess: CRLF line endings, a status line
``HTTP/1.x NNN reason``, header names that are tokens, a decimal Content-Length, hex chunk
sizes. Everything a server sends is bounded: the head (status line, headers) at ``MAX_HEAD``
bytes and ``MAX_HEADERS`` lines, a chunk-size line at ``MAX_LINE``, a body at ``max_body``.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import time
import zlib

from azure.core.utils import CaseInsensitiveDict

MAX_HEAD = 64 * 1024
MAX_HEADERS = 100
MAX_LINE = 8 * 1024  # a chunk-size line with its extensions
MAX_INTERIM = 8  # 1xx responses before the final one
MAX_BODY = 256 * 1024 * 1024  # a bound against a hostile server, far above any table page
BLOCK = 64 * 1024
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}\Z")
_DIGITS = re.compile(r"[0-9]{1,18}\Z")
_EOF_ERRORS = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)


class ProtocolFault(Exception):
    """The server's answer is not HTTP/1.1 as accepted here (or over a limit)."""


class Truncated(Exception):
    """The connection ended inside a response body."""


class ClosedBeforeResponse(Exception):
    """The connection ended (EOF or reset) before any byte of a response arrived."""


class Headers(CaseInsensitiveDict):
    """azure-core's case-insensitive mapping, built from parsed lines without re-lowering."""

    @classmethod
    def of(cls, store: dict[str, tuple[str, str]]) -> Headers:
        headers = cls.__new__(cls)
        headers._store = store
        return headers


class Connection:
    """One socket and what was read from it but not yet consumed."""

    __slots__ = ("buf", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()

    def fill(self) -> bool:
        """Read what is there (up to ``BLOCK``); False at the end of the stream."""
        try:
            chunk = self.sock.recv(BLOCK)
        except ssl.SSLZeroReturnError:
            return False
        if not chunk:
            return False
        self.buf += chunk
        return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class Response:
    """A response read completely (the transport's ``internal_response``)."""

    __slots__ = ("content", "headers", "raw", "reason", "reusable", "status")

    def __init__(
        self, status: int, reason: str, headers: Headers, raw: bytes, reusable: bool
    ) -> None:
        self.status, self.reason, self.headers, self.raw = status, reason, headers, raw
        self.reusable = reusable
        # the body with a content coding the server applied anyway (gzip, deflate) undone
        coding = headers.get("content-encoding", "").strip().lower()
        self.content = raw if coding in ("", "identity") or not raw else _decode(raw, coding)

    def close(self) -> None:
        """Nothing to release: the body is in memory and the socket is back in the pool."""


def read_response(conn: Connection, method: str, timeout: float | None, max_body: int) -> Response:
    """Read one response from ``conn`` (``timeout``: the whole head, and each read after)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    for _ in range(MAX_INTERIM + 1):
        status, reason, version, store = _read_head(conn, deadline)
        if status >= 200 or status == 101:
            break
    else:
        raise ProtocolFault(f"more than {MAX_INTERIM} interim (1xx) responses")
    if status == 101:
        raise ProtocolFault("the server switched protocols (101), which was not asked for")
    conn.sock.settimeout(timeout)
    keep = version == "HTTP/1.1" and "close" not in _tokens(store, "connection")
    if method == "HEAD" or status in (204, 304):
        raw, framed = b"", True
    elif "transfer-encoding" in store:
        if _tokens(store, "transfer-encoding")[-1:] != ["chunked"]:
            raw, framed = _read_to_close(conn, max_body), False
        else:
            raw = _read_chunked(conn, max_body)
            framed = "content-length" not in store  # both: a smuggling shape, do not reuse
    elif "content-length" in store:
        raw, framed = _read_exact(conn, _content_length(store, max_body)), True
    else:
        raw, framed = _read_to_close(conn, max_body), False
    reusable = keep and framed and not conn.buf
    return Response(status, reason, Headers.of(store), raw, reusable)


def _read_head(
    conn: Connection, deadline: float | None
) -> tuple[int, str, str, dict[str, tuple[str, str]]]:
    buf, start, received = conn.buf, 0, bool(conn.buf)
    while True:
        end = buf.find(b"\r\n\r\n", start)
        if end >= 0:
            break
        if len(buf) > MAX_HEAD:
            raise ProtocolFault(f"response head over {MAX_HEAD} bytes")
        start = max(0, len(buf) - 3)
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the response head did not arrive within the read timeout")
            conn.sock.settimeout(left)
        try:
            more = conn.fill()
        except _EOF_ERRORS as exc:
            if not received:
                raise ClosedBeforeResponse(str(exc)) from exc
            raise
        if not more:
            if not received:
                raise ClosedBeforeResponse("the connection closed before any response byte")
            raise ProtocolFault("the connection closed inside the response head")
        received = True
    if end > MAX_HEAD:
        raise ProtocolFault(f"response head over {MAX_HEAD} bytes")
    text = buf[:end].decode("latin-1")
    del buf[: end + 4]
    lines = text.split("\r\n")
    if len(lines) - 1 > MAX_HEADERS:
        raise ProtocolFault(f"more than {MAX_HEADERS} header lines")
    version, status, reason = _status_line(lines[0])
    return status, reason, version, _header_store(lines)


def _status_line(line: str) -> tuple[str, int, str]:
    version, _, rest = line.partition(" ")
    code, _, reason = rest.partition(" ")
    if version not in ("HTTP/1.1", "HTTP/1.0") or not (len(code) == 3 and _DIGITS.match(code)):
        raise ProtocolFault(f"malformed status line {line[:100]!r}")
    status = int(code)
    if status < 100:
        raise ProtocolFault(f"malformed status line {line[:100]!r}")
    return version, status, reason.strip()


def _header_store(lines: list[str]) -> dict[str, tuple[str, str]]:
    """Lower-case name -> (name, value); repeated headers joined with ", " (as requests does)."""
    store: dict[str, tuple[str, str]] = {}
    last = ""
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):  # obsolete line folding: continues the previous value
            if not last:
                raise ProtocolFault("a folded header line without a header")
            name, value = store[last]
            store[last] = (name, f"{value} {line.strip()}".strip())
            continue
        name, sep, value = line.partition(":")
        if not sep or not _TOKEN.match(name):
            raise ProtocolFault(f"malformed header line {line[:100]!r}")
        key, value = name.lower(), value.strip(" \t")
        seen = store.get(key)
        store[key] = (name, value) if seen is None else (seen[0], f"{seen[1]}, {value}")
        last = key
    return store


def _tokens(store: dict[str, tuple[str, str]], key: str) -> list[str]:
    seen = store.get(key)
    return [t.strip().lower() for t in seen[1].split(",")] if seen else []


def _content_length(store: dict[str, tuple[str, str]], max_body: int) -> int:
    values = {v.strip() for v in store["content-length"][1].split(",")}
    value = values.pop() if len(values) == 1 else ""
    if not _DIGITS.match(value):
        raise ProtocolFault(f"malformed Content-Length {store['content-length'][1][:40]!r}")
    length = int(value)
    if length > max_body:
        raise ProtocolFault(f"Content-Length {length} over the {max_body} byte limit")
    return length


def _read_exact(conn: Connection, n: int) -> bytes:
    buf = conn.buf
    if len(buf) >= n:
        data = bytes(buf[:n])
        del buf[:n]
        return data
    body = bytearray(n)
    view = memoryview(body)
    got = len(buf)
    view[:got] = buf
    buf.clear()
    sock = conn.sock
    while got < n:
        try:
            read = sock.recv_into(view[got:], min(n - got, 1 << 20))
        except ssl.SSLZeroReturnError:
            read = 0
        if not read:
            raise Truncated(f"the connection closed after {got} of {n} body bytes")
        got += read
    return bytes(body)


def _read_line(conn: Connection) -> bytes:
    buf, start = conn.buf, 0
    while True:
        end = buf.find(b"\r\n", start)
        if end >= 0:
            line = bytes(buf[:end])
            del buf[: end + 2]
            return line
        if len(buf) > MAX_LINE:
            raise ProtocolFault(f"a chunk line over {MAX_LINE} bytes")
        start = max(0, len(buf) - 1)
        if not conn.fill():
            raise Truncated("the connection closed inside a chunked body")


def _read_chunked(conn: Connection, max_body: int) -> bytes:
    parts, total = [], 0
    while True:
        size_field = _read_line(conn).split(b";", 1)[0].strip(b" \t")
        if not _HEX.match(size_field):
            raise ProtocolFault(f"chunk size {size_field[:40]!r} is not hex")
        size = int(size_field, 16)
        if size == 0:
            break
        total += size
        if total > max_body:
            raise ProtocolFault(f"chunked body over the {max_body} byte limit")
        chunk = _read_exact(conn, size + 2)
        if chunk[-2:] != b"\r\n":
            raise ProtocolFault("a chunk not followed by CRLF")
        parts.append(chunk[:-2])
    trailer_bytes = 0
    for _ in range(MAX_HEADERS + 1):  # trailers are read and dropped (as requests does)
        line = _read_line(conn)
        if not line:
            return b"".join(parts)
        trailer_bytes += len(line) + 2
        if trailer_bytes > MAX_HEAD:
            break
    raise ProtocolFault("trailers over the header limits")


def _read_to_close(conn: Connection, max_body: int) -> bytes:
    while conn.fill():
        if len(conn.buf) > max_body:
            raise ProtocolFault(f"body over the {max_body} byte limit")
    data = bytes(conn.buf)
    conn.buf.clear()
    return data


def _decode(raw: bytes, coding: str) -> bytes:
    if coding not in ("gzip", "x-gzip", "deflate"):
        raise ProtocolFault(f"content coding {coding[:40]!r} was not asked for")
    wbits = 16 + zlib.MAX_WBITS if "gzip" in coding else zlib.MAX_WBITS
    try:
        try:
            inflater = zlib.decompressobj(wbits)
            out = inflater.decompress(raw, MAX_BODY)
        except zlib.error:
            if coding != "deflate":
                raise
            inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some servers send
            out = inflater.decompress(raw, MAX_BODY)
    except zlib.error as exc:
        raise ProtocolFault(f"a {coding} body that does not decode: {exc}") from exc
    if inflater.unconsumed_tail:
        raise ProtocolFault(f"decoded body over the {MAX_BODY} byte limit")
    return out
