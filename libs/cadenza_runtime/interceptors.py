"""Server interceptor that turns domain errors into canonical statuses with ErrorInfo."""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc import aio

from cadenza_runtime.errors import CadenzaError, Internal, Unimplemented

_log = logging.getLogger(__name__)


async def _abort(context: aio.ServicerContext[Any, Any], error: CadenzaError) -> None:
    await context.abort(error.code, error.message, trailing_metadata=error.trailing_metadata())


def _unexpected(method: str, exc: BaseException) -> CadenzaError:
    if isinstance(exc, NotImplementedError):
        # The generated base servicer raises this for RPCs a later issue implements.
        return Unimplemented(f"{method} is not implemented yet by this service")
    _log.exception("unhandled error in %s", method, exc_info=exc)
    return Internal(f"internal error in {method}: {type(exc).__name__}; see the service log")


def _wrap_unary(method: str, behavior: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def wrapper(request_or_iterator: Any, context: aio.ServicerContext[Any, Any]) -> Any:
        try:
            result = behavior(request_or_iterator, context)
            return await result if inspect.isawaitable(result) else result
        except CadenzaError as error:
            await _abort(context, error)
        except (aio.AbortError, aio.BaseError):
            raise
        except Exception as exc:
            await _abort(context, _unexpected(method, exc))

    return wrapper


def _wrap_stream(method: str, behavior: Callable[..., Any]) -> Callable[..., AsyncIterator[Any]]:
    async def wrapper(request_or_iterator: Any, context: aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        try:
            result = behavior(request_or_iterator, context)
            if inspect.isawaitable(result):  # a handler that writes with context.write()
                await result
                return
            async for response in result:
                yield response
        except CadenzaError as error:
            await _abort(context, error)
        except (aio.AbortError, aio.BaseError):
            raise
        except Exception as exc:
            await _abort(context, _unexpected(method, exc))

    return wrapper


# Each handler kind of a gRPC method, with the wrapper for its response shape.
_WRAPPERS: tuple[tuple[str, Callable[[str, Any], Any]], ...] = (
    ("unary_unary", _wrap_unary),
    ("stream_unary", _wrap_unary),
    ("unary_stream", _wrap_stream),
    ("stream_stream", _wrap_stream),
)


class ErrorMappingInterceptor(aio.ServerInterceptor):  # type: ignore[type-arg]
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        for kind, wrap in _WRAPPERS:
            behavior = getattr(handler, kind)
            if behavior:
                make_handler = getattr(grpc, f"{kind}_rpc_method_handler")
                wrapped: grpc.RpcMethodHandler[Any, Any] = make_handler(
                    wrap(method, behavior),
                    request_deserializer=handler.request_deserializer,
                    response_serializer=handler.response_serializer,
                )
                return wrapped
        return handler
