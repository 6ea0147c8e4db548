"""With the "none" exporter spans are not recorded, yet every log line and every hop keeps the trace
id; a later setup with an exporter (as the tracing tests do) turns recording on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_no_exporter_records_nothing_but_keeps_the_trace_across_a_call() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.runtime.probe_tracing_off"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])

    off = report["off"]
    assert len(off["caller_trace_id"]) == 32 and off["caller_trace_id"] != "0" * 32
    assert off["server"]["trace_id"] == off["caller_trace_id"]  # the traceparent still travels
    assert not off["caller_recording"] and not off["server"]["recording"]
    assert off["status_tasks"] == 0  # no status bookkeeping for a span nobody records

    on = report["on"]
    assert on["server"]["trace_id"] == on["caller_trace_id"] and on["server"]["recording"]
    stat = f"/{'cadenza.blob.v1.BlobService'}/StatObject"
    assert on["spans"] == [["CLIENT", stat], ["INTERNAL", "caller"], ["SERVER", stat]]
