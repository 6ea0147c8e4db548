"""The TypeScript SDK's seed helpers (libs/sdk/typescript/src/seed.ts) in Node: uint64 seeds as
exact bigints, written to JSON as decimal strings, and out-of-range or inexact input refused."""

from __future__ import annotations

import json
import subprocess

import pytest

from cadenza_suite.installers import ensure_typescript_sdk
from tests.polyglot.clients import HERE

SCRIPT = """
import { parseSeed, toJsonString } from "%(dist)s";
const out = {};
out.max = toJsonString({ seed: parseSeed("18446744073709551615") });
out.fromNumber = parseSeed(42).toString();
out.fromBigint = parseSeed(2n ** 63n).toString();
out.refused = [];
for (const bad of ["18446744073709551616", "-1", "1e3", " 7", 2 ** 53, -1, 1.5]) {
  try { parseSeed(bad); } catch (e) { out.refused.push(e instanceof RangeError); continue; }
  out.refused.push(`accepted ${bad}`);
}
try { JSON.stringify({ seed: 1n }); out.plain = "no error"; } catch (e) { out.plain = e.constructor.name; }
console.log(JSON.stringify(out));
"""


@pytest.mark.slow
def test_seed_helpers_keep_every_uint64_exact() -> None:
    package = ensure_typescript_sdk()
    dist = package / "dist" / "index.js"
    result = subprocess.run(
        ["node", "--input-type=module", "-e", SCRIPT % {"dist": dist.as_uri()}],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    out = json.loads(result.stdout)
    assert out["max"] == '{"seed":"18446744073709551615"}'
    assert (out["fromNumber"], out["fromBigint"]) == ("42", str(2**63))
    assert out["refused"] == [True] * 7
    # Why the helpers exist: plain JSON.stringify throws on the bigint protobuf-es gives a seed.
    assert out["plain"] == "TypeError"
