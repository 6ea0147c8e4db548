"""The asynchronous Cadenza client: typed calls to the orchestrator, the suite's public edge.

    async with await AsyncClient.connect() as client:       # CADENZA_ADDRESS, CADENZA_TOKEN
        async for event in client.generate("organ in c major at 90 bpm", seconds=4):
            ...                                              # Progress, PhaseChange, Notice, JobUpdate
        track = event                                        # the last event is the Track

Calls the proto declares idempotent (cadenza_client.idempotency: reads, cancel, and submissions,
which carry a request_id so that a repeat returns the same job) are retried on UNAVAILABLE within
their deadline, and a broken job stream is resumed; DeleteTrack is not retried.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cadenza.common.v1 import types_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2, orchestrator_pb2_grpc
from cadenza_client.download import UrlExpired, fetch_verified
from cadenza_client.errors import CadenzaError, DownloadFailed, JobFailed, from_rpc_error
from cadenza_client.idempotency import is_idempotent
from cadenza_client.paging import DEFAULT_PAGE_SIZE
from cadenza_client.settings import RetryPolicy, Settings, TokenSource
from cadenza_client.types import (
    Derivation,
    Event,
    GenerationParams,
    Job,
    JobState,
    JobUpdate,
    LineageDirection,
    LineageNode,
    LineageOp,
    Scheduler,
    SimilarTrack,
    Track,
    event_from_proto,
)

T = TypeVar("T")
Metadata = tuple[tuple[str, str], ...]
# Length of the audio when not given (the server requires one); steps 0 = the server's default.
DEFAULT_SECONDS = 8.0
_METHODS = orchestrator_pb2.DESCRIPTOR.services_by_name["OrchestratorService"].methods_by_name


def _job_name(job: Job | str) -> str:
    name = job.name if isinstance(job, Job) else job
    return name if name.startswith("jobs/") else f"jobs/{name}"


def _track_name(track: Track | str) -> str:
    name = track.name if isinstance(track, Track) else track
    return name if name.startswith("tracks/") else f"tracks/{name}"


def _params(
    prompt: str,
    tags: Sequence[str],
    seconds: float,
    steps: int,
    seed: int | None,
    guidance: float,
    scheduler: Scheduler,
    model_version: str,
) -> types_pb2.GenerationParams:
    return GenerationParams(
        prompt=prompt,
        tags=tuple(tags),
        duration_seconds=seconds,
        steps=steps,
        guidance_scale=guidance,
        seed=seed,
        scheduler=scheduler,
        model_version=model_version,
    ).to_proto()


class AsyncClient:
    """One channel to the orchestrator; close it (or use `async with`) when done."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._channel = settings.channel()
        self._stub = orchestrator_pb2_grpc.OrchestratorServiceStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)

    @classmethod
    async def connect(
        cls,
        address: str | None = None,
        token: TokenSource | None = None,
        *,
        tls: bool | None = None,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        server_name: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> AsyncClient:
        """A client for `address` (else CADENZA_ADDRESS, else 127.0.0.1:50050) with `token`
        (else CADENZA_TOKEN); TLS when asked or when CA/cert files are given."""
        settings = Settings.resolve(
            address,
            token,
            tls=tls,
            ca_file=ca_file,
            cert_file=cert_file,
            key_file=key_file,
            server_name=server_name,
            timeout=timeout,
            retry=retry,
        )
        return cls(settings)

    async def close(self) -> None:
        await self._channel.close(None)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- calls with deadlines and retries ----

    async def _unary(
        self,
        method: str,
        call: Callable[[float, Metadata], Awaitable[T]],
        timeout: float | None,
        idempotent: bool | None = None,
    ) -> T:
        """Runs one unary call: retried on the policy's codes if the orchestrator method is declared
        idempotent (`idempotent` only for calls outside its API), all within `timeout`."""
        if idempotent is None:
            idempotent = is_idempotent(_METHODS[method])
        policy = self.settings.retry
        deadline = time.monotonic() + (timeout if timeout is not None else self.settings.timeout)
        backoff = policy.initial_backoff
        attempt = 1
        while True:
            left = deadline - time.monotonic()
            try:
                return await call(max(left, 0.001), self.settings.bearer())
            except grpc.aio.AioRpcError as error:
                retry = idempotent and error.code() in policy.codes and attempt < policy.max_attempts
                delay = min(backoff * random.uniform(0.5, 1.0), policy.max_backoff)
                if not retry or time.monotonic() + delay >= deadline:
                    raise from_rpc_error(error) from None
            await asyncio.sleep(delay)
            backoff = min(backoff * policy.multiplier, policy.max_backoff)
            attempt += 1

    async def health(self, timeout: float | None = None) -> str:
        """The orchestrator's grpc.health.v1 status, e.g. "SERVING"."""

        async def call(left: float, metadata: Metadata) -> Any:
            return await self._health.Check(health_pb2.HealthCheckRequest(), timeout=left)

        # grpc.health.v1 declares no idempotency_level; Check is a read.
        response = await self._unary("Health/Check", call, timeout, idempotent=True)
        name: str = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
        return name

    # ---- jobs ----

    async def submit(
        self,
        prompt: str,
        *,
        seconds: float = DEFAULT_SECONDS,
        steps: int = 0,
        seed: int | None = None,
        tags: Sequence[str] = (),
        guidance: float = 0.0,
        scheduler: Scheduler = Scheduler.UNSPECIFIED,
        model_version: str = "",
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Job:
        """Queues a generation. The same `request_id` returns the same job, so it is retried safely."""
        request = orchestrator_pb2.SubmitGenerationRequest(
            request_id=request_id or str(uuid.uuid4()),
            params=_params(prompt, tags, seconds, steps, seed, guidance, scheduler, model_version),
        )

        async def call(left: float, metadata: Metadata) -> orchestrator_pb2.SubmitGenerationResponse:
            return await self._stub.SubmitGeneration(request, timeout=left, metadata=metadata)

        return Job.from_proto((await self._unary("SubmitGeneration", call, timeout)).job)

    def generate(
        self,
        prompt: str,
        *,
        seconds: float = DEFAULT_SECONDS,
        steps: int = 0,
        seed: int | None = None,
        tags: Sequence[str] = (),
        guidance: float = 0.0,
        scheduler: Scheduler = Scheduler.UNSPECIFIED,
        model_version: str = "",
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[Event]:
        """Generates and streams the job: JobUpdate, PhaseChange, Notice, one Progress per step...
        ending with the Track (with a presigned audio_url). A failed or cancelled job raises JobFailed.
        A dropped stream is resumed with the same request_id (never a second job)."""
        request = orchestrator_pb2.GenerateRequest(
            request_id=request_id or str(uuid.uuid4()),
            params=_params(prompt, tags, seconds, steps, seed, guidance, scheduler, model_version),
        )
        return self._follow(
            "Generate", lambda left, md: self._stub.Generate(request, timeout=left, metadata=md), timeout
        )

    def watch(self, job: Job | str, *, timeout: float | None = None) -> AsyncIterator[Event]:
        """Follows a job: its state, then its events, ending with the Track (or JobFailed)."""
        request = orchestrator_pb2.WatchJobRequest(name=_job_name(job))
        return self._follow(
            "WatchJob", lambda left, md: self._stub.WatchJob(request, timeout=left, metadata=md), timeout
        )

    async def _follow(
        self, method: str, open_stream: Callable[[float | None, Metadata], Any], timeout: float | None
    ) -> AsyncIterator[Event]:
        policy = self.settings.retry
        resumable = is_idempotent(_METHODS[method])
        deadline = time.monotonic() + timeout if timeout is not None else None
        failures = 0
        final: Job | None = None
        while final is None:
            left = None if deadline is None else max(deadline - time.monotonic(), 0.001)
            stream = open_stream(left, self.settings.bearer())
            try:
                async for message in stream:
                    failures = 0
                    event = event_from_proto(message)
                    if event is None:
                        continue  # a newer server's event kind
                    if isinstance(event, JobUpdate) and event.job.state.terminal:
                        final = event.job
                    yield event
            except grpc.aio.AioRpcError as error:
                # Resuming is safe: Generate with the same request_id follows the same job.
                failures += 1
                if not resumable or error.code() not in policy.codes or failures >= policy.max_attempts:
                    raise from_rpc_error(error) from None
                delay = min(policy.initial_backoff * policy.multiplier ** (failures - 1), policy.max_backoff)
                if deadline is not None and time.monotonic() + delay >= deadline:
                    raise from_rpc_error(error) from None
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                continue
            finally:
                stream.cancel()
            if final is None:
                raise CadenzaError("the job stream ended before the job finished", reason="STREAM_ENDED")
        if final.state != JobState.SUCCEEDED:
            raise JobFailed(final)
        yield await self.get_track(final.track)

    async def cancel(self, job: Job | str, *, timeout: float | None = None) -> Job:
        """Cancels a job (a no-op on one already cancelled) and returns its state."""
        request = orchestrator_pb2.CancelJobRequest(name=_job_name(job))

        async def call(left: float, metadata: Metadata) -> orchestrator_pb2.CancelJobResponse:
            return await self._stub.CancelJob(request, timeout=left, metadata=metadata)

        return Job.from_proto((await self._unary("CancelJob", call, timeout)).job)

    async def get_job(self, job: Job | str, *, timeout: float | None = None) -> Job:
        request = orchestrator_pb2.GetJobRequest(name=_job_name(job))

        async def call(left: float, metadata: Metadata) -> orchestrator_pb2.GetJobResponse:
            return await self._stub.GetJob(request, timeout=left, metadata=metadata)

        return Job.from_proto((await self._unary("GetJob", call, timeout)).job)

    async def list_jobs(
        self,
        *,
        states: Iterable[JobState] = (),
        user: str = "",
        page_size: int = DEFAULT_PAGE_SIZE,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[Job]:
        """The caller's jobs, newest first, fetched page by page as the iteration goes."""
        wanted = [types_pb2.JobState.Value(f"JOB_STATE_{state.value}") for state in states]

        async def page(token: str) -> tuple[list[Job], str]:
            request = orchestrator_pb2.ListJobsRequest(
                page_size=page_size, page_token=token, states=wanted, user=user
            )

            async def call(left: float, metadata: Metadata) -> orchestrator_pb2.ListJobsResponse:
                return await self._stub.ListJobs(request, timeout=left, metadata=metadata)

            response = await self._unary("ListJobs", call, timeout)
            return [Job.from_proto(j) for j in response.jobs], response.next_page_token

        async for job in _paged(page, limit):
            yield job

    # ---- tracks ----

    async def get_track(self, track: Track | str, *, timeout: float | None = None) -> Track:
        """The track with a fresh presigned `audio_url`."""
        request = orchestrator_pb2.GetTrackRequest(name=_track_name(track))

        async def call(left: float, metadata: Metadata) -> orchestrator_pb2.GetTrackResponse:
            return await self._stub.GetTrack(request, timeout=left, metadata=metadata)

        response = await self._unary("GetTrack", call, timeout)
        return Track.from_proto(response.track, response)

    async def list_tracks(
        self,
        *,
        user: str = "",
        page_size: int = DEFAULT_PAGE_SIZE,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[Track]:
        """The caller's tracks, fetched page by page as the iteration goes."""

        async def page(token: str) -> tuple[list[Track], str]:
            request = orchestrator_pb2.ListTracksRequest(page_size=page_size, page_token=token, user=user)

            async def call(left: float, metadata: Metadata) -> orchestrator_pb2.ListTracksResponse:
                return await self._stub.ListTracks(request, timeout=left, metadata=metadata)

            response = await self._unary("ListTracks", call, timeout)
            return [Track.from_proto(t) for t in response.tracks], response.next_page_token

        async for track in _paged(page, limit):
            yield track

    async def delete_track(self, track: Track | str, *, timeout: float | None = None) -> str:
        """Removes a track from every store. Not retried: a repeat after a lost reply says NOT_FOUND."""
        request = orchestrator_pb2.DeleteTrackRequest(name=_track_name(track))

        async def call(left: float, metadata: Metadata) -> orchestrator_pb2.DeleteTrackResponse:
            return await self._stub.DeleteTrack(request, timeout=left, metadata=metadata)

        return (await self._unary("DeleteTrack", call, timeout)).name

    async def variation(
        self,
        parent: Track | str,
        *,
        op: LineageOp = LineageOp.VARIATION,
        strength: float = 0.0,
        start_seconds: float = 0.0,
        end_seconds: float = 0.0,
        prompt: str = "",
        seed: int | None = None,
        steps: int = 0,
        seconds: float = 0.0,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Job:
        """Queues a variation/retake/extend/repaint/remix of `parent`; unset overrides keep the
        parent's parameters. Follow it with `watch`."""
        overrides = types_pb2.GenerationParams(prompt=prompt, steps=steps, duration_seconds=seconds)
        if seed is not None:
            overrides.seed = seed
        request = orchestrator_pb2.CreateVariationRequest(
            request_id=request_id or str(uuid.uuid4()),
            derivation=Derivation(
                parent=_track_name(parent),
                op=op,
                strength=strength,
                start_seconds=start_seconds,
                end_seconds=end_seconds,
            ).to_proto(),
            params=overrides,
        )

        async def call(left: float, metadata: Metadata) -> orchestrator_pb2.CreateVariationResponse:
            return await self._stub.CreateVariation(request, timeout=left, metadata=metadata)

        return Job.from_proto((await self._unary("CreateVariation", call, timeout)).job)

    async def similar(
        self,
        track: Track | str | None = None,
        *,
        text: str | None = None,
        top_k: int = 10,
        tags_any: Sequence[str] = (),
        model_version: str = "",
        timeout: float | None = None,
    ) -> list[SimilarTrack]:
        """Tracks most like `track`, or like the free `text`, best first."""
        if (track is None) == (text is None):
            raise ValueError("give either a track or text")
        request = orchestrator_pb2.SearchSimilarTracksRequest(
            top_k=top_k, tags_any=list(tags_any), model_version=model_version
        )
        if track is not None:
            request.track = _track_name(track)
        else:
            request.text = text or ""

        async def call(left: float, metadata: Metadata) -> orchestrator_pb2.SearchSimilarTracksResponse:
            return await self._stub.SearchSimilarTracks(request, timeout=left, metadata=metadata)

        response = await self._unary("SearchSimilarTracks", call, timeout)
        return [SimilarTrack(Track.from_proto(m.track), m.score) for m in response.tracks]

    async def lineage(
        self,
        track: Track | str,
        *,
        direction: LineageDirection = LineageDirection.ANCESTORS,
        max_depth: int = 0,
        page_size: int = DEFAULT_PAGE_SIZE,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[LineageNode]:
        """The track's ancestors (or descendants), nearest first, page by page."""
        wire_direction = orchestrator_pb2.LineageDirection.Value(f"LINEAGE_DIRECTION_{direction.value}")

        async def page(token: str) -> tuple[list[LineageNode], str]:
            request = orchestrator_pb2.GetLineageRequest(
                track=_track_name(track),
                direction=wire_direction,
                max_depth=max_depth,
                page_size=page_size,
                page_token=token,
            )

            async def call(left: float, metadata: Metadata) -> orchestrator_pb2.GetLineageResponse:
                return await self._stub.GetLineage(request, timeout=left, metadata=metadata)

            response = await self._unary("GetLineage", call, timeout)
            return [LineageNode.from_proto(n) for n in response.nodes], response.next_page_token

        async for node in _paged(page, limit):
            yield node

    async def download(self, track: Track | str, path: str | Path, *, timeout: float | None = None) -> Path:
        """Saves the track's audio (WAV) at `path` via its presigned URL, SHA-256 verified.

        Raises ChecksumMismatch (and leaves `path` untouched) when the bytes differ from the track's
        checksum; an expired URL is renewed once."""
        target = Path(path)
        current = track if isinstance(track, Track) and track.audio_url else await self.get_track(track)
        limit = timeout if timeout is not None else max(self.settings.timeout, 60.0)
        for renewed in (False, True):
            try:
                return await asyncio.to_thread(
                    fetch_verified, current.name, current.audio_url, current.audio_sha256, target, limit
                )
            except UrlExpired as error:
                if renewed:
                    raise DownloadFailed(
                        current.name, f"the presigned URL was refused twice: {error}"
                    ) from None
                current = await self.get_track(current.name)
        raise AssertionError("unreachable")


async def _paged(
    page: Callable[[str], Awaitable[tuple[list[T], str]]], limit: int | None
) -> AsyncIterator[T]:
    """Items across pages, following next_page_token until it is empty (or `limit` items)."""
    token, count = "", 0
    while True:
        items, token = await page(token)
        for item in items:
            if limit is not None and count >= limit:
                return
            count += 1
            yield item
        if not token:
            return
