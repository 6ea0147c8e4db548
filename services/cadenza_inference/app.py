"""Builds the inference service: its servicer and the resources it owns."""

from __future__ import annotations

from cadenza.inference.v1 import inference_pb2, inference_pb2_grpc
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.server import ServiceBundle, ServiceRegistration

SERVICE_FULL_NAME = inference_pb2.DESCRIPTOR.services_by_name["InferenceService"].full_name


async def create_service(config: CadenzaConfig) -> ServiceBundle:
    # RPCs not built yet answer UNIMPLEMENTED through the generated base servicer.
    servicer = inference_pb2_grpc.InferenceServiceServicer()  # type: ignore[abstract]
    return ServiceBundle(
        registrations=[
            ServiceRegistration(
                SERVICE_FULL_NAME, servicer, inference_pb2_grpc.add_InferenceServiceServicer_to_server
            )
        ]
    )
