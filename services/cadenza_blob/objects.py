"""Object metadata as MinIO stores it (headers) and as the API returns it (ObjectInfo)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from google.protobuf import timestamp_pb2
from miniopy_async.datatypes import Object
from miniopy_async.helpers import DictType
from multidict import istr

from cadenza.blob.v1 import blob_pb2

_META_PREFIX = "x-amz-meta-"
SHA256_META = "sha256"


def object_headers(content_type: str, metadata: Mapping[str, str], sha256: str) -> DictType:
    """Request headers that store content type, user metadata and (when known) the SHA-256."""
    headers: DictType = {"Content-Type": content_type}
    headers.update({_META_PREFIX + key: value for key, value in metadata.items()})
    if sha256:
        headers[_META_PREFIX + SHA256_META] = sha256
    return headers


def _user_metadata(
    raw: Mapping[str, str] | Mapping[istr, str] | Iterable[tuple[str | istr, str]] | None,
) -> tuple[dict[str, str], str, str]:
    """(user metadata, sha256, content type) from a HEAD response's or a listing's headers."""
    metadata: dict[str, str] = {}
    sha256 = ""
    content_type = ""
    pairs = raw.items() if isinstance(raw, Mapping) else (raw or ())
    for name, value in pairs:
        lowered = str(name).lower()
        if lowered == "content-type":
            content_type = str(value)
        elif lowered.startswith(_META_PREFIX):
            key = lowered[len(_META_PREFIX) :]
            if key == SHA256_META:
                sha256 = str(value)
            else:
                metadata[key] = str(value)
    return metadata, sha256, content_type


def object_info(bucket: str, obj: Object) -> blob_pb2.ObjectInfo:
    metadata, sha256, listed_type = _user_metadata(obj.metadata)
    info = blob_pb2.ObjectInfo(
        bucket=bucket,
        key=obj.object_name or "",
        size=obj.size or 0,
        content_type=obj.content_type or listed_type,
        sha256=sha256,
        etag=obj.etag or "",
        metadata=metadata,
    )
    if obj.last_modified is not None:
        stamp = timestamp_pb2.Timestamp()
        stamp.FromDatetime(obj.last_modified)
        info.update_time.CopyFrom(stamp)
    return info
