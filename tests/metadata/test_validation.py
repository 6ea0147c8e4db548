"""Bad input on every RPC is INVALID_ARGUMENT with a message, and writes nothing."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import asyncpg
import grpc
import pytest

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza_runtime.errors import error_info_from_rpc_error
from cadenza_runtime.rules import tags
from tests.helpers.errors import expect_error
from tests.metadata.support import (
    PENDING,
    RUNNING,
    SUCCEEDED,
    TEST_USER_PREFIX,
    create_job,
    create_request,
    create_track,
)

if TYPE_CHECKING:
    from cadenza.metadata.v1.metadata_pb2_grpc import MetadataServiceAsyncStub

UUID = str(uuid.uuid4())
Case = Callable[["MetadataServiceAsyncStub"], Any]


def _job(**changes: Any) -> metadata_pb2.CreateJobRequest:
    request = create_request("users/mdtest-validation", f"v-{uuid.uuid4().hex}")
    for path, value in changes.items():
        target: Any = request.job
        *parents, leaf = path.split("__")
        for parent in parents:
            target = getattr(target, parent)
        if isinstance(value, list):
            del getattr(target, leaf)[:]
            getattr(target, leaf).extend(value)
        elif hasattr(value, "CopyFrom"):
            getattr(target, leaf).CopyFrom(value)
        else:
            setattr(target, leaf, value)
    return request


def _transition(**fields: Any) -> metadata_pb2.TransitionJobRequest:
    defaults: dict[str, Any] = {
        "name": f"jobs/{UUID}",
        "expected_state": PENDING,
        "new_state": RUNNING,
        "worker": "w",
    }
    defaults.update(fields)
    return metadata_pb2.TransitionJobRequest(**defaults)


CASES: dict[str, Case] = {
    # Resource names.
    "get job without name": lambda s: s.GetJob(metadata_pb2.GetJobRequest()),
    "get job not a uuid": lambda s: s.GetJob(metadata_pb2.GetJobRequest(name="jobs/123")),
    "get job wrong collection": lambda s: s.GetJob(metadata_pb2.GetJobRequest(name=f"tracks/{UUID}")),
    "get job trailing segment": lambda s: s.GetJob(metadata_pb2.GetJobRequest(name=f"jobs/{UUID}/x")),
    "get job bare uuid": lambda s: s.GetJob(metadata_pb2.GetJobRequest(name=UUID)),
    "get track bad id": lambda s: s.GetTrack(metadata_pb2.GetTrackRequest(name="tracks/../../etc")),
    "get user empty id": lambda s: s.GetUser(metadata_pb2.GetUserRequest(name="users/")),
    "get user with space": lambda s: s.GetUser(metadata_pb2.GetUserRequest(name="users/a b")),
    "get user with slash": lambda s: s.GetUser(metadata_pb2.GetUserRequest(name="users/a/b")),
    "get model upper case": lambda s: s.GetModelVersion(
        metadata_pb2.GetModelVersionRequest(name="modelVersions/UP")
    ),
    "get template bad id": lambda s: s.GetStyleTemplate(
        metadata_pb2.GetStyleTemplateRequest(name="styleTemplates/-x")
    ),
    "defaults without suffix": lambda s: s.GetUserDefaults(
        metadata_pb2.GetUserDefaultsRequest(name="users/x")
    ),
    "events bad parent": lambda s: s.ListJobEvents(metadata_pb2.ListJobEventsRequest(parent="jobs/nope")),
    "delete track bad name": lambda s: s.DeleteTrack(metadata_pb2.DeleteTrackRequest(name="tracks/")),
    # CreateJob fields.
    "job without user": lambda s: s.CreateJob(_job(user="")),
    "job bad user": lambda s: s.CreateJob(_job(user="alice")),
    "job without request id": lambda s: s.CreateJob(_job(request_id="")),
    "job request id too long": lambda s: s.CreateJob(_job(request_id="r" * 129)),
    "job request id control char": lambda s: s.CreateJob(_job(request_id="a\nb")),
    "job without params": lambda s: s.CreateJob(
        metadata_pb2.CreateJobRequest(job=types_pb2.Job(user="users/mdtest-v", request_id="x"))
    ),
    "job empty prompt": lambda s: s.CreateJob(_job(params__prompt="")),
    "job blank prompt": lambda s: s.CreateJob(_job(params__prompt="   ")),
    "job prompt too long": lambda s: s.CreateJob(_job(params__prompt="p" * 1001)),
    "job too many tags": lambda s: s.CreateJob(_job(params__tags=[f"t{i}" for i in range(33)])),
    "job upper-case tag": lambda s: s.CreateJob(_job(params__tags=["Ambient"])),
    "job empty tag": lambda s: s.CreateJob(_job(params__tags=[""])),
    "job tag with a trailing space": lambda s: s.CreateJob(_job(params__tags=["rock "])),
    "job tag with a trailing newline": lambda s: s.CreateJob(_job(params__tags=["rock\n"])),
    "job tag with a double space": lambda s: s.CreateJob(_job(params__tags=["hip  hop"])),
    "job non-ascii tag": lambda s: s.CreateJob(_job(params__tags=["música"])),
    "job negative duration": lambda s: s.CreateJob(_job(params__duration_seconds=-1.0)),
    "job nan duration": lambda s: s.CreateJob(_job(params__duration_seconds=math.nan)),
    "job huge duration": lambda s: s.CreateJob(_job(params__duration_seconds=1e9)),
    "job too many steps": lambda s: s.CreateJob(_job(params__steps=1001)),
    "job negative steps": lambda s: s.CreateJob(_job(params__steps=-3)),
    "job guidance too low": lambda s: s.CreateJob(_job(params__guidance_scale=0.5)),
    "job guidance too high": lambda s: s.CreateJob(_job(params__guidance_scale=25.0)),
    "job unknown scheduler": lambda s: s.CreateJob(_job(params__scheduler=9)),
    "job bad model version": lambda s: s.CreateJob(_job(params__model_version="Tiny Model")),
    "job bad derivation parent": lambda s: s.CreateJob(
        _job(derivation=types_pb2.Derivation(parent="jobs/x", op=types_pb2.LINEAGE_OP_EXTEND))
    ),
    "job derivation without op": lambda s: s.CreateJob(
        _job(derivation=types_pb2.Derivation(parent=f"tracks/{UUID}"))
    ),
    "job variation zero strength": lambda s: s.CreateJob(
        _job(derivation=types_pb2.Derivation(parent=f"tracks/{UUID}", op=types_pb2.LINEAGE_OP_VARIATION))
    ),
    "job repaint empty range": lambda s: s.CreateJob(
        _job(
            derivation=types_pb2.Derivation(
                parent=f"tracks/{UUID}", op=types_pb2.LINEAGE_OP_REPAINT, start_seconds=5, end_seconds=5
            )
        )
    ),
    # TransitionJob fields.
    "transition unspecified new state": lambda s: s.TransitionJob(_transition(new_state=0)),
    "transition unspecified expected": lambda s: s.TransitionJob(_transition(expected_state=0)),
    "transition unknown state": lambda s: s.TransitionJob(_transition(new_state=17)),
    "transition running without worker": lambda s: s.TransitionJob(_transition(worker="")),
    "transition failed without reason": lambda s: s.TransitionJob(
        _transition(new_state=types_pb2.JOB_STATE_FAILED)
    ),
    "transition unknown reason": lambda s: s.TransitionJob(
        _transition(new_state=types_pb2.JOB_STATE_FAILED, failure_reason=99)
    ),
    "transition reason on success": lambda s: s.TransitionJob(
        _transition(expected_state=RUNNING, new_state=SUCCEEDED, track=f"tracks/{UUID}", failure_reason=1)
    ),
    "transition success without track": lambda s: s.TransitionJob(
        _transition(expected_state=RUNNING, new_state=SUCCEEDED)
    ),
    "transition track when not succeeding": lambda s: s.TransitionJob(_transition(track=f"tracks/{UUID}")),
    "transition seed when not running": lambda s: s.TransitionJob(
        _transition(new_state=types_pb2.JOB_STATE_CANCELLED, seed=3, worker="")
    ),
    "transition message when running": lambda s: s.TransitionJob(_transition(failure_message="hm")),
    "transition message too long": lambda s: s.TransitionJob(
        _transition(new_state=types_pb2.JOB_STATE_CANCELLED, worker="", failure_message="m" * 5000)
    ),
    # Users.
    "user bad id": lambda s: s.CreateUser(metadata_pb2.CreateUserRequest(user_id="has space")),
    "user bad email": lambda s: s.CreateUser(
        metadata_pb2.CreateUserRequest(user=metadata_pb2.User(email="not-an-address"))
    ),
    "user unknown role": lambda s: s.CreateUser(
        metadata_pb2.CreateUserRequest(user=metadata_pb2.User(roles=[metadata_pb2.Role.ValueType(9)]))
    ),
    "user unspecified role": lambda s: s.CreateUser(
        metadata_pb2.CreateUserRequest(user=metadata_pb2.User(roles=[metadata_pb2.Role.ValueType(0)]))
    ),
    "user long display name": lambda s: s.CreateUser(
        metadata_pb2.CreateUserRequest(user=metadata_pb2.User(display_name="d" * 201))
    ),
    # Lists.
    "list users negative size": lambda s: s.ListUsers(metadata_pb2.ListUsersRequest(page_size=-5)),
    "list tracks bad token": lambda s: s.ListTracks(metadata_pb2.ListTracksRequest(page_token="abc.def")),
    "list templates bad token": lambda s: s.ListStyleTemplates(
        metadata_pb2.ListStyleTemplatesRequest(page_token="x")
    ),
    "list models bad token": lambda s: s.ListModelVersions(
        metadata_pb2.ListModelVersionsRequest(page_token="x.y")
    ),
    "list outbox bad token": lambda s: s.ListOutboxEvents(
        metadata_pb2.ListOutboxEventsRequest(page_token="zz")
    ),
    "list audit bad token": lambda s: s.ListAuditEvents(
        metadata_pb2.ListAuditEventsRequest(page_token="zz.")
    ),
    # Model versions and templates.
    "model bad sha": lambda s: s.RegisterModelVersion(
        metadata_pb2.RegisterModelVersionRequest(
            model_version=metadata_pb2.ModelVersion(name="modelVersions/mdtest-x", checkpoint_sha256="abc")
        )
    ),
    "template bad tags": lambda s: s.PutStyleTemplate(
        metadata_pb2.PutStyleTemplateRequest(
            style_template=metadata_pb2.StyleTemplate(name="styleTemplates/mdtest-x", tags=["A B"])
        )
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_invalid_argument(stub: MetadataServiceAsyncStub, case: str) -> None:
    await expect_error(CASES[case](stub), grpc.StatusCode.INVALID_ARGUMENT)


# Tags another service would refuse (cadenza_runtime.rules.tags), each as the write that would store it.
TAG_WRITES: dict[str, Callable[[MetadataServiceAsyncStub, types_pb2.Job, str], Any]] = {
    "job.params.tags[1]": lambda s, job, tag: s.CreateJob(_job(params__tags=["jazz", tag])),
    "track.tags[1]": lambda s, job, tag: create_track(s, job, tags=["jazz", tag]),
    "style_template.tags[1]": lambda s, job, tag: s.PutStyleTemplate(
        metadata_pb2.PutStyleTemplateRequest(
            style_template=metadata_pb2.StyleTemplate(
                name=f"styleTemplates/mdtest-{job.request_id}", tags=["jazz", tag]
            )
        )
    ),
    "style_template.params.tags[1]": lambda s, job, tag: s.PutStyleTemplate(
        metadata_pb2.PutStyleTemplateRequest(
            style_template=metadata_pb2.StyleTemplate(
                name=f"styleTemplates/mdtest-{job.request_id}",
                params=types_pb2.GenerationParams(tags=["jazz", tag]),
            )
        )
    ),
    "user_defaults.params.tags[1]": lambda s, job, tag: s.UpdateUserDefaults(
        metadata_pb2.UpdateUserDefaultsRequest(
            user_defaults=metadata_pb2.UserDefaults(
                name=f"{job.user}/defaults", params=types_pb2.GenerationParams(tags=["jazz", tag])
            )
        )
    ),
}


@pytest.mark.parametrize("tag", ["rock ", "rock\n", "hip  hop", "música", "-rock"])
async def test_a_tag_another_service_would_refuse_is_refused_on_every_write(
    stub: MetadataServiceAsyncStub, pg: asyncpg.Pool, tag: str
) -> None:
    job = await create_job(stub)
    problem = tags.tag_problem(tag)
    assert problem is not None
    for field, write in TAG_WRITES.items():
        error = await expect_error(write(stub, job, tag), grpc.StatusCode.INVALID_ARGUMENT)
        info = error_info_from_rpc_error(error)
        assert info is not None and info.metadata["field"] == field, error.details()
        details = error.details() or ""
        assert details.startswith(f"{field}: tag {tag!r}") and problem in details, details
    # Nothing of it was stored: no track for the job, no template, no defaults for the user.
    assert (
        await pg.fetchval("SELECT count(*) FROM tracks WHERE job_id = $1", job.name.removeprefix("jobs/"))
        == 0
    )
    assert (
        await pg.fetchval("SELECT count(*) FROM style_templates WHERE id = $1", f"mdtest-{job.request_id}")
        == 0
    )
    assert (
        await pg.fetchval(
            "SELECT count(*) FROM user_defaults WHERE user_id = $1", job.user.removeprefix("users/")
        )
        == 0
    )


async def test_the_suite_s_own_tags_are_stored(stub: MetadataServiceAsyncStub) -> None:
    """Procedural training tags and the demo's: what the suite sends stays valid."""
    suite_tags = [
        "plucked string",
        "c# minor",
        "c#",
        "120 bpm",
        "mid-tempo",
        "no drums",
        "drum & bass",
        "r+b",
    ]
    request = create_request(f"users/{TEST_USER_PREFIX}{uuid.uuid4().hex[:16]}")
    request.job.params.tags[:] = suite_tags
    job = (await stub.CreateJob(request)).job
    assert list(job.params.tags) == suite_tags
    track = await create_track(stub, job, tags=suite_tags)
    assert list(track.tags) == suite_tags


async def test_refused_creates_write_nothing(stub: MetadataServiceAsyncStub, pg: asyncpg.Pool) -> None:
    before = await pg.fetchval("SELECT count(*) FROM jobs WHERE user_id = 'mdtest-validation'")
    for case in [c for c in CASES if c.startswith("job ")]:
        await expect_error(CASES[case](stub), grpc.StatusCode.INVALID_ARGUMENT)
    assert await pg.fetchval("SELECT count(*) FROM jobs WHERE user_id = 'mdtest-validation'") == before
