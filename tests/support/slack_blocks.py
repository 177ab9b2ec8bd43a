"""Slack Block Kit output checked against slack_sdk's own models."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block

from adapters.slack import render


def round_trip(blocks: list[Block], limit: int = render.MESSAGE_BLOCKS_MAX) -> list[dict[str, Any]]:
    dicts = render.to_dicts(blocks)  # slack_sdk checks its limits here
    assert 1 <= len(dicts) <= limit
    for d in dicts:
        parsed = Block.parse(d)
        assert parsed is not None, d  # parse() returns None for a type it does not know
        assert parsed.to_dict() == d
    return dicts


def round_trip_sent(dicts: list[dict[str, Any]], limit: int = render.MESSAGE_BLOCKS_MAX) -> None:
    """Blocks as the Web API received them (a message posted or updated): each one slack_sdk's models parse and
    write back unchanged, within Slack's count."""
    assert 1 <= len(dicts) <= limit
    for d in dicts:
        parsed = Block.parse(d)
        assert parsed is not None, d
        assert parsed.to_dict() == d
