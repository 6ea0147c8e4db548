"""Resource names of the suite (AIP-122): the id rule of each collection, parsing, formatting.

Parsing raises INVALID_ARGUMENT naming the field (reason MISSING_FIELD when empty, MALFORMED_NAME
otherwise); formatting trusts its input.
"""

from __future__ import annotations

import re
import uuid

from cadenza_runtime.rules.field import invalid, shown
from cadenza_runtime.rules.limits import MAX_MODEL_VERSION_CHARS, MAX_STYLE_TEMPLATE_CHARS, MAX_USER_ID_CHARS

UUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# User ids are token subjects from identity providers, so a few separators beyond AIP-122's are
# allowed (e-mail addresses, "provider:subject", "+" and "~" of generated ids); never "/" or
# whitespace, which would break resource names. Metadata has stored ids of this whole set.
USER_ID_PATTERN = rf"[A-Za-z0-9][A-Za-z0-9._@:+~-]{{0,{MAX_USER_ID_CHARS - 1}}}"
USER_ID_RULE = f"1..{MAX_USER_ID_CHARS} letters, digits and . _ @ : + ~ -, starting with a letter or digit"
MODEL_VERSION_PATTERN = rf"[a-z0-9][a-z0-9._-]{{0,{MAX_MODEL_VERSION_CHARS - 1}}}"
MODEL_VERSION_RULE = f"1..{MAX_MODEL_VERSION_CHARS} lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
STYLE_TEMPLATE_PATTERN = rf"[a-z0-9](?:[a-z0-9-]{{0,{MAX_STYLE_TEMPLATE_CHARS - 2}}}[a-z0-9])?"
# Object keys (blob): characters that need no escaping in URLs, shells or file systems.
OBJECT_KEY_CHARS = r"[A-Za-z0-9/._=-]"

_JOB = re.compile(rf"jobs/({UUID_PATTERN})")
_TRACK = re.compile(rf"tracks/({UUID_PATTERN})")
_USER = re.compile(rf"users/({USER_ID_PATTERN})")
_USER_ID = re.compile(USER_ID_PATTERN)
_USER_DEFAULTS = re.compile(rf"users/({USER_ID_PATTERN})/defaults")
_MODEL_VERSION = re.compile(rf"(?:modelVersions/)?({MODEL_VERSION_PATTERN})")
_MODEL_VERSION_NAME = re.compile(rf"modelVersions/({MODEL_VERSION_PATTERN})")
_STYLE_TEMPLATE = re.compile(rf"styleTemplates/({STYLE_TEMPLATE_PATTERN})")


def _match(pattern: re.Pattern[str], value: str, field: str, shape: str) -> str:
    match = pattern.fullmatch(value)
    if match is None:
        if not value:
            raise invalid(field, f"{field} is required and must look like {shape}", reason="MISSING_FIELD")
        raise invalid(field, f"{field} must look like {shape}, got {shown(value)}", reason="MALFORMED_NAME")
    return match.group(1) if pattern.groups else match.group(0)


def parse_job(value: str, field: str = "name") -> uuid.UUID:
    return uuid.UUID(_match(_JOB, value, field, "'jobs/{uuid}'"))


def parse_track(value: str, field: str = "name") -> uuid.UUID:
    return uuid.UUID(_match(_TRACK, value, field, "'tracks/{uuid}'"))


def canonical_job(value: str, field: str = "name") -> str:
    """ "jobs/{uuid}" with the uuid in its canonical lower-case form: upper-case ids are accepted,
    but every store key, channel and lock derives from the canonical one."""
    return job_name(parse_job(value, field))


def canonical_track(value: str, field: str = "name") -> str:
    return track_name(parse_track(value, field))


def parse_user(value: str, field: str = "name") -> str:
    return _match(_USER, value, field, f"'users/{{id}}' with an id of {USER_ID_RULE}")


def check_user_name(value: str, field: str = "user") -> str:
    """`value` itself once it is a "users/{id}" name."""
    parse_user(value, field)
    return value


def is_user_id(value: str) -> bool:
    return _USER_ID.fullmatch(value) is not None


def check_user_id(value: str, field: str = "user_id") -> str:
    return _match(_USER_ID, value, field, f"an id of {USER_ID_RULE}")


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
