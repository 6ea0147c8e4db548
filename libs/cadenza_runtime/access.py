"""Per-RPC allowances of internal callers, checked by the server interceptor before any handler runs.

Each service declares one table, method name -> identities allowed to call it (its `access.py`);
a method it does not list is refused to everyone but `operator`, which may call everything (for
debugging). grpc.health.v1 is open to anonymous callers (probes); reflection needs an
authenticated caller (and is not served at all with `identity.reflection` off, prod's default). A public
service (the orchestrator's) checks its own end-user tokens and is let through here.

Anonymous or badly signed -> UNAUTHENTICATED; a known caller outside its allowance ->
PERMISSION_DENIED naming the caller and the method.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from grpc import aio

from cadenza_runtime.errors import PermissionDenied, Unauthenticated
from cadenza_runtime.identity import (
    OPERATOR,
    Caller,
    TokenVerifier,
    acting_user_of,
    bearer_of,
    principal_name,
    set_current_caller,
)

HEALTH_PREFIX = "/grpc.health.v1.Health/"
REFLECTION_PREFIX = "/grpc.reflection."

# An allowance table: RPC name (e.g. "CreateJob") -> the identities that may call it.
AccessTable = Mapping[str, Iterable[str]]

# A check run before a handler: raises a CadenzaError or returns (after setting current_caller).
Check = Callable[[aio.ServicerContext[Any, Any]], None]


def _open(context: aio.ServicerContext[Any, Any]) -> None:
    set_current_caller(None)


class AccessGuard:
    """The checks of one server, built once per method from its services' tables."""

    def __init__(
        self,
        verifier: TokenVerifier,
        tables: Mapping[str, AccessTable | None],
        public_services: Iterable[str] = (),
        public_authenticator: Callable[[str], object] | None = None,
    ):
        self._verifier = verifier
        self._allowed: dict[str, frozenset[str]] = {
            f"/{service}/{method}": frozenset(callers)
            for service, table in tables.items()
            for method, callers in (table or {}).items()
        }
        self._public = tuple(f"/{service}/" for service in public_services)
        # Reflection on a server with a public service also accepts that service's end-user token,
        # so `grpcurl -H "authorization: Bearer <user token>"` can describe the public API.
        self._public_authenticator = public_authenticator

    def check_for(self, method: str) -> Check | None:
        """The check for calls to `method`; None lets them through unchecked (public services)."""
        if method.startswith(HEALTH_PREFIX):
            return _open
        if method.startswith(self._public):
            return None
        if method.startswith(REFLECTION_PREFIX):
            return self._reflection_check()
        allowed = self._allowed.get(method, frozenset())

        def check(context: aio.ServicerContext[Any, Any]) -> None:
            caller = self._authenticate(context)
            if caller.identity != OPERATOR and caller.identity not in allowed:
                raise PermissionDenied(
                    f"{caller.principal} may not call {method.lstrip('/')}"
                    f" (allowed: {', '.join(sorted(map(principal_name, allowed | {OPERATOR})))})",
                    metadata={"caller": caller.principal, "method": method.lstrip("/")},
                )
            set_current_caller(caller)

        return check

    def _reflection_check(self) -> Check:
        def check(context: aio.ServicerContext[Any, Any]) -> None:
            try:
                set_current_caller(self._authenticate(context))
            except Unauthenticated:
                token = bearer_of(dict(context.invocation_metadata() or ()))
                if self._public_authenticator is None or not token:
                    raise
                self._public_authenticator(token)  # raises its own Unauthenticated when invalid

        return check

    def _authenticate(self, context: aio.ServicerContext[Any, Any]) -> Caller:
        metadata = dict(context.invocation_metadata() or ())
        token = bearer_of(metadata)
        if not token:
            raise Unauthenticated(
                f"{self._verifier.audience} is an internal service: send "
                "'authorization: Bearer <service token>' (operators: `cadenza token --operator`)",
                reason="SERVICE_TOKEN_MISSING",
            )
        identity = self._verifier.verify(token)
        return Caller(identity, acting_user_of(metadata, identity))
