"""Redis pub/sub channels shared by more than one service."""

from __future__ import annotations

# metadata publishes a user id here after GrantRole/RevokeRole/UpdateUser changed its roles; each
# orchestrator replica drops its cached roles of that user, so a revocation applies at once.
ROLES_CHANGED = "cadenza:metadata:roles-changed"
