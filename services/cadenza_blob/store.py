"""The MinIO client the service owns, its buckets, and how MinIO's failures become gRPC statuses."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from miniopy_async.api import Minio
from miniopy_async.error import InvalidResponseError, S3Error, ServerError

from cadenza_runtime import minio_client
from cadenza_runtime.config import MinioConfig
from cadenza_runtime.errors import (
    Aborted,
    CadenzaError,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from cadenza_runtime.metrics import store_call as timed_store_call

_log = logging.getLogger(__name__)

# Enough connections for several uploads with parts in flight plus concurrent downloads.
_CONNECTION_LIMIT = 64

_NOT_FOUND_CODES = {"NoSuchKey", "NoSuchBucket", "NoSuchUpload", "ResourceNotFound"}
_UNAVAILABLE_CODES = {"SlowDown", "ServiceUnavailable", "XMinioServerNotInitialized", "RequestTimeout"}
_CREDENTIAL_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}


def open_minio(config: MinioConfig) -> Minio:
    """The service's client: the suite's MinIO with connections for its concurrent transfers."""
    return minio_client.open_minio(config, connections=_CONNECTION_LIMIT)


close_minio = minio_client.close_minio


def translate(error: Exception, endpoint: str, what: str) -> CadenzaError:
    """The domain error for a failed MinIO call; `what` names the object or bucket concerned."""
    if isinstance(error, CadenzaError):
        return error
    if isinstance(error, S3Error):
        code = error.code or ""
        if code in _NOT_FOUND_CODES:
            # `what` ends with "bucket/key" (or the bucket): the resource a caller asked for.
            resource = what.rsplit(" ", 1)[-1].strip("'")
            return NotFound(
                f"{what} does not exist", reason="OBJECT_NOT_FOUND", metadata={"resource": resource}
            )
        if code == "PreconditionFailed":
            return Aborted(f"{what} changed while it was being read; retry the call", reason="OBJECT_CHANGED")
        if code in _UNAVAILABLE_CODES:
            return Unavailable(f"MinIO at {endpoint} is busy or starting ({code}); retry shortly")
        if code in _CREDENTIAL_CODES:
            return FailedPrecondition(
                f"MinIO at {endpoint} refused the blob service's credentials ({code}); "
                "check minio.access_key and minio.secret_key in the configuration",
                reason="STORE_CREDENTIALS",
            )
        if code in {
            "InvalidRange",
            "InvalidArgument",
            "EntityTooLarge",
            "EntityTooSmall",
            "InvalidPart",
            "XMinioInvalidObjectName",
            "KeyTooLongError",
        }:
            return InvalidArgument(f"MinIO refused the request for {what}: {code}: {error.message}")
        return Internal(f"MinIO failed on {what}: {code}: {error.message}", reason="STORE_ERROR")
    if isinstance(error, ServerError):
        return Unavailable(f"MinIO at {endpoint} answered HTTP {error.status_code}; retry shortly")
    if isinstance(error, InvalidResponseError):
        return Unavailable(f"MinIO at {endpoint} sent an unexpected response ({error}); retry shortly")
    if isinstance(error, (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError)):
        return Unavailable(
            f"MinIO at {endpoint} is unreachable ({type(error).__name__}); check that it is running "
            "(`cadenza up --only minio`) and retry",
            reason="STORE_UNAVAILABLE",
        )
    return Internal(f"unexpected error from MinIO on {what}: {type(error).__name__}: {error}")


@asynccontextmanager
async def store_call(endpoint: str, what: str) -> AsyncIterator[None]:
    """Runs a block of MinIO calls, re-raising their failures as domain errors (timed and counted by
    the first word of `what`: object, bucket, staging...)."""
    with timed_store_call("minio", what.split(" ", 1)[0]):
        try:
            yield
        except CadenzaError:
            raise
        except Exception as exc:
            raise translate(exc, endpoint, what) from exc


async def ensure_buckets(client: Minio, config: MinioConfig) -> None:
    """Creates the configured buckets that are missing; tolerates a racing replica creating them."""
    for bucket in config.buckets:
        async with store_call(config.endpoint, f"bucket {bucket!r}"):
            if await client.bucket_exists(bucket):
                continue
            try:
                await client.make_bucket(bucket, location=config.region)
                _log.info("created bucket %s", bucket)
            except S3Error as exc:
                if exc.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise
