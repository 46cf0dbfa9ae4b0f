"""The HTTP side of the Azure SDK clients: one connection pool per cell, no per-request
environment scans, no thread pool per entity-group transaction.

What azure-core does by default, per client and per request, and what this module does instead:

- **A pool of 10 connections per client.** Every ``TableServiceClient``, ``QueueServiceClient``
  and ``BlobServiceClient`` builds its own ``requests`` session whose adapter keeps 10
  connections per host; a host running more invocations at once than that opens and drops
  connections ("Connection pool is full, discarding connection"). ``cell_transport`` is one
  transport for all of a cell's table and queue clients, its pool sized by ``pool_size``: the
  Python worker's threads plus the queue consumers' slots. It is the ``LeanTransport``
  (``shared.adapters.lean_http``: HTTP/1.1 over sockets, no requests/urllib3/http.client/
  ``email`` per response), unless a proxy is configured (it speaks none). The blob clients
  (streamed downloads) get ``requests_transport``: one ``RequestsTransport``, pooled the same.
- **The environment read on every request.** A ``requests`` session with ``trust_env`` (the
  default) looks up proxies, ``NO_PROXY``, ``.netrc`` and the CA bundle variables in
  ``os.environ`` and on disk for every request. Here the environment is read once, when the
  transport is built: the CA bundle variable becomes the transport's ``connection_verify``
  (both transports); only
  when a proxy variable is set does the session keep reading the environment (requests applies
  ``NO_PROXY`` only then).
- **64 KiB reads.** Responses are read in 64 KiB blocks instead of 4 KiB
  (``connection_data_block_size``): a 1 MB query page is 16 reads, not 250.
- **Threads per batch.** azure-core prepares the sub-requests of a multipart (entity-group
  transaction) request in a new ``ThreadPoolExecutor`` and parses the parts of its response
  in another (``Pipeline._prepare_multipart_mixed_request`` and ``_parts_helper``): a batch
  starts and joins several threads only to set two date headers per operation.
  ``install_sequential_multipart`` replaces both, once per process, with loops doing the same
  work in the calling thread (the policies and their order are unchanged). If a later
  azure-core no longer has these functions the override is skipped (logged); the unit test
  ``test_http_pool`` then fails, so the change is noticed.
- **The email package per batch.** The same call installs ``multipart.install_lean_multipart``:
  the batch body built and the response split with ``bytes`` operations instead of
  ``email.generator`` and ``email.parser`` (see that module), and a response whose parts all
  succeeded but do not match the operations one to one raises ``DecodeError``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from shared.adapters import multipart

log = logging.getLogger(__name__)

DEFAULT_THREADS = 32  # the Python worker's maximum PYTHON_THREADPOOL_THREAD_COUNT
# Service Bus triggered functions (approval requests, expirations, deployment requests), each
# with host.json's serviceBus.maxConcurrentCalls (8): checked against host.json by a test
QUEUE_CONSUMER_SLOTS = 3 * 8
SPARE = 8  # timers, checkpoint signing, a verify's parallel range reads
BLOCK_SIZE = 64 * 1024
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
_CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def pool_size(environ: Mapping[str, str]) -> int:
    """Connections to keep per host: every invocation this host can run at once."""
    raw = (environ.get("PYTHON_THREADPOOL_THREAD_COUNT") or "").strip()
    threads = int(raw) if raw.isascii() and raw.isdigit() and int(raw) > 0 else DEFAULT_THREADS
    return min(threads, DEFAULT_THREADS) + QUEUE_CONSUMER_SLOTS + SPARE


def needs_environment(environ: Mapping[str, str]) -> bool:
    """Whether requests must keep reading proxy settings per request (a proxy is configured)."""
    return any(k.lower() in _PROXY_VARIABLES and v for k, v in environ.items())


def cell_verify(environ: Mapping[str, str], verify: str | bool | None = None) -> str | bool:
    """What to verify TLS against: ``verify`` if given (``False`` only this way), else the CA
    bundle variable requests reads, else requests' default bundle (True)."""
    if verify is None:
        return next((environ[k] for k in _CA_VARIABLES if environ.get(k)), True)
    return verify


def cell_transport(
    environ: Mapping[str, str], *, size: int | None = None, verify: str | bool | None = None
) -> Any:
    """One transport for all of a cell's table and queue clients (pass it as ``transport=``
    to each): the ``LeanTransport`` (``shared.adapters.lean_http``), or, when a proxy is
    configured (it speaks none), ``requests_transport``. Closing a client leaves it open: the
    pool belongs to the process."""
    if needs_environment(environ):
        return requests_transport(environ, size=size, verify=verify)
    from shared.adapters.lean_http import LeanTransport

    install_sequential_multipart()
    return LeanTransport(
        pool_size=size or pool_size(environ),
        pool_owner=False,
        connection_verify=cell_verify(environ, verify),
        connection_data_block_size=BLOCK_SIZE,
    )


def requests_transport(
    environ: Mapping[str, str], *, size: int | None = None, verify: str | bool | None = None
) -> Any:
    """One ``RequestsTransport`` for a cell's blob clients (they stream downloads), and the
    table and queue clients' transport when a proxy is configured (or for an A/B)."""
    import requests
    from azure.core.pipeline.transport import RequestsTransport
    from azure.core.pipeline.transport._bigger_block_size_http_adapters import (
        BiggerBlockSizeHTTPAdapter,
    )
    from urllib3.util.retry import Retry

    install_sequential_multipart()
    connections = size or pool_size(environ)
    session = requests.Session()
    session.trust_env = needs_environment(environ)
    # as azure-core mounts its own adapter: no urllib3 retries (the pipeline retries)
    adapter = BiggerBlockSizeHTTPAdapter(
        pool_connections=16,
        pool_maxsize=connections,
        max_retries=Retry(total=False, redirect=False, raise_on_status=False),
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return RequestsTransport(
        session=session,
        session_owner=False,
        use_env_settings=session.trust_env,
        connection_verify=cell_verify(environ, verify),
        connection_data_block_size=BLOCK_SIZE,
    )


_installed = False
_install_lock = threading.Lock()
ORIGINALS: dict[str, Any] = {}  # what was replaced (for the tests' control case)


def install_sequential_multipart() -> bool:
    """Replace azure-core's thread pools around multipart requests by plain loops (once)."""
    global _installed
    multipart.install_lean_multipart()
    with _install_lock:
        if _installed:
            return True
        try:
            from azure.core.pipeline import _base
            from azure.core.pipeline.transport import _base as transport_base
            from azure.core.rest import _http_response_impl
            from azure.core.utils import _pipeline_transport_rest_shared as shared
        except ImportError as exc:  # pragma: no cover - an azure-core without these modules
            log.warning("azure-core multipart internals moved; batches keep their threads: %s", exc)
            return False
        targets = [
            (_base.Pipeline, "_prepare_multipart_mixed_request"),
            (shared, "_parts_helper"),
            (_http_response_impl, "_parts_helper"),
            (transport_base, "_parts_helper"),
        ]
        if not all(hasattr(owner, name) for owner, name in targets):
            log.warning("azure-core multipart internals moved; batches keep their threads")
            return False
        ORIGINALS["prepare"] = _base.Pipeline._prepare_multipart_mixed_request
        ORIGINALS["parts"] = shared._parts_helper
        _base.Pipeline._prepare_multipart_mixed_request = staticmethod(_prepare_sequentially)  # type: ignore[method-assign]
        shared._parts_helper = _parts_sequentially
        _http_response_impl._parts_helper = _parts_sequentially
        transport_base._parts_helper = _parts_sequentially
        _installed = True
        return True


def _prepare_sequentially(request: Any) -> None:
    """``Pipeline._prepare_multipart_mixed_request`` without its ThreadPoolExecutor."""
    from azure.core.pipeline import PipelineContext, PipelineRequest
    from azure.core.pipeline._tools import await_result

    info = request.multipart_mixed_info
    if not info:
        return
    requests, policies, _, options = info[0], info[1], info[2], info[3]
    for sub in requests:
        if sub.multipart_mixed_info:
            _prepare_sequentially(sub)  # a changeset's own sub-requests
        pipeline_request = PipelineRequest(sub, PipelineContext(None, **options))
        for policy in policies:
            await_result(policy.on_request, pipeline_request)


def _parts_sequentially(response: Any) -> Any:
    """``_parts_helper`` (the parts of a multipart response) without its ThreadPoolExecutor."""
    from azure.core.pipeline import PipelineContext, PipelineRequest, PipelineResponse
    from azure.core.pipeline._tools import await_result

    if not response.content_type or not response.content_type.startswith("multipart/mixed"):
        raise ValueError("You can't get parts if the response is not multipart/mixed")
    parts = response._get_raw_parts()
    multipart.check_part_count(response, parts)
    if response.request.multipart_mixed_info:
        policies = response.request.multipart_mixed_info[1]
        for part in parts:
            context = PipelineContext(None)
            pipeline_request = PipelineRequest(part.request, context)
            pipeline_response = PipelineResponse(part.request, part, context=context)
            for policy in policies:
                await_result(policy.on_response, pipeline_request, pipeline_response)
    return parts
