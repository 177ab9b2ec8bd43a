"""The Teams activity handler: translation only. Activity in, (Who, Command) to the conversation layer
(bot/conversation/), its reply out as Adaptive Cards (adapters/teams/messenger.py). No domain rules here.

Answers arrive as Action.Submit (a message activity whose ``value`` holds the card's data and inputs) or as
Action.Execute (an ``adaptiveCard/action`` invoke answered with the next card in the InvokeResponse). Every
answer names its check, step and revision, so a double click or a replayed delivery is never recorded twice.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any, cast

from microsoft_agents.activity import Activity, InvokeResponse, TurnContextProtocol
from microsoft_agents.hosting.core import ActivityHandler, TurnContext

from adapters.teams.cards import render_notice
from adapters.teams.elements import Card
from adapters.teams.messenger import TeamsMessenger, card_activity, card_invoke_response
from adapters.teams.parse import UnknownAction, mentions, parse_execute, parse_submit, parse_typed
from adapters.teams.who import EMULATOR_TENANT, style_of, who_of
from bot.conversation.commands import Command, Who
from bot.conversation.handler import Conversation
from bot.conversation.wording import Surface, Wording
from bot.runtime import Runtime

log = logging.getLogger(__name__)

TEAMS = Surface(platform="teams", command="share-check", place="team")
"""Teams has no slash command: a person types 'share-check' to the bot; a shared space is a team."""
ADAPTIVE_CARD_ACTION = "adaptiveCard/action"

__all__ = ["EMULATOR_TENANT", "TEAMS", "ShareCheckAgent", "notice", "wording"]


@cache
def wording() -> Wording:
    return Wording(TEAMS)


def notice(template: str) -> Card:
    """A one-line card in the conversation's wording (bot/content/conversation.yaml), worded for Teams."""
    return render_notice(wording()(template))


class ShareCheckAgent(ActivityHandler):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.emulator = runtime.settings.teams_emulator_mode
        self.conversation = Conversation(runtime, TEAMS)  # no directory: each activity carries its time zone
        self.text = self.conversation.text

    def who(self, activity: Activity) -> Who | None:
        return who_of(activity, self.emulator)

    async def on_message_activity(self, context: TurnContextProtocol[Any]) -> None:
        turn_context = cast(TurnContext, context)
        activity: Activity = turn_context.activity
        who = self.who(activity)
        if who is None:
            await turn_context.send_activity(card_activity(notice(self.text.no_workspace)))
            return
        style = style_of(activity)
        command: Command
        if activity.value is not None:
            try:
                action = parse_submit(activity.value)
            except UnknownAction as exc:
                log.info("teams: unrecognised card submission (%s)", exc)
                await turn_context.send_activity(card_activity(notice(self.text.unknown_action)))
                return
            command, style = action.command, action.style
        else:
            # in a channel the bot is mentioned to be spoken to: that mention is not part of the command
            text = activity.text if who.private else activity.remove_recipient_mention()
            people = mentions(activity.entities, activity.recipient.id if activity.recipient else None)
            command = parse_typed(text, people)
        await self.conversation.turn(who, command, TeamsMessenger(turn_context, self.conversation, who, style))

    async def on_invoke_activity(self, context: TurnContextProtocol[Any]) -> InvokeResponse:
        turn_context = cast(TurnContext, context)
        activity: Activity = turn_context.activity
        if activity.name != ADAPTIVE_CARD_ACTION:
            return InvokeResponse(status=200, body={})  # other invokes (tab, config) are not ours
        try:
            action = parse_execute(activity.value)
        except UnknownAction as exc:
            log.info("teams: unrecognised Action.Execute (%s)", exc)
            return card_invoke_response(notice(self.text.unknown_action))
        who = self.who(activity)
        if who is None:
            return card_invoke_response(notice(self.text.no_workspace))
        messenger = TeamsMessenger(turn_context, self.conversation, who, action.style, invoke=True)
        try:
            await self.conversation.turn(who, action.command, messenger)
        except Exception as exc:  # the card must still get an answer; details stay in our log, typed text nowhere
            log.error("teams: Action.Execute failed: %s", type(exc).__name__)
            return card_invoke_response(notice(self.text.failed))
        return messenger.invoke_response()

    async def on_conversation_update_activity(self, context: TurnContextProtocol[Any]) -> None:
        turn_context = cast(TurnContext, context)
        activity: Activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        if not any(m.id == bot_id for m in activity.members_added or ()):
            return  # someone else joined: not an install
        who = self.who(activity)
        if who is None:
            return
        greeting = await self.conversation.greet(who)
        await TeamsMessenger(turn_context, self.conversation, who, style_of(activity)).send(greeting)
