"""The platforms this instance can deliver to (the scheduler's outbox goes through these)."""

from __future__ import annotations

from bot.delivery import Deliverer
from bot.runtime import Runtime


def build_deliverers(runtime: Runtime) -> dict[str, Deliverer]:
    """One deliverer per configured platform; each adapter owns its SDK and rendering."""
    deliverers: dict[str, Deliverer] = {}
    return deliverers
