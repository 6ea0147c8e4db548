"""Offline validation of deploy/k8s: kustomize renders each overlay, kubeconform checks every resource
against the Kubernetes OpenAPI JSON schemas.

The schemas come from the kubernetes-validate PyPI package (generated from the Kubernetes OpenAPI
document of each release), so nothing is downloaded at validation time. Its per-kind files refer to
the shared definitions by a path only its own loader maps, so each kind used is written out
self-contained under the cache directory (see schema_dir).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from cadenza_suite.installers import kubeconform_path, kustomize_path

# The newest release the pinned kubernetes-validate ships schemas for.
KUBERNETES_VERSION = "1.37.0"
OVERLAYS = ("dev", "stage", "prod")
_SHARED_REF = "/api/_definitions.json#/$defs/"
_LOCAL_REF = "#/$defs/"


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cadenza" / "k8s-schemas" / metadata.version("kubernetes-validate")


def _source_dir(version: str) -> Path:
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "the kubernetes-validate package (the schemas) is not installed: pip install -e '.[dev]'"
        )
    source = Path(spec.origin).parent / "kubernetes-json-schema" / f"v{version}-local-strict"
    if not source.is_dir():
        raise FileNotFoundError(f"kubernetes-validate ships no schemas for Kubernetes {version} ({source})")
    return source


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _standalone(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """`schema` with the shared definitions it reaches copied into its own $defs."""
    text = json.dumps(schema).replace(json.dumps(_SHARED_REF)[1:-1], _LOCAL_REF)
    own: dict[str, Any] = json.loads(text)
    needed: dict[str, Any] = {}
    pending = [ref.removeprefix(_LOCAL_REF) for ref in _refs(own) if ref.startswith(_LOCAL_REF)]
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        needed[name] = definitions[name]
        pending += [r.removeprefix(_LOCAL_REF) for r in _refs(needed[name]) if r.startswith(_LOCAL_REF)]
    own["$defs"] = needed
    return own


def _schema_file(kind: str, api_version: str) -> str:
    """kubeconform's name for a kind's schema: deployment-apps-v1.json, service-v1.json."""
    group, _, version = api_version.rpartition("/")
    suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
    return f"{kind.lower()}{suffix}.json"


def schema_dir(documents: Iterable[dict[str, Any]], version: str = KUBERNETES_VERSION) -> Path:
    """A directory kubeconform reads as <dir>/v<version>-standalone-strict/<kind>-<group>-<ver>.json,
    holding self-contained schemas of the kinds in `documents`.

    kubernetes-validate's per-kind files refer to one shared definitions file by a path its own
    loader maps ("/api/_definitions.json#..."), which kubeconform cannot follow; each kind is
    written out once with the definitions it reaches, and kept in the cache directory.
    """
    source = _source_dir(version)
    target = _cache_root() / f"v{version}-standalone-strict"
    target.mkdir(parents=True, exist_ok=True)
    definitions: dict[str, Any] | None = None
    for document in documents:
        name = _schema_file(str(document.get("kind", "")), str(document.get("apiVersion", "")))
        if (target / name).exists() or not (source / name).exists():
            continue  # done before, or an unknown kind that kubeconform will report
        if definitions is None:
            definitions = json.loads((source / "_definitions.json").read_text())["$defs"]
        schema = _standalone(json.loads((source / name).read_text()), definitions)
        partial = target / f".{name}.tmp"
        partial.write_text(json.dumps(schema))
        partial.replace(target / name)
    return target.parent


def render(overlay_dir: Path) -> str:
    """`kustomize build` of one overlay (or base) directory."""
    result = subprocess.run(
        [str(kustomize_path()), "build", str(overlay_dir)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"kustomize build {overlay_dir} failed:\n{result.stderr.strip()}")
    return result.stdout


@dataclass(frozen=True)
class Finding:
    """kubeconform's verdict on one resource."""

    filename: str
    kind: str
    name: str
    status: str  # statusValid, statusInvalid, statusError, statusSkipped
    msg: str


def validate(paths: list[Path], version: str = KUBERNETES_VERSION) -> list[Finding]:
    """kubeconform -strict on every resource in the files `paths`, one Finding each."""
    documents = [d for path in paths for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    location = (
        str(schema_dir(documents, version))
        + "/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/"
    )
    location += "{{ .ResourceKind }}{{ .KindSuffix }}.json"
    argv = [
        str(kubeconform_path()),
        "-strict",
        "-output",
        "json",
        "-verbose",
        "-kubernetes-version",
        version,
        "-schema-location",
        location,
        *map(str, paths),
    ]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"kubeconform printed no report:\n{result.stdout}\n{result.stderr}") from exc
    return [
        Finding(r["filename"], r["kind"], r["name"], r["status"], r.get("msg", ""))
        for r in report.get("resources", [])
    ]
