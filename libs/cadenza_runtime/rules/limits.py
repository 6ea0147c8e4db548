"""Every numeric bound a request is held to, one constant each.

The protos' comments state these values (tests/runtime/test_rules_protos.py compares them); a
service that needs a bound imports it from here rather than writing the number again.
"""

from __future__ import annotations

from datetime import timedelta

# The SDK (which never imports the runtime) sends the same default: it is written there, once.
from cadenza_client.paging import DEFAULT_PAGE_SIZE as DEFAULT_PAGE_SIZE

# --- Generation (cadenza.common.v1.GenerationParams, GenerateRequest, SubmitGenerationRequest)
MAX_PROMPT_CHARS = 1000
MAX_STEPS = 1000
MIN_GUIDANCE, MAX_GUIDANCE = 1.0, 20.0
# The longest audio any request or track may describe; each model's own max_duration_seconds is
# usually lower and is checked against it where the model is known.
MAX_DURATION_SECONDS = 3600.0
# The bound the orchestrator applies while no model's max_duration_seconds is known yet.
FALLBACK_MAX_DURATION_SECONDS = 600.0
# Seeds the server picks are below 2**48: exact as a JavaScript number, positive as a Java long,
# and inside every framework's seed range.
PICKED_SEED_BITS = 48
# An idempotency key (AIP-155): 1..128 printable ASCII characters without spaces.
MAX_REQUEST_ID_CHARS = 128

# --- Audio: the sample rates a track, a model or uploaded audio may have. Every rate a model may
# produce is one the suite stores and encodes again; the small test models run at 800 Hz, and a rate
# below 100 Hz is a mistake (seconds given for hertz, say).
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 100, 384_000

# --- Resource ids
MAX_USER_ID_CHARS = 128
MAX_MODEL_VERSION_CHARS = 63
MAX_STYLE_TEMPLATE_CHARS = 63

# --- Pages of List RPCs (AIP-158): 0 means the default, more than the maximum is clamped.
MAX_PAGE_SIZE = 1000
DEFAULT_OBJECT_PAGE_SIZE = 100  # blob ListObjects

# --- Graph queries
DEFAULT_GRAPH_LIMIT, MAX_GRAPH_LIMIT = 10, 100
DEFAULT_LINEAGE_DEPTH, MAX_LINEAGE_DEPTH = 10, 50
DEFAULT_PATH_DEPTH = 15
# Graph analytics: users a run may be scoped to, members asked about, sampled sources, resolution.
MAX_ANALYSIS_USERS = 100
MAX_MEMBERS = 1000
MAX_SAMPLE_SIZE = 5000
MAX_RESOLUTION = 100.0

# --- Similarity search
DEFAULT_TOP_K, MAX_TOP_K = 10, 100  # the public SearchTracks
MAX_VECTOR_TOP_K = 1000  # the vector service's SearchSimilar
# Upserts and filter lists are bounded so one request cannot build a huge expression or batch.
MAX_UPSERT_BATCH = 1000
MAX_FILTER_VALUES = 1000

# --- Blob objects
MAX_KEY_CHARS = 512
# MinIO keeps every segment of a key as a directory or file name, and file systems cap those.
MAX_KEY_SEGMENT_CHARS = 255
MIN_CHUNK_BYTES, DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES = 64 * 1024, 1024 * 1024, 4 * 1024 * 1024
MIN_PRESIGN_EXPIRY, DEFAULT_PRESIGN_EXPIRY, MAX_PRESIGN_EXPIRY = (
    timedelta(seconds=1),
    timedelta(minutes=15),
    timedelta(days=7),
)
