"""Whole checks through the check service with Slack actors, as every platform would drive them."""

from __future__ import annotations

import uuid

from bot.checks.models import Actor, Outcome
from bot.db.models import Check
from bot.runtime import Runtime
from dialogs.messages import Completion, Prompt
from tests.support.flows import answer_at

ALICE = Actor("slack", "T0001", "U0ALICE")


async def complete(runtime: Runtime, actor: Actor, script: dict | None = None) -> uuid.UUID:
    script = {"immediate_danger": "no", **(script or {})}
    reply = await runtime.checks.start(actor)
    engine = runtime.packs.engine()
    while isinstance(reply.message, Prompt):
        state = engine.load((await _row(runtime, reply.check_id)).state)
        answer = answer_at(engine.pack, state, script)
        reply = await runtime.checks.answer(actor, reply.check_id, answer)
        assert reply.outcome is Outcome.ADVANCED, reply.error
    assert isinstance(reply.message, Completion)
    return reply.check_id


async def _row(runtime: Runtime, check_id: uuid.UUID) -> Check:
    async with runtime.sessions() as session:
        row = await session.get(Check, check_id)
        assert row is not None
        return row
