"""Adaptive Cards checked against the 1.5 schema (with the Teams extensions allowed), and read back."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from adapters.teams.cards import TEAMS_EXTENSIONS

DATA = Path(__file__).parent.parent / "data"

NOW = datetime(2026, 11, 24, 10, tzinfo=UTC)

TEAMS_CARD_LIMIT = 28 * 1024

HOSTILE = "**Bold** _it_ [click](https://evil.example) <at>x</at> # heading\n- list\n\\ `code`"

TEAMS_EXTENSION_SCHEMAS: dict[str, dict[str, Any]] = {
    # the people picker: https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/people-picker
    "choices.data": {
        "type": "object",
        "properties": {"type": {"enum": ["Data.Query"]}, "dataset": {"enum": ["graph.microsoft.com/users"]}},
        "required": ["type", "dataset"],
        "additionalProperties": False,
    },
}
"""The Teams extensions the 1.5 schema does not know, allowed explicitly (and only where TEAMS_EXTENSIONS says)."""


@cache
def card_validator(teams_extensions: bool = True) -> jsonschema.Draft6Validator:
    schema = json.loads((DATA / "adaptive-card-1.5.0.json").read_text(encoding="utf-8"))
    definitions = schema["definitions"]
    if teams_extensions:
        for element, properties in TEAMS_EXTENSIONS.items():
            for name in properties:
                definitions[element]["properties"][name] = TEAMS_EXTENSION_SCHEMAS[name]
    return jsonschema.Draft6Validator({"$ref": "#/definitions/AdaptiveCard", "definitions": definitions})


def ids(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("id"), str) and "type" in node:
            yield node["id"]
        for value in node.values():
            yield from ids(value)
    elif isinstance(node, list):
        for item in node:
            yield from ids(item)


def assert_valid(card: dict[str, Any]) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in card_validator().iter_errors(card)]
    assert not errors, errors[:5]
    assert card["version"] <= "1.5"
    dupes = [i for i, n in Counter(ids(card)).items() if n > 1]
    assert not dupes, f"duplicate ids {dupes}"
    assert len(json.dumps(card)) < TEAMS_CARD_LIMIT


def _text_blocks(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "TextBlock":
            yield node["text"]
        for value in node.values():
            yield from _text_blocks(value)
    elif isinstance(node, list):
        for item in node:
            yield from _text_blocks(item)


def inputs(card: Any) -> dict[str, dict[str, Any]]:
    """Every input on the card (shown cards included), by id."""
    found: dict[str, dict[str, Any]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("Input."):
                found[node["id"]] = node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found
