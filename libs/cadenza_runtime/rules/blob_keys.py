"""Where a job's results live in the blob store: one rule for the orchestrator, which writes and
sweeps them, and for the backup, which decides which objects a restore brings back.

Every result of a job is keyed by its id (the track id equals the job id): tracks/{id}/audio.wav
in the audio bucket and tracks/{id}/latent.bin in the latent bucket, so a key maps back to the
job that wrote it.
"""

from __future__ import annotations

import uuid

PREFIX = "tracks/"
AUDIO_FILE = "audio.wav"
LATENT_FILE = "latent.bin"


def audio_key(job_id: str) -> str:
    return f"{PREFIX}{job_id}/{AUDIO_FILE}"


def latent_key(job_id: str) -> str:
    return f"{PREFIX}{job_id}/{LATENT_FILE}"


def job_id_from_key(key: str) -> str | None:
    """The (canonical) job id a result key belongs to, or None for a key no job writes."""
    if not key.startswith(PREFIX):
        return None
    ident = key[len(PREFIX) :].split("/", 1)[0]
    try:
        return str(uuid.UUID(ident))
    except ValueError:
        return None
