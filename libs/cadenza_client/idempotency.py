"""Which calls are safe to repeat: what each RPC declares in the protos (`option idempotency_level`
= NO_SIDE_EFFECTS or IDEMPOTENT), never a guess from its name.

The one rule behind every automatic retry: this SDK's, and the gRPC service config of the suite's
own channels (cadenza_runtime.client). It lives in the SDK because the SDK ships without the server
libraries.
"""

from __future__ import annotations

from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.descriptor_pb2 import MethodOptions

_REPEATABLE = frozenset({MethodOptions.NO_SIDE_EFFECTS, MethodOptions.IDEMPOTENT})


def is_idempotent(method: MethodDescriptor) -> bool:
    """True when the proto declares the method free of side effects or idempotent."""
    return method.GetOptions().idempotency_level in _REPEATABLE
