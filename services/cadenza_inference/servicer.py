"""InferenceService: validation, the batcher's streams, and the model registry behind every RPC."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from grpc import aio

from cadenza.inference.v1 import inference_pb2, inference_pb2_grpc
from cadenza_inference import encoding, loading, messages, tensors
from cadenza_inference.batcher import Batcher
from cadenza_inference.devices import Compute
from cadenza_inference.events import Accepted, Failed, Finished, Progress
from cadenza_inference.model import Task
from cadenza_inference.registry import ModelRegistry
from cadenza_inference.streams import read_or_refuse
from cadenza_inference.validation import check_prompt, check_tags, plan_generation, require_task

Context = aio.ServicerContext[Any, Any]
T = TypeVar("T")


class InferenceServicer(inference_pb2_grpc.InferenceServiceServicer):
    def __init__(
        self, registry: ModelRegistry, batcher: Batcher, compute: Compute, model_dirs: Sequence[Path]
    ) -> None:
        self.registry = registry
        self.batcher = batcher
        self.compute = compute
        self.model_dirs = tuple(model_dirs)  # where LoadModel may read a checkpoint by path
        # Encode and EmbedText are short; their own thread keeps them from waiting for a whole batch.
        self._aux = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cadenza-aux")

    async def close(self) -> None:
        await asyncio.to_thread(self._aux.shutdown, wait=True)

    async def _in_aux(self, func: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._aux, func, *args)

    async def Generate(
        self, request: inference_pb2.GenerateRequest, context: Context
    ) -> AsyncIterator[inference_pb2.GenerateResponse]:
        plan = plan_generation(request, self.registry)
        job = self.batcher.submit(plan)
        try:
            while True:
                event = await job.events.get()
                if isinstance(event, Accepted):
                    yield messages.accepted(plan, event)
                elif isinstance(event, Progress):
                    yield messages.progress(event)
                elif isinstance(event, Finished):
                    for response in messages.result(plan, event, self.compute):
                        yield response
                    return
                elif isinstance(event, Failed):
                    raise event.error
        finally:
            # Cancelled, past its deadline or disconnected: the row leaves the batch at the next step.
            self.batcher.cancel(job)

    async def Encode(
        self, request_iterator: AsyncIterator[inference_pb2.EncodeRequest], context: Context
    ) -> inference_pb2.EncodeResponse:
        upload = await read_or_refuse(encoding.read_upload, request_iterator)
        pipeline = self.registry.get(upload.header.model_version, "header.model_version")
        require_task(pipeline, Task.ENCODE, "header.model_version")
        audio, rate = encoding.samples(upload, pipeline.config)

        def encode() -> inference_pb2.EncodeResponse:
            latent = pipeline.encode_audio(audio, rate)
            return inference_pb2.EncodeResponse(
                latent=tensors.float32_proto(latent),
                latent_embedding=pipeline.latent_embedding(latent).tolist(),
                model_version=pipeline.version,
            )

        return await self._in_aux(encode)

    async def EmbedText(
        self, request: inference_pb2.EmbedTextRequest, context: Context
    ) -> inference_pb2.EmbedTextResponse:
        check_prompt(request.prompt, "prompt")
        check_tags(request.tags, "tags")
        pipeline = self.registry.get(request.model_version)
        embedding = await self._in_aux(pipeline.embed_text, request.prompt, tuple(request.tags))
        return inference_pb2.EmbedTextResponse(
            prompt_embedding=embedding.tolist(), model_version=pipeline.version
        )

    async def ListModels(
        self, request: inference_pb2.ListModelsRequest, context: Context
    ) -> inference_pb2.ListModelsResponse:
        return inference_pb2.ListModelsResponse(
            models=[messages.model_info(p, self.registry.is_default(p)) for p in self.registry.models()]
        )

    async def LoadModel(
        self, request_iterator: AsyncIterator[inference_pb2.LoadModelRequest], context: Context
    ) -> inference_pb2.LoadModelResponse:
        reader = functools.partial(loading.read_upload, model_dirs=self.model_dirs)
        upload = await read_or_refuse(reader, request_iterator)
        header = upload.header
        pipeline = self.registry.existing(header.version, upload.sha256)
        if pipeline is None:
            self.registry.check_room()  # before the expensive part
            pipeline = await loading.load(upload, self.compute)
        pipeline = self.registry.add(pipeline, header.make_default)
        return inference_pb2.LoadModelResponse(
            model=messages.model_info(pipeline, self.registry.is_default(pipeline))
        )

    async def GetCapacity(
        self, request: inference_pb2.GetCapacityRequest, context: Context
    ) -> inference_pb2.GetCapacityResponse:
        return inference_pb2.GetCapacityResponse(
            device=self.compute.label,
            precision=self.compute.precision,
            queue_depth=self.batcher.queue_depth,
            running=self.batcher.running,
            queue_capacity=self.batcher.capacity,
            max_batch_size=self.batcher.max_batch_size,
        )
