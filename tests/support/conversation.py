"""Driving the neutral conversation layer as a person would: typed commands, button presses, whole checks.

Surfaces as each adapter declares them, a directory that knows time zones without a platform, and ``Person``,
who talks to a ``Conversation`` through a collecting messenger. Answers are built from the Prompt shown, the way
a person answers what is on screen, whatever the step's kind.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.conversation.commands import AnswerStep, Command, Who
from bot.conversation.grammar import Mention, parse_text
from bot.conversation.handler import Conversation
from bot.conversation.replies import Moved, Reply, ShowInPlace, Shown, ShowNew
from bot.conversation.wording import Surface
from dialogs.content import AnswerKind
from dialogs.messages import ALL_TRUE, SAVE, FieldSpec, Prompt
from dialogs.state import Answer, FieldAnswer, Recipient
from tests.support.flows import DEFAULT_RECIPIENT, DEFAULT_TEXT
from tests.support.messenger import CollectingMessenger

SLACK = Surface(platform="slack", command="/share-check", place="channel", whisper=True)
TEAMS = Surface(platform="teams", command="share-check", place="team", whisper=False)
CONSOLE = Surface(platform="console", command="share-check", place="channel", whisper=True)
CASE = "CS-2024-0113"
AnswerSpec = str | tuple[str, ...] | Recipient


@dataclass
class FakeDirectory:
    """Time zones by user id, as a platform's user directory would tell them; counts the look-ups."""

    zones: dict[str, str] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    async def time_zone(self, workspace_id: str, user_id: str) -> str | None:
        self.asked.append(user_id)
        return self.zones.get(user_id)


def _text_for(kind: AnswerKind) -> str:
    if kind is AnswerKind.CASE_REFERENCE:
        return CASE
    if kind is AnswerKind.DATETIME:
        return "now"
    return DEFAULT_TEXT


def _field(spec: FieldSpec, given: AnswerSpec | None) -> FieldAnswer:
    if isinstance(given, tuple):
        return FieldAnswer(choices=given)
    if spec.choices:
        return FieldAnswer(choices=(given if isinstance(given, str) else spec.choices[0].id,))
    return FieldAnswer(text=given if isinstance(given, str) else _text_for(spec.kind))


def answer_to(
    prompt: Prompt, given: AnswerSpec | None = None, fields: Mapping[str, AnswerSpec] | None = None
) -> Answer:
    """An answer to what the prompt shows: ``given`` if said, else the first choice or a neutral typed value."""
    base: dict[str, Any] = {"step_id": prompt.step_id, "revision": prompt.revision}
    spec = prompt.input
    if isinstance(given, Recipient):
        return Answer(**base, recipient=given)
    if isinstance(given, tuple):
        return Answer(**base, choices=given)
    if spec.kind is AnswerKind.FORM:
        fields = fields or {}
        return Answer(**base, fields={f.id: _field(f, fields.get(f.id)) for f in spec.fields})
    if spec.kind is AnswerKind.CONFIRM_LIST:
        return Answer(**base, choices=(given or ALL_TRUE,))
    if spec.kind is AnswerKind.REVIEW:
        return Answer(**base, choices=(given or SAVE,))
    if spec.kind is AnswerKind.RECIPIENT:
        return Answer(**base, recipient=DEFAULT_RECIPIENT)
    if spec.choices:
        return Answer(**base, choices=(given or spec.choices[0].id,))
    return Answer(**base, text=given if given is not None else _text_for(spec.kind))


@dataclass
class Person:
    """Someone talking to ShareCheck on one surface, every reply collected."""

    conversation: Conversation
    who: Who
    messenger: CollectingMessenger = field(default_factory=CollectingMessenger)

    async def do(self, command: Command, **where: Any) -> Reply:
        """Send a command; ``where`` changes who/where for this one (``private=False``, ``delivery="t1"``)."""
        who = self.who.model_copy(update=where) if where else self.who
        return await self.conversation.turn(who, command, self.messenger)

    async def say(self, text: str, mentions: Sequence[tuple[str, Mention]] = (), **where: Any) -> Reply:
        return await self.do(parse_text(text, mentions), **where)

    def on_screen(self) -> Shown:
        """The last message shown to them."""
        return self.messenger.shown()[-1]

    def prompt(self) -> Prompt:
        message = self.on_screen()
        assert isinstance(message, Prompt), f"no step on screen but {type(message).__name__}"
        return message

    async def answer(self, given: AnswerSpec | None = None, **where: Any) -> Reply:
        prompt = self.prompt()
        assert prompt.check_id is not None
        command = AnswerStep(check_id=uuid.UUID(prompt.check_id), answer=answer_to(prompt, given))
        return await self.do(command, **where)

    async def fill(self, fields: Mapping[str, AnswerSpec], given: AnswerSpec | None = None, **where: Any) -> Reply:
        """Answer what is on screen as ``answer`` does, a form's fields from ``fields`` by field id."""
        prompt = self.prompt()
        assert prompt.check_id is not None
        command = AnswerStep(check_id=uuid.UUID(prompt.check_id), answer=answer_to(prompt, given, fields))
        return await self.do(command, **where)

    async def finish_check(self, script: Mapping[str, AnswerSpec] | None = None, max_steps: int = 200) -> Shown:
        """Start (or carry on with) a check and answer every step until it ends: from ``script`` by step id, else
        the first choice (a form's fields by field id); nobody in immediate danger unless the script says so."""
        script = {"immediate_danger": "no", **(script or {})}
        await self.say("share-check")
        for _ in range(max_steps):
            message = self.on_screen()
            if not isinstance(message, Prompt):
                return message
            reply = await self.fill(script, script.get(message.step_id))
            assert isinstance(reply, ShowInPlace | ShowNew | Moved), reply
            assert not (isinstance(reply, ShowInPlace) and reply.refused), reply
        raise AssertionError(f"no end after {max_steps} steps")
