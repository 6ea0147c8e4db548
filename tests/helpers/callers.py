"""End users of the public edge: a fresh user id with a token, talking to one orchestrator stub."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from cadenza.orchestrator.v1 import orchestrator_pb2_grpc
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.user_tokens import ADMIN_ROLE, USER_ROLE, mint_token


@dataclass
class Caller:
    """A user (or admin) with a token, talking to one orchestrator replica."""

    user_id: str
    token: str
    stub: orchestrator_pb2_grpc.OrchestratorServiceAsyncStub

    @property
    def user(self) -> str:
        return f"users/{self.user_id}"

    @property
    def md(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),)

    def on(self, stub: orchestrator_pb2_grpc.OrchestratorServiceAsyncStub) -> Caller:
        return Caller(self.user_id, self.token, stub)


def new_caller(
    config: CadenzaConfig, stub: orchestrator_pb2_grpc.OrchestratorServiceAsyncStub, admin: bool = False
) -> Caller:
    """A user never seen before (so lists hold only what the test made)."""
    user_id = f"{'admin' if admin else 'user'}-{uuid.uuid4().hex[:12]}"
    roles = [USER_ROLE, ADMIN_ROLE] if admin else [USER_ROLE]
    return Caller(user_id, mint_token(config.auth, user_id, roles), stub)
