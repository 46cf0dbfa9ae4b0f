"""Entity-group transactions (``$batch``) without the ``email`` package.

azure-core builds a multipart/mixed request body with ``email.message`` and
``email.generator`` and splits the multipart/mixed response with ``email.parser`` (one
feedparser per response, plus one per part for the part's HTTP headers, through
``http.client.parse_headers``). For a batch of 100 operations that is most of the CPU the
batch costs the host. ``install_lean_multipart`` replaces three azure-core internals, once
per process, with code that does the same work with ``bytes`` operations:

- ``_prepare_multipart_body_helper`` (the request body, changeset included): the same bytes
  the email generator writes. The generator rewrites every line ending of an
  ``application/http`` part to CRLF and copies a nested multipart part verbatim; so does
  :func:`prepare_body`.
- ``_get_raw_parts_helper`` (the response split into parts): the lines the email parser
  would see, cut at the boundaries the parser recognises (RFC 2046: a boundary line of an
  outer multipart ends an inner part too), as small message objects that answer the three
  calls azure-core's own ``_decode_parts_helper`` makes (``get_payload``,
  ``get_content_type``, ``get_payload(decode=True)``). azure-core's part decoding, the
  policies' ``on_response`` and the Table SDK's error mapping run unchanged on them.
- ``http.client.HTTPResponse`` as azure-core uses it to read each part's embedded HTTP
  response (``_HTTPResponse`` in two azure-core modules only; ``http.client`` itself is
  untouched): :class:`PartResponse` reads the status line and headers itself.

Each replacement takes the fast path only for input of the shape Azure and Azurite send and
that it can prove it reads exactly as the original does (simple boundaries, one header per
line, no transfer encodings). Anything else - a boundary that never appears, a truncated
close boundary, a part without headers, folded headers, a garbage status line - goes to the
original azure-core / http.client code on the same bytes, so the result (or the exception)
is the original's. ``tests/unit/adapters/test_multipart.py`` compares both over generated
batches and recorded responses. If azure-core no longer has these internals nothing is
replaced (logged); that test then fails.
"""

from __future__ import annotations

import http.client
import io
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

ORIGINALS: dict[str, Any] = {}  # what was replaced (for the tests' control case)
_installed = False
_lock = threading.Lock()

# boundaries the fast paths take: RFC 2046 bchars without the space, which the email package
# quotes, unquotes and compares without any change
_SIMPLE_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,./:=?-]{1,70}")
_HEADER_LINE = re.compile(rb"([\x21-\x39\x3b-\x7e]+):([^\r\n]*)(?:\r\n|\n)")
_DECODED_CTE = ("quoted-printable", "base64", "x-uuencode", "uuencode", "uue", "x-uue")
_MAXLINE = 65536  # http.client's limits
_MAXHEADERS = 100


class _Unsure(Exception):
    """Input the fast path does not read exactly as the email package: use the original."""


# -- the request body ------------------------------------------------------------------------
def prepare_body(http_request: Any, content_index: int = 0) -> int:
    """``_prepare_multipart_body_helper``: the multipart/mixed body of a batch (and of each
    changeset in it), byte for byte what the email generator writes."""
    info = http_request.multipart_mixed_info
    if not info:
        return 0
    requests: Sequence[Any] = info[0]
    boundary = info[2]
    if not isinstance(boundary, str) or not _SIMPLE_BOUNDARY.fullmatch(boundary):
        # no boundary (the generator makes a random one) or one it would quote or rewrite
        return int(ORIGINALS["prepare_body"](http_request, content_index))
    start = content_index
    parts = []
    for req in requests:
        if req.multipart_mixed_info:
            content_index = req.prepare_multipart_body(content_index=content_index)
            content_type = req.headers["Content-Type"]
            if not (isinstance(content_type, str) and content_type.isascii()):
                return int(ORIGINALS["prepare_body"](http_request, start))
            if not content_type.isprintable():  # the generator would fold it
                return int(ORIGINALS["prepare_body"](http_request, start))
            payload = req.serialize()
            payload = payload[payload.index(b"--") :]  # as azure-core: the body only
            if not payload.isascii():  # the generator fails on it (UnicodeEncodeError)
                return int(ORIGINALS["prepare_body"](http_request, start))
            # the generator writes a multipart part's payload as it is
            parts.append(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + payload)
        else:
            head = (
                b"Content-Type: application/http\r\n"
                b"Content-Transfer-Encoding: binary\r\n"
                b"Content-ID: %d\r\n\r\n" % content_index
            )
            parts.append(head + _crlf_lines(req.serialize()))
            content_index += 1
    dash = b"--" + boundary.encode()
    body = dash + b"\r\n" + (b"\r\n" + dash + b"\r\n").join(parts) + b"\r\n" + dash + b"--\r\n"
    http_request.set_bytes_body(body)
    http_request.headers["Content-Type"] = "multipart/mixed; boundary=" + boundary
    return content_index


def _crlf_lines(payload: bytes) -> bytes:
    """Every line ending (CRLF, CR, LF) as CRLF, as ``Generator._write_lines`` writes a text
    part (a raw LF in a sub-request's body becomes CRLF there too)."""
    crlf = payload.count(b"\r\n")
    if payload.count(b"\n") == crlf and payload.count(b"\r") == crlf:
        return payload
    return payload.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


_EXPECTING_BODY = ("PATCH", "POST", "PUT")  # http.client sends Content-Length: 0 for these
_DROPPED = ("Host", "Accept-Encoding")  # azure-core's serializer leaves these out


def serialize_request(http_request: Any) -> bytes:
    """``_serialize_request``: a sub-request as ``application/http``, the bytes azure-core's
    ``http.client.HTTPConnection``-based serializer writes, for plain text headers and a
    ``bytes``/``str``/empty body (anything else is serialized by it)."""
    body = http_request.body
    if isinstance(body, dict):
        raise TypeError("Cannot serialize an HTTPRequest with dict body.")
    lines = _request_head(http_request.method, http_request.url, http_request.headers, body)
    if lines is None:
        return bytes(ORIGINALS["serialize"](http_request))
    if isinstance(body, str):
        if not body.isascii():  # http.client encodes Latin-1 (and explains a failure)
            return bytes(ORIGINALS["serialize"](http_request))
        body = body.encode()
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


def _request_head(method: Any, url: Any, headers: Any, body: Any) -> list[bytes] | None:
    """``HTTPConnection.request``'s request line and headers, or None if it might differ."""
    if body is not None and not isinstance(body, (bytes, str)):
        return None
    if not isinstance(method, str) or not isinstance(url, str):
        return None
    url = url or "/"
    if not (method.isascii() and method.isprintable()):
        return None
    if not (url.isascii() and url.isprintable()) or " " in url:
        return None  # http.client refuses control characters and spaces (InvalidURL)
    lines = [f"{method} {url} HTTP/1.1".encode()]
    names = set()
    out: list[bytes] = []
    for name, value in headers.items():
        if not (isinstance(name, str) and isinstance(value, str)):
            return None
        if not (name.isascii() and name.isprintable()) or ":" in name or name[:1] in ("", " "):
            return None
        if not (value.isascii() and value.isprintable()):
            return None  # Latin-1, line breaks, control characters: http.client's checks
        names.add(name.lower())
        if name not in _DROPPED:
            out.append(f"{name}: {value}".encode())
    if "host" not in names and url.startswith("http"):
        from urllib.parse import urlsplit

        urlsplit(url)  # the Host header http.client works out (and drops): its ValueError
    if "content-length" not in names and "transfer-encoding" not in names:
        if body is None:
            if method.upper() in _EXPECTING_BODY:
                lines.append(b"Content-Length: 0")
        else:
            lines.append(b"Content-Length: %d" % len(body))
    lines.extend(out)
    return lines


# -- the response parts ----------------------------------------------------------------------
class Part:
    """One part of a multipart response, as azure-core's ``_decode_parts_helper`` reads an
    ``email.message.Message``: ``get_content_type()``, ``get_payload()`` (the sub-parts of a
    multipart part) and ``get_payload(decode=True)`` (the bytes of any other part)."""

    __slots__ = ("content_type", "epilogue", "headers", "parts", "payload", "preamble")

    def __init__(self, content_type: str, headers: list[tuple[str, str]]) -> None:
        self.content_type = content_type
        self.headers = headers
        self.payload = b""
        self.parts: list[Part] | None = None
        self.preamble: bytes | None = None
        self.epilogue: bytes | None = None

    def get_content_type(self) -> str:
        return self.content_type

    def get_content_maintype(self) -> str:
        return self.content_type.split("/")[0]

    def is_multipart(self) -> bool:
        return self.parts is not None

    def get(self, name: str, failobj: Any = None) -> Any:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), failobj)

    def get_payload(self, i: int | None = None, decode: bool = False) -> Any:
        if self.parts is not None:
            if decode:
                return None
            return self.parts if i is None else self.parts[i]
        if decode:
            return self.payload
        return self.payload.decode("ascii", "surrogateescape")

    def __repr__(self) -> str:
        inner = f"{len(self.parts)} parts" if self.parts is not None else f"{len(self.payload)} B"
        return f"<Part {self.content_type} {inner}>"


def raw_parts(response: Any, http_response_type: Any) -> Any:
    """``_get_raw_parts_helper``: the response's parts, decoded by azure-core's own
    ``_decode_parts`` from :class:`Part` objects instead of an email message."""
    try:
        message: Part | None = parse(response.content_type, response.body())
    except _Unsure:
        message = None
    if message is None:  # outside the except: the original's errors carry no _Unsure context
        return ORIGINALS["raw_parts"](response, http_response_type)
    requests = response.request.multipart_mixed_info[0]
    return response._decode_parts(message, http_response_type, requests)


def parse(content_type: Any, body: bytes) -> Part:
    """A multipart body split as ``email.message_from_bytes`` splits it (raises ``_Unsure``
    for input it might read differently)."""
    if not isinstance(content_type, str) or not content_type.isascii():
        raise _Unsure
    if not content_type.isprintable() or not isinstance(body, bytes):
        raise _Unsure
    top = Part(_content_type(content_type), [("Content-Type", content_type)])
    if top.get_content_maintype() != "multipart":
        raise _Unsure
    lines = body.splitlines(keepends=True)
    end = _multipart(top, _boundary(content_type), lines, 0, ())
    if end != len(lines):  # pragma: no cover - the epilogue runs to the end
        raise _Unsure
    return top


def _content_type(value: str) -> str:
    """``Message.get_content_type`` for a header value."""
    ctype = value.partition(";")[0].strip().lower()
    return ctype if ctype.count("/") == 1 else "text/plain"


def _boundary(value: str) -> bytes:
    """``Message.get_boundary`` for a header value of the simple shape (else ``_Unsure``)."""
    found = None
    for param in value.split(";")[1:]:
        name, eq, raw = param.partition("=")
        name = name.strip().lower()
        if "*" in name or '"' in name or "\\" in name:
            raise _Unsure  # RFC 2231 or a quote the email package would pair across ';'
        raw = raw.strip()
        if raw.startswith('"'):
            if len(raw) < 2 or not raw.endswith('"') or '"' in raw[1:-1] or "\\" in raw:
                raise _Unsure
            raw = raw[1:-1]
        elif '"' in raw or "\\" in raw:
            raise _Unsure
        if name == "boundary":
            if found is not None or not eq:  # the email package takes the first; keep it simple
                raise _Unsure
            found = raw
    if found is None or not _SIMPLE_BOUNDARY.fullmatch(found):
        raise _Unsure
    return found.encode()


def _boundary_line(line: bytes, dash: bytes) -> int:
    """0: not a boundary line of ``dash``; 1: a delimiter; 2: the close delimiter (feedparser's
    ``boundarymatch``: the boundary, ``--`` or not, blanks, a line ending)."""
    if not line.startswith(dash):
        return 0
    rest = line[len(dash) :]
    if rest.endswith(b"\r\n"):
        rest = rest[:-2]
    elif rest.endswith((b"\n", b"\r")):
        rest = rest[:-1]
    close = rest.startswith(b"--")
    if close:
        rest = rest[2:]
    if rest.strip(b" \t"):
        return 0
    return 2 if close else 1


def _ends(line: bytes, enders: tuple[bytes, ...]) -> bool:
    if not line.startswith(b"--"):  # most lines
        return False
    return any(_boundary_line(line, dash) for dash in enders)


def _multipart(msg: Part, boundary: bytes, lines: list[bytes], i: int, enders: Any) -> int:
    """The body of a multipart message from line ``i``; returns the index after it. Mirrors
    ``FeedParser._parsegen`` for the shapes it takes (a start and a close boundary, parts
    with headers), and raises ``_Unsure`` for everything else."""
    dash = b"--" + boundary
    inner = (*enders, dash)
    n = len(lines)
    preamble: list[bytes] = []
    parts: list[Part] = []
    started = False
    closed = False
    while i < n and not _ends(lines[i], enders):
        kind = _boundary_line(lines[i], dash)
        i += 1
        if kind == 2:
            closed = True
            break
        if kind == 0:
            if started:  # pragma: no cover - a part ends only at a boundary line
                raise _Unsure
            preamble.append(lines[i - 1])
            continue
        if not started:
            started = True
            msg.preamble = _strip_eol(b"".join(preamble)) if preamble else None
        if i < n and _boundary_line(lines[i], dash):
            raise _Unsure  # doubled boundary lines: the parser skips them
        part, i = _part(lines, i, inner)
        parts.append(part)
    if not started or not closed:
        raise _Unsure  # no start boundary, or no close boundary: defects, read the original's way
    epilogue = []
    while i < n and not _ends(lines[i], enders):
        epilogue.append(lines[i])
        i += 1
    msg.epilogue = b"".join(epilogue)
    msg.parts = parts
    return i


def _strip_eol(data: bytes) -> bytes:
    if data.endswith(b"\r\n"):
        return data[:-2]
    if data.endswith((b"\r", b"\n")):
        return data[:-1]
    return data


def _part(lines: list[bytes], i: int, enders: tuple[bytes, ...]) -> tuple[Part, int]:
    """One part from line ``i``: its headers (one per line), a blank line, its body up to the
    next boundary line of any enclosing multipart, without the line ending before it."""
    n = len(lines)
    headers: list[tuple[str, str]] = []
    while True:
        if i >= n or _ends(lines[i], enders):
            raise _Unsure  # headers without a blank line after them
        line = lines[i]
        i += 1
        if line in (b"\r\n", b"\n", b"\r"):
            break
        match = _HEADER_LINE.fullmatch(line)
        if match is None:
            raise _Unsure  # folded, malformed, or no headers at all (the parser's defects)
        name, value = match.group(1).decode(), match.group(2).lstrip(b" \t")
        if not value.isascii() and name.lower() in ("content-type", "content-transfer-encoding"):
            raise _Unsure  # the email package would hand these back as Header objects
        headers.append((name, value.decode("ascii", "surrogateescape")))
    raw_type = next((v for k, v in headers if k.lower() == "content-type"), None)
    part = Part(_content_type(raw_type) if raw_type is not None else "text/plain", headers)
    maintype = part.get_content_maintype()
    if maintype == "message":
        raise _Unsure
    if maintype == "multipart":
        i = _multipart(part, _boundary(str(raw_type)), lines, i, enders)
        if part.epilogue is not None:  # the newline before the next boundary is the boundary's
            part.epilogue = _strip_eol(part.epilogue) or None
        return part, i
    cte = next((v for k, v in headers if k.lower() == "content-transfer-encoding"), "")
    if cte.lower() in _DECODED_CTE:
        raise _Unsure
    start = i
    while i < n and not _ends(lines[i], enders):
        i += 1
    part.payload = _strip_eol(b"".join(lines[start:i]))
    return part, i


# -- each part's HTTP response ---------------------------------------------------------------
class PartResponse(http.client.HTTPResponse):
    """``http.client.HTTPResponse`` for a part's embedded response: the status line and the
    headers read without ``email.parser`` when they are one header per line; anything else
    (folded headers, a garbage status line, a 1xx, chunked) is read by ``http.client``."""

    def begin(self) -> None:
        if self.headers is not None:
            return
        head = _head(self.fp)
        if head is None:
            super().begin()
            return
        version, status, reason, pairs, offset = head
        self.code = self.status = status
        self.reason = reason
        self.version = version
        message = http.client.HTTPMessage()
        message._headers = pairs  # what the email parser stores for these lines
        message.set_payload("")
        self.headers = self.msg = message
        self.chunked = False
        self.will_close = self._check_close()
        self.length = None
        length = message.get("content-length")
        if length:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if status in (204, 304) or self._method == "HEAD":
            self.length = 0
        if not self.will_close and self.length is None:
            self.will_close = True
        self.fp.seek(offset)


def _head(fp: Any) -> tuple[int, int, str, list[tuple[str, str]], int] | None:
    """The status line and headers of an in-memory response of the plain shape, else None."""
    if type(fp) is not io.BytesIO or fp.tell() != 0:
        return None
    data = fp.getvalue()
    end = data.find(b"\n")
    if end < 0 or end >= _MAXLINE:
        return None
    fields = data[: end + 1].decode("iso-8859-1").split(None, 2)
    if len(fields) != 3:
        return None
    version_text, code, reason = fields
    if version_text == "HTTP/1.1":
        version = 11
    elif version_text == "HTTP/1.0":
        version = 10
    else:
        return None
    if len(code) != 3 or not code.isascii() or not code.isdigit() or code[0] in "01":
        return None  # http.client rejects < 100 and reads 1xx its own way
    pairs: list[tuple[str, str]] = []
    pos = end + 1
    while True:
        end = data.find(b"\n", pos)
        if end < 0 or end - pos >= _MAXLINE or len(pairs) >= _MAXHEADERS - 1:
            return None
        line = data[pos : end + 1]
        pos = end + 1
        if line in (b"\r\n", b"\n"):
            break
        match = _HEADER_LINE.fullmatch(line)
        if match is None:
            return None
        name = match.group(1).decode("iso-8859-1")
        value = match.group(2).decode("iso-8859-1").lstrip(" \t")
        lowered = name.lower()
        if lowered == "transfer-encoding":
            return None
        if lowered == "content-type" and value.lower().startswith(("multipart", "message")):
            return None  # the email parser would read a body into these headers
        pairs.append((name, value))
    return version, int(code), reason.strip(), pairs, pos


# -- installation ----------------------------------------------------------------------------
def install_lean_multipart() -> bool:
    """Replace azure-core's email-based multipart helpers by the lean ones (once)."""
    global _installed
    with _lock:
        if _installed:
            return True
        try:
            from azure.core.pipeline.transport import _base as transport_base
            from azure.core.rest import _helpers, _http_response_impl
            from azure.core.utils import _pipeline_transport_rest_shared as shared
        except ImportError as exc:  # pragma: no cover - an azure-core without these modules
            log.warning("azure-core multipart internals moved; batches keep email: %s", exc)
            return False
        targets = [
            (shared, "_serialize_request"),
            (_helpers, "_serialize_request"),
            (transport_base, "_serialize_request"),
            (shared, "_prepare_multipart_body_helper"),
            (shared, "_get_raw_parts_helper"),
            (shared, "_decode_parts_helper"),
            (_helpers, "_prepare_multipart_body_helper"),
            (transport_base, "_prepare_multipart_body_helper"),
            (transport_base, "_get_raw_parts_helper"),
            (transport_base, "_HTTPResponse"),
            (_http_response_impl, "_get_raw_parts_helper"),
            (_http_response_impl, "_HTTPResponse"),
        ]
        if not all(hasattr(owner, name) for owner, name in targets) or not (
            transport_base._HTTPResponse is http.client.HTTPResponse
            and _http_response_impl._HTTPResponse is http.client.HTTPResponse
        ):
            log.warning("azure-core multipart internals moved; batches keep email")
            return False
        ORIGINALS["serialize"] = shared._serialize_request
        ORIGINALS["prepare_body"] = shared._prepare_multipart_body_helper
        ORIGINALS["raw_parts"] = shared._get_raw_parts_helper
        ORIGINALS["http_response"] = http.client.HTTPResponse
        for module, name, lean, _ in _replacements():
            setattr(module, name, lean)
        _installed = True
        return True


def check_part_count(response: Any, parts: Sequence[Any]) -> None:
    """A batch whose parts all succeeded has one part per operation. The email parser reads a
    truncated or cut response into fewer parts without complaint (the Table SDK would then
    return fewer results than operations); this raises ``DecodeError`` instead. A failed
    changeset is answered with the failing operation's part only, so parts with an error
    status are left to the SDK's error mapping."""
    from azure.core.exceptions import DecodeError

    info = response.request.multipart_mixed_info
    if not info or any(not 200 <= (part.status_code or 0) < 300 for part in parts):
        return
    expected = sum(
        len(req.multipart_mixed_info[0]) if req.multipart_mixed_info else 1 for req in info[0]
    )
    if len(parts) != expected:
        raise DecodeError(
            f"multipart response has {len(parts)} parts for {expected} operations",
            response=response,
        )


def _replacements() -> list[tuple[Any, str, Any, Any]]:
    """(module, name, lean, original) for every name ``install_lean_multipart`` replaces."""
    from azure.core.pipeline.transport import _base as transport_base
    from azure.core.rest import _helpers, _http_response_impl
    from azure.core.utils import _pipeline_transport_rest_shared as shared

    out: list[tuple[Any, str, Any, Any]] = []
    for module in (shared, _helpers, transport_base):
        out.append((module, "_serialize_request", serialize_request, ORIGINALS["serialize"]))
        out.append(
            (module, "_prepare_multipart_body_helper", prepare_body, ORIGINALS["prepare_body"])
        )
    for module in (shared, transport_base, _http_response_impl):
        out.append((module, "_get_raw_parts_helper", raw_parts, ORIGINALS["raw_parts"]))
    for module in (transport_base, _http_response_impl):
        out.append((module, "_HTTPResponse", PartResponse, ORIGINALS["http_response"]))
    return out


@contextmanager
def originals() -> Iterator[None]:
    """azure-core's own (email-based) multipart code for the duration (benchmarks' and tests'
    control case; not for concurrent use)."""
    if not install_lean_multipart():
        yield
        return
    replaced = _replacements()
    for module, name, _, original in replaced:
        setattr(module, name, original)
    try:
        yield
    finally:
        for module, name, lean, _ in replaced:
            setattr(module, name, lean)
