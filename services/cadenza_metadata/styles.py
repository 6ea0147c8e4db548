"""Style templates and per-user defaults, both served cache-aside from Redis."""

from __future__ import annotations

from google.protobuf import field_mask_pb2

from cadenza.metadata.v1 import metadata_pb2
from cadenza_metadata import audit, cache, convert, validation
from cadenza_metadata.db import Connection
from cadenza_metadata.deps import SETTINGS_TTL_MS, Deps
from cadenza_metadata.keyset import Pager, Where
from cadenza_runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from cadenza_runtime.rules import generation, names


async def get_style_template(
    deps: Deps, request: metadata_pb2.GetStyleTemplateRequest
) -> metadata_pb2.GetStyleTemplateResponse:
    template_id = names.parse_style_template(request.name)

    async def load() -> metadata_pb2.StyleTemplate:
        row = await deps.db.fetchrow("SELECT * FROM style_templates WHERE id = $1", template_id)
        if row is None:
            raise NotFound(
                f"{names.style_template_name(template_id)} does not exist",
                reason="STYLE_TEMPLATE_NOT_FOUND",
                metadata={"resource": names.style_template_name(template_id)},
            )
        return convert.style_template(row)

    template = await deps.cache.read_through(
        cache.style_template_key(template_id), metadata_pb2.StyleTemplate, load, SETTINGS_TTL_MS
    )
    return metadata_pb2.GetStyleTemplateResponse(style_template=template)


async def put_style_template(
    deps: Deps, request: metadata_pb2.PutStyleTemplateRequest, actor: str
) -> metadata_pb2.PutStyleTemplateResponse:
    template = request.style_template
    template_id = names.parse_style_template(template.name, "style_template.name")
    validation.text(
        template.display_name, "style_template.display_name", max_length=validation.MAX_DISPLAY_NAME
    )
    generation.check_prompt(template.prompt, "style_template.prompt", required=False)
    validation.tags(list(template.tags), "style_template.tags")
    validation.generation_params(template.params, "style_template.params", prompt_required=False)

    async def work(conn: Connection) -> metadata_pb2.PutStyleTemplateResponse:
        row = await conn.fetchrow(
            """
            INSERT INTO style_templates (id, display_name, prompt, tags, params) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name, prompt = EXCLUDED.prompt,
                tags = EXCLUDED.tags, params = EXCLUDED.params, updated_at = now()
            RETURNING *
            """,
            template_id,
            template.display_name,
            template.prompt,
            list(template.tags),
            convert.to_json(template.params),
        )
        assert row is not None  # an upsert always returns its row
        await audit.record(conn, actor, "PutStyleTemplate", names.style_template_name(template_id), {})
        return metadata_pb2.PutStyleTemplateResponse(style_template=convert.style_template(row))

    response = await deps.db.write(work)
    await deps.cache.invalidate(cache.style_template_key(template_id))
    return response


async def list_style_templates(
    deps: Deps, request: metadata_pb2.ListStyleTemplatesRequest
) -> metadata_pb2.ListStyleTemplatesResponse:
    pager = Pager(deps.codec, "ListStyleTemplates", {}, request.page_size, request.page_token)
    where = Where()
    if pager.cursor is not None:
        where.add("id > {}", pager.cursor_value("id", str))
    sql = f"SELECT * FROM style_templates {where.sql} ORDER BY id LIMIT {pager.size + 1}"
    rows = await deps.db.fetch(sql, *where.args, replica=True)
    page, token = pager.page(rows, lambda r: {"id": r["id"]})
    return metadata_pb2.ListStyleTemplatesResponse(
        style_templates=[convert.style_template(r) for r in page], next_page_token=token
    )


async def get_user_defaults(
    deps: Deps, request: metadata_pb2.GetUserDefaultsRequest
) -> metadata_pb2.GetUserDefaultsResponse:
    """A user who never set defaults has empty ones (a singleton resource always exists)."""
    user_id = names.parse_user_defaults(request.name)

    async def load() -> metadata_pb2.UserDefaults:
        row = await deps.db.fetchrow("SELECT * FROM user_defaults WHERE user_id = $1", user_id)
        return convert.user_defaults(user_id, row)

    defaults = await deps.cache.read_through(
        cache.user_defaults_key(user_id), metadata_pb2.UserDefaults, load, SETTINGS_TTL_MS
    )
    return metadata_pb2.GetUserDefaultsResponse(user_defaults=defaults)


def _check_mask(mask: field_mask_pb2.FieldMask) -> list[str]:
    paths = list(mask.paths)
    for path in paths:
        if path in ("name", "update_time") or not field_mask_pb2.FieldMask(paths=[path]).IsValidForDescriptor(
            metadata_pb2.UserDefaults.DESCRIPTOR
        ):
            raise InvalidArgument(
                f"update_mask path {path!r} is not updatable; use 'params', 'params.<field>' or 'style_template'"
            )
    return paths


async def update_user_defaults(
    deps: Deps, request: metadata_pb2.UpdateUserDefaultsRequest, actor: str
) -> metadata_pb2.UpdateUserDefaultsResponse:
    user_id = names.parse_user_defaults(request.user_defaults.name, "user_defaults.name")
    paths = _check_mask(request.update_mask)
    incoming = request.user_defaults

    async def work(conn: Connection) -> metadata_pb2.UpdateUserDefaultsResponse:
        await conn.execute("INSERT INTO user_defaults (user_id) VALUES ($1) ON CONFLICT DO NOTHING", user_id)
        row = await conn.fetchrow("SELECT * FROM user_defaults WHERE user_id = $1 FOR UPDATE", user_id)
        merged = convert.user_defaults(user_id, row)
        if paths:
            field_mask_pb2.FieldMask(paths=paths).MergeMessage(
                incoming, merged, replace_message_field=True, replace_repeated_field=True
            )
        else:  # no mask replaces everything
            merged.params.CopyFrom(incoming.params)
            merged.style_template = incoming.style_template
        validation.generation_params(merged.params, "user_defaults.params", prompt_required=False)
        template_id = (
            names.parse_style_template(merged.style_template, "user_defaults.style_template")
            if merged.style_template
            else None
        )
        if (
            template_id is not None
            and await conn.fetchval("SELECT 1 FROM style_templates WHERE id = $1 FOR SHARE", template_id)
            is None
        ):
            raise FailedPrecondition(
                f"{names.style_template_name(template_id)} does not exist; create it with PutStyleTemplate first",
                reason="STYLE_TEMPLATE_NOT_FOUND",
                metadata={"resource": names.style_template_name(template_id)},
            )
        row = await conn.fetchrow(
            "UPDATE user_defaults SET params = $2, style_template = $3, updated_at = now() "
            "WHERE user_id = $1 RETURNING *",
            user_id,
            convert.to_json(merged.params),
            template_id,
        )
        await audit.record(
            conn, actor, "UpdateUserDefaults", names.user_defaults_name(user_id), {"paths": paths or ["*"]}
        )
        return metadata_pb2.UpdateUserDefaultsResponse(user_defaults=convert.user_defaults(user_id, row))

    response = await deps.db.write(work)
    await deps.cache.invalidate(cache.user_defaults_key(user_id))
    return response
