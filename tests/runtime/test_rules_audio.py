"""The one sample-rate rule, and the services that take or store audio holding to it."""

from __future__ import annotations

import uuid

import pytest

from cadenza.common.v1 import types_pb2
from cadenza.inference.v1 import inference_pb2
from cadenza_inference.encoding import AudioUpload, samples
from cadenza_inference.model.config import ModelConfig
from cadenza_metadata import tracks as metadata_tracks
from cadenza_runtime.errors import InvalidArgument
from cadenza_runtime.rules.audio import check_sample_rate
from cadenza_runtime.rules.limits import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE

# Metadata stored tracks and models at any rate up to 384000 Hz, inference encoded from 1000 Hz: a
# track of a model producing 800 Hz could not be encoded again, one at 10 Hz was stored.
BAD_RATES = [-1, 1, MIN_SAMPLE_RATE - 1, MAX_SAMPLE_RATE + 1]
GOOD_RATES = [MIN_SAMPLE_RATE, 16_000, 44_100, MAX_SAMPLE_RATE]


@pytest.mark.parametrize("rate", GOOD_RATES)
def test_a_rate_in_range_is_accepted(rate: int) -> None:
    assert check_sample_rate(rate, "sample_rate") == rate


@pytest.mark.parametrize("rate", [0, *BAD_RATES])
def test_a_rate_out_of_range_is_refused_naming_the_field(rate: int) -> None:
    with pytest.raises(InvalidArgument, match="Hz") as caught:
        check_sample_rate(rate, "sample_rate")
    assert caught.value.metadata["field"] == "sample_rate"


def test_zero_means_not_known_where_allowed() -> None:
    assert check_sample_rate(0, "track.sample_rate", unknown_allowed=True) == 0


def _track(rate: int) -> types_pb2.Track:
    return types_pb2.Track(name=f"tracks/{uuid.uuid4()}", sample_rate=rate)


def _raw_upload(rate: int) -> AudioUpload:
    header = inference_pb2.EncodeHeader(
        audio_encoding=inference_pb2.AUDIO_ENCODING_RAW_FLOAT32, sample_rate=rate
    )
    return AudioUpload(header, b"\0" * 4000)


@pytest.mark.parametrize("rate", BAD_RATES)
def test_a_rate_inference_refuses_metadata_does_not_store(rate: int) -> None:
    with pytest.raises(InvalidArgument):
        samples(_raw_upload(rate), ModelConfig())
    with pytest.raises(InvalidArgument) as caught:
        metadata_tracks._validated(_track(rate))
    assert caught.value.metadata["field"] == "track.sample_rate"


@pytest.mark.parametrize("rate", GOOD_RATES)
def test_a_rate_inference_accepts_metadata_stores(rate: int) -> None:
    _, got = samples(_raw_upload(rate), ModelConfig())
    assert got == rate
    metadata_tracks._validated(_track(rate))
