"""Channels and stubs to the five services the orchestrator drives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import ServiceDescriptor
from grpc import aio

from cadenza.blob.v1 import blob_pb2, blob_pb2_grpc
from cadenza.graph.v1 import graph_pb2, graph_pb2_grpc
from cadenza.inference.v1 import inference_pb2, inference_pb2_grpc
from cadenza.metadata.v1 import metadata_pb2, metadata_pb2_grpc
from cadenza.vector.v1 import vector_pb2, vector_pb2_grpc
from cadenza_runtime.client import endpoint_channel
from cadenza_runtime.config import CadenzaConfig


def _service(module: Any, name: str) -> ServiceDescriptor:
    descriptor: ServiceDescriptor = module.DESCRIPTOR.services_by_name[name]
    return descriptor


@dataclass
class Downstream:
    metadata: metadata_pb2_grpc.MetadataServiceAsyncStub
    blob: blob_pb2_grpc.BlobServiceAsyncStub
    vector: vector_pb2_grpc.VectorServiceAsyncStub
    graph: graph_pb2_grpc.GraphServiceAsyncStub
    inference: inference_pb2_grpc.InferenceServiceAsyncStub
    channels: list[aio.Channel]

    @classmethod
    def connect(cls, config: CadenzaConfig) -> Downstream:
        def channel(service: str, module: Any, full: str) -> aio.Channel:
            # The endpoint's target and policy: round_robin over every inference replica on a cluster.
            return endpoint_channel(config.services.endpoint(service), config, [_service(module, full)])

        metadata = channel("metadata", metadata_pb2, "MetadataService")
        blob = channel("blob", blob_pb2, "BlobService")
        vector = channel("vector", vector_pb2, "VectorService")
        graph = channel("graph", graph_pb2, "GraphService")
        inference = channel("inference", inference_pb2, "InferenceService")
        return cls(
            metadata=metadata_pb2_grpc.MetadataServiceStub(metadata),
            blob=blob_pb2_grpc.BlobServiceStub(blob),
            vector=vector_pb2_grpc.VectorServiceStub(vector),
            graph=graph_pb2_grpc.GraphServiceStub(graph),
            inference=inference_pb2_grpc.InferenceServiceStub(inference),
            channels=[metadata, blob, vector, graph, inference],
        )

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close(None)
