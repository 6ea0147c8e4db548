"""What a model version may declare: the adapter that serves it and the tasks it can be asked to do.

Inference serves models by these names and metadata records them; both take them from here, so a
model metadata registers is one inference can describe, and the reverse.
"""

from __future__ import annotations

from enum import StrEnum


class Task(StrEnum):
    """What a model can be asked to do; derivations are named as cadenza.common.v1.LineageOp names them."""

    TEXT_TO_AUDIO = "TEXT_TO_AUDIO"
    RETAKE = "RETAKE"  # text to audio again with another seed
    VARIATION = "VARIATION"
    REMIX = "REMIX"
    EXTEND = "EXTEND"
    REPAINT = "REPAINT"
    ENCODE = "ENCODE"  # audio -> latent (the Encode RPC)


# The model adapters of the inference service: Cadenza's own checkpoints, and audio pipelines of
# the diffusers library.
ADAPTERS = ("cadenza", "diffusers")
