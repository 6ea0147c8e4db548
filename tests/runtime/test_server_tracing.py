"""The server interceptor's SERVER span, against a real in-process CadenzaServer: it continues the
caller's trace from traceparent, carries the rpc.* attributes and final status code, is one span
per call (streams included), and is current in the handler so its log lines carry the trace id."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import grpc
import pytest
from grpc import aio
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from cadenza.blob.v1 import blob_pb2, blob_pb2_grpc
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig, TelemetryConfig
from cadenza_runtime.errors import NotFound
from cadenza_runtime.server import CadenzaServer, ServiceBundle, ServiceRegistration
from cadenza_runtime.telemetry import current_trace_id, setup_logging, setup_tracing
from tests.helpers.identity import operator_metadata

BLOB_SERVICE = blob_pb2.DESCRIPTOR.services_by_name["BlobService"].full_name
STAT = f"/{BLOB_SERVICE}/StatObject"
_log = logging.getLogger("cadenza.test.tracing")


class TracedBlob(blob_pb2_grpc.BlobServiceServicer):
    """Ends each call the way its key says; records the trace id each handler ran under."""

    def __init__(self) -> None:
        self.trace_ids: list[str] = []

    async def StatObject(
        self, request: blob_pb2.StatObjectRequest, context: Any
    ) -> blob_pb2.StatObjectResponse:
        self.trace_ids.append(current_trace_id())
        _log.info("stat %s", request.key)
        if request.key == "missing":
            raise NotFound(f"object {request.key!r} does not exist")
        if request.key == "boom":
            raise ValueError("unexpected")
        if request.key == "set-code":
            context.set_code(grpc.StatusCode.ALREADY_EXISTS)
            context.set_details("set by the handler")
        if request.key == "abort":
            await context.abort(grpc.StatusCode.UNAVAILABLE, "aborted by the handler")
        return blob_pb2.StatObjectResponse()

    async def DownloadObject(
        self, request: blob_pb2.DownloadObjectRequest, context: Any
    ) -> AsyncIterator[blob_pb2.DownloadObjectResponse]:
        for index in range(request.length):
            if request.key == "missing-later" and index == 2:
                raise NotFound(f"object {request.key!r} went away")
            yield blob_pb2.DownloadObjectResponse(chunk=bytes([index]))


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    """Every span this process finishes from now on (the provider is process-wide and set once)."""
    provider = setup_tracing("runtime-test", TelemetryConfig(exporter="memory"))
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
async def served(config: CadenzaConfig) -> AsyncIterator[tuple[TracedBlob, CadenzaServer, aio.Channel]]:
    servicer = TracedBlob()  # type: ignore[abstract]  # the other RPCs stay UNIMPLEMENTED
    bundle = ServiceBundle(
        [ServiceRegistration(BLOB_SERVICE, servicer, blob_pb2_grpc.add_BlobServiceServicer_to_server)]
    )
    server = CadenzaServer("blob", bundle, config, port=0)
    await server.start()
    channel = create_channel(server.address, config)
    try:
        yield servicer, server, channel
    finally:
        await channel.close(None)
        await server.stop(grace=0.5)


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The service's JSON log lines, as setup_logging writes them."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    setup_logging("blob", TelemetryConfig(json_logs=True, log_level="INFO"))
    stream = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


async def _finished(exporter: InMemorySpanExporter, trace_id: int, kind: SpanKind) -> ReadableSpan:
    """The one span of `kind` in the trace, once it has ended (a client span ends from a callback)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2.0
    while True:
        found = [
            span
            for span in exporter.get_finished_spans()
            if span.kind == kind and span.context is not None and span.context.trace_id == trace_id
        ]
        if found:
            (span,) = found
            return span
        assert loop.time() < deadline, f"a {kind.name} span of the trace within 2s"
        await asyncio.sleep(0.01)


async def _traced(
    exporter: InMemorySpanExporter, call: Callable[[], Awaitable[Any]]
) -> tuple[int, ReadableSpan, ReadableSpan, grpc.StatusCode]:
    """Runs `call()` under a caller span: its trace id, server and client spans, and status code."""
    tracer = setup_tracing("runtime-test", TelemetryConfig(exporter="memory")).get_tracer("test")
    code = grpc.StatusCode.OK
    with tracer.start_as_current_span("caller") as caller:
        try:
            await call()
        except aio.AioRpcError as error:
            code = error.code()
    trace_id = caller.get_span_context().trace_id
    server_span = await _finished(exporter, trace_id, SpanKind.SERVER)
    client_span = await _finished(exporter, trace_id, SpanKind.CLIENT)
    return trace_id, server_span, client_span, code


async def test_the_server_span_continues_the_callers_trace_and_is_current_in_the_handler(
    served: tuple[TracedBlob, CadenzaServer, aio.Channel], spans: InMemorySpanExporter, log_lines: io.StringIO
) -> None:
    servicer, _, channel = served
    stub = blob_pb2_grpc.BlobServiceStub(channel)
    trace_id, server_span, client_span, code = await _traced(
        spans, lambda: stub.StatObject(blob_pb2.StatObjectRequest(bucket="audio", key="ok"))
    )
    assert code == grpc.StatusCode.OK
    assert server_span.name == STAT
    assert client_span.context is not None and server_span.context is not None
    assert server_span.parent is not None and server_span.parent.span_id == client_span.context.span_id
    assert server_span.attributes is not None
    attributes = dict(server_span.attributes)
    assert str(attributes.pop("rpc.user_agent")).startswith("grpc-python")
    assert attributes == {
        "rpc.system": "grpc",
        "rpc.service": BLOB_SERVICE,
        "rpc.method": "StatObject",
        "rpc.grpc.status_code": 0,
    }
    assert server_span.status.status_code == StatusCode.UNSET
    # The handler ran under the server span: its trace id, and its log line names both ids.
    assert servicer.trace_ids == [format(trace_id, "032x")]
    (line,) = [json.loads(entry) for entry in log_lines.getvalue().splitlines() if "stat ok" in entry]
    assert line["trace_id"] == format(trace_id, "032x")
    assert line["span_id"] == format(server_span.context.span_id, "016x")


@pytest.mark.parametrize(
    ("key", "code", "span_status", "exception"),
    [
        # A caller's mistake leaves the server span's status unset; a server fault marks it ERROR.
        ("missing", grpc.StatusCode.NOT_FOUND, StatusCode.UNSET, None),
        ("set-code", grpc.StatusCode.ALREADY_EXISTS, StatusCode.UNSET, None),
        ("abort", grpc.StatusCode.UNAVAILABLE, StatusCode.ERROR, None),
        ("boom", grpc.StatusCode.INTERNAL, StatusCode.ERROR, "ValueError"),
    ],
)
async def test_the_server_span_records_the_final_status_code(
    served: tuple[TracedBlob, CadenzaServer, aio.Channel],
    spans: InMemorySpanExporter,
    log_lines: io.StringIO,
    key: str,
    code: grpc.StatusCode,
    span_status: StatusCode,
    exception: str | None,
) -> None:
    stub = blob_pb2_grpc.BlobServiceStub(served[2])
    trace_id, server_span, _, got = await _traced(
        spans, lambda: stub.StatObject(blob_pb2.StatObjectRequest(bucket="audio", key=key))
    )
    assert got == code
    assert (
        server_span.attributes is not None and server_span.attributes["rpc.grpc.status_code"] == code.value[0]
    )
    assert server_span.status.status_code == span_status
    if span_status == StatusCode.ERROR:
        assert (server_span.status.description or "").startswith(f"{code}:")
    events = [event.attributes.get("exception.type") for event in server_span.events if event.attributes]
    assert events == ([exception] if exception else [])
    if exception:  # the unhandled error's log line is in the call's trace too
        logged = [
            json.loads(entry) for entry in log_lines.getvalue().splitlines() if "unhandled error" in entry
        ]
        assert [entry["trace_id"] for entry in logged] == [format(trace_id, "032x")]


async def test_a_stream_is_one_span_with_its_final_status(
    served: tuple[TracedBlob, CadenzaServer, aio.Channel], spans: InMemorySpanExporter
) -> None:
    stub = blob_pb2_grpc.BlobServiceStub(served[2])
    chunks: list[bytes] = []

    async def download(key: str) -> None:
        async for message in stub.DownloadObject(
            blob_pb2.DownloadObjectRequest(bucket="audio", key=key, length=20)
        ):
            chunks.append(message.chunk)

    _, whole, _, code = await _traced(spans, lambda: download("k"))
    assert code == grpc.StatusCode.OK and len(chunks) == 20
    assert whole.name == f"/{BLOB_SERVICE}/DownloadObject"
    assert whole.attributes is not None and whole.attributes["rpc.grpc.status_code"] == 0

    chunks.clear()
    _, cut, _, code = await _traced(spans, lambda: download("missing-later"))
    assert code == grpc.StatusCode.NOT_FOUND and len(chunks) == 2
    assert cut.attributes is not None and cut.attributes["rpc.grpc.status_code"] == 5


async def test_a_call_without_traceparent_starts_a_new_trace(
    served: tuple[TracedBlob, CadenzaServer, aio.Channel], spans: InMemorySpanExporter
) -> None:
    servicer, server, _ = served
    async with aio.insecure_channel(server.address) as plain:  # no client interceptors
        await blob_pb2_grpc.BlobServiceStub(plain).StatObject(
            blob_pb2.StatObjectRequest(bucket="audio", key="ok"), metadata=operator_metadata(server.config)
        )
    (trace_id,) = servicer.trace_ids
    assert len(trace_id) == 32 and trace_id != "0" * 32
    server_span = await _finished(spans, int(trace_id, 16), SpanKind.SERVER)
    assert server_span.parent is None


async def test_every_call_gets_its_own_span_and_unknown_methods_stay_unimplemented(
    served: tuple[TracedBlob, CadenzaServer, aio.Channel], spans: InMemorySpanExporter
) -> None:
    # The wrapped handler is built once per method; each call must still get a fresh span.
    stub = blob_pb2_grpc.BlobServiceStub(served[2])
    first = await _traced(spans, lambda: stub.StatObject(blob_pb2.StatObjectRequest(bucket="a", key="ok")))
    second = await _traced(spans, lambda: stub.StatObject(blob_pb2.StatObjectRequest(bucket="a", key="ok")))
    assert first[0] != second[0] and first[1].context != second[1].context
    unknown = served[2].unary_unary(f"/{BLOB_SERVICE}/NoSuchMethod", None, None)
    with pytest.raises(aio.AioRpcError) as caught:
        await unknown(b"")
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
