"""The blob key rule (cadenza_runtime.rules.blob_keys): a job's result keys and the way back."""

from __future__ import annotations

import uuid

import pytest

from cadenza_runtime.rules.blob_keys import audio_key, job_id_from_key, latent_key


def test_a_jobs_keys_are_under_its_id_and_map_back_to_it() -> None:
    job_id = str(uuid.uuid4())
    assert audio_key(job_id) == f"tracks/{job_id}/audio.wav"
    assert latent_key(job_id) == f"tracks/{job_id}/latent.bin"
    assert job_id_from_key(audio_key(job_id)) == job_id == job_id_from_key(latent_key(job_id))


def test_an_upper_case_id_maps_back_to_the_canonical_one() -> None:
    job_id = str(uuid.uuid4())
    assert job_id_from_key(audio_key(job_id.upper())) == job_id


@pytest.mark.parametrize(
    "key", ["", "tracks/", "tracks/not-a-uuid/audio.wav", "checkpoints/x.pt", "audio/" + str(uuid.uuid4())]
)
def test_a_key_no_job_writes_belongs_to_none(key: str) -> None:
    assert job_id_from_key(key) is None
