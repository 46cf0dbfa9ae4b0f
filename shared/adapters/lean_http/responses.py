"""azure-core response objects over a response read completely by ``wire``.

Two flavours, as ``RequestsTransport`` returns: ``RestResponse`` (an ``azure.core.rest``
``HttpResponseImpl``, for ``azure.core.rest.HttpRequest``, which the table and queue SDKs
send) and ``LegacyResponse`` (an ``azure.core.pipeline.transport.HttpResponse``). Both keep
``parts()`` (multipart/mixed, an entity-group transaction's answer) going through azure-core's
own helpers, and stream (``iter_bytes``, ``iter_raw``, ``stream_download``) from memory.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from typing import Any

from azure.core.pipeline.transport import HttpResponse
from azure.core.rest._http_response_impl import HttpResponseImpl

from shared.adapters.lean_http.wire import Response


def charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type if Python knows it (no ``email`` parse)."""
    if not content_type or "charset" not in content_type.lower():
        return None
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            value = value.strip().strip('"').strip()
            try:
                codecs.lookup(value)
            except LookupError:
                return None
            return value
    return None


def decode_text(content: bytes, encoding: str | None) -> str:
    """As azure-core's ``decode_to_text``: BOM-aware UTF-8 unless told otherwise."""
    if not content:
        return ""
    if encoding is None or encoding.lower() in ("utf-8", "utf8"):
        return content.decode("utf-8-sig", errors="replace" if encoding is None else "strict")
    return content.decode(encoding)


def _chunks(pipeline: Any, response: Any, decompress: bool = True, **_: Any) -> Iterator[bytes]:
    exchange: Response = response.internal_response
    data = exchange.content if decompress else exchange.raw
    size = response.block_size or 4096
    for start in range(0, len(data), size):
        yield data[start : start + size]


class RestResponse(HttpResponseImpl):
    def __init__(self, *, request: Any, internal_response: Response, block_size: int) -> None:
        headers = internal_response.headers
        super().__init__(
            request=request,
            internal_response=internal_response,
            block_size=block_size,
            status_code=internal_response.status,
            reason=internal_response.reason,
            headers=headers,
            content_type=headers.get("content-type"),
            stream_download_generator=_chunks,
        )
        self._content = internal_response.content

    @property
    def encoding(self) -> str | None:
        try:
            return self._encoding
        except AttributeError:
            self._encoding: str | None = charset(self.content_type)
            return self._encoding

    @encoding.setter
    def encoding(self, value: str | None) -> None:
        self._encoding = value
        self._text = None
        self._json = None


class LegacyResponse(HttpResponse):
    def __init__(self, request: Any, internal_response: Response, block_size: int) -> None:
        super().__init__(request, internal_response, block_size)
        self.status_code = internal_response.status
        self.headers = internal_response.headers
        self.reason = internal_response.reason
        self.content_type = internal_response.headers.get("content-type")

    def body(self) -> bytes:
        content: bytes = self.internal_response.content
        return content

    def text(self, encoding: str | None = None) -> str:
        return decode_text(self.body(), encoding or charset(self.content_type))

    def stream_download(self, pipeline: Any, **kwargs: Any) -> Iterator[bytes]:
        return _chunks(pipeline, self, **kwargs)
