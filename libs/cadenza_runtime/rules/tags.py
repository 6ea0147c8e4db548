"""What a track tag may be: one definition for every service that takes tags from callers.

A tag travels from the orchestrator to inference (conditioning), metadata (job and track rows),
graph (a Tag node) and vector (a filterable field); each of those checks it again with this same
rule, since they are called directly too, so a tag the front door accepts never fails later in the
saga and no service stores a tag another would refuse: 1..64 characters, lower-case ASCII letters,
digits and - _ . / : + # &, words separated by single spaces, starting with a letter or digit and
never starting or ending with a space.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from cadenza_runtime.rules.field import SHOWN_CHARS, invalid

MAX_TAGS = 32
MAX_TAG_CHARS = 64
# Words of the allowed characters joined by single spaces; fullmatch, so no trailing newline slips
# through the way it does past `$`.
_TAG = re.compile(r"[a-z0-9][a-z0-9_+#&./:-]*(?: [a-z0-9_+#&./:-]+)*")
RULE = (
    f"1..{MAX_TAG_CHARS} lower-case letters, digits and - _ . / : + # &, starting with a letter or "
    "digit, words separated by single spaces"
)


def tag_problem(tag: str) -> str | None:
    """Why `tag` is not a tag, or None when it is one."""
    if not 0 < len(tag) <= MAX_TAG_CHARS:
        return f"has {len(tag)} characters; a tag has 1..{MAX_TAG_CHARS}"
    if tag != tag.strip(" "):
        return "starts or ends with a space"
    if "  " in tag:
        return "has consecutive spaces; separate words with one"
    if not _TAG.fullmatch(tag):
        return f"is not a tag: use {RULE}"
    return None


def tags_problem(tags: Sequence[str]) -> str | None:
    """Why `tags` is not a list of tags (too many, or the first bad one by index), or None."""
    if len(tags) > MAX_TAGS:
        return f"has {len(tags)} tags, at most {MAX_TAGS} are allowed"
    for i, tag in enumerate(tags):
        problem = tag_problem(tag)
        if problem is not None:
            return f"tag {tag[:80]!r} at index {i} {problem}"
    return None


def check_tag(tag: str, field: str) -> str:
    """`tag`, or INVALID_ARGUMENT on `field` saying what to fix."""
    problem = tag_problem(tag)
    if problem is not None:
        raise invalid(field, f"{field}: tag {tag[:SHOWN_CHARS]!r} {problem}")
    return tag


def check_tags(tags: Sequence[str], field: str, *, distinct: bool = False) -> list[str]:
    """Every tag by the rule, at most MAX_TAGS (counting each tag once when `distinct`, for a
    caller that merges duplicates); a bad one is named by its index ("tags[1]")."""
    count = len(set(tags)) if distinct else len(tags)
    if count > MAX_TAGS:
        kind = "distinct tags" if distinct else "tags"
        raise invalid(field, f"{field} has {count} {kind}; at most {MAX_TAGS} are allowed")
    return [check_tag(tag, f"{field}[{i}]") for i, tag in enumerate(tags)]


def check_tag_list(tags: Sequence[str], field: str) -> list[str]:
    """Like check_tags, but the error names the list itself and the tag's index in its message."""
    problem = tags_problem(tags)
    if problem is not None:
        raise invalid(field, f"{field}: {problem}")
    return list(tags)
