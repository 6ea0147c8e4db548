"""Cost of internal authentication per call: one unary call with and without service tokens.

    python tests/benchmarks/bench_auth.py [--calls 2000] [--rounds 5] [--concurrency 1]

Two servers in this process, built the same way (the suite's server interceptor, the suite's client
channel) around the same trivial handler, so the difference is what authentication adds:

  without auth   the interceptor with no access check, a channel whose calls carry no token
  with auth      the access check (bearer token verified against the trust bundle, the method's
                 allowance, the caller made current) and a channel that stamps a cached Ed25519
                 service token on every call

Rounds alternate the two paths (the machine may be shared); printed are the median over rounds of
the latency p50/p99 and of the process CPU time per call (client and server together, independent
of other load on the machine), and the ratio with/without. It also times what happens only when
a token is new: minting one (each client, once per audience every ~3 minutes) and verifying one
whose signature is not cached yet (each server, once per caller token), and the client's stamp and
the server's check alone, without gRPC around them (no scheduling noise from a shared machine).
Keys are generated in a temporary state directory; no store is needed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grpc import aio

from cadenza.blob.v1 import blob_pb2, blob_pb2_grpc
from cadenza_runtime.access import AccessGuard
from cadenza_runtime.client import create_channel, identity_stamp
from cadenza_runtime.config import CadenzaConfig, IdentityConfig
from cadenza_runtime.identity import (
    OPERATOR,
    TokenSigner,
    as_identity,
    ensure_dev_identities,
    key_file,
    signer_for,
    verifier_for,
)
from cadenza_runtime.interceptors import ServiceInterceptor
from cadenza_runtime.server import SERVER_OPTIONS

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script: only tests/benchmarks is on the path
    sys.path.insert(0, str(REPO))

from tests.benchmarks.table import Row  # noqa: E402

BLOB = blob_pb2.DESCRIPTOR.services_by_name["BlobService"].full_name


class _Stat(blob_pb2_grpc.BlobServiceServicer):
    async def StatObject(
        self, request: blob_pb2.StatObjectRequest, context: Any
    ) -> blob_pb2.StatObjectResponse:
        return blob_pb2.StatObjectResponse()


async def _server(interceptor: ServiceInterceptor) -> tuple[aio.Server, str]:
    server = aio.server(interceptors=[interceptor], options=SERVER_OPTIONS)
    blob_pb2_grpc.add_BlobServiceServicer_to_server(_Stat(), server)  # type: ignore[abstract]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


class _Context:
    """What the access check reads of a servicer context."""

    def __init__(self, metadata: list[tuple[str, str]]):
        self._metadata = (*metadata, ("user-agent", "grpc-python"))

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata


@dataclass
class Round:
    p50_us: float
    p99_us: float
    cpu_us: float


async def _round(stub: blob_pb2_grpc.BlobServiceAsyncStub, calls: int, concurrency: int) -> Round:
    request = blob_pb2.StatObjectRequest(bucket="audio", key="k")
    latencies: list[float] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            started = time.perf_counter()
            await stub.StatObject(request)
            latencies.append(time.perf_counter() - started)

    cpu = time.process_time()
    await asyncio.gather(*(worker(calls // concurrency) for _ in range(concurrency)))
    cpu = time.process_time() - cpu
    latencies.sort()
    return Round(
        p50_us=latencies[len(latencies) // 2] * 1e6,
        p99_us=latencies[int(len(latencies) * 0.99)] * 1e6,
        cpu_us=cpu / len(latencies) * 1e6,
    )


def _per_op_us(operation: Any, count: int) -> float:
    started = time.perf_counter()
    for index in range(count):
        operation(index)
    return (time.perf_counter() - started) / count * 1e6


async def main(calls: int, rounds: int, concurrency: int) -> list[Row]:
    with tempfile.TemporaryDirectory() as state:
        base = CadenzaConfig(state_dir=Path(state), identity=IdentityConfig())
        ensure_dev_identities(base)
        operator = as_identity(base, OPERATOR)
        guard = AccessGuard(verifier_for(base, ["blob"]), {BLOB: {"StatObject": ["orchestrator"]}})
        plain_server, plain_address = await _server(ServiceInterceptor())
        auth_server, auth_address = await _server(ServiceInterceptor(guard))
        plain_channel = create_channel(plain_address, as_identity(base, ""))  # anonymous: no token
        auth_channel = create_channel(auth_address, operator)
        paths = {
            "without auth": blob_pb2_grpc.BlobServiceStub(plain_channel),
            "with auth": blob_pb2_grpc.BlobServiceStub(auth_channel),
        }
        results: dict[str, list[Round]] = {name: [] for name in paths}
        for stub in paths.values():  # warm-up: connections, handler caches, the first token
            await _round(stub, 200, 1)
        for _ in range(rounds):
            for name, stub in paths.items():
                results[name].append(await _round(stub, calls, concurrency))
        await plain_channel.close(None)
        await auth_channel.close(None)
        await plain_server.stop(None)
        await auth_server.stop(None)

        signer = TokenSigner(OPERATOR, key_file(base, OPERATOR), 300)
        mint_us = _per_op_us(lambda i: signer.mint("blob"), 500)
        fresh = [signer.mint("blob", ttl=300 + i) for i in range(500)]  # 500 distinct tokens
        verifier = verifier_for(base, ["blob"])
        verify_us = _per_op_us(lambda i: verifier.verify(fresh[i]), len(fresh))
        cached_us = _per_op_us(lambda i: verifier.verify(fresh[0]), 5000)
        # The two steps every call runs, alone (no gRPC around them, so no scheduling noise).
        stamp = identity_stamp(signer_for(operator))
        method = f"/{BLOB}/StatObject"
        stamp_us = _per_op_us(lambda i: stamp(method), 20000)
        check = guard.check_for(method)
        assert check is not None
        context = _Context(stamp(method))
        check_us = _per_op_us(lambda i: check(context), 20000)  # type: ignore[arg-type]

    print(f"unary call, {calls} calls x {rounds} rounds, concurrency {concurrency} (median over rounds)")
    print(f"{'path':<14}{'p50 us':>10}{'p99 us':>10}{'CPU us/call':>14}")
    summary: dict[str, Round] = {}
    for name, measured in results.items():
        summary[name] = Round(
            statistics.median(r.p50_us for r in measured),
            statistics.median(r.p99_us for r in measured),
            statistics.median(r.cpu_us for r in measured),
        )
        row = summary[name]
        print(f"{name:<14}{row.p50_us:>10.0f}{row.p99_us:>10.0f}{row.cpu_us:>14.0f}")
    plain, auth = summary["without auth"], summary["with auth"]
    print(
        f"added by auth: p50 {auth.p50_us - plain.p50_us:+.0f} us (ratio {auth.p50_us / plain.p50_us:.2f}), "
        f"CPU {auth.cpu_us - plain.cpu_us:+.0f} us/call (ratio {auth.cpu_us / plain.cpu_us:.2f})"
    )
    print(f"per call, alone: client stamp {stamp_us:.1f} us, server check {check_us:.1f} us")
    print(
        f"only when a token is new: mint {mint_us:.0f} us (client, per audience every ~200 s), "
        f"verify an unseen token {verify_us:.0f} us (server, per token), cached check {cached_us:.1f} us"
    )
    return [
        Row.latency(
            f"internal unary call p50, concurrency {concurrency}",
            "auth",
            auth.p50_us,
            plain.p50_us,
            "us",
            cpu=f"{auth.cpu_us:.0f} us CPU/call (without auth {plain.cpu_us:.0f})",
            note="with service tokens; direct: the same call without auth",
        )
    ]


def measure(short: bool) -> list[Row]:
    """The benchmark's rows (short: 300 calls x 2 rounds, for run_all.py)."""
    calls, rounds = (300, 2) if short else (2000, 5)
    return asyncio.run(main(calls, rounds, 1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    for row in asyncio.run(main(args.calls, args.rounds, args.concurrency)):
        print(row.line())
