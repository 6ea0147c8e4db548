"""Who may call which vector RPC (cadenza_runtime.access; `operator` may call every one).

The orchestrator's saga writes and compensates embeddings and its SearchSimilarTracks searches
them; reading one embedding and the collection statistics are for operators.
"""

from __future__ import annotations

from cadenza_runtime.access import AccessTable

ORCHESTRATOR = frozenset({"orchestrator"})

ACCESS: AccessTable = {
    "UpsertEmbeddings": ORCHESTRATOR,
    "SearchEmbeddings": ORCHESTRATOR,
    "DeleteTrackEmbeddings": ORCHESTRATOR,
}
