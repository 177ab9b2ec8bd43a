"""How the scheduler hands a message to a platform, and what the platform can answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import TypeAdapter

from dialogs.messages import Outbound

OUTBOUND: TypeAdapter[Outbound] = TypeAdapter(Outbound)
"""Reads a stored outbox message back into the neutral message it was queued as."""

PULLED_PLATFORMS = frozenset({"console"})
"""Platforms whose people collect their messages themselves (bot.services.inbox): never claimed by the scheduler."""


@dataclass(frozen=True)
class Delivered:
    ref: dict[str, Any] = field(default_factory=dict)
    """Where it landed (channel and ts, activity id), so a later update can find it."""


@dataclass(frozen=True)
class RetryLater:
    reason: str
    after: float | None = None
    """Seconds the platform asked us to wait (HTTP 429 Retry-After)."""


@dataclass(frozen=True)
class Undeliverable:
    """The person cannot be reached this way (left, blocked the app, never installed it)."""

    reason: str
    ours: bool = False
    """ShareCheck's own fault (the platform kept refusing our request), not the person's."""


@dataclass(frozen=True)
class Refused:
    """The platform refused our request itself (for example HTTP 400 BadArgument): a ShareCheck fault, not the
    person's. Retried a few times (a fixed release or a passing platform fault can still send it), each refusal
    written to the check's trail, then closed as undeliverable with ``ours`` set."""

    reason: str


DeliveryResult = Delivered | RetryLater | Refused | Undeliverable


class Deliverer(Protocol):
    async def deliver(self, workspace_id: str, user_id: str, message: Outbound) -> DeliveryResult: ...
