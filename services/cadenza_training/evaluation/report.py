"""The evaluation report: JSON for machines, markdown for people (both committed with the model)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from .runner import ATTRIBUTES, Evaluation

LABELS = {
    "tempo": "tempo (within 8%)",
    "tempo_octave": "tempo (within 8%, or x2 / x0.5)",
    "key": "key (tonic and mode)",
    "mode": "mode (major / minor)",
    "drums": "drums present",
    "instrument": "instrument family",
}


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def to_markdown(evaluation: Evaluation) -> str:
    e = evaluation
    s = e.settings
    lines = [
        f"# Evaluation of {e.model['version']}",
        "",
        f"Checkpoint sha256 `{e.model['checkpoint_sha256']}`, {e.model['parameters']:,} parameters.",
        f"{s['clips']} procedural test clips of {s['seconds']:g} s (data set seed {s['seed']}, disjoint from "
        f"training); generation with each clip's caption and tags, seed = clip index, {s['steps']} "
        f"{s['scheduler']} steps, guidance {s['guidance']:g}.",
        "",
        "## Attributes estimated from audio",
        "",
        "Real = the rendered clip (upper bound), reconstructed = real clip through the autoencoder, "
        "generated = the model's clip for the same prompt. Ratio = generated / real.",
        "",
        "| attribute | real | reconstructed | generated | ratio | goal | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ATTRIBUTES:
        real, rec, gen = (e.accuracy[k][name] for k in ("real", "reconstructed", "generated"))
        goal = e.goals.get(name)
        ratio = gen / real if real > 0 else 0.0
        goal_cell = f">= {goal['goal_ratio']:.0%}" if goal else "-"
        met = ("yes" if goal["met"] else "**no**") if goal else "-"
        lines.append(
            f"| {LABELS[name]} | {_pct(real)} | {_pct(rec)} | {_pct(gen)} | {ratio:.2f} | {goal_cell} | {met} |"
        )
    r = e.reconstruction
    lines += [
        "",
        "## Autoencoder reconstruction (held-out clips)",
        "",
        "| metric | value |",
        "|---|---|",
        f"| multi-resolution STFT distance (lower is better) | {r['mr_stft_distance']:.3f} |",
        f"| same distance for near-silence (reference) | {r['mr_stft_distance_of_near_silence']:.3f} |",
        f"| SNR | {r['snr_db']:.2f} dB |",
        "",
        f"## Nearest neighbours by pooled latent embedding (top {s['neighbours']}, cosine)",
        "",
        "| clips | attribute | neighbours sharing it | chance |",
        "|---|---|---|---|",
    ]
    for key, value in e.neighbours.items():
        group, attribute = key.split("/")
        lines.append(
            f"| {group} | {attribute.replace('_', ' ')} | {_pct(value['top_k_share'])} | {_pct(value['chance'])} |"
        )
    lines += [
        "",
        "## Examples",
        "",
        "| prompt | truth | real estimate | generated estimate |",
        "|---|---|---|---|",
    ]
    for example in e.examples:
        lines.append(
            f"| {example['caption']} | {_describe(example['truth'])} | {_describe(example['real'])} | "
            f"{_describe(example['generated'])} |"
        )
    lines += ["", f"Timings (s): {', '.join(f'{k} {v}' for k, v in e.seconds.items())}.", ""]
    return "\n".join(lines)


def _describe(values: dict[str, Any]) -> str:
    from cadenza_training.data.attributes import KEY_TAGS

    drums = "drums" if values["drums"] else "no drums"
    return f"{values['tempo_bpm']:.0f} bpm, {KEY_TAGS[values['tonic']]} {values['mode']}, {values['instrument']}, {drums}"


def write_report(evaluation: Evaluation, directory: Path, stem: str) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / f"{stem}.json", directory / f"{stem}.md"
    json_path.write_text(json.dumps(dataclasses.asdict(evaluation), indent=2) + "\n", encoding="utf-8")
    md_path.write_text(to_markdown(evaluation), encoding="utf-8")
    return json_path, md_path
