"""Training data: a seeded procedural music generator and a loader for a folder of your own audio."""

from .attributes import INSTRUMENTS, MODES, ClipAttributes, sample_attributes, tempo_band
from .clips import ClipSet, render_procedural
from .manifest import MANIFEST_NAME, ManifestError, load_manifest
from .procedural import Clip, ProceduralDataset, make_clip, render

__all__ = [
    "INSTRUMENTS",
    "MANIFEST_NAME",
    "MODES",
    "Clip",
    "ClipAttributes",
    "ClipSet",
    "ManifestError",
    "ProceduralDataset",
    "load_manifest",
    "make_clip",
    "render",
    "render_procedural",
    "sample_attributes",
    "tempo_band",
]
