"""The scheduler's way into Teams: follow-ups, notices, escalations and digests as proactive cards.

The reader's stored conversation reference (saved when they first messaged or installed the bot) says
where to send; the Agents SDK sends it (``send_card``). One attempt per call: the scheduler owns retries,
backoff and the outbox state, so a throttled send is handed back as RetryLater, not slept on here.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from microsoft_agents.activity import ConversationReference
from pydantic import ValidationError

from adapters.teams.cards import render_outbound
from adapters.teams.elements import ActionStyle
from adapters.teams.proactive import retry_after, send_card
from bot.delivery import Delivered, DeliveryResult, Refused, RetryLater, Undeliverable
from bot.runtime import Runtime
from bot.services.users import get_user
from dialogs.messages import Outbound

log = logging.getLogger(__name__)

PLATFORM = "teams"
NEVER_TALKED = "never talked to the bot"
SEND_TIMEOUT = 20.0
"""Seconds one send may take before it counts as a timeout (retried later, like a 5xx)."""
GONE = frozenset({403, 404, 410})
"""The bot was removed or blocked, or the conversation no longer exists: retrying cannot help."""


class TeamsDeliverer:
    def __init__(self, runtime: Runtime, timeout: float = SEND_TIMEOUT) -> None:
        self.runtime = runtime
        self.timeout = timeout

    async def deliver(self, workspace_id: str, user_id: str, message: Outbound) -> DeliveryResult:
        user = await get_user(self.runtime.sessions, PLATFORM, workspace_id, user_id)
        if user is None or not user.conversation_ref:
            return Undeliverable(NEVER_TALKED)
        try:
            ref = ConversationReference.model_validate(user.conversation_ref)
        except ValidationError:
            return Undeliverable("stored conversation reference could not be read")
        # Action.Execute where the client is Teams; the Emulator and other channels only know Action.Submit
        style: ActionStyle = "execute" if ref.channel_id == "msteams" else "submit"
        card = render_outbound(message, style, viewer=user_id)
        try:
            activity_id = await asyncio.wait_for(send_card(self.runtime, ref, card, attempts=1), self.timeout)
        except aiohttp.ClientResponseError as exc:
            return _classify(exc)
        except (TimeoutError, aiohttp.ClientError) as exc:
            return RetryLater(f"connector unreachable ({type(exc).__name__})")
        return Delivered(_where(ref, activity_id))


def _classify(exc: aiohttp.ClientResponseError) -> DeliveryResult:
    if exc.status == 429:
        return RetryLater("throttled (429)", after=retry_after(exc))
    if exc.status >= 500 or exc.status == 408:
        return RetryLater(f"connector error ({exc.status})")
    if exc.status in GONE:
        return Undeliverable(f"bot removed or blocked, or conversation gone ({exc.status})")
    if exc.status == 401:
        # our credentials, not the person: keep the message and let an operator fix the configuration
        log.error("teams: the connector refused our token (401): check MICROSOFT_APP_ID and its secret")
        return RetryLater("connector refused our credentials (401)")
    # any other 4xx (400 BadArgument above all) is about our request, not the person: say so where it is read
    log.error(
        "teams: ShareCheck sent a malformed request (connector answered %s): a ShareCheck fault, not the "
        "recipient's; the scheduler retries it and records each refusal",
        exc.status,
    )
    return Refused(f"ShareCheck sent a request the connector refused ({exc.status})")


def _where(ref: ConversationReference, activity_id: str) -> dict[str, Any]:
    """Enough to update the card later (for example to show it was answered elsewhere)."""
    return {
        "service_url": ref.service_url,
        "conversation_id": ref.conversation.id if ref.conversation else None,
        "activity_id": activity_id,
    }
