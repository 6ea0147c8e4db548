"""Fixtures of the inference service tests: the service in this process, on the CPU, no stores.

The inference service never touches a store, so nothing is started with `cadenza up`; every test
talks to the real service (real model, real batcher) over a real gRPC channel.

These tests exercise the service's mechanics (queueing, batching, cancellation, model versions) on
the labelled untrained tiny model, which is small and quick on two CPU cores; the configuration
default, the trained cadenza-tiny-1 checkpoint, is served in test_default_model.py here and in
tests/training.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
from grpc import aio

pytest.register_assert_rewrite("tests.inference.support")

from cadenza.inference.v1 import inference_pb2_grpc  # noqa: E402
from cadenza_inference.app import create_service  # noqa: E402
from cadenza_runtime.config import CadenzaConfig  # noqa: E402
from cadenza_runtime.server import CadenzaServer  # noqa: E402
from tests.helpers.serving import serve  # noqa: E402
from tests.inference.support import with_inference  # noqa: E402

if TYPE_CHECKING:
    from cadenza.inference.v1.inference_pb2_grpc import InferenceServiceAsyncStub as Stub


@pytest.fixture(scope="session")
def config(config: CadenzaConfig) -> CadenzaConfig:
    """The suite's configuration with no checkpoint: the service serves the untrained model."""
    return with_inference(config, checkpoint_path=None, checkpoint_sha256=None)


@pytest.fixture(scope="session")
async def inference_service(config: CadenzaConfig) -> AsyncIterator[tuple[CadenzaServer, aio.Channel]]:
    async with serve("inference", create_service, config) as running:
        yield running


@pytest.fixture(scope="session")
def stub(inference_service: tuple[CadenzaServer, aio.Channel]) -> Stub:
    return inference_pb2_grpc.InferenceServiceStub(inference_service[1])
