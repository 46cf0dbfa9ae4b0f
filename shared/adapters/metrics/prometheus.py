"""Any Prometheus HTTP API (``/api/v1/query``); with a credential, Azure Monitor managed
Prometheus (the workspace's query endpoint, an Entra token for the Prometheus scope).

Answers are read with a size limit and a timeout; anything that is not a well-formed single
value is "no data" or an error, never a number by accident.
"""

from __future__ import annotations

import math
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from shared.adapters.telemetry.spans import traced_call
from shared.domain import bounded_json
from shared.ports.metrics import ProviderUnreachable, QueryRefused

PROMETHEUS_SCOPE = "https://prometheus.monitor.azure.com/.default"
MAX_ANSWER = 1_000_000  # bytes


class PrometheusProvider:
    def __init__(
        self,
        base_url: str,
        *,
        credential: Any = None,
        timeout: float = 10.0,
        opener: urllib.request.OpenerDirector | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("the Prometheus endpoint must be an http(s) URL")
        self._base = base_url.rstrip("/")
        self._credential = credential
        self._timeout = timeout
        self._opener = opener or urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self._credential is not None:
            try:
                token = self._credential.get_token(PROMETHEUS_SCOPE).token
            except Exception as exc:  # azure-identity raises several types; all mean "no token"
                raise ProviderUnreachable(f"no token for managed Prometheus: {exc}") from exc
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _get(self, query: str) -> dict[str, Any]:
        url = f"{self._base}/api/v1/query?" + urllib.parse.urlencode({"query": query})
        # The scheme is checked in __init__ (http or https only).
        request = urllib.request.Request(url, headers=self._headers(), method="GET")  # noqa: S310
        deadline = time.monotonic() + self._timeout
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                body = _read_until(response, deadline, self._timeout)
        except urllib.error.HTTPError as exc:
            detail = _error_of(exc.read(4096))
            if exc.code in (400, 422):
                raise QueryRefused(f"Prometheus refused the query: {detail}") from exc
            raise ProviderUnreachable(f"Prometheus answered HTTP {exc.code}: {detail}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ProviderUnreachable(f"Prometheus is unreachable: {exc}") from exc
        if len(body) > MAX_ANSWER:
            raise ProviderUnreachable("Prometheus answered with more than 1 MB")
        try:
            doc = bounded_json.loads(body, max_bytes=MAX_ANSWER)
        except ValueError as exc:
            raise ProviderUnreachable("Prometheus answered with something other than JSON") from exc
        if not isinstance(doc, dict) or doc.get("status") != "success":
            raise ProviderUnreachable(f"Prometheus answered: {_error_of(body)}")
        return doc

    @traced_call("prometheus.query")
    def run_query(self, query: str) -> float | None:
        data = self._get(query).get("data")
        if not isinstance(data, dict):
            raise ProviderUnreachable("Prometheus answered without data")
        kind, result = data.get("resultType"), data.get("result")
        if kind == "scalar":
            return _value(result)
        if kind != "vector" or not isinstance(result, list):
            raise QueryRefused(f"the query must give one value, not a {kind}")
        if not result:
            return None
        if len(result) > 1:
            raise QueryRefused(f"the query gave {len(result)} series; it must give one")
        sample = result[0]
        return _value(sample.get("value") if isinstance(sample, dict) else None)

    def is_online(self) -> bool:
        try:
            return self.run_query("vector(1)") == 1.0
        except (ProviderUnreachable, QueryRefused):
            return False


def _read_until(response: Any, deadline: float, timeout: float) -> bytes:
    """At most ``MAX_ANSWER + 1`` bytes, all within ``deadline``: the socket timeout alone is
    per read, so an answer dripped a byte at a time would hold the caller for hours."""
    read = getattr(response, "read1", response.read)
    body = bytearray()
    while len(body) <= MAX_ANSWER:
        if time.monotonic() > deadline:
            raise ProviderUnreachable(f"Prometheus did not answer in time ({timeout:g} s)")
        chunk = read(MAX_ANSWER + 1 - len(body))
        if not chunk:
            break
        body.extend(chunk)
    return bytes(body)


def _value(pair: object) -> float | None:
    """``[<time>, "<value>"]``; NaN and infinities are no data."""
    if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[1], str):
        raise ProviderUnreachable("Prometheus answered with a malformed sample")
    try:
        value = float(pair[1])
    except ValueError as exc:
        raise ProviderUnreachable("Prometheus answered with a malformed sample") from exc
    return value if math.isfinite(value) else None


def _error_of(body: bytes) -> str:
    try:
        doc = bounded_json.loads(body)
        return str(doc.get("error") or doc.get("status"))[:300]
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", "replace")
