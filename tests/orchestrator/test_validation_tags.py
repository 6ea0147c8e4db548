"""The orchestrator's tag rule is the narrowest in the suite: whatever tag it admits, the services
the saga hands it to (inference, metadata, graph, vector) admit too, so a job never fails later
over a tag; what it refuses is INVALID_ARGUMENT naming params.tags.

Each service's own validation is called as it is, with no store behind it: these are pure checks.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import grpc
import pytest

from cadenza.common.v1 import types_pb2
from cadenza_graph import validation as graph_validation
from cadenza_inference import validation as inference_validation
from cadenza_metadata import validation as metadata_validation
from cadenza_orchestrator.validation import validate_params
from cadenza_runtime import tags
from cadenza_runtime.errors import CadenzaError, InvalidArgument
from cadenza_vector import validation as vector_validation

ACCEPTED = [
    "rock",
    "lo-fi",
    "hip hop",
    "drum & bass",
    "c#",
    "r+b",
    "80s",
    "a",
    "synth/pop",
    "mood:calm",
    "v1.2_final",
    "x" * tags.MAX_TAG_CHARS,
    "a " + "b" * (tags.MAX_TAG_CHARS - 2),
]
REFUSED = {
    "trailing space": "rock ",
    "leading space": " rock",
    "only spaces": "   ",
    "double space": "hip  hop",
    "trailing newline": "rock\n",
    "inner newline": "rock\nroll",
    "tab": "rock\tpop",
    "upper case": "Rock",
    "empty": "",
    "too long": "x" * (tags.MAX_TAG_CHARS + 1),
    "starts with a mark": "-rock",
    "non-ascii letter": "música",
    "no-break space": "hip\u00a0hop",
    "zero-width space": "hip\u200bhop",
    "nul": "ro\x00ck",
    "quote": "rock'n'roll",
}

# Each downstream check as the saga meets it; each raises INVALID_ARGUMENT on a tag it refuses.
DOWNSTREAM: dict[str, Callable[[list[str]], object]] = {
    "inference": lambda values: inference_validation.check_tags(values, "params.tags"),
    "metadata job": lambda values: metadata_validation.tags(values, "job.params.tags"),
    "metadata track": lambda values: metadata_validation.tags(values, "track.tags"),
    "graph": lambda values: graph_validation.tags(values, "track.tags"),
    "vector": lambda values: vector_validation.check_tags(values, "embedding.tags"),
}


def _params(*values: str) -> types_pb2.GenerationParams:
    return types_pb2.GenerationParams(prompt="a calm piano", tags=list(values), duration_seconds=10.0)


def _orchestrator_accepts(*values: str) -> bool:
    try:
        validate_params(_params(*values), None)
    except InvalidArgument:
        return False
    return True


def _downstream_refusals(values: list[str]) -> list[str]:
    refused = []
    for name, check in DOWNSTREAM.items():
        try:
            check(values)
        except CadenzaError as error:
            assert error.code == grpc.StatusCode.INVALID_ARGUMENT, (name, error)
            refused.append(f"{name}: {error.message}")
    return refused


@pytest.mark.parametrize("tag", ACCEPTED)
def test_an_accepted_tag_is_accepted_by_every_downstream_service(tag: str) -> None:
    assert _orchestrator_accepts(tag)
    assert _downstream_refusals([tag]) == []


def test_a_full_list_of_accepted_tags_is_accepted_downstream() -> None:
    values = [f"{ACCEPTED[i % len(ACCEPTED)][:60]}{i}" for i in range(tags.MAX_TAGS)]
    assert _orchestrator_accepts(*values)
    assert _downstream_refusals(values) == []
    assert not _orchestrator_accepts(*values, "one-more")


@pytest.mark.parametrize("tag", REFUSED.values(), ids=REFUSED.keys())
def test_a_refused_tag_is_invalid_argument_naming_params_tags(tag: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_params(_params("jazz", tag), None)
    error = caught.value
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.metadata == {"field": "params.tags"}
    assert error.message.startswith("params.tags: ")
    assert repr(tag[:80]) in error.message and "at index 1" in error.message


@pytest.mark.parametrize(
    ("tag", "says"),
    [
        ("rock ", "starts or ends with a space"),
        ("hip  hop", "consecutive spaces"),
        ("", "has 0 characters"),
        ("Rock", "lower-case letters"),
    ],
)
def test_the_message_says_what_to_fix(tag: str, says: str) -> None:
    with pytest.raises(InvalidArgument, match=says):
        validate_params(_params(tag), None)


def test_generated_tags_the_orchestrator_accepts_are_accepted_downstream() -> None:
    """Random strings over the allowed characters and their near misses (seeded, so repeatable)."""
    allowed, near_misses = "ab0 _+#&./:-", "A\n\t\r\x00\x7f\x85\u00a0\u200b\u00e9'"
    rng = random.Random(20240611)
    accepted = 0
    for _ in range(20_000):
        length = rng.randint(0, 8)
        tag = "".join(rng.choice(allowed if rng.random() < 0.9 else near_misses) for _ in range(length))
        if _orchestrator_accepts(tag):
            accepted += 1
            assert _downstream_refusals([tag]) == [], repr(tag)
    assert accepted > 2000, "the sample must exercise the accepting side too"
