"""Builds the orchestrator service: its servicer, the claim loop, the reconciler and their clients."""

from __future__ import annotations

import os
import socket
import uuid

from cadenza.orchestrator.v1 import orchestrator_pb2, orchestrator_pb2_grpc
from cadenza_orchestrator.admission import Admission
from cadenza_orchestrator.auth import Authenticator
from cadenza_orchestrator.clients import Downstream
from cadenza_orchestrator.fanout import FanOut, connect_redis
from cadenza_orchestrator.graph_api import GraphApi
from cadenza_orchestrator.jobs_api import JobsApi
from cadenza_orchestrator.limits import StreamLimit
from cadenza_orchestrator.metrics import JOBS_RUNNING
from cadenza_orchestrator.reconciler import Reconciler
from cadenza_orchestrator.relay import InferenceRelay
from cadenza_orchestrator.retry import RetryPolicy
from cadenza_orchestrator.roles import MetadataRoles
from cadenza_orchestrator.runner import RunnerDeps
from cadenza_orchestrator.saga import Saga
from cadenza_orchestrator.servicer import OrchestratorServicer
from cadenza_orchestrator.tracks_api import TracksApi
from cadenza_orchestrator.validation import ModelCatalog
from cadenza_orchestrator.worker import Worker
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.identity import as_identity
from cadenza_runtime.server import ServiceBundle, ServiceRegistration

SERVICE_FULL_NAME = orchestrator_pb2.DESCRIPTOR.services_by_name["OrchestratorService"].full_name


def replica_id(configured: str) -> str:
    """This replica's identity in leases: configured, or host:pid:random (unique per process)."""
    return configured or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def create_service(config: CadenzaConfig) -> ServiceBundle:
    settings = config.orchestrator
    # Downstream calls are the orchestrator's, also when it is served inside another process (tests).
    downstream = Downstream.connect(as_identity(config, "orchestrator"))
    redis = connect_redis(config.redis)
    fanout = FanOut(redis)
    await fanout.start()
    policy = RetryPolicy.from_config(settings)
    saga = Saga(downstream, policy, config.minio)
    deps = RunnerDeps(
        downstream=downstream,
        fanout=fanout,
        saga=saga,
        relay=InferenceRelay(downstream, fanout, policy, config.minio.latent_bucket),
        config=settings,
        policy=policy,
        worker_id=replica_id(settings.worker_id),
    )
    admission = Admission(downstream, ModelCatalog(downstream.inference), fanout, settings)
    roles = MetadataRoles(downstream.metadata, config.auth.roles_cache_seconds)
    fanout.on_roles_changed(roles.forget)
    authenticator = Authenticator(config.auth, roles)
    graph = GraphApi(downstream)
    servicer = OrchestratorServicer(
        authenticator,
        JobsApi(downstream, fanout, admission, saga, settings),
        TracksApi(downstream, admission, saga, settings, graph),
        graph,
        StreamLimit(settings.max_streams_per_user, settings.max_streams_per_replica),
    )
    worker = Worker(deps)
    JOBS_RUNNING.set_function(lambda: worker.running)
    reconciler = Reconciler(deps)

    async def close() -> None:
        await worker.close()
        await fanout.close()
        await redis.aclose()
        await downstream.close()

    return ServiceBundle(
        registrations=[
            # Public: end users' bearer tokens, checked by the servicer (auth.py).
            ServiceRegistration(
                SERVICE_FULL_NAME,
                servicer,
                orchestrator_pb2_grpc.add_OrchestratorServiceServicer_to_server,
                public=True,
            )
        ],
        on_close=[close],
        background=[worker.run, reconciler.run],
        public_authenticator=authenticator.verify,
    )
