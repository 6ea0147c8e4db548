"""Builds the vector service: its servicer and the resources it owns."""

from __future__ import annotations

from cadenza.vector.v1 import vector_pb2, vector_pb2_grpc
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.server import ServiceBundle, ServiceRegistration

SERVICE_FULL_NAME = vector_pb2.DESCRIPTOR.services_by_name["VectorService"].full_name


async def create_service(config: CadenzaConfig) -> ServiceBundle:
    # RPCs not built yet answer UNIMPLEMENTED through the generated base servicer.
    servicer = vector_pb2_grpc.VectorServiceServicer()  # type: ignore[abstract]
    return ServiceBundle(
        registrations=[
            ServiceRegistration(
                SERVICE_FULL_NAME, servicer, vector_pb2_grpc.add_VectorServiceServicer_to_server
            )
        ]
    )
