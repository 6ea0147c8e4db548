"""Who may call which graph RPC (cadenza_runtime.access; `operator` may call every one).

The orchestrator's saga records tracks and lineage and compensates them; GetLineage reads
ancestors and descendants; ListCommunities, ListCentralTracks and ListCentralTags serve the edge's
analytics RPCs, community search and GetLineage's communities. The other queries are for operators
until the edge exposes them.
"""

from __future__ import annotations

from cadenza_runtime.access import AccessTable

ORCHESTRATOR = frozenset({"orchestrator"})

ACCESS: AccessTable = {
    "RecordTrack": ORCHESTRATOR,
    "RecordLineage": ORCHESTRATOR,
    "DeleteTrack": ORCHESTRATOR,
    "ListAncestors": ORCHESTRATOR,
    "ListDescendants": ORCHESTRATOR,
    "ListCommunities": ORCHESTRATOR,
    "ListCentralTracks": ORCHESTRATOR,
    "ListCentralTags": ORCHESTRATOR,
}
