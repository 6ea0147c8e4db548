"""Cancelling a call made through `create_channel` reaches the server at once, for every call shape,
while the client span still records the CANCELLED status and the trace still crosses to the server.

A real in-process server whose handlers block until cancelled; the channel stays open throughout,
so only the cancellation itself (not a channel close) can stop the handlers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from cadenza.blob.v1 import blob_pb2, blob_pb2_grpc
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig, TelemetryConfig
from cadenza_runtime.errors import NotFound
from cadenza_runtime.server import CadenzaServer, ServiceBundle, ServiceRegistration
from cadenza_runtime.telemetry import current_trace_id, setup_tracing

BLOB_SERVICE = blob_pb2.DESCRIPTOR.services_by_name["BlobService"].full_name
# No Cadenza proto has a bidirectional stream, so that shape gets a raw-bytes generic service.
CHAT_SERVICE = "cadenza.test.v1.ChatService"
CHAT_METHOD = f"/{CHAT_SERVICE}/Chat"
# A server stream that never awaits between messages: a cancel finds it parked at a yield while grpc
# waits to send (the client stops reading, so flow control holds the send), not inside an await.
FLOOD_METHOD = f"/{CHAT_SERVICE}/Flood"

OBSERVE_SECONDS = 2.0  # "promptly": the server must see the cancel within this


class Seen:
    """What the server observed of one call: that it started, its trace, and that it was cancelled."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.trace_id = ""
        self.traceparent = ""

    async def block(self, context: aio.ServicerContext[Any, Any]) -> None:
        self.trace_id = current_trace_id()
        metadata = dict(context.invocation_metadata() or ())
        self.traceparent = str(metadata.get("traceparent", ""))
        self.started.set()
        try:
            await asyncio.Event().wait()  # only a cancellation ends this
        except asyncio.CancelledError:
            self.cancelled.set()
            raise


class BlockingServer:
    """Handlers of all four call shapes that block until the client cancels them."""

    def __init__(self) -> None:
        self.seen: dict[str, Seen] = {}
        self.held: list[AsyncIterator[bytes]] = []

    def _seen(self, method: str) -> Seen:
        self.seen[method] = Seen()
        return self.seen[method]

    def blob(self) -> blob_pb2_grpc.BlobServiceServicer:
        outer = self

        class Blob(blob_pb2_grpc.BlobServiceServicer):
            async def StatObject(self, request: Any, context: Any) -> blob_pb2.StatObjectResponse:
                if request.key == "missing":
                    raise NotFound(f"object {request.key!r} does not exist")
                await outer._seen("StatObject").block(context)
                return blob_pb2.StatObjectResponse()

            async def UploadObject(
                self, request_iterator: AsyncIterator[Any], context: Any
            ) -> blob_pb2.UploadObjectResponse:
                await anext(request_iterator)  # the header; the client never sends the rest
                await outer._seen("UploadObject").block(context)
                return blob_pb2.UploadObjectResponse()

            async def DownloadObject(
                self, request: Any, context: Any
            ) -> AsyncIterator[blob_pb2.DownloadObjectResponse]:
                yield blob_pb2.DownloadObjectResponse(chunk=b"first")
                await outer._seen("DownloadObject").block(context)

        return Blob()  # type: ignore[abstract]  # the other RPCs stay UNIMPLEMENTED

    def add_chat(self, _servicer: object, server: aio.Server) -> None:
        async def chat(requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
            await anext(requests)
            yield b"first"
            await self._seen("Chat").block(context)

        async def flood_stream(seen: Seen) -> AsyncIterator[bytes]:
            seen.started.set()
            try:
                while True:
                    yield b"x" * 16384
            finally:  # where a real handler frees what the call held (a batch row, a lease)
                seen.cancelled.set()

        def flood(request: bytes, context: Any) -> AsyncIterator[bytes]:
            stream = flood_stream(self._seen("Flood"))
            if request == b"held":  # also referenced elsewhere, as a registry of live streams would
                self.held.append(stream)
            return stream

        handler = grpc.method_handlers_generic_handler(
            CHAT_SERVICE,
            {
                "Chat": grpc.stream_stream_rpc_method_handler(chat),
                "Flood": grpc.unary_stream_rpc_method_handler(flood),
            },
        )
        server.add_generic_rpc_handlers((handler,))


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    """Every span this process finishes from now on (the provider is process-wide and set once)."""
    provider = setup_tracing("runtime-test", TelemetryConfig(exporter="memory"))
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
async def served(config: CadenzaConfig) -> AsyncIterator[tuple[BlockingServer, aio.Channel]]:
    blocking = BlockingServer()
    bundle = ServiceBundle(
        [
            ServiceRegistration(
                BLOB_SERVICE, blocking.blob(), blob_pb2_grpc.add_BlobServiceServicer_to_server
            ),
            ServiceRegistration(CHAT_SERVICE, None, blocking.add_chat),
        ]
    )
    server = CadenzaServer("blob", bundle, config, port=0)
    await server.start()
    channel = create_channel(server.address, config)
    try:
        yield blocking, channel
    finally:
        await channel.close(None)
        await server.stop(grace=0.5)


async def _requests(first: Any) -> AsyncIterator[Any]:
    yield first
    await asyncio.Event().wait()  # the client never finishes writing


def _start(method: str, channel: aio.Channel) -> Any:
    """Starts `method` through the suite's channel and returns the call object the caller holds."""
    stub = blob_pb2_grpc.BlobServiceStub(channel)
    if method == "StatObject":
        return stub.StatObject(blob_pb2.StatObjectRequest(bucket="audio", key="k"))
    if method == "UploadObject":
        header = blob_pb2.UploadHeader(bucket="audio", key="k")
        return stub.UploadObject(_requests(blob_pb2.UploadObjectRequest(header=header)))
    if method == "DownloadObject":
        return stub.DownloadObject(blob_pb2.DownloadObjectRequest(bucket="audio", key="k"))
    chat = channel.stream_stream(CHAT_METHOD, request_serializer=None, response_deserializer=None)
    return chat(_requests(b"hello"))


async def _eventually(check: Callable[[], Awaitable[bool] | bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + OBSERVE_SECONDS
    while True:
        result = check()
        if await result if not isinstance(result, bool) else result:
            return
        assert loop.time() < deadline, f"{what} within {OBSERVE_SECONDS}s"
        await asyncio.sleep(0.01)


def _spans_of(exporter: InMemorySpanExporter, trace_id: str, kind: SpanKind) -> list[ReadableSpan]:
    return [
        span
        for span in exporter.get_finished_spans()
        if span.kind == kind
        and span.context is not None
        and format(span.context.trace_id, "032x") == trace_id
    ]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("StatObject", f"/{BLOB_SERVICE}/StatObject"),  # unary-unary
        ("UploadObject", f"/{BLOB_SERVICE}/UploadObject"),  # stream-unary
        ("DownloadObject", f"/{BLOB_SERVICE}/DownloadObject"),  # unary-stream
        ("Chat", CHAT_METHOD),  # stream-stream
    ],
)
async def test_cancel_reaches_the_server_and_the_span_records_it(
    served: tuple[BlockingServer, aio.Channel], spans: InMemorySpanExporter, method: str, path: str
) -> None:
    blocking, channel = served
    call = _start(method, channel)
    if method in ("DownloadObject", "Chat"):
        assert await call.read() in (blob_pb2.DownloadObjectResponse(chunk=b"first"), b"first")
    await _eventually(lambda: method in blocking.seen, f"the server started {method}")
    seen = blocking.seen[method]
    await asyncio.wait_for(seen.started.wait(), OBSERVE_SECONDS)

    assert call.cancel()
    await asyncio.wait_for(seen.cancelled.wait(), OBSERVE_SECONDS)  # the handler saw it, channel open
    with pytest.raises(asyncio.CancelledError):
        await (call if method in ("StatObject", "UploadObject") else call.read())
    assert call.cancelled() and await call.code() == grpc.StatusCode.CANCELLED

    # The channel is still usable after the cancel.
    health = health_pb2_grpc.HealthStub(channel)
    reply = await health.Check(health_pb2.HealthCheckRequest(service=BLOB_SERVICE))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING

    # One trace: the server ran under the client's span, which it got through traceparent metadata.
    assert len(seen.trace_id) == 32 and seen.trace_id != "0" * 32
    assert seen.traceparent.split("-")[1] == seen.trace_id
    await _eventually(lambda: bool(_spans_of(spans, seen.trace_id, SpanKind.CLIENT)), "the client span ended")
    (client,) = _spans_of(spans, seen.trace_id, SpanKind.CLIENT)
    assert client.name == path
    assert client.attributes is not None and client.attributes["rpc.grpc.status_code"] == 1  # CANCELLED
    assert client.attributes["rpc.system"] == "grpc"
    assert client.status.status_code == StatusCode.ERROR
    assert client.context is not None
    assert seen.traceparent.split("-")[2] == format(client.context.span_id, "016x")
    await _eventually(lambda: bool(_spans_of(spans, seen.trace_id, SpanKind.SERVER)), "the server span ended")
    (server_span,) = _spans_of(spans, seen.trace_id, SpanKind.SERVER)
    assert server_span.parent is not None and server_span.parent.span_id == client.context.span_id
    assert server_span.attributes is not None and server_span.attributes["rpc.grpc.status_code"] == 1


async def test_a_completed_call_has_an_ok_span_under_the_callers_trace(
    served: tuple[BlockingServer, aio.Channel], spans: InMemorySpanExporter
) -> None:
    _, channel = served
    health = health_pb2_grpc.HealthStub(channel)
    tracer = setup_tracing("runtime-test", TelemetryConfig(exporter="memory")).get_tracer("test")
    with tracer.start_as_current_span("caller") as caller:
        await health.Check(health_pb2.HealthCheckRequest(service=""))
    trace_id = format(caller.get_span_context().trace_id, "032x")
    await _eventually(lambda: bool(_spans_of(spans, trace_id, SpanKind.CLIENT)), "the client span ended")
    (client,) = _spans_of(spans, trace_id, SpanKind.CLIENT)
    assert client.name == "/grpc.health.v1.Health/Check"
    assert client.parent is not None and client.parent.span_id == caller.get_span_context().span_id
    assert client.attributes is not None and client.attributes["rpc.grpc.status_code"] == 0
    assert client.status.status_code == StatusCode.UNSET
    await _eventually(lambda: bool(_spans_of(spans, trace_id, SpanKind.SERVER)), "the server span ended")


async def test_a_failed_call_records_its_status_code(
    served: tuple[BlockingServer, aio.Channel], spans: InMemorySpanExporter
) -> None:
    stub = blob_pb2_grpc.BlobServiceStub(served[1])
    tracer = setup_tracing("runtime-test", TelemetryConfig(exporter="memory")).get_tracer("test")
    with tracer.start_as_current_span("caller") as caller, pytest.raises(aio.AioRpcError) as failed:
        await stub.StatObject(blob_pb2.StatObjectRequest(bucket="audio", key="missing"))
    assert failed.value.code() == grpc.StatusCode.NOT_FOUND
    trace_id = format(caller.get_span_context().trace_id, "032x")
    await _eventually(lambda: bool(_spans_of(spans, trace_id, SpanKind.CLIENT)), "the client span ended")
    (client,) = _spans_of(spans, trace_id, SpanKind.CLIENT)
    assert client.attributes is not None and client.attributes["rpc.grpc.status_code"] == 5  # NOT_FOUND
    assert client.status.status_code == StatusCode.ERROR
    assert "NOT_FOUND" in (client.status.description or "") and "does not exist" in (
        client.status.description or ""
    )


@pytest.mark.parametrize("request_", [b"", b"held"], ids=["alone", "held-elsewhere"])
async def test_a_stream_cancelled_while_parked_at_a_yield_is_closed_at_once(
    served: tuple[BlockingServer, aio.Channel], caplog: pytest.LogCaptureFixture, request_: bytes
) -> None:
    """grpc does not close a response generator whose call was cancelled while it waited to send;
    the interceptor must close the handler's generator itself, so that the handler's cleanup runs
    now rather than whenever the garbage collector gets to it (never, while anything else holds the
    generator or, as an error's log record did, its frames), and the span ends without a context
    error."""
    blocking, channel = served
    flood = channel.unary_stream(FLOOD_METHOD, request_serializer=None, response_deserializer=None)
    call = flood(request_)
    assert await call.read() == b"x" * 16384
    await _eventually(lambda: "Flood" in blocking.seen, "the server started Flood")
    await asyncio.sleep(0.3)  # the server fills the flow-control window and waits to send more
    assert call.cancel()
    await asyncio.wait_for(blocking.seen["Flood"].cancelled.wait(), OBSERVE_SECONDS)
    await asyncio.sleep(0.1)  # the span ends in the same close
    # (grpc itself logs the send that the cancel cut short: ExecuteBatchError, at ERROR.)
    ours = [r for r in caplog.records if r.name.startswith(("opentelemetry", "cadenza"))]
    assert not [r for r in ours if r.levelno >= logging.WARNING], [r.getMessage() for r in ours]
