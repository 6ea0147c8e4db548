"""Builds the metadata service: its servicer and the resources it owns."""

from __future__ import annotations

from cadenza.metadata.v1 import metadata_pb2, metadata_pb2_grpc
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.server import ServiceBundle, ServiceRegistration

SERVICE_FULL_NAME = metadata_pb2.DESCRIPTOR.services_by_name["MetadataService"].full_name


async def create_service(config: CadenzaConfig) -> ServiceBundle:
    # RPCs not built yet answer UNIMPLEMENTED through the generated base servicer.
    servicer = metadata_pb2_grpc.MetadataServiceServicer()  # type: ignore[abstract]
    return ServiceBundle(
        registrations=[
            ServiceRegistration(
                SERVICE_FULL_NAME, servicer, metadata_pb2_grpc.add_MetadataServiceServicer_to_server
            )
        ]
    )
