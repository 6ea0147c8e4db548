"""The orchestrator and the services behind it apply one rule per name and limit
(cadenza_runtime.rules), so what the front door admits is never refused later in the saga and a
direct caller cannot store what the front door would refuse. Each case is a drift the rules fixed.

Each service's own checks are called as they are, with no store behind them: these are pure checks.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable

import grpc
import pytest

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza_blob import validation as blob_validation
from cadenza_graph import validation as graph_validation
from cadenza_inference import validation as inference_validation
from cadenza_inference.adapters.audioldm2 import AudioLDM2Adapter
from cadenza_inference.adapters.diffusers_audio import DiffusersAudioAdapter
from cadenza_inference.model import ALL_TASKS
from cadenza_inference.model.pipeline import DiffusionPipeline
from cadenza_inference.registry import VERSION_PATTERN
from cadenza_metadata import jobs as metadata_jobs
from cadenza_metadata import model_versions as metadata_model_versions
from cadenza_metadata import validation as metadata_validation
from cadenza_orchestrator import names as orchestrator_names
from cadenza_orchestrator.auth import Authenticator
from cadenza_orchestrator.validation import validate_params, validate_request_id
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.errors import InvalidArgument
from cadenza_runtime.identity import ACTING_USER_HEADER, acting_user_of
from cadenza_runtime.rules import digests, limits, models, names
from cadenza_runtime.user_tokens import mint_token
from cadenza_vector import validation as vector_validation

# Identity-provider subjects metadata has always stored; the orchestrator refused the last three.
PROVIDER_IDS = ["alice", "alice@example.com", "auth0:12345", "first+last", "x~y"]
BAD_IDS = ["", "a b", "a/b", "-lead", "x" * (limits.MAX_USER_ID_CHARS + 1), "mallory\n", "música"]


@pytest.mark.parametrize("user_id", PROVIDER_IDS)
def test_a_user_id_metadata_stores_is_one_the_orchestrator_accepts(
    config: CadenzaConfig, user_id: str
) -> None:
    assert orchestrator_names.valid_user_id(user_id)
    assert names.parse_user(f"users/{user_id}") == user_id
    assert graph_validation.user_name(f"users/{user_id}") == f"users/{user_id}"
    # A token whose subject it is signs that user in.
    principal = Authenticator(config.auth).verify(mint_token(config.auth, user_id))
    assert principal.user == f"users/{user_id}"


@pytest.mark.parametrize("user_id", BAD_IDS)
def test_a_user_id_the_orchestrator_refuses_is_refused_downstream(user_id: str) -> None:
    assert not orchestrator_names.valid_user_id(user_id)
    for check in (names.parse_user, graph_validation.user_name):
        with pytest.raises(InvalidArgument):
            check(f"users/{user_id}")


NOT_UUIDS = ["abc-123", "0b0e7a524f1c4a8e9d1a2f3c4d5e6f70", "{0b0e7a52-4f1c-4a8e-9d1a-2f3c4d5e6f70}", ""]


@pytest.mark.parametrize("ident", NOT_UUIDS)
def test_a_track_id_that_is_not_a_uuid_is_refused_everywhere(ident: str) -> None:
    name = f"tracks/{ident}"
    checks: dict[str, Callable[[], object]] = {
        "metadata": lambda: names.parse_track(name, "track"),
        "orchestrator": lambda: orchestrator_names.parse_track_name(name, "track"),
        "graph": lambda: graph_validation.track_name(name, "track"),
        "vector": lambda: vector_validation.check_track(name, "track"),
    }
    for service, check in checks.items():
        with pytest.raises(InvalidArgument) as caught:
            check()
        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT, service
        assert caught.value.metadata["field"] == "track", service


def test_every_service_stores_a_track_under_its_canonical_name() -> None:
    track = uuid.uuid4()
    shouted = f"tracks/{str(track).upper()}"
    canonical = f"tracks/{track}"
    assert orchestrator_names.canonical_track_name(shouted) == canonical
    assert graph_validation.track_name(shouted) == canonical
    assert vector_validation.check_track(shouted) == canonical
    assert names.parse_track(shouted) == track


def _params(**fields: object) -> types_pb2.GenerationParams:
    params = types_pb2.GenerationParams(prompt="a calm piano", duration_seconds=10.0)
    for key, value in fields.items():
        setattr(params, key, value)
    return params


def _inference_prompt(prompt: str) -> None:
    inference_validation.check_prompt(prompt, "params.prompt")


def _metadata_params(params: types_pb2.GenerationParams) -> None:
    metadata_validation.generation_params(params, "params", prompt_required=True)


@pytest.mark.parametrize("prompt", ["bell\x07", "a\x00b", "esc\x1b[0m", "del\x7f"])
def test_a_prompt_inference_refuses_is_refused_at_admission_and_by_metadata(prompt: str) -> None:
    """The orchestrator admitted control characters that inference then refused, failing the job."""
    with pytest.raises(InvalidArgument, match="control characters"):
        _inference_prompt(prompt)
    with pytest.raises(InvalidArgument, match="control characters"):
        validate_params(_params(prompt=prompt), None)
    with pytest.raises(InvalidArgument, match="control characters"):
        _metadata_params(_params(prompt=prompt))


def test_tabs_and_line_breaks_are_a_prompt_s_text_everywhere() -> None:
    prompt = "verse:\tcalm piano\nchorus:\r\nstrings"
    _inference_prompt(prompt)
    validate_params(_params(prompt=prompt), None)
    _metadata_params(_params(prompt=prompt))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("prompt", "p" * (limits.MAX_PROMPT_CHARS + 1)),
        ("steps", limits.MAX_STEPS + 1),
        ("guidance_scale", limits.MAX_GUIDANCE + 0.5),
        ("guidance_scale", limits.MIN_GUIDANCE - 0.5),
    ],
)
def test_a_generation_bound_is_the_same_at_admission_and_in_metadata(field: str, value: object) -> None:
    for check in (lambda p: validate_params(p, None), _metadata_params):
        with pytest.raises(InvalidArgument) as caught:
            check(_params(**{field: value}))
        assert caught.value.metadata["field"] == f"params.{field}"
    # The bound itself is admitted by both.
    at_bound = {"prompt": "p" * limits.MAX_PROMPT_CHARS, "steps": limits.MAX_STEPS}
    if field in at_bound:
        validate_params(_params(**{field: at_bound[field]}), None)
        _metadata_params(_params(**{field: at_bound[field]}))


@pytest.mark.parametrize("request_id", ["a b", "é", "x" * (limits.MAX_REQUEST_ID_CHARS + 1), "tab\tid"])
def test_a_request_id_the_orchestrator_refuses_metadata_refuses(request_id: str) -> None:
    """Metadata took spaces and non-ASCII ids that the orchestrator refused."""
    with pytest.raises(InvalidArgument):
        validate_request_id(request_id)
    job = types_pb2.Job(user="users/alice", request_id=request_id, params=_params())
    with pytest.raises(InvalidArgument) as caught:
        metadata_jobs._validated_create(job)
    assert caught.value.metadata["field"] == "job.request_id"


@pytest.mark.parametrize("version", ["Tiny-1", "v" * 64, "UPPER"])
def test_a_model_version_metadata_refuses_cannot_be_served_by_inference(version: str) -> None:
    """Inference served mixed-case versions up to 64 characters that metadata could not record."""
    assert VERSION_PATTERN.fullmatch(version) is None
    with pytest.raises(InvalidArgument):
        names.parse_model_version(version)
    with pytest.raises(InvalidArgument):
        graph_validation.model_version(version)


DIGEST = hashlib.sha256(b"cadenza").hexdigest()


@pytest.mark.parametrize("bad", [DIGEST + "\n", DIGEST[:-1], DIGEST[:-1] + "g", " " + DIGEST])
def test_a_digest_is_64_hex_digits_in_blob_inference_and_metadata(bad: str) -> None:
    checks: tuple[Callable[[], object], ...] = (
        lambda: blob_validation.check_sha256(bad),
        lambda: digests.check_sha256(bad, "header.sha256", required=True),  # inference's LoadModel
        lambda: metadata_validation.sha256_hex(bad, "track.audio_sha256"),
    )
    for check in checks:
        with pytest.raises(InvalidArgument):
            check()
    assert blob_validation.check_sha256(DIGEST.upper()) == DIGEST
    # Metadata keeps digests as given, so it takes only the spelling blob hands back.
    assert metadata_validation.sha256_hex(DIGEST, "track.audio_sha256") == DIGEST
    with pytest.raises(InvalidArgument, match="lower-case"):
        metadata_validation.sha256_hex(DIGEST.upper(), "track.audio_sha256")


# Metadata refused only C0 and DEL, vector every Unicode Cc: text metadata stored with a C1 control
# (NEL, U+0085) was refused by vector.
@pytest.mark.parametrize("char", ["\x85", "\x1f", "\x7f", "\t", "\x9f", "\x00"])
def test_metadata_and_vector_refuse_the_same_control_characters_in_single_line_text(char: str) -> None:
    value = f"calm{char}piano"
    checks: dict[str, Callable[[], object]] = {
        "metadata": lambda: metadata_validation.text(value, "field", max_length=100),
        "vector": lambda: vector_validation.check_text(value, "field", required=True),
    }
    for service, check in checks.items():
        with pytest.raises(InvalidArgument, match="control characters") as caught:
            check()
        assert caught.value.metadata["field"] == "field", service


@pytest.mark.parametrize("value", ["calm piano", "música ñ", "\u2028 line separator is not Cc", "\xa0nbsp"])
def test_metadata_and_vector_accept_the_same_single_line_text(value: str) -> None:
    assert metadata_validation.text(value, "field", max_length=100) == value
    assert vector_validation.check_text(value, "field", required=True) == value


def test_a_c1_control_in_a_prompt_is_refused_at_admission_in_metadata_and_in_inference() -> None:
    prompt = "calm\x85piano"
    checks: dict[str, Callable[[], object]] = {
        "inference": lambda: _inference_prompt(prompt),
        "orchestrator": lambda: validate_params(_params(prompt=prompt), None),
        "metadata": lambda: _metadata_params(_params(prompt=prompt)),
    }
    for check in checks.values():
        with pytest.raises(InvalidArgument, match="control characters"):
            check()


# The acting-user header had its own user rule (letters, digits and . _ @ -, 200 characters): a user
# "auth0:12345" signed in, then every call the orchestrator made for them was refused by metadata.
@pytest.mark.parametrize("user_id", PROVIDER_IDS)
def test_the_orchestrator_may_act_for_every_user_who_can_sign_in(user_id: str) -> None:
    user = f"users/{user_id}"
    assert acting_user_of({ACTING_USER_HEADER: user}, "orchestrator") == user


@pytest.mark.parametrize("user_id", BAD_IDS)
def test_an_acting_user_the_orchestrator_would_refuse_is_refused(user_id: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        acting_user_of({ACTING_USER_HEADER: f"users/{user_id}"}, "orchestrator")
    assert caught.value.metadata["field"] == ACTING_USER_HEADER


# Metadata registered models promising up to 24 h of audio; the orchestrator admits up to a model's
# promise, and metadata then refused the job (its jobs last at most MAX_DURATION_SECONDS).
def test_a_model_cannot_promise_audio_longer_than_a_job_may_last() -> None:
    longest = limits.MAX_DURATION_SECONDS
    metadata_model_versions._provenance(metadata_pb2.ModelVersion(max_duration_seconds=longest))
    metadata_validation.generation_params(_params(duration_seconds=longest), "params", prompt_required=True)
    with pytest.raises(InvalidArgument) as caught:
        metadata_model_versions._provenance(metadata_pb2.ModelVersion(max_duration_seconds=longest + 1))
    assert caught.value.metadata["field"] == "model_version.max_duration_seconds"


def test_every_model_inference_serves_is_one_metadata_can_register() -> None:
    """Metadata kept its own copy of inference's adapter and task names."""
    for adapter in (DiffusionPipeline, DiffusersAudioAdapter, AudioLDM2Adapter):
        assert adapter.adapter in models.ADAPTERS, adapter
        metadata_model_versions._provenance(
            metadata_pb2.ModelVersion(adapter=adapter.adapter, tasks=[str(task) for task in ALL_TASKS])
        )
