"""Who may call which inference RPC (cadenza_runtime.access; `operator` may call every one).

The orchestrator generates, embeds search prompts, validates against the served models and asks
for free capacity. Encode and LoadModel (which swaps the model every user is served) are the
operator's alone.
"""

from __future__ import annotations

from cadenza_runtime.access import AccessTable

ORCHESTRATOR = frozenset({"orchestrator"})

ACCESS: AccessTable = {
    "Generate": ORCHESTRATOR,
    "EmbedText": ORCHESTRATOR,
    "ListModels": ORCHESTRATOR,
    "GetCapacity": ORCHESTRATOR,
}
