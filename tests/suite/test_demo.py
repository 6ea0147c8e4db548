"""The steps of `make up` after `cadenza up`: `cadenza register-model` records the served model, then
`cadenza demo` runs one generation end to end through the running suite."""

from __future__ import annotations

import json
import wave
from pathlib import Path

from cadenza_runtime.config import BUNDLED_CHECKPOINT_SHA256
from tests.suite.harness import RunningSuite


def test_register_model_records_the_served_checkpoint_once(running_suite: RunningSuite) -> None:
    first = running_suite.cadenza("register-model", timeout=300)
    assert first.returncode == 0, first.stderr + first.stdout
    registered = json.loads(first.stdout)
    assert registered["name"] == "modelVersions/cadenza-tiny-1"
    assert (registered["sha256"], registered["untrained"]) == (BUNDLED_CHECKPOINT_SHA256, False)
    assert registered["checkpoint_uri"].endswith(f"/models/cadenza-tiny-1/{BUNDLED_CHECKPOINT_SHA256}.ckpt")
    again = running_suite.cadenza("register-model", timeout=300)  # `make up` twice: a no-op
    assert again.returncode == 0 and json.loads(again.stdout) == registered, again.stderr


def test_demo_generates_a_track_and_fetches_its_audio(running_suite: RunningSuite) -> None:
    result = running_suite.cadenza(
        "demo", "--seconds", "2", "--steps", "4", "--prompt", "short test tune", timeout=300
    )
    assert result.returncode == 0, result.stderr + result.stdout
    lines = result.stdout.splitlines()
    assert sum(1 for line in lines if line.strip().startswith("step ")) == 4, "every step is shown"
    assert any("JOB_STATE_SUCCEEDED" in line for line in lines)
    assert "model cadenza-tiny-1," in result.stdout, "the trained model is the default"
    saved = Path(lines[-1].removeprefix("audio saved to ").strip())
    with wave.open(str(saved), "rb") as audio:
        assert audio.getnchannels() == 1 and audio.getframerate() > 0
        assert audio.getnframes() >= 2 * audio.getframerate()
