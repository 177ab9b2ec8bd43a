"""Whole checks through the check service with Slack actors, as every platform would drive them."""

from __future__ import annotations

import uuid

from bot.checks.models import Actor
from bot.db.models import Check
from bot.runtime import Runtime
from dialogs.messages import Completion
from tests.support.checks import finish_check

ALICE = Actor("slack", "T0001", "U0ALICE")


async def complete(runtime: Runtime, actor: Actor, script: dict | None = None) -> uuid.UUID:
    """A whole check in which every answer is accepted, ending in a record."""
    check_id, message = await finish_check(runtime, actor, script, strict=True)
    assert isinstance(message, Completion)
    return check_id


async def _row(runtime: Runtime, check_id: uuid.UUID) -> Check:
    async with runtime.sessions() as session:
        row = await session.get(Check, check_id)
        assert row is not None
        return row
