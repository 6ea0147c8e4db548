"""One tag rule (cadenza_runtime.rules.tags) for the orchestrator and every service the saga hands a tag
to (inference, metadata, graph, vector): whatever tag the orchestrator admits they admit, so a job
never fails later over a tag, and whatever it refuses they refuse too, as INVALID_ARGUMENT naming
their own field, so a direct caller cannot store a tag another store would refuse.

Each service's own validation is called as it is, with no store behind it: these are pure checks.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from cadenza.common.v1 import types_pb2
from cadenza_graph import validation as graph_validation
from cadenza_inference import validation as inference_validation
from cadenza_metadata import validation as metadata_validation
from cadenza_orchestrator.validation import validate_params
from cadenza_runtime.errors import CadenzaError, InvalidArgument
from cadenza_runtime.rules import tags
from cadenza_suite import cli
from cadenza_training.data import attributes
from cadenza_vector import schema as vector_schema
from cadenza_vector import validation as vector_validation

REPO = Path(__file__).resolve().parents[2]

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

# Each downstream check as the saga meets it, and the field its error names for the tag at index 1;
# each raises INVALID_ARGUMENT on a tag it refuses.
DOWNSTREAM: dict[str, tuple[Callable[[list[str]], object], str]] = {
    "inference": (lambda values: inference_validation.check_tags(values, "params.tags"), "params.tags"),
    "metadata job": (
        lambda values: metadata_validation.tags(values, "job.params.tags"),
        "job.params.tags[1]",
    ),
    "metadata track": (lambda values: metadata_validation.tags(values, "track.tags"), "track.tags[1]"),
    "graph": (lambda values: graph_validation.tags(values, "track.tags"), "track.tags[1]"),
    "vector": (lambda values: vector_validation.check_tags(values, "embedding.tags"), "embedding.tags[1]"),
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
    for name, (check, _) in DOWNSTREAM.items():
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


@pytest.mark.parametrize("tag", REFUSED.values(), ids=REFUSED.keys())
@pytest.mark.parametrize("service", DOWNSTREAM)
def test_a_refused_tag_is_refused_by_every_downstream_service(service: str, tag: str) -> None:
    check, field = DOWNSTREAM[service]
    problem = tags.tag_problem(tag)
    assert problem is not None
    with pytest.raises(InvalidArgument) as caught:
        check(["jazz", tag])
    error = caught.value
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.metadata == {"field": field}
    # The field, the tag as sent and what to fix, in the words tags.py gives the orchestrator.
    assert field in error.message and repr(tag[:80]) in error.message and problem in error.message


@pytest.mark.parametrize("service", DOWNSTREAM)
def test_more_tags_than_the_rule_allows_are_refused_by_every_downstream_service(service: str) -> None:
    check, field = DOWNSTREAM[service]
    values = [f"t{i}" for i in range(tags.MAX_TAGS)]
    check(values)
    with pytest.raises(InvalidArgument, match=f"{tags.MAX_TAGS}") as caught:
        check([*values, "one-more"])
    assert caught.value.metadata == {"field": field.removesuffix("[1]")}


def test_every_tag_the_rule_admits_fits_the_vector_schema() -> None:
    # The rule's tags are ASCII, so characters are bytes; Milvus bounds VARCHAR in UTF-8 bytes.
    assert tags.MAX_TAGS <= vector_schema.MAX_TAGS
    assert tags.MAX_TAG_CHARS <= vector_schema.TAG_MAX_BYTES


def _procedural_tags() -> set[str]:
    """Every tag a procedural training clip can carry: each attribute through all of its values."""
    base = attributes.ClipAttributes(
        tempo_bpm=120.0,
        tonic=0,
        mode="major",
        instrument="organ",
        drums=True,
        density="steady",
        loudness="soft",
    )
    variants = [
        *(
            dataclasses.replace(base, tempo_bpm=float(bpm))
            for bpm in range(attributes.TEMPO_MIN, attributes.TEMPO_MAX + 1)
        ),
        *(
            dataclasses.replace(base, tonic=tonic, mode=mode)
            for tonic in range(12)
            for mode in attributes.MODES
        ),
        *(dataclasses.replace(base, instrument=instrument) for instrument in attributes.INSTRUMENTS),
        *(dataclasses.replace(base, drums=drums) for drums in (True, False)),
        *(dataclasses.replace(base, density=density) for density in attributes.DENSITIES),
        *(dataclasses.replace(base, loudness=loudness) for loudness in attributes.LOUDNESS),
    ]
    return {tag for variant in variants for tag in variant.tags()}


def _evaluation_tags() -> set[str]:
    """The tags of the published evaluation's example clips (deploy/models)."""
    report = json.loads((REPO / "deploy/models/cadenza-tiny-1-evaluation.json").read_text())
    return {tag for example in report["examples"] for tag in example["tags"]}


def test_the_suite_s_own_tags_pass_everywhere() -> None:
    """Training, evaluation and demo tags: what the suite itself stores and sends stays valid."""
    procedural = _procedural_tags()
    assert {"c# minor", "120 bpm", "plucked string", "no drums", "mid-tempo", "75 bpm"} <= procedural
    # The key spellings on their own too ("c#"): a caller may well tag a track with just the key.
    procedural |= set(attributes.KEY_TAGS)
    demo = cli._parser().parse_args(["demo"]).tags
    assert demo == ["mallet", "a minor", "120 bpm", "drums"]
    for tag in sorted(procedural | _evaluation_tags() | set(demo)):
        assert tags.tag_problem(tag) is None, tag
        assert _orchestrator_accepts(tag), tag
        assert _downstream_refusals([tag]) == [], tag


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


def test_generated_tags_get_the_same_answer_from_the_orchestrator_and_every_service() -> None:
    """Random strings over the allowed characters and their near misses (seeded, so repeatable)."""
    allowed, near_misses = "ab0 _+#&./:-", "A\n\t\r\x00\x7f\x85\u00a0\u200b\u00e9'"
    rng = random.Random(20240611)
    accepted = refused = 0
    for _ in range(20_000):
        length = rng.randint(0, 8)
        tag = "".join(rng.choice(allowed if rng.random() < 0.9 else near_misses) for _ in range(length))
        refusals = _downstream_refusals([tag])
        if _orchestrator_accepts(tag):
            accepted += 1
            assert refusals == [], repr(tag)
        else:
            refused += 1
            assert [r.split(":")[0] for r in refusals] == list(DOWNSTREAM), repr(tag)
    assert accepted > 2000 and refused > 2000, "the sample must exercise both sides"
