"""Remembering the people ShareCheck talks to and names: their time zone (follow-ups wait for their working hours)
and how to reach them later (the scheduler delivers follow-ups there).

Every turn comes through here, so what was stored is held for a while and not written again unless it changed;
a platform that does not send the time zone with a request is asked through its ``Directory`` at most that often.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.clock import Clock
from bot.conversation.commands import Who
from bot.db.transactions import ShortTransactions
from bot.services.users import remember_user

log = logging.getLogger(__name__)

REMEMBER_AGAIN = timedelta(hours=1)
"""How long a stored time zone is trusted before it is looked up and written again."""
HELD_MAX = 10_000


class Directory(Protocol):
    """What the platform can tell about a person of the workspace (an adapter provides it)."""

    async def time_zone(self, workspace_id: str, user_id: str) -> str | None:
        """Their IANA time zone, or None if unknown (or the platform could not be asked: log, do not raise)."""
        ...


class NoDirectory:
    """A platform that can tell nothing beyond what each request carries (Teams, the console)."""

    async def time_zone(self, workspace_id: str, user_id: str) -> str | None:
        return None


@dataclass(frozen=True)
class _Held:
    tz: str | None
    conversation_ref: dict[str, Any] | None
    aad_object_id: str | None
    at: datetime


class People:
    def __init__(self, transactions: ShortTransactions, clock: Clock, directory: Directory) -> None:
        self._transactions = transactions
        self._clock = clock
        self._directory = directory
        self._held: OrderedDict[tuple[str, str, str], _Held] = OrderedDict()

    async def remember(self, who: Who) -> None:
        """Store what this request tells about the person asking (time zone, conversation reference, Entra id)."""
        key = (who.platform, who.workspace_id, who.user_id)
        now = self._clock.now()
        held = self._fresh(key, now)
        if held is not None and _nothing_new(held, who):
            return
        tz = who.tz
        if tz is None:
            tz = held.tz if held is not None else await self._directory.time_zone(who.workspace_id, who.user_id)
        await self._store(key, now, tz, who.conversation_ref, who.aad_object_id, held)

    async def remember_colleague(self, who: Who, user_id: str) -> None:
        """A colleague named in a check (its follow-up will ask them): their time zone, if the platform can tell."""
        key = (who.platform, who.workspace_id, user_id)
        now = self._clock.now()
        if self._fresh(key, now) is not None:
            return
        tz = await self._directory.time_zone(who.workspace_id, user_id)
        if tz is None:
            return  # nothing to store: their own first request will tell
        await self._store(key, now, tz, None, None, None)

    def _fresh(self, key: tuple[str, str, str], now: datetime) -> _Held | None:
        held = self._held.get(key)
        return held if held is not None and now - held.at < REMEMBER_AGAIN else None

    async def _store(
        self,
        key: tuple[str, str, str],
        now: datetime,
        tz: str | None,
        ref: dict[str, Any] | None,
        aad: str | None,
        held: _Held | None,
    ) -> None:
        if tz is not None or ref is not None or aad is not None:
            platform, workspace_id, user_id = key
            await remember_user(
                self._transactions,
                platform,
                workspace_id,
                user_id,
                now,
                tz=tz,
                conversation_ref=ref,
                aad_object_id=aad,
            )
        # fields not given keep what was stored (remember_user does the same), so the held copy does too
        self._held[key] = _Held(
            tz or (held.tz if held else None),
            ref or (held.conversation_ref if held else None),
            aad or (held.aad_object_id if held else None),
            now,
        )
        self._held.move_to_end(key)
        if len(self._held) > HELD_MAX:
            self._held.popitem(last=False)


def _nothing_new(held: _Held, who: Who) -> bool:
    """Each thing the request tells is either not told or the same as held."""
    told = ((who.tz, held.tz), (who.conversation_ref, held.conversation_ref), (who.aad_object_id, held.aad_object_id))
    return all(given is None or given == kept for given, kept in told)
