"""A recipient named with a people picker (Teams returns the person's Entra object id), as the check records them.

Matched to the colleague who talked to ShareCheck with that id, so their follow-up reaches them. One who never
did cannot be asked, so the check says so at once and records them as a colleague the sender confirms for,
rather than failing when the follow-up is due.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.checks.models import Actor, Outcome, Reply
from bot.checks.service import CheckService
from bot.services.users import user_by_aad_object_id
from dialogs.messages import Prompt
from dialogs.state import Answer, Recipient

NOT_YET_A_USER = (
    "The colleague you picked has not used ShareCheck yet, so ShareCheck cannot ask them to confirm they received "
    "this. They are recorded as a colleague in your organisation: you will be asked whether they confirmed, as for "
    "someone at another organisation."
)
UNREACHED_COLLEAGUE = Recipient(
    organisation="Own organisation", role="Colleague picked in Teams (not yet using ShareCheck)"
)
"""How a picked colleague who never talked to ShareCheck is recorded: the sender confirms for them."""


async def answer_with_picked_colleague(
    checks: CheckService,
    sessions: async_sessionmaker[AsyncSession],
    actor: Actor,
    check_id: uuid.UUID,
    answer: Answer,
    picked: str,
) -> Reply:
    user = await user_by_aad_object_id(sessions, actor.platform, actor.workspace_id, picked)
    recipient = Recipient(user_id=user.user_id) if user is not None else UNREACHED_COLLEAGUE
    typed = answer.recipient
    if typed is not None and (typed.organisation or typed.role):
        # both a colleague and an organisation: the engine refuses the mix with its own words
        mixed = {"organisation": typed.organisation, "role": typed.role}
        recipient = Recipient(user_id=user.user_id if user else picked, **mixed)
    reply = await checks.answer(actor, check_id, answer.model_copy(update={"recipient": recipient}))
    if user is None and reply.outcome is Outcome.ADVANCED and isinstance(reply.message, Prompt):
        return Reply(reply.check_id, reply.outcome, reply.message.model_copy(update={"notice": NOT_YET_A_USER}))
    return reply
