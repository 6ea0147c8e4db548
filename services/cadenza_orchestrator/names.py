"""The suite's resource names (cadenza_runtime.rules.names) and a job's blob keys
(cadenza_runtime.rules.blob_keys) as the orchestrator uses them.

Every store write of a job is keyed by its id (the track id equals the job id), so the blob keys
are also how the reconciler maps an object back to the job that wrote it.
"""

from __future__ import annotations

from cadenza_runtime.rules import blob_keys
from cadenza_runtime.rules import names as rules
from cadenza_runtime.rules.blob_keys import audio_key as audio_key
from cadenza_runtime.rules.blob_keys import job_id_from_key as job_id_from_key
from cadenza_runtime.rules.blob_keys import latent_key as latent_key
from cadenza_runtime.rules.names import job_name as job_name
from cadenza_runtime.rules.names import track_name as track_name
from cadenza_runtime.rules.names import user_name as user_name


def valid_user_id(user_id: str) -> bool:
    """Whether a token's `sub` is a user id by the suite's rule (cadenza_runtime.rules.names)."""
    return rules.is_user_id(user_id)


def parse_track_name(name: str, field: str = "name") -> str:
    """The canonical track id of "tracks/{uuid}"; INVALID_ARGUMENT otherwise."""
    return str(rules.parse_track(name, field))


canonical_job_name = rules.canonical_job
canonical_track_name = rules.canonical_track


def job_id_of(job_name_: str) -> str:
    """The id part of a job name the store returned (trusted, no validation)."""
    return job_name_.rsplit("/", 1)[-1]


def blob_prefix() -> str:
    return blob_keys.PREFIX


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of "s3://bucket/key"."""
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an s3 URI: {uri!r}")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key
