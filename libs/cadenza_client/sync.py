"""The blocking Cadenza client: the asynchronous one driven on a private event-loop thread.

with Client.connect() as client:
    for event in client.generate("organ in c major at 90 bpm", seconds=4):
        print(event)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from cadenza_client.aio import DEFAULT_SECONDS, AsyncClient
from cadenza_client.paging import DEFAULT_PAGE_SIZE
from cadenza_client.settings import RetryPolicy, TokenSource
from cadenza_client.types import (
    Event,
    Job,
    JobState,
    LineageDirection,
    LineageNode,
    LineageOp,
    Scheduler,
    SimilarTrack,
    Track,
)

T = TypeVar("T")


class Client:
    """Same methods as AsyncClient (see there), blocking; its async iterators are plain iterators."""

    def __init__(self, loop: asyncio.AbstractEventLoop, thread: threading.Thread, inner: AsyncClient):
        self._loop = loop
        self._thread = thread
        self.aio = inner

    @classmethod
    def connect(
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
    ) -> Client:
        """See AsyncClient.connect: arguments, else CADENZA_ADDRESS / CADENZA_TOKEN / CADENZA_TLS_*."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="cadenza-client", daemon=True)
        thread.start()
        # The channel belongs to the loop it is created on.
        inner = asyncio.run_coroutine_threadsafe(
            AsyncClient.connect(
                address,
                token,
                tls=tls,
                ca_file=ca_file,
                cert_file=cert_file,
                key_file=key_file,
                server_name=server_name,
                timeout=timeout,
                retry=retry,
            ),
            loop,
        ).result()
        return cls(loop, thread, inner)

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def _iterate(self, iterator: AsyncIterator[T]) -> Iterator[T]:
        try:
            while True:
                try:
                    yield self._run(_next(iterator))
                except StopAsyncIteration:
                    return
        finally:
            closer = getattr(iterator, "aclose", None)
            if closer is not None:
                self._run(closer())

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._run(self.aio.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def health(self, timeout: float | None = None) -> str:
        return self._run(self.aio.health(timeout))

    def submit(
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
        return self._run(
            self.aio.submit(
                prompt,
                seconds=seconds,
                steps=steps,
                seed=seed,
                tags=tags,
                guidance=guidance,
                scheduler=scheduler,
                model_version=model_version,
                request_id=request_id,
                timeout=timeout,
            )
        )

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
    ) -> Iterator[Event]:
        return self._iterate(
            self.aio.generate(
                prompt,
                seconds=seconds,
                steps=steps,
                seed=seed,
                tags=tags,
                guidance=guidance,
                scheduler=scheduler,
                model_version=model_version,
                request_id=request_id,
                timeout=timeout,
            )
        )

    def watch(self, job: Job | str, *, timeout: float | None = None) -> Iterator[Event]:
        return self._iterate(self.aio.watch(job, timeout=timeout))

    def cancel(self, job: Job | str, *, timeout: float | None = None) -> Job:
        return self._run(self.aio.cancel(job, timeout=timeout))

    def get_job(self, job: Job | str, *, timeout: float | None = None) -> Job:
        return self._run(self.aio.get_job(job, timeout=timeout))

    def list_jobs(
        self,
        *,
        states: Iterable[JobState] = (),
        user: str = "",
        page_size: int = DEFAULT_PAGE_SIZE,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Iterator[Job]:
        return self._iterate(
            self.aio.list_jobs(states=states, user=user, page_size=page_size, limit=limit, timeout=timeout)
        )

    def get_track(self, track: Track | str, *, timeout: float | None = None) -> Track:
        return self._run(self.aio.get_track(track, timeout=timeout))

    def list_tracks(
        self,
        *,
        user: str = "",
        page_size: int = DEFAULT_PAGE_SIZE,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Iterator[Track]:
        return self._iterate(
            self.aio.list_tracks(user=user, page_size=page_size, limit=limit, timeout=timeout)
        )

    def delete_track(self, track: Track | str, *, timeout: float | None = None) -> str:
        return self._run(self.aio.delete_track(track, timeout=timeout))

    def variation(
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
        return self._run(
            self.aio.variation(
                parent,
                op=op,
                strength=strength,
                start_seconds=start_seconds,
                end_seconds=end_seconds,
                prompt=prompt,
                seed=seed,
                steps=steps,
                seconds=seconds,
                request_id=request_id,
                timeout=timeout,
            )
        )

    def similar(
        self,
        track: Track | str | None = None,
        *,
        text: str | None = None,
        top_k: int = 10,
        tags_any: Sequence[str] = (),
        model_version: str = "",
        timeout: float | None = None,
    ) -> list[SimilarTrack]:
        return self._run(
            self.aio.similar(
                track, text=text, top_k=top_k, tags_any=tags_any, model_version=model_version, timeout=timeout
            )
        )

    def lineage(
        self,
        track: Track | str,
        *,
        direction: LineageDirection = LineageDirection.ANCESTORS,
        max_depth: int = 0,
        page_size: int = DEFAULT_PAGE_SIZE,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Iterator[LineageNode]:
        return self._iterate(
            self.aio.lineage(
                track,
                direction=direction,
                max_depth=max_depth,
                page_size=page_size,
                limit=limit,
                timeout=timeout,
            )
        )

    def download(self, track: Track | str, path: str | Path, *, timeout: float | None = None) -> Path:
        return self._run(self.aio.download(track, path, timeout=timeout))


async def _next(iterator: AsyncIterator[T]) -> T:
    return await iterator.__anext__()
