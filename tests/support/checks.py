"""Completing a whole check through the check service, as every platform would drive it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from bot.checks.models import Actor, Outcome, Reply
from bot.db.models import Check
from bot.runtime import Runtime
from dialogs.messages import Message, Prompt
from dialogs.state import Answer, DialogState
from tests.support.flows import AnswerSpec, answer_at


async def finish_check(
    runtime: Runtime, actor: Actor, script: Mapping[str, AnswerSpec] | None = None, *, strict: bool = False
) -> tuple[uuid.UUID, Message]:
    """Answer every step (from ``script`` by step id, else the default; nobody in immediate danger unless
    the script says so) and return the check id and the final message. ``strict``: every answer must advance."""
    script = {"immediate_danger": "no", **(script or {})}
    reply = await runtime.checks.start(actor)
    engine = runtime.packs.engine()
    while isinstance(reply.message, Prompt):
        async with runtime.sessions() as s:
            row = await s.get(Check, reply.check_id)
            assert row is not None
            state = engine.load(row.state)
        answer = answer_at(engine.pack, state, script)
        reply = await runtime.checks.answer(actor, reply.check_id, answer)
        assert not strict or reply.outcome is Outcome.ADVANCED, reply.error
    return reply.check_id, reply.message


async def finish_urgent_check(runtime: Runtime, actor: Actor) -> tuple[uuid.UUID, Message]:
    """Answer the first step, take the 'someone is in immediate danger' exit every step offers, and answer the
    urgent path with the defaults: whatever the pack's steps are called."""
    reply = await runtime.checks.start(actor)
    engine = runtime.packs.engine()
    reply = await runtime.checks.answer(actor, reply.check_id, await _default(runtime, reply))
    reply = await runtime.checks.urgent(actor, reply.check_id)
    while isinstance(reply.message, Prompt):
        reply = await runtime.checks.answer(actor, reply.check_id, await _default(runtime, reply))
    async with runtime.sessions() as s:
        row = await s.get(Check, reply.check_id)
        assert row is not None and engine.load(row.state).urgent
    return reply.check_id, reply.message


async def _default(runtime: Runtime, reply: Reply) -> Answer:
    engine = runtime.packs.engine()
    assert isinstance(reply.message, Prompt)
    async with runtime.sessions() as s:
        row = await s.get(Check, reply.check_id)
        assert row is not None
        state = engine.load(row.state)
    return answer_at(engine.pack, state)


async def answer_until(
    runtime: Runtime, actor: Actor, check_id: uuid.UUID, step_id: str, script: Mapping[str, AnswerSpec] | None = None
) -> DialogState:
    """Answer a check in progress through the service (from ``script`` by step or form field id, else the
    default; nobody in immediate danger unless the script says so) until it asks ``step_id`` (the review screen's
    id too); its state then. For a test that drives one step on a platform and the rest as any platform would."""
    script = {"immediate_danger": "no", **(script or {})}
    engine = runtime.packs.engine()
    for _ in range(100):
        async with runtime.sessions() as s:
            row = await s.get(Check, check_id)
            assert row is not None
            state = engine.load(row.state)
        if state.step == step_id:
            return state
        assert state.step is not None, f"the check ended before {step_id}"
        reply = await runtime.checks.answer(actor, check_id, answer_at(engine.pack, state, script))
        assert reply.outcome is Outcome.ADVANCED, reply.error
    raise AssertionError(f"{step_id} was not asked within 100 answers")
