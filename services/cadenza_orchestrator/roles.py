"""A user's roles as the metadata store holds them, cached briefly per replica.

The cache is short (auth.roles_cache_seconds) so that a revoked role stops working soon without a
metadata call per request; metadata also announces role changes over Redis (channels.ROLES_CHANGED)
and every replica drops that user's entry at once, so the TTL only matters when Redis is down. A metadata outage keeps the last known roles for a while rather than
locking everyone out; a user never seen before then gets UNAVAILABLE, not the token's claims.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc
from grpc import aio

from cadenza.metadata.v1 import metadata_pb2, metadata_pb2_grpc
from cadenza_orchestrator.downstream_errors import translate
from cadenza_orchestrator.names import user_name

_ROLE_NAMES = {metadata_pb2.ROLE_USER: "user", metadata_pb2.ROLE_ADMIN: "admin"}
# Past this many users the cache starts afresh, so it cannot grow without end.
_MAX_ENTRIES = 100_000
_LOOKUP_TIMEOUT_SECONDS = 2.0


class MetadataRoles:
    def __init__(
        self,
        metadata: metadata_pb2_grpc.MetadataServiceAsyncStub,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._metadata = metadata
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, frozenset[str] | None]] = {}

    async def roles_of(self, user_id: str) -> frozenset[str] | None:
        now = self._clock()
        cached = self._cache.get(user_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        try:
            response = await self._metadata.GetUser(
                metadata_pb2.GetUserRequest(name=user_name(user_id)), timeout=_LOOKUP_TIMEOUT_SECONDS
            )
            roles: frozenset[str] | None = frozenset(
                _ROLE_NAMES[role] for role in response.user.roles if role in _ROLE_NAMES
            )
        except aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                roles = None
            elif cached is not None:
                return cached[1]
            else:
                raise translate(error, "metadata") from error
        if len(self._cache) >= _MAX_ENTRIES:
            self._cache.clear()
        self._cache[user_id] = (now, roles)
        return roles

    def forget(self, user_id: str) -> None:
        """Drops a cached entry (a role change seen on this replica)."""
        self._cache.pop(user_id, None)
