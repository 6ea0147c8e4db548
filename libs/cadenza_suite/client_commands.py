"""`cadenza generate / variation / similar / lineage / jobs / tracks`: the Python SDK from a shell.

They talk to the orchestrator at --address (else CADENZA_ADDRESS, else 127.0.0.1:50050) with the
bearer token --token (else CADENZA_TOKEN). People get a progress bar per job on stderr; `--json`
writes one JSON object per line on stdout instead (events, then the result).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from cadenza_client import (
    AsyncClient,
    CadenzaError,
    Event,
    Job,
    JobState,
    LineageDirection,
    LineageOp,
    Progress,
    Track,
)
from cadenza_suite.client_view import JobView, emit, event_json, sparkline, to_json

EXIT_FAILED = 1
TOKEN_HINT = "set CADENZA_TOKEN or pass --token (a dev token: cadenza token --user alice)"


def _connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--address", help="orchestrator host:port (default: CADENZA_ADDRESS or 127.0.0.1:50050)"
    )
    parser.add_argument("--token", help="bearer token (default: CADENZA_TOKEN)")
    parser.add_argument("--json", action="store_true", help="JSON lines on stdout for machines")


def _output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="where to save the WAV (default: ./<track id>.wav)")
    parser.add_argument("--no-download", action="store_true", help="do not save the audio")


def add_parsers(commands: Any) -> None:
    """Adds the client subcommands to the `cadenza` parser's subparsers."""
    generate = commands.add_parser("generate", help="generate music from a prompt, with a progress bar")
    generate.add_argument("prompt", help='what to generate, e.g. "organ in c major at 90 bpm, with drums"')
    generate.add_argument("--seconds", type=float, default=8.0, help="duration of the audio (default 8)")
    generate.add_argument("--steps", type=int, default=0, help="denoising steps (default: the server's)")
    generate.add_argument("--seed", type=int, help="exact seed, 0..2^64-1 (default: the server picks)")
    generate.add_argument("--tags", nargs="*", default=[], help="style tags")
    generate.add_argument("--request-id", help="idempotency key (default: a fresh UUID)")
    _output(generate)
    _connection(generate)

    variation = commands.add_parser(
        "variation", help="a variation (retake, extend, repaint, remix) of a track"
    )
    variation.add_argument("track", help="parent track, tracks/{id} or the id")
    variation.add_argument(
        "--op",
        choices=[op.value.lower() for op in LineageOp if op is not LineageOp.UNSPECIFIED],
        default="variation",
    )
    variation.add_argument("--strength", type=float, default=0.0, help="VARIATION/REMIX: (0, 1]")
    variation.add_argument("--start", type=float, default=0.0, help="REPAINT: start second")
    variation.add_argument("--end", type=float, default=0.0, help="REPAINT: end second")
    variation.add_argument("--prompt", default="", help="override the parent's prompt")
    variation.add_argument("--seed", type=int, help="override the seed")
    variation.add_argument("--steps", type=int, default=0, help="override the steps")
    _output(variation)
    _connection(variation)

    similar = commands.add_parser("similar", help="tracks like a track, or like a text")
    similar.add_argument("track", nargs="?", help="tracks/{id} to find more like")
    similar.add_argument("--text", help="free text instead of a track")
    similar.add_argument("--top-k", type=int, default=10)
    similar.add_argument("--tags", nargs="*", default=[], help="only tracks with one of these tags")
    _connection(similar)

    lineage = commands.add_parser("lineage", help="a track's ancestors or descendants")
    lineage.add_argument("track")
    lineage.add_argument("--descendants", action="store_true", help="descendants instead of ancestors")
    lineage.add_argument("--max-depth", type=int, default=0)
    _connection(lineage)

    jobs = commands.add_parser("jobs", help="your jobs (all pages), one job, or follow/cancel one")
    jobs.add_argument("job", nargs="?", help="jobs/{id}: show this one")
    jobs.add_argument("--state", nargs="*", default=[], choices=[s.value.lower() for s in JobState][1:])
    jobs.add_argument("--limit", type=int, help="at most this many")
    jobs.add_argument("--watch", action="store_true", help="follow the job with a progress bar")
    jobs.add_argument("--cancel", action="store_true", help="cancel the job")
    _connection(jobs)

    tracks = commands.add_parser("tracks", help="your tracks (all pages), or one track and its audio")
    tracks.add_argument("track", nargs="?", help="tracks/{id}: show this one and save its audio with --out")
    tracks.add_argument("--out", type=Path, help="save the track's WAV here (checksum verified)")
    tracks.add_argument("--limit", type=int, help="at most this many")
    _connection(tracks)


async def _client(args: argparse.Namespace) -> AsyncClient:
    return await AsyncClient.connect(args.address, args.token)


async def _follow(
    client: AsyncClient, args: argparse.Namespace, job: str, events: AsyncIterator[Event], out: Path | None
) -> int:
    """Shows a job's events and saves its audio; the track (and file) is the last line/summary."""
    track: Track | None = None
    view = None if args.json else JobView()
    loudness: tuple[float, ...] = ()
    if view is not None:
        view.__enter__()
    try:
        async for event in events:
            if isinstance(event, Track):
                track = event
                continue
            if hasattr(event, "job") and isinstance(event.job, Job):
                job = event.job.name
            if isinstance(event, Progress) and event.loudness:
                loudness = event.loudness
            if view is not None:
                view.show(job, event)
            else:
                emit(event_json(event))
        if view is not None and track is not None:
            view.show(job, track)
    finally:
        if view is not None:
            view.__exit__(None, None, None)
    assert track is not None  # the stream raises unless it ends with the track
    path = None if args.no_download else await client.download(track, out or Path(f"{track.id}.wav"))
    if args.json:
        emit({**event_json(track), "path": str(path) if path else None})
    else:
        console = Console()
        console.print(
            f"{track.name}  {track.duration_seconds:.1f}s  seed {track.seed}  {track.model_version}"
        )
        if loudness:
            console.print(f"loudness {sparkline(loudness, 48)}")
        if path is not None:
            console.print(f"saved {path} (sha256 {track.audio_sha256[:12]}… verified)")
    return 0


async def _generate(args: argparse.Namespace) -> int:
    async with await _client(args) as client:
        events = client.generate(
            args.prompt,
            seconds=args.seconds,
            steps=args.steps,
            seed=args.seed,
            tags=args.tags,
            request_id=args.request_id,
        )
        return await _follow(client, args, "new job", events, args.out)


async def _variation(args: argparse.Namespace) -> int:
    async with await _client(args) as client:
        job = await client.variation(
            args.track,
            op=LineageOp(args.op.upper()),
            strength=args.strength,
            start_seconds=args.start,
            end_seconds=args.end,
            prompt=args.prompt,
            seed=args.seed,
            steps=args.steps,
        )
        return await _follow(client, args, job.name, client.watch(job), args.out)


def _table(console: Console, columns: list[str], rows: list[list[str]]) -> None:
    table = Table(*columns, box=None, header_style="bold")
    for row in rows:
        table.add_row(*row)
    console.print(table)


async def _similar(args: argparse.Namespace) -> int:
    async with await _client(args) as client:
        found = await client.similar(args.track, text=args.text, top_k=args.top_k, tags_any=args.tags)
    if args.json:
        for match in found:
            emit({"event": "similar", "score": match.score, **to_json(match.track)})
    else:
        rows = [[f"{m.score:.3f}", m.track.name, m.track.prompt, ", ".join(m.track.tags)] for m in found]
        _table(Console(), ["SCORE", "TRACK", "PROMPT", "TAGS"], rows)
    return 0


async def _lineage(args: argparse.Namespace) -> int:
    direction = LineageDirection.DESCENDANTS if args.descendants else LineageDirection.ANCESTORS
    async with await _client(args) as client:
        nodes = [
            node async for node in client.lineage(args.track, direction=direction, max_depth=args.max_depth)
        ]
    if args.json:
        for node in nodes:
            emit({"event": "lineage", **to_json(node)})
    else:
        rows = [[str(n.depth), "  " * (n.depth - 1) + n.track, n.op.value, f"{n.strength:g}"] for n in nodes]
        _table(Console(), ["DEPTH", "TRACK", "OP", "STRENGTH"], rows)
    return 0


def _job_row(job: Job) -> list[str]:
    progress = f"{job.progress_step}/{job.progress_total}" if job.progress_total else "-"
    created = job.create_time.strftime("%Y-%m-%d %H:%M:%S") if job.create_time else "-"
    return [job.name, job.state.value, progress, created, job.track or job.failure_message, job.params.prompt]


async def _jobs(args: argparse.Namespace) -> int:
    async with await _client(args) as client:
        if args.job and args.cancel:
            jobs = [await client.cancel(args.job)]
        elif args.job and args.watch:
            args.no_download = True
            return await _follow(client, args, args.job, client.watch(args.job), None)
        elif args.job:
            jobs = [await client.get_job(args.job)]
        else:
            states = [JobState(state.upper()) for state in args.state]
            jobs = [job async for job in client.list_jobs(states=states, limit=args.limit)]
    if args.json:
        for job in jobs:
            emit({"event": "job", **to_json(job)})
    else:
        _table(
            Console(),
            ["JOB", "STATE", "STEPS", "CREATED", "TRACK / FAILURE", "PROMPT"],
            [_job_row(j) for j in jobs],
        )
    return 0


async def _tracks(args: argparse.Namespace) -> int:
    async with await _client(args) as client:
        if args.track:
            track = await client.get_track(args.track)
            path = await client.download(track, args.out) if args.out else None
            tracks = [track]
        else:
            path = None
            tracks = [track async for track in client.list_tracks(limit=args.limit)]
    if args.json:
        for track in tracks:
            emit({"event": "track", **to_json(track), **({"path": str(path)} if path else {})})
    else:
        rows = [
            [t.name, f"{t.duration_seconds:.1f}s", str(t.seed), t.model_version, t.prompt] for t in tracks
        ]
        _table(Console(), ["TRACK", "LENGTH", "SEED", "MODEL", "PROMPT"], rows)
        if path is not None:
            Console().print(f"saved {path} (sha256 verified)")
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace], Any]] = {
    "generate": _generate,
    "variation": _variation,
    "similar": _similar,
    "lineage": _lineage,
    "jobs": _jobs,
    "tracks": _tracks,
}


def _run(args: argparse.Namespace) -> int:
    try:
        code: int = asyncio.run(_COMMANDS[args.command](args))
        return code
    except CadenzaError as error:
        hint = f"; {TOKEN_HINT}" if error.code.name == "UNAUTHENTICATED" else ""
        if getattr(args, "json", False):
            emit(
                {
                    "event": "error",
                    "code": error.code.name,
                    "reason": error.reason,
                    "message": error.message,
                    "metadata": error.metadata,
                }
            )
        print(f"cadenza {args.command}: {error}{hint}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as error:
        print(f"cadenza {args.command}: {error}", file=sys.stderr)
        return EXIT_FAILED


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = dict.fromkeys(_COMMANDS, _run)
