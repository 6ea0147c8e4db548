"""Who may call which blob RPC (cadenza_runtime.access; `operator` may call every one).

The orchestrator stores and removes job results, reads them back for relays, sweeps orphans and
presigns GET URLs of audio; a presigned PUT is the operator's alone (checked in the servicer,
since the method is the same). Checkpoints are uploaded by `cadenza register-model` as operator.
"""

from __future__ import annotations

from cadenza_runtime.access import AccessTable

ORCHESTRATOR = frozenset({"orchestrator"})

ACCESS: AccessTable = {
    "UploadObject": ORCHESTRATOR,
    "DownloadObject": ORCHESTRATOR,
    "StatObject": ORCHESTRATOR,
    "DeleteObject": ORCHESTRATOR,
    "ListObjects": ORCHESTRATOR,
    "CreatePresignedUrl": ORCHESTRATOR,
}
