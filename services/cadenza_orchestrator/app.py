"""Builds the orchestrator service: its servicer and the resources it owns."""

from __future__ import annotations

from cadenza.orchestrator.v1 import orchestrator_pb2, orchestrator_pb2_grpc
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.server import ServiceBundle, ServiceRegistration

SERVICE_FULL_NAME = orchestrator_pb2.DESCRIPTOR.services_by_name["OrchestratorService"].full_name


async def create_service(config: CadenzaConfig) -> ServiceBundle:
    # RPCs not built yet answer UNIMPLEMENTED through the generated base servicer.
    servicer = orchestrator_pb2_grpc.OrchestratorServiceServicer()  # type: ignore[abstract]
    return ServiceBundle(
        registrations=[
            ServiceRegistration(
                SERVICE_FULL_NAME, servicer, orchestrator_pb2_grpc.add_OrchestratorServiceServicer_to_server
            )
        ]
    )
