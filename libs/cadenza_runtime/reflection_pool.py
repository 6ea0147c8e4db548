"""Descriptor pool view for server reflection that also resolves method symbols.

The upb protobuf backend's `FindFileContainingSymbol` does not know "pkg.Service.Method", so
`grpcurl describe pkg.Service.Method` would fail with "Symbol not found"; this view falls back to
the method's service file.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import FileDescriptor


class MethodAwarePool:
    def __init__(self, pool: descriptor_pool.DescriptorPool | None = None):
        self._pool = pool or descriptor_pool.Default()

    def FindFileContainingSymbol(self, symbol: str) -> FileDescriptor:
        try:
            return self._pool.FindFileContainingSymbol(symbol)
        except KeyError:
            method = self._pool.FindMethodByName(symbol)
            return method.containing_service.file

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)
