"""Keeps a running job's lease alive and records its progress without a row per step.

One RenewJobLease call carries both: it is sent when a third of the lease has passed, or when
progress moved by `progress_record_steps` steps, but never more often than every
`progress_record_seconds` unless the lease itself is due.

Fencing: every renewal names the lease epoch the job was claimed with, so metadata refuses it once
the lease expired or was taken over. The keeper also fences itself: when no renewal has succeeded
for a lease period (metadata stalled or unreachable), it declares the lease lost on its own clock
before anyone else can take the job over, and the runner stops writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import grpc
from grpc import aio

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2, metadata_pb2_grpc
from cadenza_orchestrator.annotations import CANCEL_REQUESTED, JobNotes
from cadenza_orchestrator.protoutil import duration
from cadenza_runtime.config import OrchestratorConfig

_log = logging.getLogger(__name__)
# The share of the lease kept in reserve when the keeper judges expiry on its own clock.
_SAFETY = 0.2
_LOST_CODES = frozenset(
    {grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED}
)


class LeaseKeeper:
    def __init__(
        self,
        metadata: metadata_pb2_grpc.MetadataServiceAsyncStub,
        job_name: str,
        worker: str,
        config: OrchestratorConfig,
        on_cancel_requested: Callable[[], None],
        lease_epoch: int = 0,
    ):
        self._metadata = metadata
        self._epoch = lease_epoch
        # The lease surely lasts until then: it was extended no earlier than the request was sent.
        self._valid_until = time.monotonic() + config.lease_seconds * (1 - _SAFETY)
        self._job_name = job_name
        self._worker = worker
        self._config = config
        self._on_cancel_requested = on_cancel_requested
        self._step = 0
        self._total = 0
        self._recorded_step = 0
        self._wake = asyncio.Event()
        self.lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def report(self, step: int, total: int) -> None:
        self._step, self._total = step, total
        if step - self._recorded_step >= self._config.progress_record_steps or step == total:
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"lease-{self._job_name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        renew_every = self._config.lease_seconds / 3
        last = time.monotonic()
        while True:
            due = last + renew_every
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, due - time.monotonic()))
            self._wake.clear()
            # Progress alone is throttled; a due lease is not, and neither is the last step, which
            # must land before the saga ends the job (a throttled one would be cancelled unsent).
            final = self._total > 0 and self._step == self._total
            not_before = min(last + self._config.progress_record_seconds, due)
            while not final and (wait := not_before - time.monotonic()) > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                self._wake.clear()
                final = self._total > 0 and self._step == self._total
            if self._expired():
                return
            if await self._renew():
                last = time.monotonic()
            elif self.lost.is_set() or self._expired():
                return
            else:
                # Try again soon: the lease may be close to running out.
                await asyncio.sleep(min(0.2, renew_every))

    def _expired(self) -> bool:
        if time.monotonic() < self._valid_until:
            return False
        _log.warning("lease on %s ran out without a renewal; stopping work on it", self._job_name)
        self.lost.set()
        return True

    async def _renew(self) -> bool:
        step, total = self._step, self._total
        sent = time.monotonic()
        try:
            response = await self._metadata.RenewJobLease(
                metadata_pb2.RenewJobLeaseRequest(
                    name=self._job_name,
                    worker=self._worker,
                    lease_duration=duration(self._config.lease_seconds),
                    progress_step=step,
                    progress_total=total,
                    lease_epoch=self._epoch,
                ),
                # Never waits past the lease: an answer after it could not be trusted anyway.
                timeout=max(0.1, min(self._config.lease_seconds / 3, self._valid_until - sent)),
            )
        except aio.AioRpcError as error:
            if error.code() in _LOST_CODES:
                _log.warning("lease on %s lost: %s", self._job_name, error.details())
                self.lost.set()
            else:
                _log.warning("cannot renew the lease on %s: %s", self._job_name, error.code().name)
            return False
        self._recorded_step = step
        self._valid_until = sent + self._config.lease_seconds * (1 - _SAFETY)
        if response.job.state == types_pb2.JOB_STATE_RUNNING and JobNotes.of(response.job).flag(
            CANCEL_REQUESTED
        ):
            self._on_cancel_requested()
        return True
