"""The protos' comments state the limits of cadenza_runtime.rules: a constant changed there, or a
comment edited by hand, fails here until the two say the same again."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cadenza_runtime.rules import limits, tags
from cadenza_runtime.rules.limits import MAX_MODEL_VERSION_CHARS, MAX_USER_ID_CHARS

PROTOS = Path(__file__).resolve().parents[2] / "protos" / "cadenza"
_BLOCK = re.compile(r"^\s*(message|enum|oneof|service)\s+(\w+)\s*\{")
_FIELD = re.compile(r"^\s*(?:optional\s+|repeated\s+)?(?:map<[^>]+>|[\w.]+)\s+(\w+)\s*=\s*\d+")


def field_comments(path: Path) -> dict[str, str]:
    """ "Message.field" -> the comment lines right above the field, joined by spaces."""
    comments: dict[str, str] = {}
    stack: list[tuple[str, str]] = []
    pending: list[str] = []
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("//"):
            pending.append(stripped.removeprefix("//").strip())
            continue
        block = _BLOCK.match(line)
        field = _FIELD.match(line)
        if block:
            stack.append((block.group(1), block.group(2)))
        elif field and stack:
            message = ".".join(name for kind, name in stack if kind == "message")
            comments[f"{message}.{field.group(1)}"] = " ".join(pending)
        elif stripped.startswith("}") and stack:
            stack.pop()
        pending = []
    return comments


def _kib(size: int) -> str:
    return f"{size // 1024} KiB" if size < 1024 * 1024 else f"{size // (1024 * 1024)} MiB"


REQUEST_ID = f"1..{limits.MAX_REQUEST_ID_CHARS} printable ASCII characters without spaces"
PAGE = f"1..{limits.MAX_PAGE_SIZE} (larger is clamped); 0 means {limits.DEFAULT_PAGE_SIZE}"
TAG_RULE = f"1..{tags.MAX_TAG_CHARS} characters"
GRAPH_LIMIT = f"1..{limits.MAX_GRAPH_LIMIT}; 0 means {limits.DEFAULT_GRAPH_LIMIT}"
LINEAGE_DEPTH = f"1..{limits.MAX_LINEAGE_DEPTH}; 0 means {limits.DEFAULT_LINEAGE_DEPTH}"
RESOLUTION = f"(0, {limits.MAX_RESOLUTION:g}]"
SAMPLE = f"1..{limits.MAX_SAMPLE_SIZE}"
UUID_TRACK = '"tracks/{track}" where track is a UUID'

# (file, "Message.field") -> what its comment must say, built from the constants.
STATED: dict[tuple[str, str], list[str]] = {
    ("common/v1/types.proto", "GenerationParams.prompt"): [f"1..{limits.MAX_PROMPT_CHARS} characters"],
    ("common/v1/types.proto", "GenerationParams.tags"): [f"at most {tags.MAX_TAGS}"],
    ("common/v1/types.proto", "GenerationParams.steps"): [f"1..{limits.MAX_STEPS}; 0 means the default"],
    ("common/v1/types.proto", "GenerationParams.guidance_scale"): [
        f"{limits.MIN_GUIDANCE:g}..{limits.MAX_GUIDANCE:g}; 0 means the default"
    ],
    ("common/v1/types.proto", "GenerationParams.seed"): [f"below 2^{limits.PICKED_SEED_BITS}"],
    ("common/v1/types.proto", "Derivation.parent"): [UUID_TRACK],
    ("orchestrator/v1/orchestrator.proto", "SubmitGenerationRequest.request_id"): [REQUEST_ID],
    ("orchestrator/v1/orchestrator.proto", "GenerateRequest.request_id"): [REQUEST_ID],
    ("orchestrator/v1/orchestrator.proto", "CreateVariationRequest.request_id"): [REQUEST_ID],
    ("orchestrator/v1/orchestrator.proto", "ListJobsRequest.page_size"): [PAGE],
    ("orchestrator/v1/orchestrator.proto", "ListTracksRequest.page_size"): [PAGE],
    ("orchestrator/v1/orchestrator.proto", "GetLineageRequest.page_size"): [PAGE],
    ("orchestrator/v1/orchestrator.proto", "GetLineageRequest.max_depth"): [LINEAGE_DEPTH],
    ("orchestrator/v1/orchestrator.proto", "SearchSimilarTracksRequest.top_k"): [
        f"1..{limits.MAX_TOP_K}; 0 means {limits.DEFAULT_TOP_K}"
    ],
    ("orchestrator/v1/orchestrator.proto", "SearchSimilarTracksRequest.tags_any"): [
        f"{TAG_RULE}; at most {tags.MAX_TAGS}"
    ],
    ("orchestrator/v1/orchestrator.proto", "CommunityFilter.resolution"): [RESOLUTION],
    ("orchestrator/v1/orchestrator.proto", "ListCommunitiesRequest.resolution"): [RESOLUTION],
    ("orchestrator/v1/orchestrator.proto", "ListCentralTracksRequest.limit"): [GRAPH_LIMIT],
    ("orchestrator/v1/orchestrator.proto", "ListCentralTracksRequest.sample_size"): [SAMPLE],
    ("graph/v1/graph.proto", "TrackNode.track"): [UUID_TRACK],
    ("graph/v1/graph.proto", "TrackNode.user"): [f"1..{MAX_USER_ID_CHARS} letters, digits and . _ @ : + ~ -"],
    ("graph/v1/graph.proto", "TrackNode.tags"): [f"At most {tags.MAX_TAGS} tags of 1..{tags.MAX_TAG_CHARS}"],
    ("graph/v1/graph.proto", "TrackNode.model_version"): [f"1..{MAX_MODEL_VERSION_CHARS}"],
    ("graph/v1/graph.proto", "ListAncestorsRequest.max_depth"): [LINEAGE_DEPTH],
    ("graph/v1/graph.proto", "ListDescendantsRequest.max_depth"): [LINEAGE_DEPTH],
    ("graph/v1/graph.proto", "ListRelatedTracksRequest.limit"): [GRAPH_LIMIT],
    ("graph/v1/graph.proto", "FindShortestPathRequest.max_depth"): [
        f"1..{limits.MAX_LINEAGE_DEPTH}; 0 means {limits.DEFAULT_PATH_DEPTH}"
    ],
    ("graph/v1/graph.proto", "ListCentralTracksRequest.limit"): [GRAPH_LIMIT],
    ("graph/v1/graph.proto", "ListCentralTagsRequest.users"): [f"at most {limits.MAX_ANALYSIS_USERS}"],
    ("graph/v1/graph.proto", "ListCentralTagsRequest.sample_size"): [SAMPLE],
    ("graph/v1/graph.proto", "ListCommunitiesRequest.users"): [f"at most {limits.MAX_ANALYSIS_USERS}"],
    ("graph/v1/graph.proto", "ListCommunitiesRequest.resolution"): [RESOLUTION],
    ("graph/v1/graph.proto", "ListCommunitiesRequest.limit"): [GRAPH_LIMIT],
    ("graph/v1/graph.proto", "ListCommunitiesRequest.members"): [f"at most {limits.MAX_MEMBERS}"],
    ("vector/v1/vector.proto", "Embedding.track"): [UUID_TRACK],
    ("vector/v1/vector.proto", "SearchFilter.tags_any"): [TAG_RULE],
    ("vector/v1/vector.proto", "SearchEmbeddingsRequest.top_k"): [f"1..{limits.MAX_VECTOR_TOP_K}"],
    ("blob/v1/blob.proto", "UploadHeader.key"): [f"1..{limits.MAX_KEY_CHARS} characters"],
    ("blob/v1/blob.proto", "DownloadObjectRequest.chunk_size"): [
        f"{_kib(limits.MIN_CHUNK_BYTES)} .. {_kib(limits.MAX_CHUNK_BYTES)}; "
        f"0 means {_kib(limits.DEFAULT_CHUNK_BYTES)}"
    ],
    ("blob/v1/blob.proto", "ListObjectsRequest.page_size"): [
        f"1..{limits.MAX_PAGE_SIZE}; 0 means {limits.DEFAULT_OBJECT_PAGE_SIZE}"
    ],
    ("blob/v1/blob.proto", "CreatePresignedUrlRequest.expiry"): [
        f"{limits.MIN_PRESIGN_EXPIRY.seconds} s .. {limits.MAX_PRESIGN_EXPIRY.days} days; "
        f"unset means {limits.DEFAULT_PRESIGN_EXPIRY.seconds // 60} minutes"
    ],
}


@pytest.mark.parametrize(("path", "field"), sorted(STATED), ids=[f"{p}:{f}" for p, f in sorted(STATED)])
def test_the_proto_comment_states_the_rule_s_value(path: str, field: str) -> None:
    comments = field_comments(PROTOS / path)
    assert field in comments, f"{path} has no field {field}"
    for phrase in STATED[(path, field)]:
        assert phrase in comments[field], f"{path} {field}: comment {comments[field]!r} should say {phrase!r}"
