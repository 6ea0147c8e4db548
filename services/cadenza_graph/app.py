"""Builds the graph service: its servicer and the resources it owns."""

from __future__ import annotations

import gc

from neo4j import AsyncGraphDatabase
from neo4j.exceptions import AuthError, ServiceUnavailable

from cadenza.graph.v1 import graph_pb2, graph_pb2_grpc
from cadenza_graph.access import ACCESS
from cadenza_graph.analytics.service import Analytics
from cadenza_graph.schema import ensure_schema
from cadenza_graph.servicer import GraphServicer
from cadenza_graph.store import RETRY_SECONDS, GraphStore
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.pagination import PageTokenCodec
from cadenza_runtime.server import ServiceBundle, ServiceRegistration
from cadenza_runtime.store_tls import neo4j_tls_kwargs

SERVICE_FULL_NAME = graph_pb2.DESCRIPTOR.services_by_name["GraphService"].full_name


async def create_service(config: CadenzaConfig) -> ServiceBundle:
    settings = config.neo4j
    driver = AsyncGraphDatabase.driver(
        settings.uri,
        auth=(settings.user, settings.password.get_secret_value()),
        connection_timeout=5.0,
        max_transaction_retry_time=RETRY_SECONDS,
        **neo4j_tls_kwargs(settings),
    )
    try:
        await driver.verify_connectivity()
        await ensure_schema(driver, settings.database)
    except (ServiceUnavailable, AuthError) as exc:
        await driver.close()
        raise RuntimeError(
            f"graph service cannot use Neo4j at {settings.uri} as {settings.user!r}: {exc}; start it with "
            "`cadenza up --only neo4j` or fix the neo4j section of the configuration"
        ) from exc
    except BaseException:
        await driver.close()
        raise
    store = GraphStore(driver, settings.database, settings.uri)
    tokens = PageTokenCodec(config.auth.page_token_secret.get_secret_value().encode())
    analytics = Analytics.create(store, config.graph, settings)
    # What is loaded by now (modules, descriptors, the driver) lives as long as the process: frozen
    # out of the collector's reach, a full collection scans only what requests made since. It held
    # the event loop 75-135 ms, and analytics' allocations make full collections more frequent.
    gc.collect()
    gc.freeze()
    return ServiceBundle(
        registrations=[
            ServiceRegistration(
                SERVICE_FULL_NAME,
                GraphServicer(store, tokens, analytics),
                graph_pb2_grpc.add_GraphServiceServicer_to_server,
                access=ACCESS,
            )
        ],
        # Workers first: they may be computing from the store the driver talks to.
        on_close=[analytics.close, driver.close],
    )
