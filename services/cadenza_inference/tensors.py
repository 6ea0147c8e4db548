"""cadenza.common.v1.Tensor <-> torch: checked shape, dtype and byte count, little-endian data."""

from __future__ import annotations

import math
import sys

import torch

from cadenza.common.v1 import types_pb2
from cadenza_inference.model import float32_to_bytes

# Raw tensor bytes are little-endian on the wire; torch.frombuffer reads host order.
if sys.byteorder != "little":
    raise ImportError("the tensor wire format (little-endian) needs a little-endian host")

_DTYPES: dict[types_pb2.DType.ValueType, torch.dtype] = {
    types_pb2.D_TYPE_FLOAT32: torch.float32,
    types_pb2.D_TYPE_FLOAT16: torch.float16,
    types_pb2.D_TYPE_BFLOAT16: torch.bfloat16,
}
MAX_DIMS = 3


class TensorFormatError(ValueError):
    """The message does not describe a well-formed tensor."""


def from_proto(message: types_pb2.Tensor, max_elements: int) -> torch.Tensor:
    """The tensor a message carries (a copy, in its own dtype); TensorFormatError says what is wrong."""
    dtype = _DTYPES.get(message.dtype)
    if dtype is None:  # also catches values this build does not know
        names = ", ".join(types_pb2.DType.Name(value) for value in _DTYPES)
        raise TensorFormatError(f"dtype must be one of {names}, got {int(message.dtype)}")
    shape = list(message.shape)
    if not 1 <= len(shape) <= MAX_DIMS or any(size <= 0 for size in shape):
        raise TensorFormatError(f"shape must have 1..{MAX_DIMS} positive sizes, got {shape}")
    elements = math.prod(shape)
    if elements > max_elements:
        raise TensorFormatError(f"shape {shape} has {elements} elements, at most {max_elements} are allowed")
    expected = elements * dtype.itemsize
    if len(message.data) != expected:
        raise TensorFormatError(
            f"data has {len(message.data)} bytes but shape {shape} of {types_pb2.DType.Name(message.dtype)} "
            f"needs {expected}"
        )
    return torch.frombuffer(bytearray(message.data), dtype=dtype).reshape(shape)


def float32_proto(tensor: torch.Tensor) -> types_pb2.Tensor:
    return types_pb2.Tensor(
        shape=list(tensor.shape), dtype=types_pb2.D_TYPE_FLOAT32, data=float32_to_bytes(tensor)
    )
