"""A pipeline directory in the diffusers layout: its files, their checksums, its card. No torch here.

The checksum of a directory (a model version's `checkpoint_sha256`) is the SHA-256 of its manifest:
one line `<sha256 of the file>  <path relative to the directory>\\n` per regular file, sorted by path
(byte order), which is what `sha256sum` prints, so a shell reproduces it:

    (cd DIR && find . -type f ! -path '*/.*' -printf '%P\\n' | LC_ALL=C sort | xargs -d '\\n' sha256sum) | sha256sum

Hidden files and directories (a hub client's `.cache/`, `.gitattributes`) are not part of a model.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cadenza_inference.model import ModelFile

MODEL_INDEX = "model_index.json"
CARD = "README.md"
_BLOCK = 1 << 20
# A hub client's cache keeps a snapshot as models--{owner}--{name}/snapshots/{commit}/.
_SNAPSHOT = re.compile(
    r"models--(?P<owner>[^/]+?)--(?P<name>[^/]+)/snapshots/(?P<revision>[0-9a-fA-F]{7,64})$"
)


class DirectoryError(ValueError):
    """The directory is not a pipeline in the diffusers layout; the message says what is missing."""


@dataclass(frozen=True)
class PipelineDirectory:
    path: Path  # resolved
    files: tuple[ModelFile, ...]
    model_index: dict[str, Any]
    card: dict[str, Any]  # the model card's front matter ({} when there is none)

    @property
    def sha256(self) -> str:
        return manifest_sha256(self.files)

    @property
    def pipeline_class(self) -> str:
        return str(self.model_index.get("_class_name", ""))

    @property
    def licence(self) -> str:
        value = self.card.get("license", self.card.get("licence", ""))
        return str(value) if value is not None else ""

    @property
    def untrained(self) -> bool:
        """A card saying `untrained: true` marks randomly initialised weights (Cadenza's convention)."""
        return self.card.get("untrained") is True

    def source(self) -> tuple[str, str]:
        """(repository id, revision) when the directory is a hub client's snapshot, else ("", "")."""
        match = _SNAPSHOT.search(self.path.as_posix())
        if match is None:
            return "", ""
        return f"{match['owner']}/{match['name']}", match["revision"]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def manifest(files: tuple[ModelFile, ...]) -> str:
    return "".join(f"{f.sha256}  {f.path}\n" for f in sorted(files, key=lambda f: f.path.encode()))


def manifest_sha256(files: tuple[ModelFile, ...]) -> str:
    return hashlib.sha256(manifest(files).encode()).hexdigest()


def _files(root: Path) -> tuple[ModelFile, ...]:
    found: list[ModelFile] = []
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue
            path = Path(directory) / name
            if not path.is_file():
                continue
            found.append(ModelFile(path.relative_to(root).as_posix(), file_sha256(path), path.stat().st_size))
    return tuple(sorted(found, key=lambda f: f.path.encode()))


def _front_matter(text: str) -> dict[str, Any]:
    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    if end < 0:
        return {}
    try:
        data = yaml.safe_load(text[3:end])
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def read_directory(path: Path) -> PipelineDirectory:
    """Lists and hashes every file (blocking: run it off the event loop)."""
    root = Path(os.path.realpath(path))
    index_path = root / MODEL_INDEX
    if not index_path.is_file():
        raise DirectoryError(
            f"{path} has no {MODEL_INDEX}: expected a pipeline directory in the diffusers layout "
            "(what DiffusionPipeline.save_pretrained writes, or a hub snapshot)"
        )
    try:
        index = json.loads(index_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DirectoryError(f"{index_path} is not valid JSON: {exc}") from None
    if not isinstance(index, dict) or "_class_name" not in index:
        raise DirectoryError(f"{index_path} names no pipeline class (_class_name)")
    card_path = root / CARD
    card = _front_matter(card_path.read_text(errors="replace")) if card_path.is_file() else {}
    return PipelineDirectory(root, _files(root), index, card)
