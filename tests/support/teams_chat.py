"""A Teams chat in-process: what a person types or presses, parsed as the agent parses it, handled by the
conversation layer, and each reply rendered as the Teams messenger renders it. No HTTP, no Agents SDK, no waiting.

The wire (the real endpoint, invoke responses, updates in place, proactive sends) is tested through
tests/support/teams.py; what ShareCheck answers, and how its cards look, is tested here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adapters.teams.cards import render_notice
from adapters.teams.elements import ActionStyle, Card
from adapters.teams.messenger import reply_card
from adapters.teams.parse import mentions, parse_execute, parse_submit, parse_typed
from adapters.teams.who import EMULATOR_TENANT
from bot.conversation.commands import Command, Who
from bot.conversation.handler import Conversation
from bot.conversation.replies import Moved, Reply, Unchanged
from dialogs.engine import Engine
from tests.support.flows import AnswerSpec
from tests.support.messenger import CollectingMessenger
from tests.support.teams import BOT, USER, card_answer

NOW = datetime(2026, 11, 24, 10, tzinfo=UTC)


def mention(user: str, name: str = "Colleague") -> dict[str, Any]:
    """A mention entity as Teams sends it with a message naming someone."""
    return {"type": "mention", "text": f"<at>{name}</at>", "mentioned": {"id": user, "name": name}}


def card_of(reply: Reply, style: ActionStyle, viewer: str) -> Card:
    """What the person sees for a reply: the card shown (in place, new, or in the private chat), or the reason
    nothing changed."""
    if isinstance(reply, Unchanged):
        return render_notice(reply.reason or "")
    if isinstance(reply, Moved):
        return reply_card(reply.then, style, viewer)
    return reply_card(reply, style, viewer)


@dataclass
class CardChat:
    conversation: Conversation
    engine: Engine
    who: Who = field(default_factory=lambda: Who(platform="teams", workspace_id=EMULATOR_TENANT, user_id=USER))
    style: ActionStyle = "execute"
    messenger: CollectingMessenger = field(default_factory=CollectingMessenger)
    cards: list[Card] = field(default_factory=list)

    @property
    def last(self) -> Reply:
        return self.messenger.last

    async def turn(self, command: Command) -> Card:
        reply = await self.conversation.turn(self.who, command, self.messenger)
        card = card_of(reply, self.style, self.who.user_id)
        self.cards.append(card)
        return card

    async def say(self, text: str, entities: Sequence[dict[str, Any]] = ()) -> Card:
        return await self.turn(parse_typed(text, mentions(list(entities), BOT)))

    async def click(self, act: dict[str, Any], inputs: dict[str, Any] | None = None) -> Card:
        """Press a button: its data and the card's inputs, as Teams sends them in this chat's style."""
        data = {**act.get("data", {}), **(inputs or {})}
        if self.style == "execute":
            verb = data["sc_verb"]
            action = parse_execute({"action": {"type": "Action.Execute", "verb": verb, "data": data}})
        else:
            action = parse_submit(data)
        return await self.turn(action.command)

    async def answer_step(self, card: Card, step_id: str, script: Mapping[str, AnswerSpec] | None = None) -> Card:
        """Answer the step on the card: from ``script`` by step or form field id, else the default way
        (tests/support/teams.py card_answer); nobody in immediate danger unless the script says so."""
        act, inputs = card_answer(self.engine.pack, card, script, step_id)
        return await self.click(act, inputs)
