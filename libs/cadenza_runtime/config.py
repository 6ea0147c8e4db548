"""Typed configuration for the whole suite.

Sources, later ones winning: built-in defaults, the profile's defaults (dev / stage / prod),
a YAML file named by ``CADENZA_CONFIG``, then environment variables ``CADENZA_<SECTION>__<FIELD>``
(for example ``CADENZA_POSTGRES__PORT=6543``). Every address, DSN, credential and directory of the
suite comes from here, so pointing a store at an external instance is configuration only.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class Profile(StrEnum):
    DEV = "dev"
    STAGE = "stage"
    PROD = "prod"


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "cadenza"


class PostgresConfig(BaseModel):
    host: str = "127.0.0.1"
    port: int = 55432
    database: str = "cadenza"
    # The owner role runs migrations; the service role can only read and write the tables.
    owner_user: str = "cadenza_owner"
    owner_password: SecretStr = SecretStr("cadenza-owner-dev")
    service_user: str = "cadenza_app"
    service_password: SecretStr = SecretStr("cadenza-app-dev")
    # Optional DSN of a read replica for list/get queries.
    read_replica_dsn: str | None = None
    # Superuser of a locally launched cluster (peer auth over the unix socket is not used).
    superuser: str = "postgres"
    superuser_password: SecretStr = SecretStr("cadenza-super-dev")
    pool_min_size: int = 1
    pool_max_size: int = 10
    # TLS to the server, as libpq's sslmode: "disable" (plaintext), "require" (encrypted, server not
    # verified), "verify-ca" (certificate signed by ssl_ca_file), "verify-full" (and its name matches
    # host). A read_replica_dsn's own sslmode wins for the replica.
    ssl_mode: Literal["disable", "require", "verify-ca", "verify-full"] = "disable"
    ssl_ca_file: Path | None = None
    # WAL archive of a locally launched cluster (point-in-time restore, see `cadenza restore --at`);
    # null: <state_dir>/postgres-wal-archive. Put it on other storage than the data directory.
    wal_archive_dir: Path | None = None
    # A WAL segment with changes is archived at the latest after this many seconds (the restore
    # point lag); 0 archives only full 16 MB segments. A forced switch archives a whole segment.
    archive_timeout_seconds: int = Field(default=300, ge=0)

    def dsn(
        self, role: Literal["owner", "service", "superuser"] = "service", database: str | None = None
    ) -> str:
        user, password = {
            "owner": (self.owner_user, self.owner_password),
            "service": (self.service_user, self.service_password),
            "superuser": (self.superuser, self.superuser_password),
        }[role]
        db = database or self.database
        return f"postgresql://{user}:{password.get_secret_value()}@{self.host}:{self.port}/{db}"


class RedisConfig(BaseModel):
    host: str = "127.0.0.1"
    port: int = 56379
    db: int = 0
    # `cadenza up` starts Redis with requirepass set to this; every client authenticates with it.
    # Empty (CADENZA_REDIS__PASSWORD=) means no password, which only the dev profile accepts.
    password: SecretStr | None = SecretStr("cadenza-redis-dev")
    # Every Redis call of a service fails after this long instead of hanging on a stuck server.
    socket_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    connect_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    # TLS (Redis 6+ tls-port): the server certificate is verified against ssl_ca_file (the system
    # store when unset) and, with ssl_check_hostname, its name against host.
    ssl: bool = False
    ssl_ca_file: Path | None = None
    ssl_check_hostname: bool = True

    @property
    def password_value(self) -> str | None:
        """The password to send, None when there is none."""
        value = self.password.get_secret_value() if self.password is not None else ""
        return value or None

    @property
    def url(self) -> str:
        password = self.password_value
        auth = f":{password}@" if password else ""
        scheme = "rediss" if self.ssl else "redis"
        return f"{scheme}://{auth}{self.host}:{self.port}/{self.db}"


class MinioConfig(BaseModel):
    host: str = "127.0.0.1"
    port: int = 59000
    console_port: int = 59001
    access_key: str = "cadenza"
    secret_key: SecretStr = SecretStr("cadenza-minio-dev")
    # HTTPS to MinIO; its certificate is verified against ca_file (the system store when unset).
    secure: bool = False
    ca_file: Path | None = None
    region: str = "us-east-1"
    audio_bucket: str = "audio"
    latent_bucket: str = "latents"
    checkpoint_bucket: str = "checkpoints"

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def buckets(self) -> list[str]:
        return [self.audio_bucket, self.latent_bucket, self.checkpoint_bucket]


class MilvusConfig(BaseModel):
    # "lite": `cadenza up` runs `milvus-lite server`; "server": a Milvus 2.x standalone server that
    # `cadenza up` starts from the `milvus` PyPI package; "external": already running at `uri`.
    mode: Literal["lite", "server", "external"] = "lite"
    host: str = "127.0.0.1"
    port: int = 59530
    token: SecretStr | None = None
    # TLS to a Milvus server (common.security.tlsMode 1): its certificate is verified against
    # ca_file, and its name against server_name (host when empty).
    secure: bool = False
    ca_file: Path | None = None
    server_name: str = ""
    # Server side, mode "server" only (milvus-lite serves plaintext only): with both set (PEM) the
    # Milvus that `cadenza up` starts serves one-way TLS (tlsMode 1). Set secure (and ca_file) for
    # the clients.
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    db_name: str = "default"
    latent_collection: str = "latent_embeddings"
    prompt_collection: str = "prompt_embeddings"
    # Embedding sizes the inference model declares (its latent pooling and prompt encoder widths);
    # the vector service refuses to start against collections of another dimension.
    latent_embedding_dim: int = Field(default=128, ge=1, le=32768)
    prompt_embedding_dim: int = Field(default=128, ge=1, le=32768)
    hnsw_m: int = 16
    hnsw_ef_construction: int = 200
    search_ef: int = 64

    @property
    def uri(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.host}:{self.port}"


class Neo4jConfig(BaseModel):
    host: str = "127.0.0.1"
    bolt_port: int = 57687
    user: str = "neo4j"
    password: SecretStr = SecretStr("cadenza-neo4j-dev")
    database: str = "neo4j"
    heap: str = "768m"
    # Bolt over TLS (server.bolt.tls_level REQUIRED); the certificate is verified against ca_file
    # (the system store when unset).
    encrypted: bool = False
    ca_file: Path | None = None
    # Server side, for the Neo4j that `cadenza up` starts: with both set (PEM; the key PKCS#8,
    # unencrypted) its Bolt port serves TLS only. Set encrypted (and ca_file) for the clients.
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

    @property
    def uri(self) -> str:
        return f"bolt://{self.host}:{self.bolt_port}"


class TlsConfig(BaseModel):
    """TLS between services when enabled; mTLS when a client CA is given to servers."""

    enabled: bool = False
    cert_file: Path | None = None
    key_file: Path | None = None
    ca_file: Path | None = None
    # Servers require client certificates signed by ca_file.
    require_client_auth: bool = False


class BackupConfig(BaseModel):
    """Where `cadenza backup --to s3://bucket/prefix` writes (any S3 endpoint, not the suite's MinIO
    unless named here): endpoint host:port and credentials."""

    s3_endpoint: str = ""
    s3_access_key: str = ""
    s3_secret_key: SecretStr = SecretStr("")
    s3_secure: bool = True
    s3_region: str = "us-east-1"


# Addresses that mean "every interface" to bind() and nothing at all to connect().
_WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", "[::]", "*", ""})


class ServiceEndpoint(BaseModel):
    """Where a service listens and where the others reach it.

    `host` is the address the others dial (loopback locally; the Kubernetes Service name on a
    cluster) and `bind_host` the one the server listens on (`host` when unset; 0.0.0.0 in a pod).
    A wildcard is only ever a bind address: as `host` it is refused, since dialling it reaches the
    caller itself, not the service.
    """

    host: str = "127.0.0.1"
    port: int
    bind_host: str | None = None
    # A plaintext port serving only grpc.health.v1, for probes that cannot speak TLS (kubelet's gRPC
    # probes); None: health is on the main port only.
    health_port: int | None = None
    # The Prometheus /metrics port; None: port + 1000; 0: no metrics endpoint.
    metrics_port: int | None = None
    # "round_robin": dial dns:///host:port and spread calls over every address the name resolves
    # to (a headless Service's pod IPs, re-resolved when a connection drops); "pick_first": one
    # connection to the first address.
    load_balancing: Literal["pick_first", "round_robin"] = "pick_first"

    @field_validator("host")
    @classmethod
    def _dialable(cls, value: str) -> str:
        if value.strip() in _WILDCARD_HOSTS:
            raise ValueError(
                f"host {value!r} is the address other services dial and cannot be a wildcard; "
                "set host to the service's name or address and bind_host to the interface to listen on"
            )
        return value

    @property
    def address(self) -> str:
        """host:port, the address to dial."""
        return f"{self.host}:{self.port}"

    @property
    def target(self) -> str:
        """The gRPC target to dial: dns:///host:port under round_robin, else host:port."""
        return f"dns:///{self.address}" if self.load_balancing == "round_robin" else self.address

    def bind_address(self, port: int | None = None) -> str:
        """bind_host (or host):port, the address to listen on."""
        return f"{self.bind_host or self.host}:{self.port if port is None else port}"

    @property
    def metrics_listen_port(self) -> int:
        """The /metrics port; 0 when disabled."""
        return self.port + 1000 if self.metrics_port is None else self.metrics_port


class ServicesConfig(BaseModel):
    orchestrator: ServiceEndpoint = ServiceEndpoint(port=50050)
    metadata: ServiceEndpoint = ServiceEndpoint(port=50051)
    inference: ServiceEndpoint = ServiceEndpoint(port=50052)
    vector: ServiceEndpoint = ServiceEndpoint(port=50053)
    graph: ServiceEndpoint = ServiceEndpoint(port=50054)
    blob: ServiceEndpoint = ServiceEndpoint(port=50055)

    def endpoint(self, service: str) -> ServiceEndpoint:
        endpoint = getattr(self, service, None)
        if not isinstance(endpoint, ServiceEndpoint):
            raise KeyError(f"unknown service {service!r}")
        return endpoint


class TelemetryConfig(BaseModel):
    # "none", "console" (spans to stderr), "otlp" (OTLP/gRPC to otlp_endpoint: an OpenTelemetry
    # Collector, Jaeger, Tempo...) or "memory" (recorded, exported only to the span processors a
    # test adds to the provider).
    exporter: Literal["none", "console", "otlp", "memory"] = "none"
    # http://host:port sends plaintext; https://host:port uses TLS, verified against otlp_ca_file
    # (the system store when unset).
    otlp_endpoint: str = "http://127.0.0.1:4317"
    otlp_ca_file: Path | None = None
    # Prometheus metrics of every service on its metrics port (see ServiceEndpoint.metrics_port).
    metrics: bool = True
    log_level: str = "INFO"
    # JSON lines when true, readable text otherwise.
    json_logs: bool = True


# Algorithms the edge accepts: HMAC with the local signer's shared secret, or the public-key
# families an external OAuth2/OIDC issuer signs with. "none" and anything else are refused.
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
PUBLIC_KEY_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class AuthConfig(BaseModel):
    # Signs page tokens so they are tamper-evident (see cadenza_runtime.pagination).
    page_token_secret: SecretStr = SecretStr("cadenza-dev-page-token-secret")
    # The local signer (dev): HS* with this shared secret.
    jwt_secret: SecretStr = SecretStr("cadenza-dev-jwt-secret-change-me-in-prod")
    # HS256/384/512 for the local signer; RS*, PS*, ES* or EdDSA for an external issuer.
    jwt_algorithm: str = "HS256"
    jwt_issuer: str = "cadenza"
    jwt_audience: str = "cadenza"
    # An external OAuth2/OIDC issuer's signing keys, as a JWKS document in a file or at a URL
    # (its `jwks_uri`). Setting either switches the edge from the local signer to that issuer.
    jwks_file: Path | None = None
    jwks_url: str | None = None
    # Keys are cached this long; a token with an unknown `kid` reloads them (at most once per
    # jwks_min_refresh_seconds, so random kids cannot hammer the issuer).
    jwks_cache_seconds: float = Field(default=300.0, gt=0)
    jwks_min_refresh_seconds: float = Field(default=10.0, ge=0)
    # Tokens whose exp - iat is longer are refused, however validly signed.
    max_token_lifetime_seconds: float = Field(default=24 * 3600.0, gt=0)
    # Tolerated clock difference with the issuer on exp, iat and nbf.
    clock_skew_seconds: float = Field(default=30.0, ge=0, le=300)
    # How long the edge caches a user's roles read from the metadata service (a revoked role
    # stops working after at most this long).
    roles_cache_seconds: float = Field(default=5.0, ge=0, le=300)

    @property
    def external_issuer(self) -> bool:
        return self.jwks_file is not None or bool(self.jwks_url)

    @model_validator(mode="after")
    def _algorithm_fits_the_keys(self) -> AuthConfig:
        algorithm = self.jwt_algorithm
        if algorithm not in HMAC_ALGORITHMS | PUBLIC_KEY_ALGORITHMS:
            raise ValueError(
                f"auth.jwt_algorithm {algorithm!r} is not accepted: use one of "
                f"{', '.join(sorted(HMAC_ALGORITHMS | PUBLIC_KEY_ALGORITHMS))} ('none' never is)"
            )
        if self.jwks_file is not None and self.jwks_url:
            raise ValueError("set one of auth.jwks_file and auth.jwks_url, not both")
        if self.external_issuer and algorithm in HMAC_ALGORITHMS:
            raise ValueError(
                f"auth.jwt_algorithm {algorithm} is a shared-secret algorithm; an external issuer "
                "(auth.jwks_file / auth.jwks_url) signs with a public-key one such as RS256 or ES256"
            )
        if not self.external_issuer and algorithm not in HMAC_ALGORITHMS:
            raise ValueError(
                f"auth.jwt_algorithm {algorithm} needs the issuer's public keys: set auth.jwks_file or "
                "auth.jwks_url (the local signer uses HS256)"
            )
        return self


class IdentityConfig(BaseModel):
    """Who this process is on internal calls, and how it checks who calls it (cadenza_runtime.identity).

    A service started with `python -m cadenza_<name>` is always the identity <name>; `name` names the
    identity of other processes (tools run as "operator"; empty: anonymous, refused by every service).
    """

    name: str = ""
    # This process's Ed25519 private key (PEM) and the JWKS of every identity's public key. dev
    # defaults to <state dir>/identity/{<name>.key, trust.jwks}, generated on first use; stage and
    # prod must set both.
    key_file: Path | None = None
    trust_bundle: Path | None = None
    token_ttl_seconds: float = Field(default=300.0, ge=10, le=3600)
    # Clock skew tolerated between services, and the longest-lived token a service accepts.
    leeway_seconds: float = Field(default=30.0, ge=0, le=300)
    max_token_lifetime_seconds: float = Field(default=3600.0, ge=10, le=86400)
    # Server reflection (grpcurl list/describe) for authenticated callers; off by default in prod.
    reflection: bool = True

    @field_validator("key_file", "trust_bundle", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


# The trained model committed in deploy/models/ (see its model card there): the inference default.
BUNDLED_CHECKPOINT_NAME = "cadenza-tiny-1.ckpt"
BUNDLED_CHECKPOINT_SHA256 = "2dc0de8f7fb0cfcacdaf85b505ba1786c32b015a8936dc91119a073a0b658388"


def bundled_checkpoint() -> Path | None:
    """deploy/models/cadenza-tiny-1.ckpt of the checkout this package runs from (CADENZA_REPO_ROOT
    overrides the checkout); None when absent, e.g. in an installed wheel."""
    root = os.environ.get("CADENZA_REPO_ROOT") or Path(__file__).resolve().parents[2]
    path = Path(root) / "deploy" / "models" / BUNDLED_CHECKPOINT_NAME
    return path if path.is_file() else None


class InferenceConfig(BaseModel):
    # "auto" picks CUDA when present.
    device: str = "auto"
    # "float32", "bfloat16" or "float16" (reduced precision on CUDA only).
    precision: str = "float32"
    # true: every request's denoiser forward runs on its own, so its result is bit-identical whatever
    # its batch mates, on any device. false: batch mates share one forward (faster); BLAS and cuBLAS
    # pick kernels by matrix size and thread count, so results can then differ from a solo run at
    # float-rounding size (1e-6 relative), on a many-core CPU as on CUDA.
    batch_invariant: bool = False
    # Defaults to the bundled cadenza-tiny-1 checkpoint; null (or an empty env value) serves a
    # labelled untrained model. The bundled checkpoint's checksum is filled in when checkpoint_path
    # names it; any other checkpoint needs its own checkpoint_sha256.
    checkpoint_path: Path | None = Field(default_factory=bundled_checkpoint)
    checkpoint_sha256: str | None = None
    # Directories LoadModel may read a checkpoint from by path (header.path), symlinks and ".."
    # resolved first; checkpoint_path above is not subject to it. null: the bundled checkpoint's
    # directory and <state_dir>/models; [] reads no paths (streamed checkpoints only).
    model_dirs: list[Path] | None = None
    queue_capacity: int = 16
    max_batch_size: int = 8
    # How long the batcher waits for compatible requests before starting a batch.
    batch_window_ms: int = 20
    # Finished rows of a batch decoded at once, each alone (so its bytes never depend on how many):
    # one CPU decode leaves cores idle, two keep a 2-core machine busy.
    render_workers: int = Field(default=2, ge=1)

    @field_validator("checkpoint_path", "checkpoint_sha256", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        # `CADENZA_INFERENCE__CHECKPOINT_PATH=` would otherwise become Path("."), a directory.
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _bundled_checksum(self) -> InferenceConfig:
        bundled = bundled_checkpoint()
        if self.checkpoint_sha256 is None and self.checkpoint_path is not None and bundled is not None:
            if self.checkpoint_path.resolve() == bundled.resolve():
                self.checkpoint_sha256 = BUNDLED_CHECKPOINT_SHA256
        return self

    def model_directories(self, state_dir: Path) -> list[Path]:
        """model_dirs, or its default under this state directory."""
        if self.model_dirs is not None:
            return list(self.model_dirs)
        bundled = bundled_checkpoint()
        return [*([bundled.parent] if bundled is not None else []), state_dir / "models"]


class MetadataConfig(BaseModel):
    """The metadata service's own housekeeping."""

    # Acknowledged outbox rows are deleted once acknowledged longer ago than this; unacknowledged
    # rows are kept however old they are.
    outbox_retention_seconds: float = Field(default=7 * 24 * 3600, gt=0)
    # How often the purge runs, and how many rows one purge transaction deletes at most (each
    # batch commits on its own, so no lock is held for long).
    outbox_purge_interval_seconds: float = Field(default=3600, gt=0)
    outbox_purge_batch_size: int = Field(default=1000, ge=1, le=100_000)


class GraphConfig(BaseModel):
    """The graph service's analytics (communities, centrality), run off the request path."""

    # Worker processes computing analytics (each reads and holds its own copy of the graph).
    analytics_workers: int = Field(default=1, ge=1, le=64)
    # Nice value the workers add to their own (0 = none): on a busy machine they take only the CPU
    # that request handling and Neo4j leave. Where Linux groups processes by session (autogroup),
    # each worker starts a session of its own and gives it this nice value too, else the nice value
    # would weigh only against the service itself (see cadenza_graph.analytics.priority).
    analytics_niceness: int = Field(default=19, ge=0, le=19)
    # Analytics waiting for a worker on top of those running; one more is RESOURCE_EXHAUSTED.
    analytics_queue_size: int = Field(default=8, ge=0, le=10_000)
    # Results kept in memory (least recently used go first), keyed by graph version and parameters.
    analytics_cache_entries: int = Field(default=64, ge=1, le=100_000)
    # Betweenness over more nodes than this is sampled unless the caller asks for a sample size...
    betweenness_exact_nodes: int = Field(default=2000, ge=1)
    # ...from this many source nodes.
    betweenness_samples: int = Field(default=256, ge=1)


class OrchestratorConfig(BaseModel):
    """Admission limits, the worker loop, the saga's retry budget and the reconciler."""

    # Per-user submissions per sliding window (metadata CheckRateLimit).
    submit_rate_limit: int = Field(default=30, ge=1)
    submit_rate_window_seconds: float = Field(default=60.0, gt=0)
    # PENDING + RUNNING jobs one user may hold at once.
    max_active_jobs_per_user: int = Field(default=8, ge=1)
    # Jobs one replica diffuses at once; also bounded by the inference service's free capacity.
    worker_concurrency: int = Field(default=4, ge=1)
    # Jobs one replica holds beyond worker_concurrency whose diffusion is done and whose results
    # are being written to the stores (the saga, which waits on store latency, not on the model).
    # With worker_concurrency + saga_concurrency jobs held, claiming waits.
    saga_concurrency: int = Field(default=16, ge=1)
    # Lease on a RUNNING job; the worker renews it every third of this.
    lease_seconds: float = Field(default=30.0, gt=0)
    # Idle claim poll; a submission also wakes every replica's claimer through Redis.
    claim_poll_seconds: float = Field(default=1.0, gt=0)
    # Progress is written to metadata at most every N steps or every this many seconds.
    progress_record_steps: int = Field(default=10, ge=1)
    progress_record_seconds: float = Field(default=1.0, gt=0)
    # The reconciler runs on start and then every interval; the blob orphan sweep every N runs.
    reconcile_interval_seconds: float = Field(default=30.0, gt=0)
    orphan_sweep_every: int = Field(default=10, ge=1)
    # Runs of one job (a dead replica's requeue counts) before it fails for good.
    max_attempts: int = Field(default=3, ge=1)
    # How long one saga step, or the inference stream, keeps retrying a transient error.
    saga_retry_budget_seconds: float = Field(default=30.0, ge=0)
    saga_retry_initial_backoff_seconds: float = Field(default=0.2, gt=0)
    saga_retry_max_backoff_seconds: float = Field(default=3.0, gt=0)
    # How long CancelJob waits for the running worker to confirm.
    cancel_wait_seconds: float = Field(default=10.0, ge=0)
    # Lifetime of the presigned audio URL that GetTrack returns.
    audio_url_ttl_seconds: int = Field(default=3600, ge=1, le=7 * 24 * 3600)
    # Identity of this replica in leases; empty means host:pid:random.
    worker_id: str = ""
    # Open WatchJob/Generate streams one user may hold on one replica, and one replica serves.
    max_streams_per_user: int = Field(default=16, ge=1)
    max_streams_per_replica: int = Field(default=1000, ge=1)
    # Text searches embed the query on the inference service: this many at once per replica, this
    # many more waiting; the rest are refused (RESOURCE_EXHAUSTED) rather than queued without end.
    max_concurrent_text_embeds: int = Field(default=4, ge=1)
    max_queued_text_embeds: int = Field(default=16, ge=0)
    # Metadata lookups one search runs at once (one per hit).
    search_fanout_concurrency: int = Field(default=8, ge=1)


# The one rule for secrets in stage and prod: long, not a placeholder, not the dev default, and
# not guessable from its own characters (Shannon estimate over the value: a random 16+ character
# token passes easily, "passwordpassword" or "aaaa..." do not).
MIN_SECRET_LENGTH = 16
MIN_SECRET_ENTROPY_BITS = 48.0
_PLACEHOLDERS = ("replace-me", "replace_me", "change-me", "changeme", "example", "-dev", "dev-", "default")


def secret_entropy_bits(value: str) -> float:
    """Estimated entropy of the value from its own character frequencies."""
    if not value:
        return 0.0
    counts = Counter(value)
    per_char = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return per_char * len(value)


def weak_secret(secret: SecretStr | None, default: str | None = None) -> str | None:
    """Why this secret must not guard a shared deployment, or None when it may."""
    value = secret.get_secret_value() if secret is not None else ""
    if not value:
        return "not set"
    if default is not None and value == default:
        return "the development default"
    lowered = value.lower()
    if any(marker in lowered for marker in _PLACEHOLDERS):
        return "a placeholder or development value"
    if len(value) < MIN_SECRET_LENGTH:
        return f"shorter than {MIN_SECRET_LENGTH} characters"
    if secret_entropy_bits(value) < MIN_SECRET_ENTROPY_BITS:
        return "too predictable (repeated or few distinct characters)"
    return None


class CadenzaConfig(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CADENZA_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    profile: Profile = Profile.DEV
    state_dir: Path = Field(default_factory=_default_state_dir)
    grace_period_seconds: float = 10.0
    # The event loop a service runs on: the standard library's, or "uvloop" (libuv; the optional
    # `uvloop` extra). grpc.aio's own C core does the network work either way, and on a loaded
    # 2-core machine uvloop served GetJob with more CPU per call, not less (bench_metadata.py).
    event_loop: Literal["asyncio", "uvloop"] = "asyncio"
    postgres: PostgresConfig = PostgresConfig()
    redis: RedisConfig = RedisConfig()
    minio: MinioConfig = MinioConfig()
    milvus: MilvusConfig = MilvusConfig()
    neo4j: Neo4jConfig = Neo4jConfig()
    graph: GraphConfig = GraphConfig()
    services: ServicesConfig = ServicesConfig()
    tls: TlsConfig = TlsConfig()
    telemetry: TelemetryConfig = TelemetryConfig()
    auth: AuthConfig = AuthConfig()
    identity: IdentityConfig = IdentityConfig()
    # A factory: the bundled-checkpoint default is looked up when the config is read, not at import.
    inference: InferenceConfig = Field(default_factory=InferenceConfig)
    metadata: MetadataConfig = MetadataConfig()
    orchestrator: OrchestratorConfig = OrchestratorConfig()
    backup: BackupConfig = BackupConfig()

    @model_validator(mode="after")
    def _shared_profiles_need_strong_secrets(self) -> CadenzaConfig:
        if self.profile is Profile.DEV:
            return self
        weak = [
            f"{name} ({why})"
            for name, secret in self.secrets().items()
            if (why := weak_secret(secret, self.defaults_of(name))) is not None
        ]
        if weak:
            raise ValueError(
                f"profile {self.profile.value} refuses weak or development secrets: {'; '.join(weak)}. "
                f"Set each to a random value of at least {MIN_SECRET_LENGTH} characters "
                "(e.g. `openssl rand -base64 32`)"
            )
        return self

    def secrets(self) -> dict[str, SecretStr | None]:
        """Every secret the suite uses in this configuration, by its dotted config name."""
        found: dict[str, SecretStr | None] = {
            "auth.page_token_secret": self.auth.page_token_secret,
            "postgres.owner_password": self.postgres.owner_password,
            "postgres.service_password": self.postgres.service_password,
            "postgres.superuser_password": self.postgres.superuser_password,
            "redis.password": self.redis.password,
            "minio.secret_key": self.minio.secret_key,
            "neo4j.password": self.neo4j.password,
        }
        if not self.auth.external_issuer:
            found["auth.jwt_secret"] = self.auth.jwt_secret  # unused with an external issuer
        if self.milvus.mode != "lite":
            found["milvus.token"] = self.milvus.token
        return found

    @staticmethod
    def defaults_of(name: str) -> str | None:
        """The built-in (development) value of a secret."""
        section, field = name.split(".")
        model = CadenzaConfig.model_fields[section].default
        if model is None or isinstance(model, type(Field())):
            return None
        value = getattr(model, field, None)
        return value.get_secret_value() if isinstance(value, SecretStr) else None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlFileSource(settings_cls), file_secret_settings)

    def service_dir(self, component: str) -> Path:
        """Data directory of one component under the state directory."""
        return self.state_dir / component

    def log_file(self, component: str) -> Path:
        return self.state_dir / "logs" / f"{component}.log"

    @property
    def wal_archive_dir(self) -> Path:
        """Where the local PostgreSQL archives its WAL segments."""
        return self.postgres.wal_archive_dir or self.state_dir / "postgres-wal-archive"


_PROFILE_DEFAULTS: dict[Profile, dict[str, Any]] = {
    Profile.DEV: {"telemetry": {"json_logs": False}},
    Profile.STAGE: {"telemetry": {"exporter": "console"}},
    Profile.PROD: {
        "telemetry": {"exporter": "console"},
        "tls": {"enabled": True},
        "identity": {"reflection": False},
    },
}


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class _YamlFileSource(PydanticBaseSettingsSource):
    """Profile defaults overlaid with the YAML file named by CADENZA_CONFIG."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        path = os.environ.get("CADENZA_CONFIG")
        if path:
            file = Path(path)
            if not file.is_file():
                raise FileNotFoundError(f"CADENZA_CONFIG points at {file}, which is not a file")
            loaded = yaml.safe_load(file.read_text()) or {}
            if not isinstance(loaded, dict):
                raise ValueError(f"{file}: the top level must be a mapping")
            data = loaded
        profile = Profile(os.environ.get("CADENZA_PROFILE") or data.get("profile") or Profile.DEV)
        return _deep_merge(_PROFILE_DEFAULTS[profile], data)


@lru_cache(maxsize=1)
def load_config() -> CadenzaConfig:
    """The process-wide configuration, read once."""
    return CadenzaConfig()
