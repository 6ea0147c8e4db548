"""The graph on Neo4j: each method is one transaction, retried on transient errors.

Writes and multi-statement reads are managed transactions (the driver retries them). A read that is
one query runs as an auto-commit transaction: RUN and PULL go out together and nothing else follows,
one round trip where a managed transaction takes three (BEGIN, RUN+PULL, COMMIT); it is retried here
the way the driver retries a managed one.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal, TypeVar

from neo4j import READ_ACCESS, AsyncDriver, AsyncManagedTransaction, AsyncResult, Query, unit_of_work
from neo4j.exceptions import (
    AuthError,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from cadenza_graph import queries
from cadenza_graph.models import (
    Edge,
    LineageItem,
    NeighborItem,
    Page,
    PathNode,
    RelatedItem,
    TagRank,
    TrackRecord,
)
from cadenza_runtime.errors import (
    CadenzaError,
    FailedPrecondition,
    NotFound,
    ResourceExhausted,
    Unavailable,
)
from cadenza_runtime.metrics import store_call

T = TypeVar("T")
Direction = Literal["up", "down"]

# Every transaction gets this long; a query that needs more is refused rather than left running.
QUERY_TIMEOUT_SECONDS = 20.0
# Tags on more tracks than this are not expanded when looking for related tracks (queries.RELATED):
# each would add at most 1/ln(2001) = 0.13 to a score, yet cost a row per carrier. At 100k tracks a
# tag on 8k of them took the query from ~4 ms to ~40 ms (p99 ~250 ms); this bounds that work.
MAX_TAG_TRACKS = 2_000
# How long transient failures are retried (the driver's max_transaction_retry_time too, see app.py):
# past that the caller gets UNAVAILABLE well inside its deadline, and its channel retries
# idempotent calls itself.
RETRY_SECONDS = 5.0
# The driver's own backoff between retries: 1 s, doubling, +-20% jitter.
_FIRST_RETRY_DELAY = 1.0
_RETRY_JITTER = 0.2


class GraphStore:
    def __init__(self, driver: AsyncDriver, database: str, uri: str):
        self._driver = driver
        self._database = database
        self._uri = uri

    # --- writes ---------------------------------------------------------------------------------

    async def record_track(
        self, track: str, user: str, tags: list[str], model_version: str | None, created_at: int
    ) -> TrackRecord:
        now = int(time.time())

        async def work(tx: AsyncManagedTransaction) -> TrackRecord:
            current = await _single(
                tx, queries.MERGE_TRACK, track=track, created_at=created_at or now, now=now
            )
            if current["user"] is not None and current["user"] != user:
                raise FailedPrecondition(
                    f"{track} was recorded as created by {current['user']}, not {user}; "
                    "the creator of a track never changes",
                    reason="TRACK_OWNER_MISMATCH",
                    metadata={"track": track, "user": current["user"]},
                )
            recorded = current["model_version"]
            if recorded is not None and model_version is not None and recorded != model_version:
                raise FailedPrecondition(
                    f"{track} was recorded as generated with {recorded}, not {model_version}; "
                    "the model version of a track never changes",
                    reason="TRACK_MODEL_VERSION_MISMATCH",
                    metadata={"track": track, "model_version": recorded},
                )
            row = await _single(
                tx, queries.LINK_TRACK, track=track, user=user, tags=tags, model_version=model_version
            )
            await _bump_versions(tx, [track])
            return TrackRecord.from_map(row["track"])

        return await self._write(work)

    async def record_lineage(
        self, child: str, parent: str, op: str, strength: float, created_at: int
    ) -> Edge:
        params = {"child": child, "parent": parent}

        async def work(tx: AsyncManagedTransaction) -> Edge:
            await (await tx.run(queries.LOCK_LINEAGE)).consume()
            state = await _single(tx, queries.LINEAGE_STATE, **params)
            missing = [
                name
                for name, there in ((child, state["has_child"]), (parent, state["has_parent"]))
                if not there
            ]
            if missing:
                raise NotFound(
                    f"{' and '.join(missing)} not in the graph; record the track with RecordTrack first",
                    reason="TRACK_NOT_FOUND",
                    metadata={"tracks": ",".join(missing), "resource": missing[0]},
                )
            if state["edge"] is not None:
                existing = Edge.from_map(state["edge"])
                if (existing.op, existing.strength) != (op, strength):
                    raise FailedPrecondition(
                        f"{child} already derives from {parent} by {existing.op} with strength "
                        f"{existing.strength}; recorded lineage never changes",
                        reason="LINEAGE_MISMATCH",
                        metadata={"child": child, "parent": parent},
                    )
                return existing
            cycle = await _optional(tx, queries.LINEAGE_CYCLE, **params)
            if cycle is None:
                raise _vanished(child, parent)
            hops = cycle["hops"]
            if hops is not None:
                raise FailedPrecondition(
                    f"{parent} already derives from {child} ({hops} generation(s) apart), so {child} "
                    f"deriving from {parent} would make a lineage cycle",
                    reason="LINEAGE_CYCLE",
                    metadata={"child": child, "parent": parent, "hops": str(hops)},
                )
            row = await _optional(
                tx,
                queries.MERGE_LINEAGE,
                **params,
                op=op,
                strength=strength,
                created_at=created_at or int(time.time()),
            )
            if row is None:
                raise _vanished(child, parent)
            await _bump_versions(tx, [child, parent])
            return Edge.from_map(row["edge"])

        return await self._write(work)

    async def delete_track(self, track: str) -> bool:
        async def work(tx: AsyncManagedTransaction) -> bool:
            # Owners first: once the track is gone, so is the edge that says whose it was.
            await (await tx.run(queries.BUMP_OWNER_VERSIONS, tracks=[track])).consume()
            deleted = bool((await _single(tx, queries.DELETE_TRACK, track=track))["deleted"])
            if deleted:
                await (await tx.run(queries.BUMP_GLOBAL_VERSION)).consume()
            return deleted

        return await self._write(work)

    # --- reads ----------------------------------------------------------------------------------

    async def get_track(self, track: str) -> TrackRecord:
        row = await self._read_row(queries.GET_TRACK, track=track)
        if row is None:
            raise _track_not_found(track)
        return TrackRecord.from_map(row["track"])

    async def lineage(
        self, direction: Direction, track: str, max_depth: int, limit: int, after: dict[str, Any] | None
    ) -> Page[LineageItem]:
        query = queries.lineage(direction, max_depth)
        after_depth, after_id = (int(after["depth"]), str(after["id"])) if after else (0, "")
        row = await self._read_row(
            query, track=track, after_depth=after_depth, after_id=after_id, limit=limit + 1
        )
        if row is None:
            raise _track_not_found(track)
        items = [
            LineageItem(
                track=TrackRecord.from_map(entry["track"]),
                depth=int(entry["depth"]),
                edge=Edge.from_map(entry["edge"]),
                weight=float(entry["weight"]),
            )
            for entry in row["entries"]
        ]
        items.sort(key=lambda item: (item.depth, item.track.track))
        return _page(items, limit, lambda item: {"depth": item.depth, "id": item.track.track})

    async def related(self, track: str, limit: int) -> list[RelatedItem]:
        row = await self._read_row(queries.RELATED, track=track, limit=limit, max_tag_tracks=MAX_TAG_TRACKS)
        if row is None:
            raise _track_not_found(track)
        items = [
            RelatedItem(
                track=TrackRecord.from_map(entry["track"]),
                score=float(entry["score"]),
                shared_tags=sorted(entry["shared_tags"]),
            )
            for entry in row["related"]
        ]
        items.sort(key=lambda item: (-item.score, item.track.track))
        return items

    async def shortest_path(self, from_track: str, to_track: str, max_depth: int) -> list[PathNode]:
        query = queries.shortest_path(max_depth)
        if from_track == to_track:
            # Neo4j's shortestPath refuses equal ends; the path from a track to itself is the track.
            await self.get_track(from_track)
            return [PathNode(kind="Track", id=from_track, relationship="", direction="")]
        row = await self._read_row(query, from_track=from_track, to_track=to_track)
        if row is None:
            raise RuntimeError("query returned no row")
        missing = [
            name for name, there in ((from_track, row["has_from"]), (to_track, row["has_to"])) if not there
        ]
        if missing:
            raise NotFound(
                f"{' and '.join(missing)} not in the graph; record the track with RecordTrack first",
                reason="TRACK_NOT_FOUND",
                metadata={"tracks": ",".join(missing), "resource": missing[0]},
            )
        nodes = row["nodes"] or []
        hops = [*(row["relationships"] or []), {"type": "", "direction": ""}]
        return [
            PathNode(kind=node["kind"], id=node["id"], relationship=hop["type"], direction=hop["direction"])
            for node, hop in zip(nodes, hops, strict=False)
        ]

    async def neighbors(self, track: str, limit: int, after: dict[str, Any] | None) -> Page[NeighborItem]:
        key = [str(part) for part in after["key"]] if after else []
        row = await self._read_row(queries.NEIGHBORS, track=track, after=key, limit=limit + 1)
        if row is None:
            raise _track_not_found(track)
        items = [
            NeighborItem(
                kind=entry["kind"],
                id=entry["id"],
                relationship=entry["relationship"],
                direction=entry["direction"],
            )
            for entry in row["neighbors"]
        ]
        items.sort(key=_neighbor_key)
        return _page(items, limit, lambda item: {"key": _neighbor_key(item)})

    async def central_tags_by_degree(self, limit: int) -> list[TagRank]:
        async def work(tx: AsyncManagedTransaction) -> list[dict[str, Any]]:
            return await (await tx.run(queries.TOP_TAG_DEGREES, limit=limit)).data()

        rows = await self._read(work)
        return [
            TagRank(tag=row["tag"], score=float(row["tracks"]), track_count=row["tracks"]) for row in rows
        ]

    async def analytics_version(self, users: tuple[str, ...] | None) -> tuple[int, ...]:
        """The version of the graph of these users' tracks (None: of the whole graph). Asked before
        every analytic, cached or not: one auto-commit round trip, like the other one-row reads."""
        if users is None:
            row = await self._read_row(queries.GLOBAL_VERSION)
            return (int(row["version"]) if row is not None else 0,)
        row = await self._read_row(queries.USER_VERSIONS, users=list(users))
        return tuple(int(value) for value in row["versions"]) if row is not None else (0,) * len(users)

    # --- plumbing -------------------------------------------------------------------------------

    async def _read(
        self,
        work: Callable[[AsyncManagedTransaction], Awaitable[T]],
        hint: str = "ask for a smaller max_depth or limit",
    ) -> T:
        with store_call("neo4j", "read"):
            async with self._errors(hint), self._driver.session(database=self._database) as session:
                return await session.execute_read(unit_of_work(timeout=QUERY_TIMEOUT_SECONDS)(work))

    async def _read_row(self, query: str, **params: Any) -> dict[str, Any] | None:
        """The one row (or None) of a read-only query, in an auto-commit transaction (see the module
        docstring); retried on transient failures like a managed transaction."""
        statement = Query(query, timeout=QUERY_TIMEOUT_SECONDS)
        first_failure: float | None = None
        delay = _FIRST_RETRY_DELAY
        with store_call("neo4j", "read"):
            async with self._errors("ask for a smaller max_depth or limit"):
                while True:
                    try:
                        async with self._driver.session(
                            database=self._database, default_access_mode=READ_ACCESS
                        ) as session:
                            return await _first_row(await session.run(statement, params))
                    except (DriverError, Neo4jError) as exc:
                        now = time.monotonic()
                        first_failure = now if first_failure is None else first_failure
                        if not exc.is_retryable() or now - first_failure > RETRY_SECONDS:
                            raise
                    await asyncio.sleep(delay * (1 + _RETRY_JITTER * (2 * random.random() - 1)))
                    delay *= 2

    async def _write(self, work: Callable[[AsyncManagedTransaction], Awaitable[T]]) -> T:
        with store_call("neo4j", "write"):
            async with self._errors("retry later"), self._driver.session(database=self._database) as session:
                return await session.execute_write(unit_of_work(timeout=QUERY_TIMEOUT_SECONDS)(work))

    @asynccontextmanager
    async def _errors(self, timeout_hint: str) -> AsyncIterator[None]:
        """Driver failures as statuses a caller can act on."""
        try:
            yield
        except CadenzaError:
            raise
        except (ServiceUnavailable, SessionExpired) as exc:
            raise Unavailable(
                f"Neo4j at {self._uri} cannot be reached ({exc}); retry, and check that it runs "
                "(`cadenza up --only neo4j`) and that neo4j.host/bolt_port point at it",
                reason="NEO4J_UNAVAILABLE",
            ) from exc
        except AuthError as exc:
            raise Unavailable(
                f"Neo4j at {self._uri} refused the service's credentials; check neo4j.user and neo4j.password",
                reason="NEO4J_AUTH",
            ) from exc
        except Neo4jError as exc:
            if "TransactionTimedOut" in (exc.code or ""):
                raise ResourceExhausted(
                    f"the graph query ran past its {QUERY_TIMEOUT_SECONDS:.0f} s budget; {timeout_hint}",
                    reason="GRAPH_QUERY_TIMEOUT",
                ) from exc
            if isinstance(exc, TransientError):
                raise Unavailable(
                    f"Neo4j kept failing transiently ({exc.code}); retry later", reason="NEO4J_TRANSIENT"
                ) from exc
            raise


async def _bump_versions(tx: AsyncManagedTransaction, tracks: list[str]) -> None:
    """Every write ends here: the versions its tracks' owners and the whole graph are at move on."""
    await (await tx.run(queries.BUMP_OWNER_VERSIONS, tracks=tracks)).consume()
    await (await tx.run(queries.BUMP_GLOBAL_VERSION)).consume()


def _neighbor_key(item: NeighborItem) -> list[str]:
    return [item.relationship, item.direction, item.kind, item.id]


def _page(items: list[T], limit: int, cursor: Callable[[T], dict[str, Any]]) -> Page[T]:
    """Items fetched with limit + 1: the extra one only says that another page follows."""
    if len(items) > limit:
        return Page(items=items[:limit], next_cursor=cursor(items[limit - 1]))
    return Page(items=items, next_cursor=None)


def _vanished(child: str, parent: str) -> NotFound:
    return NotFound(
        f"{child} or {parent} was deleted while the lineage was being recorded",
        reason="TRACK_NOT_FOUND",
        metadata={"tracks": f"{child},{parent}", "resource": child},
    )


def _track_not_found(track: str) -> NotFound:
    return NotFound(
        f"{track} is not in the graph; record it with RecordTrack first",
        reason="TRACK_NOT_FOUND",
        metadata={"track": track, "resource": track},
    )


async def _single(tx: AsyncManagedTransaction, query: str, **params: Any) -> dict[str, Any]:
    row = await _optional(tx, query, **params)
    if row is None:
        raise RuntimeError("query returned no row")
    return row


async def _optional(tx: AsyncManagedTransaction, query: str, **params: Any) -> dict[str, Any] | None:
    return await _first_row(await tx.run(query, params))


async def _first_row(result: AsyncResult) -> dict[str, Any] | None:
    record = await result.single(strict=False)
    # keys() and values() hand over the decoded values as they are; data() would copy every nested
    # map again.
    return None if record is None else dict(zip(record.keys(), record.values(), strict=True))
