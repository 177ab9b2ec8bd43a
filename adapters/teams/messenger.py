"""The conversation's replies, as Teams shows them: Adaptive Cards sent, updated in place, or given back as the
answer to an Action.Execute invoke.

One messenger per turn. For Action.Submit (a message activity replying to the card pressed) a reply shown in
place updates that card; for Action.Execute the card pressed is replaced by the card in the invoke response, and
a reason nothing changed comes back as a message, leaving the card as it was. A new message (the first step of a
check, a list, a reconsidered check) goes to the chat, so the card it came from (a summary) stays.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
    InvokeResponse,
)
from microsoft_agents.hosting.core import TurnContext
from microsoft_agents.hosting.core.connector import ConnectorClientBase

from adapters.teams.cards import (
    CARD_CONTENT_TYPE,
    render,
    render_info,
    render_note_needed,
    render_notice,
    render_outcome,
)
from adapters.teams.elements import ActionStyle, Card
from adapters.teams.who import stored_ref
from bot.conversation.commands import Who
from bot.conversation.handler import Conversation
from bot.conversation.replies import AskTyped, Moved, NoteRequest, Reply, ShowInPlace, ShowNew, Unchanged
from dialogs.messages import Info

log = logging.getLogger(__name__)

MESSAGE_CONTENT_TYPE = "application/vnd.microsoft.activity.message"
"""An invoke answered with a message: Teams shows the text and leaves the card pressed as it was."""


def card_attachment(card: Card) -> Attachment:
    return Attachment(content_type=CARD_CONTENT_TYPE, content=card)


def card_activity(card: Card) -> Activity:
    return Activity(type=ActivityTypes.message, attachments=[card_attachment(card)])


def card_invoke_response(card: Card) -> InvokeResponse:
    """The Universal Actions response: Teams replaces the card that was clicked with this one."""
    return InvokeResponse(status=200, body={"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card})


def message_invoke_response(text: str) -> InvokeResponse:
    return InvokeResponse(status=200, body={"statusCode": 200, "type": MESSAGE_CONTENT_TYPE, "value": text})


def spoken(text: str) -> str:
    """Our wording as plain text (an invoke's message is not markdown): a command to type in quotes."""
    return re.sub(r"`([^`]+)`", r"“\1”", text)


def reply_card(reply: ShowInPlace | ShowNew | AskTyped, style: ActionStyle, viewer: str) -> Card:
    """The card for a reply; ``viewer`` is who reads it, so a ``{user:ID}`` token naming them reads 'you'."""
    if isinstance(reply, AskTyped):
        if isinstance(reply.prompt, NoteRequest):
            asked = reply.prompt
            return render_note_needed(str(asked.follow_up_id), asked.choice, asked.prompt, style, asked.note)
        return render(reply.prompt, style)  # a step's inputs are on its card
    message = reply.message
    if reply.plain and isinstance(message, Info):
        # quotes typed text (a case reference, a note) or names people: TextRuns, never markdown
        return render_outcome(message, viewer)
    if isinstance(reply, ShowNew) and reply.offer_start and isinstance(message, Info):
        return render_info(message, style, start_button=True)
    return render(message, style)


class TeamsMessenger:
    def __init__(
        self, context: TurnContext, conversation: Conversation, who: Who, style: ActionStyle, *, invoke: bool = False
    ) -> None:
        self.context = context
        self.conversation = conversation
        self.who = who
        self.style = style
        self.invoke = invoke
        self._response: InvokeResponse | None = None

    def invoke_response(self) -> InvokeResponse:
        """What an Action.Execute is answered with (nothing sent: the card stays, with nothing said)."""
        return self._response or message_invoke_response("")

    async def send(self, reply: Reply) -> None:
        if isinstance(reply, ShowInPlace | AskTyped):
            await self._in_place(reply_card(reply, self.style, self.who.user_id))
        elif isinstance(reply, ShowNew):
            card = reply_card(reply, self.style, self.who.user_id)
            sent = await self._send(card)
            if self.invoke:
                # the card pressed stays; if the new message could not be sent, it takes the pressed card's place
                fallback = str(card.get("fallbackText", ""))
                self._response = message_invoke_response(fallback) if sent else card_invoke_response(card)
        elif isinstance(reply, Unchanged):
            if self.invoke:
                self._response = message_invoke_response(spoken(reply.reason or ""))
            elif reply.reason:
                await self._send(render_notice(reply.reason))
        elif isinstance(reply, Moved):
            moved = await self._to_personal(reply.then)
            await self._in_place(render_notice(reply.notice if moved else reply.unreachable), replace=False)

    # --- sending -------------------------------------------------------------------------

    async def _in_place(self, card: Card, replace: bool = True) -> None:
        """Instead of the card pressed: the invoke's answer, else an update where Teams allows it, else a new
        message."""
        if self.invoke:
            self._response = card_invoke_response(card)
            return
        reply_to = self.context.activity.reply_to_id
        if replace and reply_to:
            update = card_activity(card)
            update.id = reply_to
            try:
                await self.context.update_activity(update)
                return
            except Exception as exc:  # e.g. the card is too old to edit: a new message still moves things on
                log.info("teams: could not update card in place (%s); sending a new one", type(exc).__name__)
        await self._send(card)

    async def _send(self, card: Card) -> bool:
        try:
            await self.context.send_activity(card_activity(card))
        except Exception as exc:  # the connector failed: logged by type only, never what the card says
            log.warning("teams: could not send a reply (%s)", type(exc).__name__)
            return False
        return True

    async def _to_personal(self, then: ShowNew) -> bool:
        """Carry a request made in a channel on in the person's 1:1 chat with the bot (answers are not for a
        team): open that chat, remember how to reach them there, and send the reply in it."""
        activity: Activity = self.context.activity
        connector = self.context.services.get(ConnectorClientBase)  # type: ignore[type-abstract]
        if connector is None or activity.from_property is None:
            return False
        tenant = self.who.workspace_id
        try:
            created = await connector.conversations.create_conversation(
                ConversationParameters(
                    is_group=False,
                    agent=activity.recipient,
                    members=[ChannelAccount(id=activity.from_property.id)],
                    tenant_id=tenant,
                    channel_data={"tenant": {"id": tenant}},
                )
            )
            ref = ConversationReference(
                conversation=ConversationAccount(id=created.id, tenant_id=tenant, conversation_type="personal"),
                user=activity.from_property,
                agent=activity.recipient,
                channel_id=activity.channel_id,
                service_url=activity.service_url,
            )
            reached: dict[str, Any] = stored_ref(ref)
            await self.conversation.remember(self.who.model_copy(update={"conversation_ref": reached}))
            outgoing = card_activity(reply_card(then, self.style, self.who.user_id)).apply_conversation_reference(ref)
            await connector.conversations.send_to_conversation(created.id, outgoing)
        except Exception as exc:  # no 1:1 possible (app not installed personally, policy): tell them where to go
            log.info("teams: could not open a personal chat (%s)", type(exc).__name__)
            return False
        return True
