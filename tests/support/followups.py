"""Follow-ups seeded through the check service: a share with a colleague, due follow-ups in bulk."""

from __future__ import annotations

import uuid
from datetime import timedelta

from bot.checks.models import Actor
from bot.db.models import FollowUp
from bot.runtime import Runtime
from dialogs.state import Recipient
from tests.support.checks import finish_check

SENDER = Actor("slack", "T1", "USENDER")

RECIPIENT = Actor("slack", "T1", "URECIP")

LEAD = "ULEAD"


async def complete(runtime: Runtime, actor: Actor, script: dict) -> uuid.UUID:
    check_id, _ = await finish_check(runtime, actor, script)
    return check_id


async def share_with_colleague(runtime: Runtime) -> uuid.UUID:
    await runtime.leads.assign("slack", "T1", LEAD, "workspace", "", runtime.clock.now())
    return await complete(runtime, SENDER, {"decision": "share", "recipient": Recipient(user_id=RECIPIENT.user_id)})


async def seed_due_follow_ups(runtime: Runtime, n: int) -> list[uuid.UUID]:
    """One real completed check, and n follow-ups hanging off it, all due now."""
    check_id = await complete(runtime, SENDER, {"decision": "share", "recipient": Recipient(user_id="UR")})
    now = runtime.clock.now()
    ids = [uuid.uuid4() for _ in range(n)]
    async with runtime.sessions.begin() as s:
        s.add_all(
            FollowUp(
                id=i,
                check_id=check_id,
                platform="slack",
                workspace_id="T1",
                kind="recipient_confirm",
                sender_id=SENDER.user_id,
                target_id=f"UR{k}",
                case_reference="CS-1",
                details={},
                state="scheduled",
                due_at=now,
                escalate_at=now + timedelta(days=3),
                nudges=0,
                created_at=now,
                updated_at=now,
            )
            for k, i in enumerate(ids)
        )
    return ids
