"""Entity-group transactions without the email package: the lean builder and parser against
azure-core's own (email-based) ones, over generated batches, recorded Azurite and Azure
responses, and hostile responses."""

from __future__ import annotations

import copy
import email.feedparser
import email.generator
import http.client
import json
import logging
import time
from typing import Any

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import DecodeError
from azure.core.pipeline.transport import _base as transport_base
from azure.core.rest import HttpRequest, _helpers, _http_response_impl
from azure.core.rest._http_response_impl import HttpResponseImpl
from azure.core.utils import CaseInsensitiveDict
from azure.core.utils import _pipeline_transport_rest_shared as shared
from azure.data.tables import TableServiceClient, TableTransactionError, UpdateMode
from azure.data.tables._table_batch import TableBatchOperations
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.adapters import multipart
from shared.adapters.http_pool import _prepare_sequentially, install_sequential_multipart
from tests.support.azure_wire import Reply, Route, WireTransport

KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
CONN = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    f"AccountKey={KEY};TableEndpoint=http://127.0.0.1:1/devstoreaccount1;"
)
BATCH = "batch_ecf594c1-a278-4123-a4b7-8262cdeb29a4"
CHANGESET = "changeset_89758962-e1c3-432a-accc-b3825d360049"

install_sequential_multipart()
FIXTURE_CHECK = HealthCheck.function_scoped_fixture


def swap_to_originals(monkeypatch: pytest.MonkeyPatch) -> None:
    """azure-core as it ships: the email-based helpers and http.client's HTTPResponse."""
    for module, name, _, original in multipart._replacements():
        monkeypatch.setattr(module, name, original)


def test_the_originals_context_restores_the_lean_code() -> None:
    with multipart.originals():
        assert _helpers._serialize_request is multipart.ORIGINALS["serialize"]
        assert _http_response_impl._HTTPResponse is http.client.HTTPResponse
    assert _helpers._serialize_request is multipart.serialize_request
    assert _http_response_impl._HTTPResponse is multipart.PartResponse


# -- requests ------------------------------------------------------------------------------
def batch_request(ops: list[tuple[Any, ...]], table: str = "t") -> HttpRequest:
    """The $batch request the Table SDK sends for ``ops``, policies applied (fixed dates)."""
    client = TableServiceClient.from_connection_string(CONN).get_table_client(table)
    batch = TableBatchOperations(
        config=client._client._config,
        endpoint=f"{client.scheme}://{client._primary_hostname}",
        table_name=table,
        is_cosmos_endpoint=False,
    )
    for op in ops:
        batch.add_operation(op)
    changeset = HttpRequest("POST", "")
    changeset.set_multipart_mixed(*batch.requests, policies=[], boundary=CHANGESET)
    outer = HttpRequest(
        "POST",
        "http://127.0.0.1:1/devstoreaccount1/$batch",
        headers={"x-ms-version": "2019-02-02", "Content-Type": "application/json"},
    )
    outer.set_multipart_mixed(changeset, policies=[], boundary=BATCH)
    for sub in [changeset, *batch.requests]:
        sub.headers["x-ms-date"] = sub.headers["Date"] = "Wed, 02 Dec 2026 18:06:12 GMT"
    _prepare_sequentially(outer)
    return outer


def body_of(request: HttpRequest) -> Any:
    """The body and Content-Type built for a copy of ``request``, or the exception's type."""
    request = copy.deepcopy(request)
    try:
        request.prepare_multipart_body()
    except Exception as exc:  # the outcome compared is the exception's type
        return type(exc)
    return request.content, request.headers["Content-Type"]


def both_bodies(request: HttpRequest, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    lean = body_of(request)
    with monkeypatch.context() as m:
        swap_to_originals(m)
        control = body_of(request)
    return lean, control


texts = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40
) | st.sampled_from(["--" + CHANGESET, "\r\n--" + BATCH + "--\r\n", "é\r\nx\ny\rz", "日本語"])
values = st.one_of(
    texts, st.integers(-(2**31), 2**31 - 1), st.booleans(), st.floats(allow_nan=False)
)
entities = st.builds(
    lambda row, props: {"PartitionKey": "p", "RowKey": row, **props},
    st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=12),
    st.dictionaries(st.from_regex(r"[A-Z][a-z]{0,8}", fullmatch=True), values, max_size=5),
)
operations = st.one_of(
    st.tuples(st.just("upsert"), entities),
    st.tuples(st.just("create"), entities),
    st.tuples(st.just("delete"), entities),
    st.tuples(st.just("update"), entities, st.just({"mode": UpdateMode.REPLACE})),
    st.tuples(
        st.just("update"),
        entities,
        st.just({"etag": 'W/"x"', "match_condition": MatchConditions.IfNotModified}),
    ),
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(operations, min_size=1, max_size=100))
def test_generated_batches_have_the_bytes_of_the_email_generator(
    ops: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    for op in ops:  # the SDK refuses repeated row keys before the body is built
        op[1]["RowKey"] = f"{op[1]['RowKey']}-{ops.index(op)}"
    lean, control = both_bodies(batch_request(ops), monkeypatch)
    assert isinstance(lean, tuple) and lean == control


def test_hundred_large_non_ascii_operations(monkeypatch: pytest.MonkeyPatch) -> None:
    big = "x" * 65536
    ops = [
        ("upsert", {"PartitionKey": "p", "RowKey": f"r{i}", "Big": big, "T": "é\r\n日本"})
        for i in range(100)
    ]
    lean, control = both_bodies(batch_request(ops), monkeypatch)
    assert isinstance(lean, tuple) and lean == control and len(lean[0]) > 100 * 65536
    assert lean[0].count(b"Content-ID:") == 100


def test_raw_line_breaks_in_a_sub_request_body_are_rewritten_as_the_generator_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sub = HttpRequest("POST", "http://x/t", content=b"a\nb\rc\r\nd\n\re\n")
    top_level = HttpRequest("POST", "http://x/t", content=b"f\ng\x80\xff\r")
    changeset = HttpRequest("POST", "")
    changeset.set_multipart_mixed(sub, boundary="c1")
    outer = HttpRequest("POST", "http://x/$batch")
    outer.set_multipart_mixed(changeset, top_level, boundary="b1")
    lean, control = both_bodies(outer, monkeypatch)
    assert isinstance(lean, tuple) and lean == control
    assert b"a\r\nb\r\nc\r\nd\r\n\r\ne\r\n" in lean[0]
    assert b"f\r\ng\x80\xff\r\n" in lean[0]


def test_non_ascii_bytes_inside_a_changeset_fail_as_in_azure_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    changeset = HttpRequest("POST", "")
    changeset.set_multipart_mixed(HttpRequest("POST", "http://x/t", content=b"\xc3\xa9"))
    outer = HttpRequest("POST", "http://x/$batch")
    outer.set_multipart_mixed(changeset, boundary="b1")
    assert both_bodies(outer, monkeypatch) == (UnicodeEncodeError, UnicodeEncodeError)


def test_boundaries_the_email_package_would_rewrite_are_built_by_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for boundary in ["with space", 'q"uote', "x" * 71, "é"]:
        outer = HttpRequest("POST", "http://x/$batch")
        outer.set_multipart_mixed(HttpRequest("GET", "http://x/t()"), boundary=boundary)
        lean, control = both_bodies(outer, monkeypatch)
        assert lean == control
        assert isinstance(lean, tuple) or boundary == "é"  # the generator cannot write that
    outer = HttpRequest("POST", "http://x/$batch")
    outer.set_multipart_mixed(HttpRequest("GET", "http://x/t()"))  # a random boundary
    outer.prepare_multipart_body()
    assert outer.headers["Content-Type"].startswith("multipart/mixed; boundary=")


def test_a_table_batch_is_built_without_the_email_generator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("email generator used")

    monkeypatch.setattr(email.generator.Generator, "flatten", refuse)
    request = batch_request([("upsert", {"PartitionKey": "p", "RowKey": "r", "V": 1})])
    request.prepare_multipart_body()
    assert request.content.startswith(b"--" + BATCH.encode() + b"\r\n")
    with monkeypatch.context() as m:  # the control: azure-core's own builder uses it
        swap_to_originals(m)
        with pytest.raises(AssertionError, match="email generator"):
            copy.deepcopy(request).prepare_multipart_body()


def serialized(request: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    def one() -> Any:
        try:
            return request.serialize()
        except Exception as exc:  # the outcome compared is the exception's type
            return type(exc)

    lean = one()
    with monkeypatch.context() as m:
        swap_to_originals(m)
        control = one()
    return lean, control


header_names = st.sampled_from(
    ["Accept", "Host", "host", "Accept-Encoding", "Content-Length", "Transfer-Encoding", "If-Match"]
) | st.text(st.characters(codec="latin-1"), max_size=8)
header_texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
bodies = st.none() | st.binary(max_size=40) | header_texts | st.just({"a": 1})
urls = st.sampled_from(
    ["http://x/t(PartitionKey='p')", "", "/rel", "https://[::1]:1/t", "http://[x/t", "http://h/a b"]
) | header_texts.map(lambda t: "http://h/" + t)


@settings(max_examples=300, deadline=None, suppress_health_check=[FIXTURE_CHECK])
@given(
    method=st.sampled_from(["GET", "PATCH", "post", "DELETE", "MERGE", "P\x01T", "GÉT"]),
    url=urls,
    headers=st.dictionaries(header_names, header_texts | st.integers(0, 9), max_size=5),
    body=bodies,
)
def test_sub_requests_are_serialized_as_http_client_does(
    method: str, url: str, headers: dict[str, Any], body: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = HttpRequest(method, url, headers=headers)
    request._data = body  # as the SDK's builders leave it: bytes, str or nothing
    lean, control = serialized(request, monkeypatch)
    assert lean == control


def test_a_table_operation_is_serialized_by_the_lean_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import http.client as client

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("http.client used")

    request = batch_request([("upsert", {"PartitionKey": "p", "RowKey": "r", "V": "é"})])
    operation = request.multipart_mixed_info[0][0].multipart_mixed_info[0][0]
    lean, control = serialized(operation, monkeypatch)
    assert lean == control and lean.startswith(b"PATCH http://127.0.0.1:1/")
    monkeypatch.setattr(client.HTTPConnection, "request", refuse)
    assert operation.serialize() == lean


# -- responses -----------------------------------------------------------------------------
CS_TYPE = "multipart/mixed; boundary=changesetresponse_1"
BATCH_TYPE = "multipart/mixed; boundary=batchresponse_1"


def ok_part(i: int, cs: str = "changesetresponse_1", nl: str = "\r\n") -> str:
    return nl.join(
        [
            f"--{cs}",
            "Content-Type: application/http",
            "Content-Transfer-Encoding: binary",
            "",
            "HTTP/1.1 204 No Content",
            "X-Content-Type-Options: nosniff",
            "Cache-Control: no-cache",
            "DataServiceVersion: 3.0;",
            f"ETag: W/\"datetime'2026-12-02T18%3A06%3A12.56940{i:02d}Z'\"",
            "",
            "",
            "",
        ]
    )


def azurite_reply(n: int, nl: str = "\r\n") -> str:
    """Azurite's answer to a changeset of ``n`` operations (recorded, ids shortened)."""
    head = (
        f"--batchresponse_1{nl}Content-Type: multipart/mixed; boundary=changesetresponse_1{nl}{nl}"
    )
    body = "".join(ok_part(i, nl=nl) for i in range(n))
    return head + body + f"--changesetresponse_1--{nl}--batchresponse_1--{nl}"


AZURITE_CONFLICT = (
    "--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_1\r\n\r\n"
    "--changesetresponse_1\r\nContent-Type: application/http\r\n"
    "Content-Transfer-Encoding: binary\r\n\r\nHTTP/1.1 409 Conflict\r\nContent-ID: 2\r\n"
    "DataServiceVersion: 3.0;\r\n"
    "Content-Type: application/json;odata=minimalmetadata;charset=utf-8\r\n\r\n"
    '{"odata.error":{"code":"EntityAlreadyExists","message":{"lang":"en-US","value":'
    '"1:The specified entity already exists.\\nRequestId:6e9c\\nTime:2026-12-02T18:06:12.597Z"}}}'
    "\r\n--changesetresponse_1--\r\n--batchresponse_1--\r\n"
)
# the Table service's shape (docs: "Performing entity group transactions"): a preamble-free
# batch, Content-ID per part, a body per insert, an epilogue after the close
AZURE_REPLY = (
    "--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_1\r\n\r\n"
    "--changesetresponse_1\r\nContent-Type: application/http\r\n"
    "Content-Transfer-Encoding: binary\r\n\r\nHTTP/1.1 201 Created\r\nContent-ID: 1\r\n"
    "X-Content-Type-Options: nosniff\r\nCache-Control: no-cache\r\nDataServiceVersion: 3.0;\r\n"
    "Content-Type: application/json;odata=fullmetadata;streaming=true;charset=utf-8\r\n"
    "Preference-Applied: return-content\r\n"
    "ETag: W/\"datetime'2026-12-02T18%3A06%3A12.5Z'\"\r\n\r\n"
    '{"odata.metadata":"https://a.table.core.windows.net/$metadata#t/@Element",'
    '"PartitionKey":"p","RowKey":"--changesetresponse_1","Name":"caf\\u00e9"}\r\n'
    "--changesetresponse_1\r\nContent-Type: application/http\r\n"
    "Content-Transfer-Encoding: binary\r\n\r\nHTTP/1.1 204 No Content\r\nContent-ID: 2\r\n"
    "DataServiceVersion: 1.0;\r\n\r\n\r\n"
    "--changesetresponse_1--\r\n--batchresponse_1--\r\nepilogue\r\n"
)


class _Raw:
    def close(self) -> None:
        return None


def outer_request(n: int) -> HttpRequest:
    changeset = HttpRequest("POST", "")
    changeset.set_multipart_mixed(
        *[HttpRequest("PATCH", f"http://x/t(RowKey='{i}')") for i in range(n)], boundary="c"
    )
    outer = HttpRequest("POST", "http://x/$batch")
    outer.set_multipart_mixed(changeset, boundary="b")
    return outer


def reply(body: bytes | str, n: int, ct: str = BATCH_TYPE) -> Any:
    content = body.encode("utf-8", "surrogateescape") if isinstance(body, str) else body
    response = HttpResponseImpl(
        request=outer_request(n),
        internal_response=_Raw(),
        status_code=202,
        reason="Accepted",
        content_type=ct,
        headers=CaseInsensitiveDict({"Content-Type": ct}),
        stream_download_generator=None,
    )
    response._content = content
    return response


def summary(parts: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (p.status_code, p.reason, list(p.headers.items()), p.request.url, p.read()) for p in parts
    ]


def outcome(body: bytes | str, n: int, ct: str = BATCH_TYPE) -> Any:
    try:
        return summary(reply(body, n, ct)._get_raw_parts())
    except Exception as exc:  # the outcome compared is the exception's type
        return type(exc)


def both_outcomes(
    body: bytes | str, n: int, monkeypatch: pytest.MonkeyPatch, **kw: str
) -> tuple[Any, Any]:
    lean = outcome(body, n, **kw)
    with monkeypatch.context() as m:
        swap_to_originals(m)
        control = outcome(body, n, **kw)
    return lean, control


RECORDED = {
    "azurite-3": (azurite_reply(3), 3),
    "azurite-100": (azurite_reply(100), 100),
    "azurite-lf": (azurite_reply(3, nl="\n"), 3),
    "azurite-conflict": (AZURITE_CONFLICT, 3),
    "azure": (AZURE_REPLY, 2),
    "preamble": ("a preamble\r\nof two lines\r\n" + azurite_reply(2), 2),
    "empty-changeset": (
        "--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_1\r\n"
        "\r\n--changesetresponse_1--\r\n--batchresponse_1--\r\n",
        0,
    ),
}


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_recorded_responses_give_the_parts_of_the_email_parser(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    body, n = RECORDED[name]
    lean, control = both_outcomes(body, n, monkeypatch)
    assert isinstance(lean, list) and lean == control


@pytest.mark.parametrize(
    "ct",
    [
        'multipart/mixed; boundary="batchresponse_1"',
        "Multipart/Mixed;charset=utf-8;  BOUNDARY=batchresponse_1 ",
    ],
)
def test_content_type_spellings(ct: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lean, control = both_outcomes(azurite_reply(2), 2, monkeypatch, ct=ct)
    assert isinstance(lean, list) and lean == control


def test_a_response_is_split_without_the_email_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("email parser used")

    monkeypatch.setattr(email.feedparser.FeedParser, "feed", refuse)
    parts = reply(AZURE_REPLY, 2)._get_raw_parts()
    assert [p.status_code for p in parts] == [201, 204]
    assert json.loads(parts[0].read())["RowKey"] == "--changesetresponse_1"
    with monkeypatch.context() as m:  # the control: azure-core's own parser uses it
        swap_to_originals(m)
        with pytest.raises(AssertionError, match="email parser"):
            reply(AZURE_REPLY, 2)._get_raw_parts()


header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=30)
json_bodies = st.recursive(
    st.none() | st.booleans() | st.integers() | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
).map(lambda v: json.dumps({"value": v}, ensure_ascii=False))


@st.composite
def responses(draw: Any) -> tuple[bytes, int]:
    nl = draw(st.sampled_from(["\r\n", "\n"]))
    n = draw(st.integers(0, 100))
    out = [
        f"--batchresponse_1{nl}Content-Type: multipart/mixed; boundary=changesetresponse_1{nl}{nl}"
    ]
    for i in range(n):
        status = draw(st.sampled_from([200, 201, 204, 400, 404, 409, 412, 413, 500]))
        headers = draw(
            st.lists(
                st.tuples(st.from_regex(r"X-[A-Za-z-]{1,10}", fullmatch=True), header_values),
                max_size=4,
            )
        )
        body = "" if status == 204 else draw(json_bodies)
        if draw(st.booleans()):
            body += "\n--changesetresponse_1x and --batchresponse_1-- inside\r\n"
        if draw(st.integers(0, 20)) == 0:
            body += "y" * 65536
        lines = [
            "--changesetresponse_1",
            "Content-Type: application/http",
            "Content-Transfer-Encoding: binary",
            "",
            f"HTTP/1.1 {status} Reason {i}",
            f"Content-ID: {i}",
            *[f"{k}: {v}" for k, v in headers],
            "Content-Type: application/json;charset=utf-8",
            "",
            body,
        ]
        out.append(nl.join(lines) + nl)
    out.append(f"--changesetresponse_1--{nl}--batchresponse_1--{nl}")
    return "".join(out).encode("utf-8"), n


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=responses())
def test_generated_responses_give_the_parts_of_the_email_parser(
    case: tuple[bytes, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    body, n = case
    lean, control = both_outcomes(body, n, monkeypatch)
    assert isinstance(lean, list) and lean == control and len(lean) == n
    if n == 0:  # a close boundary without a start: the email parser's defect path reads it
        return
    # and it was the lean path that read them
    top = multipart.parse(BATCH_TYPE, body)
    assert len(top.get_payload()[0].get_payload()) == n


HOSTILE = {
    "no-boundary-at-all": "HTTP/1.1 204 No Content\r\n\r\n",
    "boundary-never-appears": "--somethingelse\r\nContent-Type: application/http\r\n\r\nx\r\n",
    "truncated-close": azurite_reply(3).rsplit("--changesetresponse_1--", 1)[0],
    "truncated-mid-part": azurite_reply(3)[:500],
    "inner-close-missing": azurite_reply(3).replace("--changesetresponse_1--\r\n", ""),
    "part-without-headers": azurite_reply(2).replace(
        "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n", "", 1
    ),
    "part-without-blank-line": azurite_reply(2).replace(
        "Content-Transfer-Encoding: binary\r\n\r\n", "Content-Transfer-Encoding: binary\r\n", 1
    ),
    "garbage-status-line": azurite_reply(2).replace("HTTP/1.1 204 No Content", "HTTP/9 OK?", 1),
    "empty-status-line": azurite_reply(2).replace("HTTP/1.1 204 No Content\r\n", "", 1),
    "status-below-100": azurite_reply(2).replace("HTTP/1.1 204 No Content", "HTTP/1.1 099 x", 1),
    "folded-header": azurite_reply(2).replace(
        "Cache-Control: no-cache\r\n", "Cache: a\r\n b\r\n", 1
    ),
    "chunked-part": azurite_reply(2).replace(
        "Cache-Control: no-cache", "Transfer-Encoding: chunked", 1
    ),
    "base64-part": azurite_reply(2).replace("binary", "base64", 1),
    "raw-boundary-line-in-body": AZURE_REPLY.replace(
        '"Name":"caf\\u00e9"}', '"Name":"\r\n--changesetresponse_1\r\n"}'
    ),
    "doubled-delimiter": azurite_reply(2).replace(
        "--changesetresponse_1\r\n", "--changesetresponse_1\r\n--changesetresponse_1\r\n", 1
    ),
    "non-ascii-everywhere": azurite_reply(2).replace("no-cache", "nö-cäche\udcff"),
    "empty": "",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_responses_end_as_the_originals_do(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = time.monotonic()
    lean, control = both_outcomes(HOSTILE[name], 3, monkeypatch)
    assert lean == control
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "ct",
    ["multipart/mixed", "multipart/mixed; boundary=", "multipart/mixed; boundary*=x", "text/plain"],
)
def test_hostile_content_types_end_as_the_originals_do(
    ct: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lean, control = both_outcomes(azurite_reply(2), 2, monkeypatch, ct=ct)
    assert lean == control


# -- through the Table SDK -----------------------------------------------------------------
def table(body: bytes | str, status: int = 202) -> Any:
    content = body.encode() if isinstance(body, str) else body
    wire = WireTransport(
        Route(
            "POST",
            r"\$batch",
            [Reply(status, content, {"Content-Type": "multipart/mixed; boundary=batchresponse_1"})],
        )
    )
    return TableServiceClient.from_connection_string(CONN, transport=wire).get_table_client("t")


def upserts(n: int) -> list[tuple[str, dict[str, Any]]]:
    return [("upsert", {"PartitionKey": "p", "RowKey": f"r{i}"}) for i in range(n)]


def test_a_conflict_inside_the_changeset_names_the_failing_operation() -> None:
    ops = [("create", {"PartitionKey": "p", "RowKey": f"r{i}"}) for i in range(3)]
    with pytest.raises(TableTransactionError) as caught:
        table(AZURITE_CONFLICT).submit_transaction(ops)
    assert caught.value.index == 1 and caught.value.status_code == 409
    assert caught.value.error_code == "EntityAlreadyExists"


def test_a_hundred_operations_give_a_hundred_results() -> None:
    results = table(azurite_reply(100)).submit_transaction(upserts(100))
    assert len(results) == 100 and results[99]["etag"].endswith("5694099Z'\"")


DANGLING = "\r\n--changesetresponse_1"
CUT_IN_PART_2 = azurite_reply(3)[: azurite_reply(3).index("X-Content", 400) + 9]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (azurite_reply(2), DecodeError),  # two parts for three operations
        (CUT_IN_PART_2, DecodeError),  # the email parser reads a cut part as a 204
        # a delimiter and nothing after it: an empty text/plain part (azure-core's ValueError)
        (
            azurite_reply(3).rsplit("--changesetresponse_1\r\n", 1)[0] + "--changesetresponse_1",
            ValueError,
        ),
        ("", DecodeError),  # no parts at all
    ],
)
def test_fewer_parts_than_operations_is_an_error_not_fewer_results(
    body: str, error: type[Exception]
) -> None:
    with pytest.raises(error, match=r"parts for 3 operations|application/http"):
        table(body).submit_transaction(upserts(3))


def test_the_original_would_return_fewer_results_silently(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.adapters import http_pool

    monkeypatch.setattr(http_pool.multipart, "check_part_count", lambda *a: None)
    assert len(table(azurite_reply(2)).submit_transaction(upserts(3))) == 2


def test_install_replaces_once_and_keeps_the_originals() -> None:
    assert multipart.install_lean_multipart() is True
    assert _helpers._prepare_multipart_body_helper is multipart.prepare_body
    assert transport_base._prepare_multipart_body_helper is multipart.prepare_body
    assert _http_response_impl._get_raw_parts_helper is multipart.raw_parts
    assert transport_base._get_raw_parts_helper is multipart.raw_parts
    assert _http_response_impl._HTTPResponse is multipart.PartResponse
    assert multipart.ORIGINALS["prepare_body"].__module__ == shared.__name__
    assert multipart.ORIGINALS["raw_parts"].__module__ == shared.__name__


def test_moved_internals_are_left_alone_and_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(multipart, "_installed", False)
    swap_to_originals(monkeypatch)  # a fresh process: azure-core's own code in place
    monkeypatch.delattr(transport_base, "_HTTPResponse")  # as if azure-core had moved it
    with caplog.at_level(logging.WARNING, logger=multipart.__name__):
        assert multipart.install_lean_multipart() is False
    assert "internals moved" in caplog.text
    assert _helpers._serialize_request is multipart.ORIGINALS["serialize"]  # nothing replaced
    assert _http_response_impl._get_raw_parts_helper is multipart.ORIGINALS["raw_parts"]


def test_legacy_pipeline_transport_requests_and_responses(monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.core.pipeline.transport import HttpRequest as LegacyRequest

    outer = LegacyRequest("POST", "http://x/$batch")
    changeset = LegacyRequest("POST", "")
    changeset.set_multipart_mixed(
        *[LegacyRequest("DELETE", f"http://x/t(RowKey='{i}')") for i in range(3)], boundary="c"
    )
    outer.set_multipart_mixed(changeset, boundary="b")
    lean = copy.deepcopy(outer)
    lean.prepare_multipart_body()
    with monkeypatch.context() as m:
        swap_to_originals(m)
        control = copy.deepcopy(outer)
        control.prepare_multipart_body()
    assert lean.body == control.body

    class Legacy(transport_base.HttpResponse):  # type: ignore[misc]
        def __init__(self, body: bytes) -> None:
            super().__init__(outer, None)
            self.content_type = "multipart/mixed; boundary=batchresponse_1"
            self._body = body

        def body(self) -> bytes:
            return self._body

    def legacy_summary() -> list[Any]:
        parts = Legacy(azurite_reply(3).encode())._get_raw_parts()
        return [(p.status_code, p.reason, list(p.headers.items()), p.body()) for p in parts]

    lean_parts = legacy_summary()
    with monkeypatch.context() as m:
        swap_to_originals(m)
        assert legacy_summary() == lean_parts
    assert len(lean_parts) == 3
