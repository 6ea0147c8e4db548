"""Request validation: every field is checked here before anything reaches Milvus."""

from __future__ import annotations

import math
import re
import time
import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from cadenza.common.v1 import types_pb2
from cadenza_runtime import tags as tag_rule
from cadenza_runtime.errors import InvalidArgument
from cadenza_vector.schema import TEXT_MAX_BYTES

MAX_TOP_K = 1000
# Upserts and filter lists are bounded so one request cannot build a huge expression or batch.
MAX_UPSERT_BATCH = 1000
MAX_FILTER_VALUES = 1000

# The id part of "tracks/{track}" (a job id: UUID, ULID or similar).
_TRACK_NAME = re.compile(r"tracks/[A-Za-z0-9][A-Za-z0-9._~-]{0,127}")

FloatArray = npt.NDArray[np.float32]


def check_kind(kind: int, field: str = "kind") -> types_pb2.EmbeddingKind.ValueType:
    if kind not in (types_pb2.EMBEDDING_KIND_LATENT, types_pb2.EMBEDDING_KIND_PROMPT):
        raise InvalidArgument(
            f"{field} must be EMBEDDING_KIND_LATENT or EMBEDDING_KIND_PROMPT, got {kind}",
            metadata={"field": field},
        )
    return types_pb2.EmbeddingKind.ValueType(kind)


def check_track(name: str, field: str = "track") -> str:
    if not _TRACK_NAME.fullmatch(name):
        raise InvalidArgument(
            f"{field} must be a track resource name 'tracks/{{id}}' (id: letters, digits, '.', '_', '~', "
            f"'-', at most 128 characters), got {name[:200]!r}",
            metadata={"field": field},
        )
    return name


def check_text(value: str, field: str, *, required: bool, max_bytes: int = TEXT_MAX_BYTES) -> str:
    """A literal string attribute: any text without control characters, bounded in UTF-8 bytes."""
    if not value:
        if required:
            raise InvalidArgument(f"{field} is required", metadata={"field": field})
        return value
    size = len(value.encode())
    if size > max_bytes:
        raise InvalidArgument(
            f"{field} is {size} bytes long, at most {max_bytes} are allowed", metadata={"field": field}
        )
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise InvalidArgument(f"{field} must not contain control characters", metadata={"field": field})
    return value


def check_tags(tags: Sequence[str], field: str = "tags") -> list[str]:
    """The suite's one tag rule (cadenza_runtime.tags); its tags fit the schema's VARCHAR bound."""
    if len(tags) > tag_rule.MAX_TAGS:
        raise InvalidArgument(
            f"{field} has {len(tags)} entries, at most {tag_rule.MAX_TAGS}", metadata={"field": field}
        )
    for i, tag in enumerate(tags):
        problem = tag_rule.tag_problem(tag)
        if problem is not None:
            where = f"{field}[{i}]"
            raise InvalidArgument(f"{where}: tag {tag[:80]!r} {problem}", metadata={"field": where})
    # A set would lose the caller's order; duplicates carry no meaning for filters.
    return list(dict.fromkeys(tags))


def check_filter_tags(values: Iterable[str], field: str) -> list[str]:
    """Filter tags by the suite's one tag rule: one no stored tag could equal is refused, not searched."""
    checked: list[str] = []
    for i, tag in enumerate(values):
        problem = tag_rule.tag_problem(tag)
        if problem is not None:
            where = f"{field}[{i}]"
            raise InvalidArgument(
                f"{where}: tag {tag[:80]!r} {problem}, so no stored tag can match it",
                metadata={"field": where},
            )
        checked.append(tag)
    if len(checked) > MAX_FILTER_VALUES:
        raise InvalidArgument(
            f"{field} has {len(checked)} entries, at most {MAX_FILTER_VALUES}", metadata={"field": field}
        )
    return list(dict.fromkeys(checked))


def check_filter_values(values: Iterable[str], field: str, *, max_bytes: int = TEXT_MAX_BYTES) -> list[str]:
    checked = [
        check_text(value, f"{field}[{i}]", required=True, max_bytes=max_bytes)
        for i, value in enumerate(values)
    ]
    if len(checked) > MAX_FILTER_VALUES:
        raise InvalidArgument(
            f"{field} has {len(checked)} entries, at most {MAX_FILTER_VALUES}", metadata={"field": field}
        )
    return list(dict.fromkeys(checked))


def check_vector(values: Sequence[float], dimension: int, field: str) -> FloatArray:
    if not values:
        raise InvalidArgument(
            f"{field} is empty; send a {dimension}-dimensional vector", metadata={"field": field}
        )
    if len(values) != dimension:
        raise InvalidArgument(
            f"{field} has {len(values)} dimensions, this collection holds {dimension}",
            metadata={"field": field, "expected_dimension": str(dimension)},
        )
    vector = np.asarray(values, dtype=np.float32)
    # Cosine similarity needs a direction: a zero vector, or one whose squared norm over- or underflows
    # float32, would give NaN or meaningless scores. A NaN or infinite value makes the squared norm
    # non-finite too, so the element-wise check runs only then, to say which problem it is.
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        squared_norm = float(np.dot(vector, vector))
    if not math.isfinite(squared_norm) and not np.isfinite(vector).all():
        raise InvalidArgument(f"{field} contains NaN or infinity", metadata={"field": field})
    if not math.isfinite(squared_norm) or squared_norm <= 0:
        raise InvalidArgument(
            f"{field} has a zero or non-representable norm; cosine similarity needs a non-zero vector "
            f"with values roughly between 1e-18 and 1e18",
            metadata={"field": field},
        )
    return vector


def check_top_k(top_k: int) -> int:
    if not 1 <= top_k <= MAX_TOP_K:
        raise InvalidArgument(
            f"top_k must be between 1 and {MAX_TOP_K}, got {top_k}", metadata={"field": "top_k"}
        )
    return top_k


def check_create_time(seconds: int, field: str) -> int:
    """0 means now; negative times are refused."""
    if seconds < 0:
        raise InvalidArgument(
            f"{field} must be seconds since the epoch, got {seconds}", metadata={"field": field}
        )
    return seconds or int(time.time())
