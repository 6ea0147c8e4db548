"""The server interceptor: each call gets a SERVER span and its rate/error/latency metrics, its
caller is checked against the method's allowance (cadenza_runtime.access), its deadline bounds the
calls it makes downstream (cadenza_runtime.deadlines), and domain errors become canonical statuses
with their google.rpc details (cadenza_runtime.errors).

One interceptor does all three in one wrapper, so a call (and each message of a stream) passes
through one extra frame, not one per concern; the wrapped handler (and the method's access check)
is built once per method, not per call.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias

import grpc
from grpc import aio

from cadenza_runtime.access import AccessGuard, Check
from cadenza_runtime.deadlines import note_caller_deadline
from cadenza_runtime.errors import CadenzaError, Internal, Unimplemented
from cadenza_runtime.metrics import RpcMetrics
from cadenza_runtime.telemetry import end_server_span, rpc_attributes, start_server_span, status_code

_log = logging.getLogger(__name__)

Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"  # generic in the stubs only


async def _abort(context: aio.ServicerContext[Any, Any], error: CadenzaError) -> None:
    status = error.to_grpc_status()
    await context.abort(status.code, status.details, trailing_metadata=status.trailing_metadata)


def _unexpected(method: str, exc: BaseException) -> CadenzaError:
    if isinstance(exc, NotImplementedError):
        # The generated base servicer raises this for an RPC its subclass does not override.
        return Unimplemented(f"{method} is not implemented by this service")
    _log.exception("unhandled error in %s", method, exc_info=exc)
    return Internal(f"internal error in {method}: {type(exc).__name__}; see the service log")


def _wrap_unary(
    method: str, behavior: Callable[..., Any], check: Check | None
) -> Callable[..., Awaitable[Any]]:
    attributes = rpc_attributes(method)
    metrics = RpcMetrics(method)

    async def wrapper(request_or_iterator: Any, context: aio.ServicerContext[Any, Any]) -> Any:
        started = time.perf_counter()
        note_caller_deadline(context)  # this call's task only: grpc serves each call in its own task
        span, token = start_server_span(method, attributes, context)
        unset = grpc.StatusCode.OK  # the code when the handler and abort() set none
        try:
            if check is not None:
                check(context)
            result = behavior(request_or_iterator, context)
            return await result if inspect.isawaitable(result) else result
        except CadenzaError as error:
            await _abort(context, error)
        except (aio.AbortError, aio.BaseError):
            unset = grpc.StatusCode.UNKNOWN
            raise
        except asyncio.CancelledError:
            unset = grpc.StatusCode.CANCELLED
            raise
        except Exception as exc:
            span.record_exception(exc)
            await _abort(context, _unexpected(method, exc))
        finally:
            code = status_code(context, unset)
            end_server_span(span, token, code, context)
            metrics.done(code, started)

    return wrapper


def _wrap_stream(
    method: str, behavior: Callable[..., Any], check: Check | None
) -> Callable[..., AsyncIterator[Any]]:
    attributes = rpc_attributes(method)
    metrics = RpcMetrics(method)

    async def wrapper(request_or_iterator: Any, context: aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        started = time.perf_counter()
        note_caller_deadline(context)  # this call's task only: grpc serves each call in its own task
        span, token = start_server_span(method, attributes, context)
        call_task = asyncio.current_task()
        unset = grpc.StatusCode.OK
        responses: AsyncGenerator[Any, Any] | None = None
        try:
            if check is not None:
                check(context)
            result = behavior(request_or_iterator, context)
            if inspect.isawaitable(result):  # a handler that writes with context.write()
                await result
                return
            responses = result if inspect.isasyncgen(result) else None
            async for response in result:
                yield response
        except CadenzaError as error:
            await _abort(context, error)
        except (aio.AbortError, aio.BaseError):
            unset = grpc.StatusCode.UNKNOWN
            raise
        except asyncio.CancelledError:
            unset = grpc.StatusCode.CANCELLED
            raise
        except Exception as exc:
            span.record_exception(exc)
            await _abort(context, _unexpected(method, exc))
        finally:
            # A call cancelled while grpc waited to send leaves this generator parked at its yield:
            # grpc does not close it; the garbage collector does, later, from another task (where
            # the span's context was never attached), and the handler's generator only after that.
            if responses is not None:
                await _close(method, responses)
            code = status_code(context, unset)
            end_server_span(span, token if asyncio.current_task() is call_task else None, code, context)
            metrics.done(code, started)

    return wrapper


async def _close(method: str, responses: AsyncGenerator[Any, Any]) -> None:
    """Closes the handler's response generator now, so that its cleanup (freeing a batch row, a
    lease) runs when the call ends, not whenever the generator is collected. A no-op for one that
    already finished."""
    try:
        await responses.aclose()
    except Exception:
        _log.exception("closing the response stream of %s failed", method)


def _wrap(method: str, handler: Handler, check: Check | None) -> Handler:
    # grpc picks how to run a handler from its kind and from the wrapper being a coroutine
    # function (unary responses) or an async generator function (streamed responses).
    kind: Callable[..., Handler]
    wrapped: Callable[..., Any]
    if handler.unary_unary:
        kind, wrapped = grpc.unary_unary_rpc_method_handler, _wrap_unary(method, handler.unary_unary, check)
    elif handler.stream_unary:
        kind, wrapped = grpc.stream_unary_rpc_method_handler, _wrap_unary(method, handler.stream_unary, check)
    elif handler.unary_stream:
        kind, wrapped = (
            grpc.unary_stream_rpc_method_handler,
            _wrap_stream(method, handler.unary_stream, check),
        )
    elif handler.stream_stream:
        kind, wrapped = (
            grpc.stream_stream_rpc_method_handler,
            _wrap_stream(method, handler.stream_stream, check),
        )
    else:
        return handler
    result: Handler = kind(
        wrapped,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
    return result


class ServiceInterceptor(aio.ServerInterceptor):  # type: ignore[type-arg]
    """Traces every call, checks its caller and maps its errors (see the module docstring).

    Without a guard (unit tests of the runtime alone) no caller is checked."""

    def __init__(self, guard: AccessGuard | None = None) -> None:
        self._guard = guard
        # method -> (the handler grpc found, its wrapped form); one entry per method served.
        self._wrapped: dict[str, tuple[Handler, Handler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        if handler is None:  # an unknown method: grpc answers UNIMPLEMENTED
            return handler
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        check = self._guard.check_for(method) if self._guard is not None else None
        wrapped = _wrap(method, handler, check)
        self._wrapped[method] = (handler, wrapped)
        return wrapped
