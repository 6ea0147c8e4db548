"""Builds the graph service: its servicer and the resources it owns."""

from __future__ import annotations

from cadenza.graph.v1 import graph_pb2, graph_pb2_grpc
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.server import ServiceBundle, ServiceRegistration

SERVICE_FULL_NAME = graph_pb2.DESCRIPTOR.services_by_name["GraphService"].full_name


async def create_service(config: CadenzaConfig) -> ServiceBundle:
    # RPCs not built yet answer UNIMPLEMENTED through the generated base servicer.
    servicer = graph_pb2_grpc.GraphServiceServicer()  # type: ignore[abstract]
    return ServiceBundle(
        registrations=[
            ServiceRegistration(
                SERVICE_FULL_NAME, servicer, graph_pb2_grpc.add_GraphServiceServicer_to_server
            )
        ]
    )
