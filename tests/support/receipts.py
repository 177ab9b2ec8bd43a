"""Helpers for the receipt-link tests: a runtime with a public URL, and a completed 'share' with its link."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.clock import ManualClock
from bot.db.models import Check
from bot.runtime import Runtime
from bot.services.checks import Actor
from dialogs.messages import Completion, Prompt
from tests.conftest import make_settings
from tests.support.flows import answer_for, default_answer

PUBLIC_URL = "https://sharecheck.example.org"
ORGANISATION = "Northshire Children's Services"
SENDER = Actor("slack", "T1", "USENDER")
LEAD = "ULEAD"
LINK = re.compile(r"https?://[^/\s]+/r/([A-Za-z0-9_-]{43})")


@asynccontextmanager
async def receipt_runtime(db_url: str, clock: ManualClock, **overrides: Any) -> AsyncIterator[Runtime]:
    values: dict[str, Any] = {
        "sharecheck_public_url": PUBLIC_URL,
        "sharecheck_organisation_name": ORGANISATION,
        "sharecheck_secret_key": "test-secret-key-for-receipt-forms",
        **overrides,
    }
    settings = make_settings(db_url, **values)
    runtime = await Runtime.create(settings, clock=clock, migrate=True)
    try:
        yield runtime
    finally:
        await runtime.close()


async def finish(runtime: Runtime, actor: Actor, script: dict[str, Any]) -> tuple[uuid.UUID, Completion]:
    """Walk a check to its end (defaults: share with Northshire Police by the pack's first method)."""
    script = {"immediate_danger": "no", "decision": "share", **script}
    reply = await runtime.checks.start(actor)
    engine = runtime.packs.engine()
    while isinstance(reply.message, Prompt):
        step = engine.pack.step(reply.message.step_id)
        async with runtime.sessions() as s:
            row = await s.get(Check, reply.check_id)
            assert row is not None
            state = engine.load(row.state)
        answer = answer_for(step, state, script[step.id]) if step.id in script else default_answer(step, state)
        reply = await runtime.checks.answer(actor, reply.check_id, answer)
    assert isinstance(reply.message, Completion)
    return reply.check_id, reply.message


def token_of(done: Completion) -> str:
    assert done.covering_note is not None
    match = LINK.search(done.covering_note)
    assert match is not None, done.covering_note
    return match.group(1)
