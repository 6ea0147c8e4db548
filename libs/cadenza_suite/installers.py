"""Installs what the local suite needs and is missing: Debian packages, Go-built binaries,
the Neo4j launcher, the embedded Milvus server package. Each step checks first, so a run on a
complete machine only stats a few files and reads the build info of the exactly pinned binaries.
"""

from __future__ import annotations

import functools
import glob
import logging
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from cadenza_suite.paths import repo_root

log = logging.getLogger("cadenza.suite")

# Pinned builds. MinIO publishes no module versions, hence the pseudo-version of one commit.
MINIO_PACKAGE = "github.com/minio/minio"
MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"
GRPCURL_PACKAGE = "github.com/fullstorydev/grpcurl/cmd/grpcurl"
GRPCURL_VERSION = "v1.9.3"
# protoc plugins for Go code from protos/ (tests/polyglot, README "Polyglot clients"). The code
# they generate must match the runtime that tests/polyglot/go/go.mod pins (protobuf v1.36.12,
# grpc >= 1.64 for protoc-gen-go-grpc 1.6's SupportPackageIsVersion9).
PROTOC_GEN_GO_PACKAGE = "google.golang.org/protobuf/cmd/protoc-gen-go"
PROTOC_GEN_GO_VERSION = "v1.36.12"
PROTOC_GEN_GO_GRPC_PACKAGE = "google.golang.org/grpc/cmd/protoc-gen-go-grpc"
PROTOC_GEN_GO_GRPC_VERSION = "v1.6.2"
# Offline validation of the cluster manifests (tests/runtime/test_k8s_validate.py): kubeconform checks
# them against the Kubernetes OpenAPI JSON schemas the kubernetes-validate PyPI package ships, after
# kustomize renders each overlay. Cold builds on 2 busy cores: ~16 s and ~126 s.
KUBECONFORM_PACKAGE = "github.com/yannh/kubeconform/cmd/kubeconform"
KUBECONFORM_VERSION = "v0.7.0"
KUSTOMIZE_PACKAGE = "sigs.k8s.io/kustomize/kustomize/v5"
KUSTOMIZE_VERSION = "v5.7.1"
# The OTLP trace sink of the observability tests (and of anyone's local traces): the OpenTelemetry
# Collector with only the OTLP receiver and the file exporter, the module in deploy/otelcol
# (~3 minutes cold, against many more for a contrib distribution or Jaeger v2, which embeds one).
OTELCOL_MODULE_DIR = "deploy/otelcol"
OTELCOL_CORE_VERSION = "v0.161.0"
# The `milvus` PyPI package ("embedded Milvus") for milvus.mode=server. 2.3.9 and 2.3.8 exist
# only as macOS arm64 wheels; 2.3.5 is the newest release with a manylinux x86_64 wheel.
MILVUS_SERVER_PACKAGE = "milvus"
MILVUS_SERVER_VERSION = "2.3.5"

# Debian package -> the command (or glob) whose presence means it is installed.
APT_PACKAGES: dict[str, str] = {
    "postgresql": "/usr/lib/postgresql/*/bin/initdb",
    "acl": "setfacl",  # grants the postgres user traversal into a state dir under /root
    "redis-server": "redis-server",
    "openjdk-17-jdk-headless": "javac",  # Neo4j runs on Java 17; the launcher is compiled
    "maven": "mvn",
}
# Which packages each component needs.
COMPONENT_APT: dict[str, tuple[str, ...]] = {
    "postgres": ("postgresql", "acl"),
    "redis": ("redis-server",),
    "neo4j": ("openjdk-17-jdk-headless", "maven"),
}


class InstallError(RuntimeError):
    pass


def _run(argv: list[str], what: str, env: dict[str, str] | None = None, *, quiet: bool = False) -> None:
    log.log(logging.DEBUG if quiet else logging.INFO, "install: %s", what)
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()[-30:]
        raise InstallError(f"{what} failed ({' '.join(argv)}):\n" + "\n".join(output))


# --- Debian packages -------------------------------------------------------------------------


def _present(check: str) -> bool:
    if check.startswith("/"):
        return bool(glob.glob(check))
    return shutil.which(check) is not None


def postgres_bindir() -> Path:
    """bin/ of the newest PostgreSQL major installed from Debian."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    if not found:
        raise InstallError("PostgreSQL is not installed (run `cadenza install`)")
    return Path(found[-1]).parent


def ensure_apt(packages: Iterable[str]) -> None:
    missing = sorted({p for p in packages if not _present(APT_PACKAGES[p])})
    if not missing:
        return
    if os.geteuid() != 0:
        raise InstallError(f"missing Debian packages {', '.join(missing)}; install them as root")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    argv = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    try:
        _run(argv, f"apt-get install {' '.join(missing)}", env)
    except InstallError:
        # A fresh machine has no package lists yet.
        _run(["apt-get", "update"], "apt-get update", env)
        _run(argv, f"apt-get install {' '.join(missing)}", env)


# --- Go binaries -----------------------------------------------------------------------------


def go_binary() -> str:
    found = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if found is None:
        raise InstallError(
            "Go is needed to build MinIO, grpcurl and the Go protoc plugins but is not installed; "
            "install Go >= 1.25 from https://go.dev/dl/ into /usr/local/go (Debian's golang-go is too old)"
        )
    return found


@functools.cache
def go_bin_dir() -> Path:
    """$(go env GOBIN) or $(go env GOPATH)/bin, where `go install` puts binaries."""
    try:
        go = go_binary()
    except InstallError:
        return Path.home() / "go" / "bin"
    out = subprocess.run([go, "env", "GOBIN", "GOPATH"], capture_output=True, text=True, check=True)
    gobin, gopath = [*out.stdout.splitlines(), "", ""][:2]
    if gobin:
        return Path(gobin)
    return Path(gopath.split(os.pathsep)[0] or Path.home() / "go") / "bin"


def minio_path() -> Path:
    return go_bin_dir() / "minio"


def grpcurl_path() -> Path:
    """The grpcurl binary (`cadenza install` builds it); tests call services through it."""
    return go_bin_dir() / "grpcurl"


def protoc_gen_go_path() -> Path:
    return go_bin_dir() / "protoc-gen-go"


def protoc_gen_go_grpc_path() -> Path:
    return go_bin_dir() / "protoc-gen-go-grpc"


def kubeconform_path() -> Path:
    return go_bin_dir() / "kubeconform"


def kustomize_path() -> Path:
    return go_bin_dir() / "kustomize"


def otelcol_path() -> Path:
    return go_bin_dir() / "cadenza-otelcol"


def _built_version(binary: Path) -> str | None:
    """The main module version recorded in a Go binary, None when absent or unreadable."""
    if not binary.exists():
        return None
    out = subprocess.run(
        [go_binary(), "version", "-m", str(binary)], capture_output=True, text=True, check=False
    )
    for line in out.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0] == "mod":
            return fields[2]
    return None


def ensure_go_tool(package: str, version: str, binary: Path, *, exact: bool) -> None:
    """Builds binary with `go install package@version` when it is missing, or (exact) when it
    was built from another version."""
    if binary.exists() and (not exact or _built_version(binary) == version):
        return
    # The build cache and module cache live in the Go defaults (~/.cache/go-build, ~/go/pkg),
    # outside the repository; CGO is off for static binaries.
    env = dict(os.environ, CGO_ENABLED="0")
    _run([go_binary(), "install", f"{package}@{version}"], f"go install {package}@{version}", env)
    if not binary.exists():
        raise InstallError(f"go install {package}@{version} finished but {binary} does not exist")


def _built_dependency(binary: Path, module: str) -> str | None:
    """The version of `module` linked into a Go binary, None when absent."""
    if not binary.exists():
        return None
    out = subprocess.run(
        [go_binary(), "version", "-m", str(binary)], capture_output=True, text=True, check=False
    )
    for line in out.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0] == "dep" and fields[1] == module:
            return fields[2]
    return None


def ensure_otelcol() -> None:
    """cadenza-otelcol from deploy/otelcol, rebuilt when its collector release changed."""
    if _built_dependency(otelcol_path(), "go.opentelemetry.io/collector/otelcol") == OTELCOL_CORE_VERSION:
        return
    root = repo_root()
    if root is None or not (root / OTELCOL_MODULE_DIR / "go.mod").is_file():
        raise InstallError(f"{OTELCOL_MODULE_DIR} not found: set CADENZA_REPO_ROOT to the Cadenza checkout")
    env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=readonly")
    argv = [go_binary(), "-C", str(root / OTELCOL_MODULE_DIR), "install", "."]
    _run(argv, f"go install ./{OTELCOL_MODULE_DIR} (OpenTelemetry Collector {OTELCOL_CORE_VERSION})", env)


def ensure_go_protoc_plugins() -> None:
    """protoc-gen-go and protoc-gen-go-grpc at their pins, in go_bin_dir() (for `buf generate`)."""
    # Exact: another version's output may need a newer runtime than the Go client's go.mod pins.
    ensure_go_tool(PROTOC_GEN_GO_PACKAGE, PROTOC_GEN_GO_VERSION, protoc_gen_go_path(), exact=True)
    ensure_go_tool(
        PROTOC_GEN_GO_GRPC_PACKAGE, PROTOC_GEN_GO_GRPC_VERSION, protoc_gen_go_grpc_path(), exact=True
    )


# --- client SDK toolchains (libs/sdk) -------------------------------------------------------

# Java code generators from Maven Central (classifier = platform): protoc matches the protobuf-java
# runtime that grpc-protobuf 1.85.1 pins (3.25.9); protoc-gen-grpc-java 1.83.1 as the SDK's pom.xml says.
PROTOC_ARTIFACT = ("com.google.protobuf", "protoc", "3.25.9")
PROTOC_GEN_GRPC_JAVA_ARTIFACT = ("io.grpc", "protoc-gen-grpc-java", "1.83.1")
# The classifier of this machine's executables on Maven Central (os-arch as protobuf publishes them).
_MAVEN_ARCH = {"aarch64": "aarch_64", "arm64": "aarch_64"}
MAVEN_PLATFORM = "linux-" + _MAVEN_ARCH.get(platform.machine(), "x86_64")


def sdk_root() -> Path:
    root = repo_root()
    if root is None:
        raise InstallError("libs/sdk not found: set CADENZA_REPO_ROOT to the Cadenza checkout")
    return root / "libs" / "sdk"


def sdk_bin_dir() -> Path:
    """Links to the Java code generators under the names buf looks for on PATH."""
    return Path.home() / ".cache" / "cadenza" / "sdk-bin"


def maven_local_repo() -> Path:
    return Path(os.environ.get("CADENZA_M2_REPO") or Path.home() / ".m2" / "repository")


def _maven_exe(group: str, artifact: str, version: str) -> Path:
    return (
        maven_local_repo()
        / group.replace(".", "/")
        / artifact
        / version
        / f"{artifact}-{version}-{MAVEN_PLATFORM}.exe"
    )


def _need(command: str, hint: str) -> str:
    found = shutil.which(command)
    if found is None:
        raise InstallError(f"{command} is needed for the client SDKs but is not installed; {hint}")
    return found


def ensure_java_protoc_plugins() -> None:
    """protoc and protoc-gen-grpc-java from Maven Central into ~/.m2, linked from sdk_bin_dir()."""
    ensure_apt(["openjdk-17-jdk-headless", "maven"])
    links = {"protoc": PROTOC_ARTIFACT, "protoc-gen-grpc-java": PROTOC_GEN_GRPC_JAVA_ARTIFACT}
    bin_dir = sdk_bin_dir()
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, (group, artifact, version) in links.items():
        exe = _maven_exe(group, artifact, version)
        if not exe.exists():
            coordinate = f"{group}:{artifact}:{version}:exe:{MAVEN_PLATFORM}"
            _run(
                ["mvn", "-B", "-q", "dependency:get", f"-Dartifact={coordinate}", "-Dtransitive=false"],
                f"mvn dependency:get {coordinate}",
            )
        exe.chmod(0o755)
        link = bin_dir / name
        if not (link.is_symlink() and link.resolve() == exe.resolve()):
            link.unlink(missing_ok=True)
            link.symlink_to(exe)


def _inputs_digest(root: Path, names: Iterable[str]) -> str:
    """SHA-256 over the named files and every file under the named directories (paths included):
    a checksum, not mtimes, so a checkout that keeps old timestamps never leaves a stale build."""
    import hashlib

    digest = hashlib.sha256()
    for name in names:
        top = root / name
        for path in sorted(top.rglob("*")) if top.is_dir() else [top]:
            if path.is_file():
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _stamped(stamp: Path, value: str) -> bool:
    return stamp.exists() and stamp.read_text().strip() == value


def ensure_typescript_sdk() -> Path:
    """`npm ci` in libs/sdk/typescript when package-lock.json changed since the last one (npm's
    cache is ~/.npm), then `tsc` into dist/ when a source changed. Returns the package directory."""
    _need(
        "npm", "install Node.js >= 20 (with npm) from https://nodejs.org (Debian 12's nodejs 18 is too old)"
    )
    package = sdk_root() / "typescript"
    installed = package / "node_modules" / ".cadenza-stamp"
    lock = _inputs_digest(package, ["package.json", "package-lock.json"])
    if not _stamped(installed, lock):
        _run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", str(package)],
            "npm ci in libs/sdk/typescript",
        )
        installed.write_text(lock + "\n")
    built = package / "dist" / ".cadenza-stamp"
    sources = _inputs_digest(package, ["package-lock.json", "tsconfig.json", "src"])
    if not _stamped(built, sources):
        shutil.rmtree(package / "dist", ignore_errors=True)  # no stale module of a removed source
        _run(["npm", "run", "--prefix", str(package), "build"], "build the TypeScript SDK", quiet=True)
        built.write_text(sources + "\n")
    return package


def ensure_java_sdk() -> Path:
    """The Java SDK's jar and its runtime classpath (target/classpath.txt) via `mvn package` when
    pom.xml or a source changed; dependencies are cached in ~/.m2. Returns the project directory."""
    ensure_apt(["openjdk-17-jdk-headless", "maven"])
    project = sdk_root() / "java"
    built = project / "target" / ".cadenza-stamp"
    sources = _inputs_digest(project, ["pom.xml", "src"])
    if not (_stamped(built, sources) and (project / "target" / "classpath.txt").exists()):
        # clean: no stale class of a removed source in the jar.
        argv = ["mvn", "-B", "-q", "-f", str(project / "pom.xml"), "clean", "package"]
        _run(argv, "build the Java SDK", quiet=True)
        built.write_text(sources + "\n")
    return project


def install_sdk_toolchains() -> None:
    """Everything libs/sdk needs to regenerate its code (`cadenza_suite.sdkgen`) and build."""
    ensure_go_protoc_plugins()
    ensure_java_protoc_plugins()
    ensure_typescript_sdk()
    ensure_java_sdk()


# --- Neo4j launcher --------------------------------------------------------------------------


def neo4j_dir() -> Path:
    root = repo_root()
    if root is None:
        raise InstallError("deploy/neo4j not found: set CADENZA_REPO_ROOT to the Cadenza checkout")
    return root / "deploy" / "neo4j"


def ensure_neo4j_launcher() -> None:
    build = neo4j_dir() / "build.sh"
    if not build.is_file():
        raise InstallError(f"{build} does not exist; the Neo4j launcher cannot be built")
    # build.sh is itself idempotent (a stamp of the SHA-256 of pom.xml, src/ and build.sh means nothing to do).
    _run(["bash", str(build)], "build the Neo4j launcher if needed", quiet=True)


# --- embedded Milvus server ------------------------------------------------------------------


def milvus_server_installed() -> bool:
    from importlib import metadata

    try:
        return metadata.version(MILVUS_SERVER_PACKAGE) == MILVUS_SERVER_VERSION
    except metadata.PackageNotFoundError:
        return False


def ensure_milvus_server() -> None:
    if milvus_server_installed():
        return
    # Into the running venv, only when mode=server asks for it: the wheel is ~60 MB.
    _run(
        [sys.executable, "-m", "pip", "install", f"{MILVUS_SERVER_PACKAGE}=={MILVUS_SERVER_VERSION}"],
        f"pip install {MILVUS_SERVER_PACKAGE}=={MILVUS_SERVER_VERSION}",
    )


# --- everything ------------------------------------------------------------------------------


def install(components: Iterable[str], milvus_mode: str, *, sdks: bool = False) -> None:
    """Installs what the named components need (all stores and tools when given all), and with
    sdks the client SDKs' toolchains and dependencies (`cadenza install` does)."""
    wanted = set(components)
    ensure_apt(p for name in wanted for p in COMPONENT_APT.get(name, ()))
    if "minio" in wanted:
        # Exact: the server's behaviour (and its on-disk format) is what the suite is tested with.
        ensure_go_tool(MINIO_PACKAGE, MINIO_VERSION, minio_path(), exact=True)
    # grpcurl is not a component but every test and person calling services needs it.
    # Any build will do (a newer one someone installed is kept); the pin is for fresh machines.
    ensure_go_tool(GRPCURL_PACKAGE, GRPCURL_VERSION, grpcurl_path(), exact=False)
    ensure_go_protoc_plugins()
    # Tools of the tests (manifest validation, the OTLP trace sink), like grpcurl.
    ensure_go_tool(KUBECONFORM_PACKAGE, KUBECONFORM_VERSION, kubeconform_path(), exact=True)
    ensure_go_tool(KUSTOMIZE_PACKAGE, KUSTOMIZE_VERSION, kustomize_path(), exact=True)
    ensure_otelcol()
    if "neo4j" in wanted:
        ensure_neo4j_launcher()
    if "milvus" in wanted and milvus_mode == "server":
        ensure_milvus_server()
    if sdks:
        install_sdk_toolchains()
