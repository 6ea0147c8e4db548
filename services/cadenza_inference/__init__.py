"""Cadenza inference service."""

import os

# Must happen before torch (and its OpenMP runtime) is first imported. With the default ACTIVE
# policy OpenMP workers spin between parallel regions; on a CPU shared with other processes the
# spinning threads steal the cores the others need and a denoising step got ~10x slower in our
# measurements (80 s instead of 7 s for 10 s of audio at 30 steps). An explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
