"""Pure logic of the orchestrator: names and blob keys, saga notes, token minting and checking."""

from __future__ import annotations

import uuid

import pytest

from cadenza.common.v1 import types_pb2
from cadenza.inference.v1 import inference_pb2
from cadenza_orchestrator import annotations as notes
from cadenza_orchestrator.auth import Authenticator
from cadenza_orchestrator.names import (
    audio_key,
    canonical_job_name,
    job_id_from_key,
    latent_key,
    parse_s3_uri,
    parse_track_name,
    s3_uri,
)
from cadenza_orchestrator.result import StoredResult
from cadenza_orchestrator.validation import validate_task
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.errors import (
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
)
from cadenza_runtime.user_tokens import mint_token


def test_blob_keys_map_back_to_their_job() -> None:
    job_id = str(uuid.uuid4())
    assert job_id_from_key(audio_key(job_id)) == job_id == job_id_from_key(latent_key(job_id))
    assert job_id_from_key("tracks/not-a-uuid/audio.wav") is None
    assert job_id_from_key("checkpoints/x.pt") is None
    assert parse_s3_uri(s3_uri("audio", audio_key(job_id))) == ("audio", audio_key(job_id))


@pytest.mark.parametrize("name", ["", "jobs/", "jobs/123", "tracks/" + str(uuid.uuid4()), "jobs/../x"])
def test_malformed_job_names_are_invalid_arguments(name: str) -> None:
    with pytest.raises(InvalidArgument):
        canonical_job_name(name)


def test_names_are_normalised() -> None:
    job_id = uuid.uuid4()
    assert parse_track_name(f"tracks/{str(job_id).upper()}") == str(job_id)


def test_stored_result_round_trips_through_a_struct_exactly() -> None:
    summary = inference_pb2.Summary(
        seed=2**63 + 12345,  # beyond a double's 53-bit mantissa
        model_version="cadenza-tiny-1",
        sample_rate=16000,
        num_samples=16000,
        duration_seconds=1.0,
        audio_sha256="a" * 64,
        latent_shape=[8, 25],
        latent_dtype=types_pb2.D_TYPE_FLOAT32,
        latent_sha256="b" * 64,
        latent_embedding=[0.25, -0.5],
        prompt_embedding=[1.0],
        timings=inference_pb2.Timings(total_seconds=0.5),
    )
    stored = StoredResult.from_summary(summary, audio_size=32044, latent_size=800)
    job = types_pb2.Job(annotations=notes.to_struct({notes.STORED: stored.to_json(), notes.ATTEMPT: 2}))
    again = StoredResult.from_json(notes.JobNotes.of(job).stored or {})
    assert again == stored and again.seed == 2**63 + 12345
    assert notes.JobNotes.of(job).attempt == 2
    cleared = types_pb2.Job(annotations=notes.to_struct({notes.STORED: None}))
    assert notes.JobNotes.of(cleared).stored is None


def test_tokens_carry_user_and_roles(config: CadenzaConfig) -> None:
    auth = Authenticator(config.auth)
    user = auth.verify(mint_token(config.auth, "ada", ["user"]))
    admin = auth.verify(mint_token(config.auth, "root", ["user", "admin"]))
    assert (user.user, user.is_admin, admin.is_admin) == ("users/ada", False, True)
    assert user.can_see("users/ada") and not user.can_see("users/bob") and admin.can_see("users/bob")
    assert user.resolve_user_filter("") == "users/ada" and admin.resolve_user_filter("") == ""
    with pytest.raises(PermissionDenied):
        user.resolve_user_filter("users/bob")
    # Unknown roles grant nothing.
    odd = auth.verify(mint_token(config.auth, "eve", ["superuser"]))
    assert not odd.is_admin
    with pytest.raises(Unauthenticated):
        # Expired by more than the tolerated clock skew.
        auth.verify(mint_token(config.auth, "ada", ["user"], ttl=-(config.auth.clock_skew_seconds + 10)))
    with pytest.raises(ValueError, match="invalid user id"):
        mint_token(config.auth, "has space")


def test_a_derivation_the_model_cannot_do_is_refused_at_admission_naming_the_task() -> None:
    stable_audio = inference_pb2.ModelInfo(
        version="stable-audio", adapter="diffusers", tasks=["TEXT_TO_AUDIO", "RETAKE", "VARIATION", "REMIX"]
    )
    extend = types_pb2.Derivation(op=types_pb2.LINEAGE_OP_EXTEND)
    with pytest.raises(FailedPrecondition) as caught:
        validate_task(stable_audio, extend)
    assert caught.value.reason == "TASK_NOT_SUPPORTED"
    assert caught.value.metadata["task"] == "EXTEND" and "cannot do EXTEND" in str(caught.value)
    validate_task(stable_audio, types_pb2.Derivation(op=types_pb2.LINEAGE_OP_VARIATION, strength=0.5))
    # A model that lists no tasks (an older inference service) and an unknown catalog decide nothing.
    validate_task(inference_pb2.ModelInfo(version="old"), extend)
    validate_task(None, extend)
