"""The conversation's replies as Block Kit, sent with the Slack Web API (one ``SlackMessenger`` per request).

A check lives in the person's DM with ShareCheck, in one message updated in place (``chat.update``); typed
answers and notes are taken in modals (``views.open``, while the request's trigger id is fresh). Anything else
is shown to the person only: an ephemeral reply where they asked.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render
from adapters.slack.parse import Posted
from bot.conversation.handler import CHECK_MESSAGES
from bot.conversation.replies import AskTyped, Moved, NoteRequest, Reply, ShowInPlace, ShowNew, Unchanged
from dialogs.messages import Completion, Info, Message, Prompt

log = logging.getLogger(__name__)

OpenDm = Callable[[str, str], Awaitable[str]]
"""(team, user) -> the id of the person's DM with ShareCheck (opened once, then remembered)."""


@dataclass
class Turn:
    """Where the request being answered came from."""

    team: str
    user: str
    message: tuple[str, str] | None = None
    """(channel, ts) of the message pressed, or of the DM message a modal belongs to."""
    trigger_id: str | None = None
    """Opens one modal within seconds of the request; None where a modal must not open (a modal's submission)."""
    respond: AsyncRespond | None = None
    """The request's response_url: an ephemeral reply where a slash command was typed."""
    noticed: bool = False
    """The acknowledgement already told them, where they typed, that the reply is in their DM."""


class SlackMessenger:
    def __init__(self, api: AsyncWebClient, open_dm: OpenDm, turn: Turn) -> None:
        self.api = api
        self._open_dm = open_dm
        self.turn = turn

    async def send(self, reply: Reply) -> None:
        if isinstance(reply, ShowInPlace):
            await self._in_place(reply)
        elif isinstance(reply, ShowNew):
            await self._new(reply)
        elif isinstance(reply, AskTyped):
            await self._ask(reply.prompt)
        elif isinstance(reply, Unchanged):
            if reply.reason:
                await self._whisper(reply.reason)
        else:
            await self._moved(reply)

    # --- the replies ---------------------------------------------------------------------------

    async def _in_place(self, reply: ShowInPlace) -> None:
        message = reply.message
        if isinstance(message, Completion):
            # the check message gives way to the summary, posted below it with the notes to copy
            await self._update(render.finished_blocks(message), render.completion_fallback(message))
            where = self.turn.message
            await self._post_check(where[0] if where else await self._dm(), message)
            return
        if isinstance(message, Prompt) and reply.refused is None and not reply.stale and render.needs_form(message):
            # the next question is typed: its form first, while the trigger is fresh, saving a click (the
            # message gets the form button too, in case the modal is closed)
            await self._form(message, self.turn.message)
        if isinstance(message, Info) and reply.recorded:
            blocks, text = render.answered_blocks(message), render.fallback(render.unmention(message.title))
        else:
            blocks, text = render.shown_blocks(message)
        await self._update(blocks, text)

    async def _new(self, reply: ShowNew) -> None:
        message = reply.message
        if isinstance(message, CHECK_MESSAGES):
            posted = await self._post_check(await self._dm(), message)
            if isinstance(message, Prompt) and render.needs_form(message):
                await self._form(message, (posted.channel, posted.ts))
            return
        blocks, text = render.shown_blocks(message)
        if reply.offer_start:
            blocks = [*blocks, render.start_button()]
        await self._ephemeral(text, render.to_dicts(blocks))

    async def _ask(self, asked: Prompt | NoteRequest) -> None:
        where = self.turn.message
        if isinstance(asked, Prompt):
            if where is not None:
                await self._open(render.modal(asked, *where))
            return
        meta: dict[str, Any] = {"f": str(asked.follow_up_id), "v": asked.choice}
        if where is not None:
            meta.update(ch=where[0], ts=where[1])
        await self._open(render.note_modal(meta, asked.prompt, required=asked.required))

    async def _moved(self, reply: Moved) -> None:
        try:
            await self._dm()
        except SlackApiError as exc:
            # the app cannot message them (not installed for them, a workspace policy): say so where they asked
            log.warning("slack: Web API answered %s opening the DM", exc.response.get("error", "an error"))
            await self._whisper(reply.unreachable)
            return
        await self._new(reply.then)
        if not self.turn.noticed:
            await self._whisper(reply.notice)

    # --- Web API calls ----------------------------------------------------------------------------

    async def _dm(self) -> str:
        return await self._open_dm(self.turn.team, self.turn.user)

    async def _form(self, prompt: Prompt, where: tuple[str, str] | None) -> None:
        if where is not None:
            await self._open(render.modal(prompt, *where))

    async def _open(self, view: View) -> None:
        trigger_id, self.turn.trigger_id = self.turn.trigger_id, None  # a trigger opens one modal
        if trigger_id is None:
            log.info("slack: no fresh trigger to open a modal with; the message keeps its form button")
            return
        await self.api.views_open(trigger_id=trigger_id, view=view.to_dict())

    async def _post_check(self, channel: str, message: Message) -> Posted:
        blocks, text = render.message_blocks(message)
        response = await self.api.chat_postMessage(channel=channel, blocks=render.to_dicts(blocks), text=text)
        if isinstance(message, Completion):
            # the notes to copy as a second message, so the summary itself fits the window
            notes = render.to_dicts(render.notes_blocks(message))
            await self.api.chat_postMessage(channel=channel, blocks=notes, text=render.NOTES_FALLBACK)
        return Posted.model_validate(response.data)

    async def _update(self, blocks: render.Blocks, text: str) -> None:
        where = self.turn.message
        if where is not None:
            try:
                await self.api.chat_update(channel=where[0], ts=where[1], blocks=render.to_dicts(blocks), text=text)
                return
            except SlackApiError as exc:
                # the message was deleted or can no longer be edited: carry on in a new one
                log.info("slack: chat.update answered %s; posting a new message", exc.response.get("error"))
        await self.api.chat_postMessage(channel=await self._dm(), blocks=render.to_dicts(blocks), text=text)

    async def _ephemeral(self, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        """Shown to the person only: where they typed the command, else beside the message they pressed."""
        if self.turn.respond is not None and self.turn.message is None:
            await self.turn.respond(text=text, blocks=blocks, response_type="ephemeral")
            return
        channel = self.turn.message[0] if self.turn.message else await self._dm()
        await self.api.chat_postEphemeral(channel=channel, user=self.turn.user, text=text, blocks=blocks)

    async def _whisper(self, text: str) -> None:
        await self._ephemeral(render.mentions(text))
