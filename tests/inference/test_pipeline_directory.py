"""Reading a pipeline directory (no torch, no diffusers): files, manifest digest, card, source."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from cadenza_inference.adapters.directory import DirectoryError, manifest, read_directory


def make(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


INDEX = json.dumps({"_class_name": "StableAudioPipeline"}).encode()


def test_every_visible_file_is_listed_with_its_checksum_and_the_manifest_is_sha256sum_output(
    tmp_path: Path,
) -> None:
    root = make(
        tmp_path / "pipe",
        {
            "model_index.json": INDEX,
            "vae/config.json": b"{}",
            "vae/diffusion_pytorch_model.safetensors": b"weights",
            "Z.txt": b"upper case sorts first",
            ".cache/huggingface/download.lock": b"not part of the model",
            "vae/.hidden": b"nor this",
        },
    )
    directory = read_directory(root)
    assert [f.path for f in directory.files] == [
        "Z.txt",
        "model_index.json",
        "vae/config.json",
        "vae/diffusion_pytorch_model.safetensors",
    ]
    weights = directory.files[3]
    assert (weights.sha256, weights.size) == (hashlib.sha256(b"weights").hexdigest(), 7)
    listing = manifest(directory.files)
    assert listing.splitlines()[0] == f"{hashlib.sha256(b'upper case sorts first').hexdigest()}  Z.txt"
    assert directory.sha256 == hashlib.sha256(listing.encode()).hexdigest()
    # Any change to any file changes the digest.
    (root / "vae/config.json").write_bytes(b"{ }")
    assert read_directory(root).sha256 != directory.sha256


def test_the_card_gives_licence_and_untrained_and_a_hub_snapshot_path_gives_the_source(
    tmp_path: Path,
) -> None:
    snapshot = tmp_path / "hub" / "models--stabilityai--stable-audio-open-1.0" / "snapshots" / ("ab12" * 10)
    root = make(
        snapshot,
        {"model_index.json": INDEX, "README.md": b"---\nlicense: other\nuntrained: true\n---\n# card\n"},
    )
    directory = read_directory(root)
    assert (directory.licence, directory.untrained) == ("other", True)
    assert directory.source() == ("stabilityai/stable-audio-open-1.0", "ab12" * 10)
    plain = read_directory(make(tmp_path / "plain", {"model_index.json": INDEX}))
    assert (plain.licence, plain.untrained, plain.source()) == ("", False, ("", ""))


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"config.json": b"{}"}, "no model_index.json"),
        ({"model_index.json": b"{not json"}, "not valid JSON"),
        ({"model_index.json": b'{"vae": ["diffusers", "AutoencoderOobleck"]}'}, "names no pipeline class"),
    ],
)
def test_what_is_not_a_pipeline_directory_is_refused_with_the_reason(
    tmp_path: Path, files: dict[str, bytes], message: str
) -> None:
    with pytest.raises(DirectoryError, match=message):
        read_directory(make(tmp_path / "bad", files))
