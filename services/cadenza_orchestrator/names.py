"""Resource names and the blob keys derived from a job id.

Every store write of a job is keyed by its id (the track id equals the job id), so the blob keys
here are also how the reconciler maps an object back to the job that wrote it.
"""

from __future__ import annotations

import re
import uuid

from cadenza_runtime.errors import InvalidArgument

# User ids come from the token's `sub`; the same charset the metadata service accepts in names.
_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")
_BLOB_PREFIX = "tracks/"
AUDIO_FILE = "audio.wav"
LATENT_FILE = "latent.bin"


def valid_user_id(user_id: str) -> bool:
    return bool(_USER_ID.fullmatch(user_id))


def user_name(user_id: str) -> str:
    return f"users/{user_id}"


def job_name(job_id: str) -> str:
    return f"jobs/{job_id}"


def track_name(track_id: str) -> str:
    return f"tracks/{track_id}"


def _parse(name: str, collection: str, field: str) -> str:
    prefix = f"{collection}/"
    if not name.startswith(prefix):
        raise InvalidArgument(f"{field} must look like '{collection}/<uuid>', got {name!r}")
    ident = name[len(prefix) :]
    try:
        return str(uuid.UUID(ident))
    except ValueError as exc:
        raise InvalidArgument(f"{field} must look like '{collection}/<uuid>', got {name!r}") from exc


def parse_job_name(name: str, field: str = "name") -> str:
    """The job id of "jobs/{uuid}"; INVALID_ARGUMENT otherwise."""
    return _parse(name, "jobs", field)


def parse_track_name(name: str, field: str = "name") -> str:
    """The track id of "tracks/{uuid}"; INVALID_ARGUMENT otherwise."""
    return _parse(name, "tracks", field)


def canonical_job_name(name: str, field: str = "name") -> str:
    """ "jobs/{uuid}" with the uuid in its canonical lower-case form (upper-case ids are accepted at
    the edge, but every store key, channel and lock derives from the canonical one)."""
    return job_name(parse_job_name(name, field))


def canonical_track_name(name: str, field: str = "name") -> str:
    return track_name(parse_track_name(name, field))


def job_id_of(job_name_: str) -> str:
    """The id part of a job name the store returned (trusted, no validation)."""
    return job_name_.rsplit("/", 1)[-1]


def user_id_of(user_name_: str) -> str:
    return user_name_.rsplit("/", 1)[-1]


def audio_key(job_id: str) -> str:
    return f"{_BLOB_PREFIX}{job_id}/{AUDIO_FILE}"


def latent_key(job_id: str) -> str:
    return f"{_BLOB_PREFIX}{job_id}/{LATENT_FILE}"


def blob_prefix() -> str:
    return _BLOB_PREFIX


def job_id_from_key(key: str) -> str | None:
    """The job id a blob key belongs to, or None for a key the orchestrator never writes."""
    if not key.startswith(_BLOB_PREFIX):
        return None
    ident = key[len(_BLOB_PREFIX) :].split("/", 1)[0]
    try:
        return str(uuid.UUID(ident))
    except ValueError:
        return None


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of "s3://bucket/key"."""
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an s3 URI: {uri!r}")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key
