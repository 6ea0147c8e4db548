"""Request validation: every field is checked here before anything reaches Milvus."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from cadenza.common.v1 import types_pb2
from cadenza_runtime.rules import names
from cadenza_runtime.rules import tags as tag_rule
from cadenza_runtime.rules.field import invalid
from cadenza_runtime.rules.limits import MAX_FILTER_VALUES as MAX_FILTER_VALUES
from cadenza_runtime.rules.limits import MAX_UPSERT_BATCH as MAX_UPSERT_BATCH
from cadenza_runtime.rules.limits import MAX_VECTOR_TOP_K as MAX_TOP_K
from cadenza_runtime.rules.text import check_single_line
from cadenza_vector.schema import TEXT_MAX_BYTES

FloatArray = npt.NDArray[np.float32]


def check_kind(kind: int, field: str = "kind") -> types_pb2.EmbeddingKind.ValueType:
    if kind not in (types_pb2.EMBEDDING_KIND_LATENT, types_pb2.EMBEDDING_KIND_PROMPT):
        raise invalid(field, f"{field} must be EMBEDDING_KIND_LATENT or EMBEDDING_KIND_PROMPT, got {kind}")
    return types_pb2.EmbeddingKind.ValueType(kind)


def check_track(name: str, field: str = "track") -> str:
    """The canonical "tracks/{uuid}" (a track's id is the id of the job that produced it)."""
    return names.canonical_track(name, field)


def check_text(value: str, field: str, *, required: bool, max_bytes: int = TEXT_MAX_BYTES) -> str:
    """A literal string attribute: any text without control characters, bounded in UTF-8 bytes."""
    if not value:
        if required:
            raise invalid(field, f"{field} is required")
        return value
    size = len(value.encode())
    if size > max_bytes:
        raise invalid(field, f"{field} is {size} bytes long, at most {max_bytes} are allowed")
    return check_single_line(value, field)


def check_tags(tags: Sequence[str], field: str = "tags") -> list[str]:
    """The suite's one tag rule; its tags fit the schema's VARCHAR bound."""
    # A set would lose the caller's order; duplicates carry no meaning for filters.
    return list(dict.fromkeys(tag_rule.check_tags(tags, field)))


def check_filter_tags(values: Iterable[str], field: str) -> list[str]:
    """Filter tags by the suite's one tag rule: one no stored tag could equal is refused, not searched."""
    checked: list[str] = []
    for i, tag in enumerate(values):
        problem = tag_rule.tag_problem(tag)
        if problem is not None:
            where = f"{field}[{i}]"
            raise invalid(where, f"{where}: tag {tag[:80]!r} {problem}, so no stored tag can match it")
        checked.append(tag)
    if len(checked) > MAX_FILTER_VALUES:
        raise invalid(field, f"{field} has {len(checked)} entries, at most {MAX_FILTER_VALUES}")
    return list(dict.fromkeys(checked))


def check_filter_values(values: Iterable[str], field: str, *, max_bytes: int = TEXT_MAX_BYTES) -> list[str]:
    checked = [
        check_text(value, f"{field}[{i}]", required=True, max_bytes=max_bytes)
        for i, value in enumerate(values)
    ]
    if len(checked) > MAX_FILTER_VALUES:
        raise invalid(field, f"{field} has {len(checked)} entries, at most {MAX_FILTER_VALUES}")
    return list(dict.fromkeys(checked))


def check_vector(values: Sequence[float], dimension: int, field: str) -> FloatArray:
    if not values:
        raise invalid(field, f"{field} is empty; send a {dimension}-dimensional vector")
    if len(values) != dimension:
        raise invalid(
            field,
            f"{field} has {len(values)} dimensions, this collection holds {dimension}",
            metadata={"expected_dimension": str(dimension)},
        )
    vector = np.asarray(values, dtype=np.float32)
    if not np.isfinite(vector).all():
        raise invalid(field, f"{field} contains NaN or infinity")
    # Cosine similarity needs a direction: a zero vector, or one whose squared norm over- or underflows
    # float32, would give NaN or meaningless scores.
    with np.errstate(over="ignore", under="ignore"):
        squared_norm = np.dot(vector, vector)
    if not np.isfinite(squared_norm) or squared_norm <= 0:
        raise invalid(
            field,
            f"{field} has a zero or non-representable norm; cosine similarity needs a non-zero vector "
            f"with values roughly between 1e-18 and 1e18",
        )
    return vector


def check_top_k(top_k: int) -> int:
    if not 1 <= top_k <= MAX_TOP_K:
        raise invalid("top_k", f"top_k must be between 1 and {MAX_TOP_K}, got {top_k}")
    return top_k


def check_create_time(seconds: int, field: str) -> int:
    """0 means now; negative times are refused."""
    if seconds < 0:
        raise invalid(field, f"{field} must be seconds since the epoch, got {seconds}")
    return seconds or int(time.time())
