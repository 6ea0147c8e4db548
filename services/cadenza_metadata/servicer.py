"""The gRPC servicer: each RPC hands its request to the module that owns it."""

from __future__ import annotations

from typing import Any

from grpc import aio

from cadenza.metadata.v1 import metadata_pb2 as pb
from cadenza.metadata.v1 import metadata_pb2_grpc
from cadenza_metadata import (
    archive,
    audit,
    events,
    jobs,
    lifecycle,
    model_versions,
    outbox,
    styles,
    tracks,
    users,
)
from cadenza_metadata.audit import actor_of
from cadenza_metadata.coordination import Coordination
from cadenza_metadata.deps import Deps

Context = aio.ServicerContext[Any, Any]


class MetadataServicer(metadata_pb2_grpc.MetadataServiceServicer):
    def __init__(self, deps: Deps, coordination: Coordination) -> None:
        self._deps = deps
        self._coordination = coordination

    # Users.
    async def CreateUser(self, request: pb.CreateUserRequest, context: Context) -> pb.CreateUserResponse:
        return await users.create_user(self._deps, request, actor_of(context))

    async def GetUser(self, request: pb.GetUserRequest, context: Context) -> pb.GetUserResponse:
        return await users.get_user(self._deps, request)

    async def ListUsers(self, request: pb.ListUsersRequest, context: Context) -> pb.ListUsersResponse:
        return await users.list_users(self._deps, request)

    async def UpdateUser(self, request: pb.UpdateUserRequest, context: Context) -> pb.UpdateUserResponse:
        return await users.update_user(self._deps, request, actor_of(context))

    async def GrantRole(self, request: pb.GrantRoleRequest, context: Context) -> pb.GrantRoleResponse:
        return pb.GrantRoleResponse(
            user=await users.change_role(self._deps, request, True, actor_of(context))
        )

    async def RevokeRole(self, request: pb.RevokeRoleRequest, context: Context) -> pb.RevokeRoleResponse:
        return pb.RevokeRoleResponse(
            user=await users.change_role(self._deps, request, False, actor_of(context))
        )

    # Jobs.
    async def CreateJob(self, request: pb.CreateJobRequest, context: Context) -> pb.CreateJobResponse:
        return await jobs.create_job(self._deps, request, actor_of(context))

    async def GetJob(self, request: pb.GetJobRequest, context: Context) -> pb.GetJobResponse:
        return await jobs.get_job(self._deps, request)

    async def ListJobs(self, request: pb.ListJobsRequest, context: Context) -> pb.ListJobsResponse:
        return await jobs.list_jobs(self._deps, request)

    async def TransitionJob(
        self, request: pb.TransitionJobRequest, context: Context
    ) -> pb.TransitionJobResponse:
        return await lifecycle.transition_job(self._deps, request, actor_of(context))

    async def ClaimJob(self, request: pb.ClaimJobRequest, context: Context) -> pb.ClaimJobResponse:
        return await lifecycle.claim_job(self._deps, request, actor_of(context))

    async def RenewJobLease(
        self, request: pb.RenewJobLeaseRequest, context: Context
    ) -> pb.RenewJobLeaseResponse:
        return await lifecycle.renew_job_lease(self._deps, request)

    async def TakeOverJob(self, request: pb.TakeOverJobRequest, context: Context) -> pb.TakeOverJobResponse:
        return await lifecycle.take_over_job(self._deps, request, actor_of(context))

    async def AnnotateJob(self, request: pb.AnnotateJobRequest, context: Context) -> pb.AnnotateJobResponse:
        return await jobs.annotate_job(self._deps, request, actor_of(context))

    async def AppendJobEvent(
        self, request: pb.AppendJobEventRequest, context: Context
    ) -> pb.AppendJobEventResponse:
        return await events.append_job_event(self._deps, request, actor_of(context))

    async def ListJobEvents(
        self, request: pb.ListJobEventsRequest, context: Context
    ) -> pb.ListJobEventsResponse:
        return await events.list_job_events(self._deps, request)

    # Tracks.
    async def CreateTrack(self, request: pb.CreateTrackRequest, context: Context) -> pb.CreateTrackResponse:
        return await tracks.create_track(self._deps, request, actor_of(context))

    async def GetTrack(self, request: pb.GetTrackRequest, context: Context) -> pb.GetTrackResponse:
        return await tracks.get_track(self._deps, request)

    async def ListTracks(self, request: pb.ListTracksRequest, context: Context) -> pb.ListTracksResponse:
        return await tracks.list_tracks(self._deps, request)

    async def DeleteTrack(self, request: pb.DeleteTrackRequest, context: Context) -> pb.DeleteTrackResponse:
        return await tracks.delete_track(self._deps, request, actor_of(context))

    # Model versions.
    async def RegisterModelVersion(
        self, request: pb.RegisterModelVersionRequest, context: Context
    ) -> pb.RegisterModelVersionResponse:
        return await model_versions.register_model_version(self._deps, request, actor_of(context))

    async def GetModelVersion(
        self, request: pb.GetModelVersionRequest, context: Context
    ) -> pb.GetModelVersionResponse:
        return await model_versions.get_model_version(self._deps, request)

    async def ListModelVersions(
        self, request: pb.ListModelVersionsRequest, context: Context
    ) -> pb.ListModelVersionsResponse:
        return await model_versions.list_model_versions(self._deps, request)

    # Style templates and user defaults.
    async def GetStyleTemplate(
        self, request: pb.GetStyleTemplateRequest, context: Context
    ) -> pb.GetStyleTemplateResponse:
        return await styles.get_style_template(self._deps, request)

    async def PutStyleTemplate(
        self, request: pb.PutStyleTemplateRequest, context: Context
    ) -> pb.PutStyleTemplateResponse:
        return await styles.put_style_template(self._deps, request, actor_of(context))

    async def ListStyleTemplates(
        self, request: pb.ListStyleTemplatesRequest, context: Context
    ) -> pb.ListStyleTemplatesResponse:
        return await styles.list_style_templates(self._deps, request)

    async def GetUserDefaults(
        self, request: pb.GetUserDefaultsRequest, context: Context
    ) -> pb.GetUserDefaultsResponse:
        return await styles.get_user_defaults(self._deps, request)

    async def UpdateUserDefaults(
        self, request: pb.UpdateUserDefaultsRequest, context: Context
    ) -> pb.UpdateUserDefaultsResponse:
        return await styles.update_user_defaults(self._deps, request, actor_of(context))

    # Audit log and archival.
    async def ListAuditEvents(
        self, request: pb.ListAuditEventsRequest, context: Context
    ) -> pb.ListAuditEventsResponse:
        return await audit.list_audit_events(self._deps.db, self._deps.codec, request)

    async def ArchiveRecords(
        self, request: pb.ArchiveRecordsRequest, context: Context
    ) -> pb.ArchiveRecordsResponse:
        return await archive.archive_records(self._deps, request, actor_of(context))

    # Outbox.
    async def ListOutboxEvents(
        self, request: pb.ListOutboxEventsRequest, context: Context
    ) -> pb.ListOutboxEventsResponse:
        return await outbox.list_outbox_events(self._deps, request)

    async def AckOutboxEvents(
        self, request: pb.AckOutboxEventsRequest, context: Context
    ) -> pb.AckOutboxEventsResponse:
        return await outbox.ack_outbox_events(self._deps, request, actor_of(context))

    # Coordination on Redis.
    async def CheckRateLimit(
        self, request: pb.CheckRateLimitRequest, context: Context
    ) -> pb.CheckRateLimitResponse:
        return await self._coordination.check_rate_limit(request)

    async def AcquireLock(self, request: pb.AcquireLockRequest, context: Context) -> pb.AcquireLockResponse:
        return await self._coordination.acquire(request)

    async def ReleaseLock(self, request: pb.ReleaseLockRequest, context: Context) -> pb.ReleaseLockResponse:
        return await self._coordination.release(request)
