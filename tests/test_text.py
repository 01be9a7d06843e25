"""`common.text`: the CJK test's byte-level shortcut agrees with the regex on any text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.text import CJK, has_cjk


@pytest.mark.parametrize(("text", "expected"), [
    ("", False), ("plain ASCII", False), ("curly ‘quotes’ and é, — dashes", False),
    ("ひらがな and カタカナ", False),  # kana: the lead byte of CJK (E3) but not CJK
    ("华为 Ascend", True), ("㐀 extension A", True), ("compatibility 豈", True),
    ("lone surrogate \ud800 then 中", True), ("lone surrogate \udfff", False),
])
def test_has_cjk_cases(text: str, expected: bool) -> None:
    assert has_cjk(text) is expected


@given(st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF)))
def test_has_cjk_agrees_with_the_regex(text: str) -> None:
    assert has_cjk(text) is (CJK.search(text) is not None)
