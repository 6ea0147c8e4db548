"""`cadenza demo` (the second half of `make up`): one generation end to end through the running suite."""

from __future__ import annotations

import wave
from pathlib import Path

from tests.suite.harness import RunningSuite


def test_demo_generates_a_track_and_fetches_its_audio(running_suite: RunningSuite) -> None:
    result = running_suite.cadenza(
        "demo", "--seconds", "2", "--steps", "4", "--prompt", "short test tune", timeout=300
    )
    assert result.returncode == 0, result.stderr + result.stdout
    lines = result.stdout.splitlines()
    assert sum(1 for line in lines if line.strip().startswith("step ")) == 4, "every step is shown"
    assert any("JOB_STATE_SUCCEEDED" in line for line in lines)
    saved = Path(lines[-1].removeprefix("audio saved to ").strip())
    with wave.open(str(saved), "rb") as audio:
        assert audio.getnchannels() == 1 and audio.getframerate() > 0
        assert audio.getnframes() >= 2 * audio.getframerate()
