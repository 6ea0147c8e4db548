"""The gRPC face of the orchestrator: authenticate (before any other work), then hand each call to the
jobs or tracks API; streams count against the per-user and per-replica stream limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from grpc import aio

from cadenza.orchestrator.v1 import orchestrator_pb2 as pb
from cadenza.orchestrator.v1 import orchestrator_pb2_grpc
from cadenza_orchestrator.auth import Authenticator
from cadenza_orchestrator.graph_api import GraphApi
from cadenza_orchestrator.jobs_api import JobsApi
from cadenza_orchestrator.limits import StreamLimit
from cadenza_orchestrator.public import public_event, public_generate_event, public_job
from cadenza_orchestrator.tracks_api import TracksApi

Context = aio.ServicerContext[Any, Any]


class OrchestratorServicer(orchestrator_pb2_grpc.OrchestratorServiceServicer):
    def __init__(
        self, auth: Authenticator, jobs: JobsApi, tracks: TracksApi, graph: GraphApi, streams: StreamLimit
    ):
        self._auth = auth
        self._streams = streams
        self._jobs = jobs
        self._tracks = tracks
        self._graph = graph

    async def SubmitGeneration(
        self, request: pb.SubmitGenerationRequest, context: Context
    ) -> pb.SubmitGenerationResponse:
        principal = await self._auth.authenticate(context)
        return pb.SubmitGenerationResponse(job=public_job(await self._jobs.submit(principal, request)))

    async def WatchJob(
        self, request: pb.WatchJobRequest, context: Context
    ) -> AsyncIterator[pb.WatchJobResponse]:
        principal = await self._auth.authenticate(context)
        with self._streams.hold(principal.user):
            async for event in self._jobs.watch(principal, request.name):
                yield public_event(event)

    async def Generate(
        self, request: pb.GenerateRequest, context: Context
    ) -> AsyncIterator[pb.GenerateResponse]:
        principal = await self._auth.authenticate(context)
        with self._streams.hold(principal.user):
            async for event in self._jobs.generate(principal, request):
                yield public_generate_event(event)

    async def CancelJob(self, request: pb.CancelJobRequest, context: Context) -> pb.CancelJobResponse:
        principal = await self._auth.authenticate(context)
        return pb.CancelJobResponse(job=public_job(await self._jobs.cancel(principal, request.name)))

    async def GetJob(self, request: pb.GetJobRequest, context: Context) -> pb.GetJobResponse:
        principal = await self._auth.authenticate(context)
        return pb.GetJobResponse(job=public_job(await self._jobs.get(principal, request.name)))

    async def ListJobs(self, request: pb.ListJobsRequest, context: Context) -> pb.ListJobsResponse:
        principal = await self._auth.authenticate(context)
        response = await self._jobs.list(principal, request)
        return pb.ListJobsResponse(
            jobs=[public_job(job) for job in response.jobs], next_page_token=response.next_page_token
        )

    async def GetTrack(self, request: pb.GetTrackRequest, context: Context) -> pb.GetTrackResponse:
        principal = await self._auth.authenticate(context)
        return await self._tracks.get(principal, request.name)

    async def ListTracks(self, request: pb.ListTracksRequest, context: Context) -> pb.ListTracksResponse:
        principal = await self._auth.authenticate(context)
        return await self._tracks.list(principal, request)

    async def CreateVariation(
        self, request: pb.CreateVariationRequest, context: Context
    ) -> pb.CreateVariationResponse:
        principal = await self._auth.authenticate(context)
        return pb.CreateVariationResponse(
            job=public_job(await self._tracks.create_variation(principal, request))
        )

    async def SearchSimilarTracks(
        self, request: pb.SearchSimilarTracksRequest, context: Context
    ) -> pb.SearchSimilarTracksResponse:
        principal = await self._auth.authenticate(context)
        return await self._tracks.search(principal, request, context.time_remaining())

    async def GetLineage(self, request: pb.GetLineageRequest, context: Context) -> pb.GetLineageResponse:
        principal = await self._auth.authenticate(context)
        return await self._tracks.lineage(principal, request, context.time_remaining())

    async def DeleteTrack(self, request: pb.DeleteTrackRequest, context: Context) -> pb.DeleteTrackResponse:
        principal = await self._auth.authenticate(context)
        return pb.DeleteTrackResponse(name=await self._tracks.delete(principal, request.name))

    async def ListCommunities(
        self, request: pb.ListCommunitiesRequest, context: Context
    ) -> pb.ListCommunitiesResponse:
        principal = await self._auth.authenticate(context)
        return await self._graph.communities(principal, request, context.time_remaining())

    async def ListCentralTracks(
        self, request: pb.ListCentralTracksRequest, context: Context
    ) -> pb.ListCentralTracksResponse:
        principal = await self._auth.authenticate(context)
        return await self._graph.central_tracks(principal, request, context.time_remaining())

    async def ListCentralTags(
        self, request: pb.ListCentralTagsRequest, context: Context
    ) -> pb.ListCentralTagsResponse:
        principal = await self._auth.authenticate(context)
        return await self._graph.central_tags(principal, request, context.time_remaining())
