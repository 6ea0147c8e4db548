"""Who may call which metadata RPC (cadenza_runtime.access; `operator` may call every one).

The orchestrator gets what its admission, worker, saga, reconciler and read APIs call; no other
service calls metadata. Users, model versions, styles, audit, archival and the outbox are the
operator's (tools such as `cadenza register-model` run as operator).
"""

from __future__ import annotations

from cadenza_runtime.access import AccessTable

ORCHESTRATOR = frozenset({"orchestrator"})

ACCESS: AccessTable = {
    # Jobs: admission, the worker's claim/lease/transitions, the reconciler, the read APIs.
    "CreateJob": ORCHESTRATOR,
    "GetJob": ORCHESTRATOR,
    "ListJobs": ORCHESTRATOR,
    "TransitionJob": ORCHESTRATOR,
    "ClaimJob": ORCHESTRATOR,
    "RenewJobLease": ORCHESTRATOR,
    # The reconciler fences a stalled worker before it compensates (lease fencing).
    "TakeOverJob": ORCHESTRATOR,
    "AnnotateJob": ORCHESTRATOR,
    # Tracks: the saga writes them, the read APIs and DeleteTrack serve end users.
    "CreateTrack": ORCHESTRATOR,
    "GetTrack": ORCHESTRATOR,
    "ListTracks": ORCHESTRATOR,
    "DeleteTrack": ORCHESTRATOR,
    # A user's roles, for the edge's role checks (roles granted in metadata).
    "GetUser": ORCHESTRATOR,
    # Coordination: admission's rate limit, the reconciler's lock.
    "CheckRateLimit": ORCHESTRATOR,
    "AcquireLock": ORCHESTRATOR,
    "ReleaseLock": ORCHESTRATOR,
    # Operator only (not listed): CreateUser, ListUsers, UpdateUser, GrantRole, RevokeRole,
    # GetModelVersion, ListModelVersions, AppendJobEvent, ListJobEvents,
    # RegisterModelVersion, Get/Put/ListStyleTemplate(s), Get/UpdateUserDefaults, ListAuditEvents,
    # ArchiveRecords, ListOutboxEvents, AckOutboxEvents.
}
