"""Model versions, style templates and user defaults (field masks), and users with roles."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

import grpc
from google.protobuf import field_mask_pb2, struct_pb2

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2
from tests.helpers.errors import expect_error
from tests.metadata.support import TEST_USER_PREFIX, new_model

if TYPE_CHECKING:
    from cadenza.metadata.v1.metadata_pb2_grpc import MetadataServiceAsyncStub


def _config(**values: float | str | Sequence[float]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(values)
    return result


async def test_model_versions_register_get_list(stub: MetadataServiceAsyncStub) -> None:
    # One version older than the three below, so a second page exists even on an empty database.
    older = f"modelVersions/{new_model()}"
    await stub.RegisterModelVersion(
        metadata_pb2.RegisterModelVersionRequest(
            model_version=metadata_pb2.ModelVersion(name=older, checkpoint_uri="s3://checkpoints/older.pt")
        )
    )
    names = [f"modelVersions/{new_model()}" for _ in range(3)]
    registered = []
    for i, name in enumerate(names):
        model = metadata_pb2.ModelVersion(
            name=name,
            description=f"tiny model {i}",
            checkpoint_uri=f"s3://checkpoints/{i}.pt",
            checkpoint_sha256=f"{i:x}" * 64,
            config=_config(layers=4 + i, dims=[64, 128]),
        )
        registered.append(
            (
                await stub.RegisterModelVersion(metadata_pb2.RegisterModelVersionRequest(model_version=model))
            ).model_version
        )
    assert registered[1].config["layers"] == 5 and registered[1].create_time.seconds > 0
    same = metadata_pb2.ModelVersion()
    same.CopyFrom(registered[0])
    same.ClearField("create_time")
    again = await stub.RegisterModelVersion(metadata_pb2.RegisterModelVersionRequest(model_version=same))
    assert again.model_version == registered[0], "registering the same content again is a no-op"
    same.description = "changed"
    await expect_error(
        stub.RegisterModelVersion(metadata_pb2.RegisterModelVersionRequest(model_version=same)),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    got = await stub.GetModelVersion(metadata_pb2.GetModelVersionRequest(name=names[2]))
    assert got.model_version == registered[2]
    await expect_error(
        stub.GetModelVersion(metadata_pb2.GetModelVersionRequest(name=f"modelVersions/{new_model()}")),
        grpc.StatusCode.NOT_FOUND,
    )
    # Newest first: the three just registered lead the list.
    page = await stub.ListModelVersions(metadata_pb2.ListModelVersionsRequest(page_size=3))
    assert [m.name for m in page.model_versions] == list(reversed(names))
    assert page.next_page_token
    following = await stub.ListModelVersions(
        metadata_pb2.ListModelVersionsRequest(page_size=3, page_token=page.next_page_token)
    )
    assert not set(m.name for m in following.model_versions) & set(names)
    assert following.model_versions[0].name == older
    for bad in ("modelVersions/", "modelVersions/Has Caps", "cadenza-tiny-1", "modelVersions/a/b"):
        await expect_error(
            stub.RegisterModelVersion(
                metadata_pb2.RegisterModelVersionRequest(model_version=metadata_pb2.ModelVersion(name=bad))
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )


async def test_style_templates_put_replaces_and_lists(stub: MetadataServiceAsyncStub) -> None:
    prefix = f"mdtest-{uuid.uuid4().hex[:8]}"
    names = [f"styleTemplates/{prefix}-{i}" for i in range(3)]
    for i, name in enumerate(names):
        template = metadata_pb2.StyleTemplate(
            name=name,
            display_name=f"Lo-fi {i}",
            prompt="lo-fi beat",
            tags=["lofi"],
            params=types_pb2.GenerationParams(steps=30, guidance_scale=3.0),
        )
        put = (
            await stub.PutStyleTemplate(metadata_pb2.PutStyleTemplateRequest(style_template=template))
        ).style_template
        assert put.display_name == f"Lo-fi {i}" and put.params.steps == 30
    replaced = metadata_pb2.StyleTemplate(name=names[0], display_name="Lo-fi v2", prompt="lo-fi, vinyl")
    put = (
        await stub.PutStyleTemplate(metadata_pb2.PutStyleTemplateRequest(style_template=replaced))
    ).style_template
    assert (put.display_name, put.prompt, list(put.tags), put.params.steps) == (
        "Lo-fi v2",
        "lo-fi, vinyl",
        [],
        0,
    )
    got = (await stub.GetStyleTemplate(metadata_pb2.GetStyleTemplateRequest(name=names[0]))).style_template
    assert got == put

    listed: list[str] = []
    token = ""
    while True:
        page = await stub.ListStyleTemplates(
            metadata_pb2.ListStyleTemplatesRequest(page_size=50, page_token=token)
        )
        listed.extend(t.name for t in page.style_templates)
        token = page.next_page_token
        if not token:
            break
    assert [n for n in listed if n.startswith(f"styleTemplates/{prefix}")] == names
    assert listed == sorted(listed)
    await expect_error(
        stub.GetStyleTemplate(metadata_pb2.GetStyleTemplateRequest(name=f"styleTemplates/{prefix}-none")),
        grpc.StatusCode.NOT_FOUND,
    )
    await expect_error(
        stub.PutStyleTemplate(
            metadata_pb2.PutStyleTemplateRequest(
                style_template=metadata_pb2.StyleTemplate(
                    name=names[1], params=types_pb2.GenerationParams(steps=5000)
                )
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


async def test_user_defaults_start_empty_and_update_with_a_mask(stub: MetadataServiceAsyncStub) -> None:
    user = f"{TEST_USER_PREFIX}{uuid.uuid4().hex[:8]}"
    name = f"users/{user}/defaults"
    empty = (await stub.GetUserDefaults(metadata_pb2.GetUserDefaultsRequest(name=name))).user_defaults
    assert empty.name == name and empty.params == types_pb2.GenerationParams() and not empty.style_template

    full = metadata_pb2.UserDefaults(
        name=name, params=types_pb2.GenerationParams(steps=40, guidance_scale=5.0, tags=["jazz"])
    )
    set_all = (
        await stub.UpdateUserDefaults(metadata_pb2.UpdateUserDefaultsRequest(user_defaults=full))
    ).user_defaults
    assert set_all.params.steps == 40 and list(set_all.params.tags) == ["jazz"]

    only_steps = metadata_pb2.UserDefaults(
        name=name, params=types_pb2.GenerationParams(steps=12, tags=["ignored"])
    )
    masked = (
        await stub.UpdateUserDefaults(
            metadata_pb2.UpdateUserDefaultsRequest(
                user_defaults=only_steps, update_mask=field_mask_pb2.FieldMask(paths=["params.steps"])
            )
        )
    ).user_defaults
    assert (masked.params.steps, masked.params.guidance_scale, list(masked.params.tags)) == (
        12,
        5.0,
        ["jazz"],
    )

    template = f"styleTemplates/mdtest-{uuid.uuid4().hex[:8]}"
    with_template = metadata_pb2.UserDefaults(name=name, style_template=template)
    mask = field_mask_pb2.FieldMask(paths=["style_template"])
    await expect_error(
        stub.UpdateUserDefaults(
            metadata_pb2.UpdateUserDefaultsRequest(user_defaults=with_template, update_mask=mask)
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        reason="STYLE_TEMPLATE_NOT_FOUND",
    )
    await stub.PutStyleTemplate(
        metadata_pb2.PutStyleTemplateRequest(
            style_template=metadata_pb2.StyleTemplate(name=template, prompt="x")
        )
    )
    linked = (
        await stub.UpdateUserDefaults(
            metadata_pb2.UpdateUserDefaultsRequest(user_defaults=with_template, update_mask=mask)
        )
    ).user_defaults
    assert linked.style_template == template and linked.params.steps == 12
    assert (
        await stub.GetUserDefaults(metadata_pb2.GetUserDefaultsRequest(name=name))
    ).user_defaults == linked

    for paths in (["name"], ["params.nope"], ["update_time"]):
        await expect_error(
            stub.UpdateUserDefaults(
                metadata_pb2.UpdateUserDefaultsRequest(
                    user_defaults=full, update_mask=field_mask_pb2.FieldMask(paths=paths)
                )
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
    await expect_error(
        stub.GetUserDefaults(metadata_pb2.GetUserDefaultsRequest(name=f"users/{user}")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


async def test_users_create_get_update_list(stub: MetadataServiceAsyncStub) -> None:
    user_id = f"{TEST_USER_PREFIX}{uuid.uuid4().hex[:10]}"
    email = f"{user_id}@example.com"
    created = (
        await stub.CreateUser(
            metadata_pb2.CreateUserRequest(
                user_id=user_id, user=metadata_pb2.User(display_name="Ada", email=email)
            )
        )
    ).user
    assert (created.name, created.display_name, list(created.roles)) == (
        f"users/{user_id}",
        "Ada",
        [metadata_pb2.ROLE_USER],
    )
    await expect_error(
        stub.CreateUser(metadata_pb2.CreateUserRequest(user_id=user_id)),
        grpc.StatusCode.ALREADY_EXISTS,
        reason="USER_EXISTS",
    )
    await expect_error(
        stub.CreateUser(metadata_pb2.CreateUserRequest(user=metadata_pb2.User(email=email.upper()))),
        grpc.StatusCode.ALREADY_EXISTS,
        reason="EMAIL_TAKEN",
    )
    generated = (
        await stub.CreateUser(metadata_pb2.CreateUserRequest(user=metadata_pb2.User(display_name="Gen")))
    ).user
    assert uuid.UUID(generated.name.removeprefix("users/"))

    updated = (
        await stub.UpdateUser(
            metadata_pb2.UpdateUserRequest(
                user=metadata_pb2.User(
                    name=created.name,
                    display_name="Ada L.",
                    email="ignored@example.com",
                    roles=[metadata_pb2.ROLE_ADMIN, metadata_pb2.ROLE_USER],
                ),
                update_mask=field_mask_pb2.FieldMask(paths=["display_name", "roles"]),
            )
        )
    ).user
    assert updated.display_name == "Ada L." and updated.email == email
    assert sorted(updated.roles) == [metadata_pb2.ROLE_USER, metadata_pb2.ROLE_ADMIN]
    assert updated.update_time.ToDatetime() >= created.update_time.ToDatetime()
    assert (await stub.GetUser(metadata_pb2.GetUserRequest(name=created.name))).user == updated

    implied = (
        await stub.UpdateUser(
            metadata_pb2.UpdateUserRequest(user=metadata_pb2.User(name=created.name, email=f"x{email}"))
        )
    ).user
    assert implied.email == f"x{email}" and implied.display_name == "Ada L."

    for bad in (
        metadata_pb2.UpdateUserRequest(
            user=metadata_pb2.User(name=created.name),
            update_mask=field_mask_pb2.FieldMask(paths=["create_time"]),
        ),
        metadata_pb2.UpdateUserRequest(
            user=metadata_pb2.User(name=created.name), update_mask=field_mask_pb2.FieldMask(paths=["roles"])
        ),
        metadata_pb2.UpdateUserRequest(user=metadata_pb2.User(name=created.name, email="not-an-email")),
    ):
        await expect_error(stub.UpdateUser(bad), grpc.StatusCode.INVALID_ARGUMENT)
    await expect_error(
        stub.UpdateUser(
            metadata_pb2.UpdateUserRequest(user=metadata_pb2.User(name="users/mdtest-none", email="a@b.co"))
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    await expect_error(
        stub.GetUser(metadata_pb2.GetUserRequest(name="users/mdtest-none")), grpc.StatusCode.NOT_FOUND
    )

    found = False
    token = ""
    previous = ""
    while not found:
        page = await stub.ListUsers(metadata_pb2.ListUsersRequest(page_size=200, page_token=token))
        for user in page.users:
            assert user.name > previous
            previous = user.name
            found = found or user == implied
        token = page.next_page_token
        if not token:
            break
    assert found
