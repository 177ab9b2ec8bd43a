"""Whether a request body's JSON is a shape any handler may be given: parsed without error, not nested deeper than
real payloads ever are, and holding only text a database column can store.

Slack and Bot Framework payloads nest about a dozen levels (a modal's blocks, an Adaptive Card's inputs); a body
nested hundreds deep is an attack or a bug, and past Python's recursion limit it breaks every recursive reader
(the JSON decoder, pydantic, logging). A NUL character or a lone surrogate half cannot be stored in PostgreSQL
text, so letting one through would fail deep in a transaction rather than here with a 400.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

MAX_DEPTH = 64
"""Several times the deepest payload either platform sends; far below the recursion limit."""


_MAY_HOLD_UNSTORABLE = re.compile(rb"\x00|\\u0000|\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
"""Bytes through which a parsed string can hold a NUL or a lone surrogate half: an escaped NUL, an escaped
surrogate (a valid pair also matches), the UTF-8 form of a surrogate (the decoder lets it through), or a zero
byte, which is in every UTF-16 or UTF-32 body."""


class BodyRefused(ValueError):
    """The body is not acceptable; the message says why and is safe to send back (it never quotes the body)."""


def load_json(raw: bytes | str) -> object:
    """Parse a JSON body and check its shape; BodyRefused when either fails."""
    try:
        value: object = json.loads(raw)
    except RecursionError as exc:  # the C decoder stops at the recursion limit
        raise BodyRefused(f"JSON nested deeper than {MAX_DEPTH} levels") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyRefused("body is not JSON") from exc
    if isinstance(raw, bytes) and _plainly_acceptable(raw):
        return value
    check_shape(value)
    return value


def _plainly_acceptable(raw: bytes) -> bool:
    """True if the bytes of a parsed body show that its value passes ``check_shape``, without walking it: few
    enough brackets that no nesting can be too deep, and nothing that can become unstorable text. Nearly every
    real body is such, and a walk costs three times the parse; any other body is walked."""
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:
        return False
    if raw.isascii() and b"\\u" not in raw and b"\x00" not in raw:
        return True
    return _MAY_HOLD_UNSTORABLE.search(raw) is None


def check_shape(value: object, max_depth: int = MAX_DEPTH) -> None:
    """BodyRefused if ``value`` (parsed JSON or form fields) nests deeper than ``max_depth`` or holds a string
    PostgreSQL cannot store. Iterative, so a deep value cannot exhaust the stack here."""
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            _check_text(item)
            continue
        if not isinstance(item, Mapping | list | tuple):
            continue
        if depth >= max_depth:
            raise BodyRefused(f"JSON nested deeper than {max_depth} levels")
        if isinstance(item, Mapping):
            for key, child in item.items():
                if isinstance(key, str):
                    _check_text(key)
                pending.append((child, depth + 1))
        else:
            pending.extend((child, depth + 1) for child in item)


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise BodyRefused("text contains a NUL character")
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate from a "\ud800" escape
        raise BodyRefused("text is not valid Unicode") from exc
