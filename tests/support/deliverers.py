"""A platform stand-in for scheduler tests: records what would reach each user, and can fail on demand.

The Slack and Teams tests use the real adapters against fake HTTP APIs; this one isolates the
scheduler's own logic (claims, leases, retries) from any platform.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field

from bot.delivery import Delivered, DeliveryResult
from dialogs.messages import Outbound


@dataclass
class Sent:
    workspace_id: str
    user_id: str
    message: Outbound


@dataclass
class RecordingDeliverer:
    sent: list[Sent] = field(default_factory=list)
    scripted: dict[str, list[DeliveryResult]] = field(default_factory=lambda: defaultdict(list))
    delay: float = 0.0
    _event: asyncio.Event | None = field(default=None, repr=False)

    def fail_next(self, user_id: str, *results: DeliveryResult) -> None:
        self.scripted[user_id].extend(results)

    async def deliver(self, workspace_id: str, user_id: str, message: Outbound) -> DeliveryResult:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.scripted.get(user_id):
            return self.scripted[user_id].pop(0)
        self.sent.append(Sent(workspace_id, user_id, message))
        self._arrived().set()
        return Delivered({"n": len(self.sent)})

    async def wait_to(self, user_id: str, within: float = 10.0) -> list[Outbound]:
        """What reached ``user_id``, once something has: woken by each delivery, not by polling."""
        async with asyncio.timeout(within):
            while not self.to(user_id):
                arrived = self._arrived()
                arrived.clear()
                await arrived.wait()
        return self.to(user_id)

    def _arrived(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    def to(self, user_id: str) -> list[Outbound]:
        return [s.message for s in self.sent if s.user_id == user_id]

    def clear(self) -> None:
        self.sent.clear()
