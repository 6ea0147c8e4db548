"""Resource names of the metadata API: parsing with clear INVALID_ARGUMENT errors, and formatting."""

from __future__ import annotations

import re
import uuid

from cadenza_runtime.errors import InvalidArgument

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# User ids come from identity providers (token subjects), so a few separators are allowed;
# never "/" or whitespace, which would break resource names.
USER_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._@:+~-]{0,127}"
MODEL_VERSION_PATTERN = r"[a-z0-9][a-z0-9._-]{0,62}"
STYLE_TEMPLATE_PATTERN = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"

_JOB = re.compile(rf"jobs/({_UUID})")
_TRACK = re.compile(rf"tracks/({_UUID})")
_USER = re.compile(rf"users/({USER_ID_PATTERN})")
_USER_ID = re.compile(f"({USER_ID_PATTERN})")
_USER_DEFAULTS = re.compile(rf"users/({USER_ID_PATTERN})/defaults")
_MODEL_VERSION = re.compile(rf"(?:modelVersions/)?({MODEL_VERSION_PATTERN})")
_MODEL_VERSION_NAME = re.compile(rf"modelVersions/({MODEL_VERSION_PATTERN})")
_STYLE_TEMPLATE = re.compile(rf"styleTemplates/({STYLE_TEMPLATE_PATTERN})")


def _match(pattern: re.Pattern[str], value: str, field: str, shape: str) -> str:
    match = pattern.fullmatch(value)
    if match is None:
        shown = value if len(value) <= 80 else value[:77] + "..."
        if not value:
            raise InvalidArgument(f"{field} is required and must look like {shape}", reason="MISSING_FIELD")
        raise InvalidArgument(f"{field} must look like {shape}, got {shown!r}", reason="MALFORMED_NAME")
    return match.group(1)


def parse_job(value: str, field: str = "name") -> uuid.UUID:
    return uuid.UUID(_match(_JOB, value, field, "'jobs/{uuid}'"))


def parse_track(value: str, field: str = "name") -> uuid.UUID:
    return uuid.UUID(_match(_TRACK, value, field, "'tracks/{uuid}'"))


def parse_user(value: str, field: str = "name") -> str:
    return _match(_USER, value, field, f"'users/{{id}}' with id matching {USER_ID_PATTERN}")


def check_user_id(value: str, field: str = "user_id") -> str:
    return _match(_USER_ID, value, field, f"an id matching {USER_ID_PATTERN}")


def parse_user_defaults(value: str, field: str = "name") -> str:
    return _match(_USER_DEFAULTS, value, field, "'users/{id}/defaults'")


def parse_model_version(value: str, field: str = "model_version") -> str:
    """A model version id, given bare ("cadenza-tiny-1") or as "modelVersions/cadenza-tiny-1"."""
    return _match(
        _MODEL_VERSION, value, field, f"'modelVersions/{{id}}' or an id matching {MODEL_VERSION_PATTERN}"
    )


def parse_model_version_name(value: str, field: str = "name") -> str:
    return _match(
        _MODEL_VERSION_NAME, value, field, f"'modelVersions/{{id}}' with id matching {MODEL_VERSION_PATTERN}"
    )


def parse_style_template(value: str, field: str = "name") -> str:
    return _match(
        _STYLE_TEMPLATE, value, field, f"'styleTemplates/{{id}}' with id matching {STYLE_TEMPLATE_PATTERN}"
    )


def job_name(job_id: uuid.UUID | str) -> str:
    return f"jobs/{job_id}"


def track_name(track_id: uuid.UUID | str) -> str:
    return f"tracks/{track_id}"


def user_name(user_id: str) -> str:
    return f"users/{user_id}"


def user_defaults_name(user_id: str) -> str:
    return f"users/{user_id}/defaults"


def model_version_name(version: str) -> str:
    return f"modelVersions/{version}"


def style_template_name(template_id: str) -> str:
    return f"styleTemplates/{template_id}"


def event_name(job_id: uuid.UUID | str, sequence: int) -> str:
    return f"jobs/{job_id}/events/{sequence}"


def audit_event_name(audit_id: int) -> str:
    return f"auditEvents/{audit_id}"
