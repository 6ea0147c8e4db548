"""Builds the blob service: its servicer and the resources it owns."""

from __future__ import annotations

from cadenza.blob.v1 import blob_pb2, blob_pb2_grpc
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.server import ServiceBundle, ServiceRegistration

SERVICE_FULL_NAME = blob_pb2.DESCRIPTOR.services_by_name["BlobService"].full_name


async def create_service(config: CadenzaConfig) -> ServiceBundle:
    # RPCs not built yet answer UNIMPLEMENTED through the generated base servicer.
    servicer = blob_pb2_grpc.BlobServiceServicer()  # type: ignore[abstract]
    return ServiceBundle(
        registrations=[
            ServiceRegistration(SERVICE_FULL_NAME, servicer, blob_pb2_grpc.add_BlobServiceServicer_to_server)
        ]
    )
