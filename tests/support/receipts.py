"""Helpers for the receipt-link tests: a runtime with a public URL, and a completed 'share' with its link."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select

from bot.checks.models import Actor
from bot.clock import ManualClock
from bot.db.models import FollowUp
from bot.runtime import Runtime
from dialogs.messages import Completion
from tests.support.checks import finish_check
from tests.support.settings import make_settings

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
    check_id, done = await finish_check(runtime, actor, {"decision": "share", **script})
    assert isinstance(done, Completion)
    return check_id, done


def token_of(done: Completion) -> str:
    assert done.covering_note is not None
    match = LINK.search(done.covering_note)
    assert match is not None, done.covering_note
    return match.group(1)


async def follow_up(rt: Runtime, check_id: uuid.UUID) -> FollowUp:
    async with rt.sessions() as s:
        fu = await s.scalar(select(FollowUp).where(FollowUp.check_id == check_id, FollowUp.kind == "sender_confirm"))
        assert fu is not None
        return fu
