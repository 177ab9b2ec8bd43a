"""The body shape check: its shortcut through the raw bytes gives the same verdict as walking the parsed value.

``load_json`` skips the walk when the raw bytes show that no string can hold a NUL or a lone surrogate and that
there are too few brackets to nest too deep; these tests hold that shortcut to the walk's verdict."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.body_shape import MAX_DEPTH, BodyRefused, check_shape, load_json

TRICKY_TEXT = st.sampled_from(
    ["", "plain", "\x00", "a\x00b", "\ud800", "x\udfffy", "😀", "\\u0000", '"\\"', "[{", "}]", "é", "\u202e"]
)
text = TRICKY_TEXT | st.text(max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=10,
)
ENCODINGS = ("utf-8", "utf-16", "utf-16-le", "utf-32")


def _verdict(check: object) -> str:
    try:
        check()  # type: ignore[operator]
    except BodyRefused as exc:
        return str(exc)
    return "accepted"


def _nest(depth: int, value: object) -> object:
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def _raw(value: object, ascii_only: bool, encoding: str) -> bytes:
    # surrogatepass: a lone surrogate written as raw UTF-8 bytes, which the decoder lets through
    return json.dumps(value, ensure_ascii=ascii_only).encode(encoding, "surrogatepass")


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=json_values,
    depth=st.sampled_from([0, 1, MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1]),
    ascii_only=st.booleans(),
    encoding=st.sampled_from(ENCODINGS),
)
def test_the_raw_reading_agrees_with_the_walk(value: object, depth: int, ascii_only: bool, encoding: str) -> None:
    raw = _raw(_nest(depth, value), ascii_only, encoding)
    assert _verdict(lambda: load_json(raw)) == _verdict(lambda: check_shape(json.loads(raw)))


@pytest.mark.parametrize(
    ("body", "verdict"),
    [
        (b'{"a": "\\u0000"}', "text contains a NUL character"),
        (b'{"\\u0000": 1}', "text contains a NUL character"),
        (b'["\\ud800"]', "text is not valid Unicode"),
        (b'["\\uDFFF"]', "text is not valid Unicode"),
        (b'["\xed\xa0\x80"]', "text is not valid Unicode"),
        (b'["\\ud83d\\ude00"]', "accepted"),  # a valid pair is one character
        (b'["\\\\u0000"]', "accepted"),  # an escaped backslash, then the letters u0000
        (b'["[[[[{{{{"]', "accepted"),  # brackets inside a string are not nesting
        (b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, "accepted"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), f"JSON nested deeper than {MAX_DEPTH} levels"),
    ],
)
def test_each_way_in_for_unstorable_text_or_deep_nesting(body: bytes, verdict: str) -> None:
    assert _verdict(lambda: load_json(body)) == verdict
    assert _verdict(lambda: check_shape(json.loads(body))) == verdict
