"""Messages nobody asked for just now (follow-ups, nudges, digests): sent from the scheduler, no incoming request.

The user's conversation reference comes from our database (stored when they first messaged or installed the
bot), so any instance can reach them after a restart. Throttling (429) and connector hiccups (5xx) are retried
with backoff and jitter, honouring Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from microsoft_agents.activity import ConversationReference
from microsoft_agents.hosting.core import TurnContext
from microsoft_agents.hosting.core.authorization import ClaimsIdentity

from adapters.teams.auth import BOT_FRAMEWORK_AUDIENCE
from adapters.teams.cards import render
from adapters.teams.endpoint import teams_app
from adapters.teams.messenger import card_activity
from bot.db.models import PlatformUser
from bot.runtime import Runtime
from dialogs.messages import Info, Message, PendingList

log = logging.getLogger(__name__)

ATTEMPTS = 4
BASE_DELAY = 0.5
MAX_DELAY = 30.0
RETRYABLE = frozenset({429, 500, 502, 503, 504})


class NotReachable(RuntimeError):
    """No stored conversation for this user (they never messaged or installed the bot)."""


async def send_proactive(runtime: Runtime, platform_user: PlatformUser, message: Message | Info | PendingList) -> str:
    """Send ``message`` as a card to the user's stored 1:1 conversation; returns the new activity's id."""
    if platform_user.platform != "teams" or not platform_user.conversation_ref:
        raise NotReachable("no Teams conversation stored for this user")
    ref = ConversationReference.model_validate(platform_user.conversation_ref)
    return await send_card(runtime, ref, render(message, "execute"))


async def send_card(
    runtime: Runtime, ref: ConversationReference, card: dict[str, Any], attempts: int = ATTEMPTS
) -> str:
    """Send one card; ``attempts=1`` leaves retrying to the caller (the scheduler has its own backoff)."""
    teams = teams_app(runtime)
    sent: list[str] = []
    failure: list[BaseException] = []

    async def callback(context: TurnContext) -> None:
        # the continuation activity carries a made-up id: without this the card would go out as a reply to it
        context.activity.id = None
        try:
            response = await context.send_activity(card_activity(card))
            sent.append(response.id if response and response.id else "")
        except Exception as exc:  # raised here, the adapter's turn-error handler would swallow it
            failure.append(exc)

    for attempt in range(1, attempts + 1):
        sent.clear()
        failure.clear()
        continuation = ref.get_continuation_activity()
        if runtime.settings.teams_emulator_mode:
            # continue_conversation() would build app-id claims and ask MSAL for a token: anonymous needs this path
            await teams.adapter.continue_conversation_with_claims(
                ClaimsIdentity({}), continuation, callback, audience=BOT_FRAMEWORK_AUDIENCE
            )
        else:
            await teams.adapter.continue_conversation(runtime.settings.microsoft_app_id or "", continuation, callback)
        if not failure:
            return sent[0] if sent else ""
        exc = failure[0]
        status = exc.status if isinstance(exc, aiohttp.ClientResponseError) else None
        retryable = status in RETRYABLE or isinstance(exc, aiohttp.ClientConnectionError)
        if not retryable or attempt == attempts:
            log.warning("teams: proactive send failed (%s, status %s)", type(exc).__name__, status)
            raise exc
        await asyncio.sleep(_delay(exc, attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def retry_after(exc: BaseException) -> float | None:
    """Seconds from a throttled response's Retry-After (seconds or an HTTP date), if it has one."""
    headers = exc.headers if isinstance(exc, aiohttp.ClientResponseError) else None
    value = headers.get("Retry-After") if headers else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _delay(exc: BaseException, attempt: int) -> float:
    asked = retry_after(exc)
    wait = asked if asked is not None else BASE_DELAY * 2 ** (attempt - 1)
    # jitter, so many throttled sends do not all come back at the same instant
    return float(min(MAX_DELAY, wait) + random.uniform(0, wait / 4))  # noqa: S311
