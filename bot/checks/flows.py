"""What other domains hang off a check: hooks when it completes, actions a choice sets off, and items for
``pending``.

The follow-ups and receipt links register here (bot/runtime.py), so the check service knows none of them. Hooks
and actions run inside the transaction of the move that set them off: what they write commits with the move, or
not at all.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.checks.models import (
    Action,
    ActionHook,
    Actor,
    CompletionExtras,
    CompletionHook,
    PendingSource,
)
from bot.db.models import Check
from dialogs.engine import Engine
from dialogs.messages import PendingItem
from dialogs.record import RecordSnapshot
from dialogs.state import DialogState


class CheckFlows:
    def __init__(self) -> None:
        self._on_complete: list[CompletionHook] = []
        self._pending_sources: list[PendingSource] = []
        self._actions: dict[Action, ActionHook] = {}

    def on_complete(self, hook: CompletionHook) -> None:
        """Run ``hook`` inside the transaction that records a completed check (follow-ups hang off this)."""
        self._on_complete.append(hook)

    def on_action(self, action: Action, hook: ActionHook) -> None:
        self._actions[action] = hook

    def add_pending_source(self, source: PendingSource) -> None:
        """Other services (follow-ups) add their open items to ``pending``."""
        self._pending_sources.append(source)

    async def completed(
        self, session: AsyncSession, check: Check, snapshot: RecordSnapshot, actor: Actor
    ) -> list[CompletionExtras]:
        """Run every completion hook, in the order registered; what they add to the Completion message."""
        extras: list[CompletionExtras] = []
        for hook in self._on_complete:
            extra = await hook(session, check, snapshot, actor)
            if extra is not None:
                extras.append(extra)
        return extras

    def handles(self, action: Action | None) -> bool:
        return action is not None and action in self._actions

    async def act(
        self, action: Action, session: AsyncSession, check: Check, state: DialogState, step_id: str, actor: Actor
    ) -> str | None:
        """Run the hook of ``action`` (answered at ``step_id``); a notice for the practitioner, or None."""
        return await self._actions[action](session, check, state, step_id, actor)

    async def pending(self, actor: Actor) -> list[PendingItem]:
        """What the other domains have open for this practitioner."""
        items: list[PendingItem] = []
        for source in self._pending_sources:
            items.extend(await source(actor))
        return items


def action_of(engine: Engine, before: DialogState, after: DialogState) -> Action | None:
    """The action of the choice just answered, if it has one."""
    step_id = before.step
    if step_id is None or step_id not in after.answers or after.revision == before.revision:
        return None
    step = engine.pack.step(step_id)
    for choice_id in after.answers[step_id].choices:
        choice = step.choice(choice_id)
        if choice is not None and choice.action:
            return Action(choice.action)
    return None
