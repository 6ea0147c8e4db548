"""The one definition of a control character (Unicode Cc) and the two text rules built on it."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from cadenza_runtime.errors import InvalidArgument
from cadenza_runtime.rules.text import MULTI_LINE_ALLOWED, check_multi_line, check_single_line

CONTROL = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cc"]


def test_the_control_characters_are_c0_del_and_c1() -> None:
    assert CONTROL == [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]]


@pytest.mark.parametrize("char", CONTROL)
def test_single_line_text_refuses_every_control_character(char: str) -> None:
    with pytest.raises(InvalidArgument, match="control characters") as caught:
        check_single_line(f"a{char}b", "title")
    assert caught.value.metadata["field"] == "title"


@pytest.mark.parametrize("char", CONTROL)
def test_multi_line_text_refuses_every_control_character_but_tabs_and_line_breaks(char: str) -> None:
    if char in MULTI_LINE_ALLOWED:
        assert check_multi_line(f"a{char}b", "prompt") == f"a{char}b"
    else:
        with pytest.raises(InvalidArgument, match="control characters"):
            check_multi_line(f"a{char}b", "prompt")


@pytest.mark.parametrize("value", ["", "plain", "música", "\xa0", "\u2028", "emoji \U0001f3b5", "\u200b"])
def test_text_without_control_characters_is_accepted_by_both(value: str) -> None:
    assert check_single_line(value, "title") == value
    assert check_multi_line(value, "prompt") == value
