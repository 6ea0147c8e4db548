"""Helpers for the graph tests: namespaced names, recording shortcuts, counts, status checks."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from neo4j import AsyncDriver

from cadenza.common.v1 import types_pb2
from cadenza.graph.v1 import graph_pb2

if TYPE_CHECKING:
    from cadenza.graph.v1.graph_pb2_grpc import GraphServiceAsyncStub

VARIATION = types_pb2.LINEAGE_OP_VARIATION
EXTEND = types_pb2.LINEAGE_OP_EXTEND
REMIX = types_pb2.LINEAGE_OP_REMIX


@dataclass
class Namespace:
    """Names unique to one test; `purge` removes every node named under it."""

    prefix: str
    stub: GraphServiceAsyncStub

    @classmethod
    def new(cls, stub: GraphServiceAsyncStub) -> Namespace:
        unique = uuid.uuid4().hex
        # The first two groups of every track UUID of the namespace, so that one prefix finds them all.
        return cls(prefix=f"{unique[:8]}-{unique[8:12]}", stub=stub)

    def track(self, name: str | int) -> str:
        """A track UUID under the prefix, the same for the same `name`."""
        rest = hashlib.sha256(str(name).encode()).hexdigest()
        return f"tracks/{self.prefix}-{rest[:4]}-{rest[4:8]}-{rest[8:20]}"

    def user(self, name: str = "alice") -> str:
        return f"users/{self.prefix}-{name}"

    def tag(self, name: str) -> str:
        return f"{self.prefix} {name}"

    def model(self, name: str = "tiny-1") -> str:
        return f"{self.prefix}-{name}"

    async def record(
        self,
        name: str | int,
        *,
        tags: Sequence[str] = (),
        user: str | None = None,
        model_version: str | None = None,
        create_time: int = 0,
    ) -> graph_pb2.TrackNode:
        node = graph_pb2.TrackNode(
            track=self.track(name),
            user=self.user() if user is None else user,
            tags=list(tags),
            model_version=self.model() if model_version is None else model_version,
            create_time_seconds=create_time,
        )
        response = await self.stub.RecordTrack(graph_pb2.RecordTrackRequest(track=node))
        return response.track

    async def derive(
        self,
        child: str | int,
        parent: str | int,
        *,
        op: types_pb2.LineageOp.ValueType = VARIATION,
        strength: float = 0.5,
    ) -> graph_pb2.LineageEdge:
        edge = graph_pb2.LineageEdge(
            child=self.track(child), parent=self.track(parent), op=op, strength=strength
        )
        response = await self.stub.RecordLineage(graph_pb2.RecordLineageRequest(edge=edge))
        return response.edge

    async def chain(self, length: int, strength: float = 0.9, *, tags: Sequence[str] = ()) -> list[str]:
        """Tracks 0..length-1 where each derives from the one before; returns their names."""
        for index in range(length):
            await self.record(index, tags=tags)
        for index in range(1, length):
            await self.derive(index, index - 1, strength=strength)
        return [self.track(index) for index in range(length)]

    async def purge(self, driver: AsyncDriver) -> None:
        await purge(driver, self.prefix)


async def purge(driver: AsyncDriver, prefix: str) -> None:
    """Deletes the tracks, users, tags and model versions named under `prefix`, in batches."""
    statements = [
        ("MATCH (n:Track) WHERE n.id STARTS WITH $value", f"tracks/{prefix}"),
        ("MATCH (n:User) WHERE n.id STARTS WITH $value", f"users/{prefix}"),
        ("MATCH (n:Tag) WHERE n.name STARTS WITH $value", prefix),
        ("MATCH (n:ModelVersion) WHERE n.name STARTS WITH $value", prefix),
    ]
    async with driver.session() as session:
        for match, value in statements:
            # CALL ... IN TRANSACTIONS needs an auto-commit transaction, hence session.run.
            query = match + " CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS"
            await (await session.run(query, value=value)).consume()


async def counts(driver: AsyncDriver) -> dict[str, int]:
    """Nodes per label and relationships per type in the whole database."""
    nodes = await driver.execute_query("MATCH (n) RETURN head(labels(n)) AS kind, count(*) AS n")
    rels = await driver.execute_query("MATCH ()-[r]->() RETURN type(r) AS kind, count(*) AS n")
    return {row["kind"]: row["n"] for row in [*nodes.records, *rels.records]}


async def node_counts(driver: AsyncDriver, ns: Namespace) -> dict[str, int]:
    """Nodes and relationships touching the namespace's tracks."""
    result = await driver.execute_query(
        "MATCH (t:Track) WHERE t.id STARTS WITH $prefix "
        "OPTIONAL MATCH (t)-[r]-() "
        "RETURN count(DISTINCT t) AS tracks, count(DISTINCT r) AS relationships",
        prefix=f"tracks/{ns.prefix}",
    )
    tags = await driver.execute_query(
        "MATCH (g:Tag) WHERE g.name STARTS WITH $prefix RETURN count(g) AS tags", prefix=ns.prefix
    )
    row = result.records[0]
    return {"tracks": row["tracks"], "relationships": row["relationships"], "tags": tags.records[0]["tags"]}


async def write_graph(
    driver: AsyncDriver,
    user: str,
    tracks: Mapping[str, Sequence[str]],
    lineage: Sequence[tuple[str, str, float]] = (),
    batch: int = 5000,
) -> None:
    """Writes tracks (name -> tags) of one user and lineage (child, parent, strength) straight to
    Neo4j in UNWIND batches, the shape RecordTrack/RecordLineage give, for graphs too large to
    record one call at a time. Names must lie in a namespace that is purged afterwards."""
    rows = [{"id": name, "tags": list(tags)} for name, tags in tracks.items()]
    async with driver.session() as session:
        for start in range(0, len(rows), batch):
            await (
                await session.run(
                    "MERGE (u:User {id: $user}) WITH u "
                    "UNWIND $rows AS row "
                    "CREATE (t:Track {id: row.id, created_at: 0, updated_at: 0}) "
                    "CREATE (u)-[:CREATED]->(t) "
                    "WITH t, row UNWIND row.tags AS name "
                    "MERGE (g:Tag {name: name}) CREATE (t)-[:HAS_TAG]->(g)",
                    user=user,
                    rows=rows[start : start + batch],
                )
            ).consume()
        edges = [{"child": c, "parent": p, "strength": s} for c, p, s in lineage]
        for start in range(0, len(edges), batch):
            await (
                await session.run(
                    "UNWIND $edges AS e "
                    "MATCH (c:Track {id: e.child}), (p:Track {id: e.parent}) "
                    "CREATE (c)-[:DERIVED_FROM {op: 'VARIATION', strength: e.strength, created_at: 0}]->(p)",
                    edges=edges[start : start + batch],
                )
            ).consume()
