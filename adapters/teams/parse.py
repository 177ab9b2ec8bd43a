"""What Teams sends -> neutral commands (bot/conversation/commands.py): card actions (Action.Submit ``value`` or
Action.Execute invoke data), validated by pydantic, and typed messages with their mention entities.

Teams merges the card's input values into the action's ``data``; anything it adds of its own is ignored.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from adapters.teams.cards import NOTE_MAX, NOTE_PREFIX, ORG, PERSON, ROLE, TEXT
from adapters.teams.elements import CHOICE, VERB, ActionStyle
from adapters.teams.step_kinds import CHANGE, FIELD_CHOICES, FIELD_TEXT, FORM, TICKS
from bot.conversation.commands import (
    AnswerStep,
    Back,
    Cancel,
    Command,
    FollowUpAnswer,
    Pending,
    Reconsider,
    Resume,
    Start,
    Urgent,
)
from bot.conversation.grammar import UserMention, parse_text
from dialogs.state import Answer, FieldAnswer, Recipient

CardVerb = Literal["answer", "back", "cancel", "urgent", "start", "resume", "pending", "follow_up", "reconsider"]
"""What a ShareCheck card's button can ask for (typed commands go through bot.conversation.grammar)."""


class ActionData(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    verb: CardVerb = Field(alias=VERB)
    check_id: uuid.UUID | None = None
    step_id: str | None = Field(default=None, max_length=64)
    revision: int | None = Field(default=None, ge=0)
    choice: str | None = Field(default=None, alias=CHOICE, max_length=2000)
    text: str | None = Field(default=None, alias=TEXT, max_length=10000)
    organisation: str | None = Field(default=None, alias=ORG, max_length=200)
    role: str | None = Field(default=None, alias=ROLE, max_length=200)
    person: str | None = Field(default=None, alias=PERSON, max_length=200)
    """The people picker's value: an Entra object id (the agent matches it to a user who talked to us)."""
    follow_up_id: uuid.UUID | None = None
    note: str | None = Field(default=None, max_length=NOTE_MAX * 2)
    """A follow-up answer's note: the card's input for the chosen answer (``sc_note_<choice>``)."""
    form: tuple[Annotated[str, Field(max_length=64)], ...] | None = Field(default=None, alias=FORM, max_length=30)
    """A form's Continue: the ids of its fields (their inputs are read into ``fields``)."""
    fields: dict[str, FieldAnswer] | None = None
    ticks: str | None = Field(default=None, alias=TICKS, max_length=2000)
    """A confirmation list's ticked statements, comma-separated."""
    change: str | None = Field(default=None, alias=CHANGE, max_length=200)
    """The review screen's answer to change (``change:<step id>``)."""

    @model_validator(mode="before")
    @classmethod
    def _note_of_choice(cls, value: Any) -> Any:
        # each answer that takes a note has its own input, so only the chosen answer's note counts
        if isinstance(value, dict) and isinstance(value.get(CHOICE), str):
            note = value.get(NOTE_PREFIX + value[CHOICE])
            if note is not None:
                return {**value, "note": note}
        return value

    @model_validator(mode="before")
    @classmethod
    def _form_fields(cls, value: Any) -> Any:
        # each field has its own input; one Teams left out (an empty input, an older client) is unanswered
        if not isinstance(value, dict):
            return value
        value = {k: v for k, v in value.items() if k != "fields"}  # only ever read from the inputs
        if not isinstance(value.get(FORM), list):
            return value
        fields: dict[str, Any] = {}
        for field_id in value[FORM]:
            if not isinstance(field_id, str):
                return value  # the form list itself fails validation
            chosen = value.get(FIELD_CHOICES + field_id)
            typed = value.get(FIELD_TEXT + field_id)
            fields[field_id] = {
                # anything but a string (a tampered payload) is left for validation to refuse
                "choices": _split(chosen) if isinstance(chosen, str) else () if chosen is None else chosen,
                "text": typed if typed != "" else None,
            }
        return {**value, "fields": fields}

    def answer(self) -> Answer:
        """The neutral answer; whether it fits the step is the engine's call, not the adapter's."""
        if self.step_id is None:
            raise ValueError("an answer needs its step")
        base: dict[str, Any] = {"step_id": self.step_id, "revision": self.revision}
        if self.fields is not None:
            return Answer(**base, fields=self.fields)
        if self.organisation is not None or self.role is not None:
            recipient = Recipient(organisation=_blank(self.organisation), role=_blank(self.role))
            return Answer(**base, recipient=recipient)
        if self.choice is not None:
            # a multi-select Input.ChoiceSet sends its values comma-separated
            return Answer(**base, choices=_split(self.choice))
        # the button's own choice wins above (All true, Save): a client that sends every input with it changes nothing
        if self.change is not None:
            return Answer(**base, choices=(self.change,) if self.change else ())
        if self.ticks is not None:
            return Answer(**base, choices=_split(self.ticks))
        return Answer(**base, text=self.text)

    def to_command(self) -> Command:
        """The neutral command this button asks for; ValueError if the card did not say enough for it."""
        if self.verb == "start":
            return Start()
        if self.verb == "pending":
            return Pending()
        if self.verb == "resume":
            return Resume(check_id=self.check_id)
        if self.verb == "follow_up":
            if self.follow_up_id is None or not self.choice:
                raise ValueError("a follow-up answer needs its follow-up and choice")
            return FollowUpAnswer(follow_up_id=self.follow_up_id, choice=self.choice, note=self.note)
        if self.check_id is None:
            raise ValueError("no check named")
        if self.verb == "answer":
            return AnswerStep(check_id=self.check_id, answer=self.answer(), picked=self.person)
        if self.verb == "reconsider":
            return Reconsider(check_id=self.check_id)
        if self.verb == "back":
            return Back(check_id=self.check_id, revision=self.revision)
        if self.verb == "cancel":
            return Cancel(check_id=self.check_id, revision=self.revision)
        return Urgent(check_id=self.check_id, revision=self.revision)


@dataclass(frozen=True)
class CardAction:
    data: ActionData
    style: ActionStyle
    command: Command


class UnknownAction(ValueError):
    """A card action we did not send (an old card, another app's card, a tampered payload)."""


def _split(value: str) -> tuple[str, ...]:
    """A multi-select Input.ChoiceSet's value: the chosen values, comma-separated."""
    return tuple(c for c in (part.strip() for part in value.split(",")) if c)


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def parse_submit(value: object) -> CardAction:
    """The ``value`` of a message activity sent by Action.Submit."""
    data = _validate(value)
    return CardAction(data, "submit", _command(data))


def parse_execute(value: object) -> CardAction:
    """The ``value`` of an ``adaptiveCard/action`` invoke: ``{"action": {"type", "verb", "data"}, "trigger"}``."""
    if not isinstance(value, dict):
        raise UnknownAction("no action")
    act = value.get("action")
    if not isinstance(act, dict) or act.get("type") != "Action.Execute":
        raise UnknownAction("not an Action.Execute")
    data = act.get("data")
    data = dict(data) if isinstance(data, dict) else {}
    if isinstance(act.get("verb"), str):
        data[VERB] = act["verb"]  # the verb is authoritative for Execute
    validated = _validate(data)
    return CardAction(validated, "execute", _command(validated))


def _validate(value: object) -> ActionData:
    if not isinstance(value, dict):
        raise UnknownAction("no action data")
    try:
        return ActionData.model_validate(value)
    except ValidationError as exc:
        # the error names fields, never the values typed into them
        raise UnknownAction(f"{exc.error_count()} invalid field(s)") from None


def _command(data: ActionData) -> Command:
    try:
        return data.to_command()
    except ValidationError as exc:
        raise UnknownAction(f"{exc.error_count()} invalid field(s)") from None
    except ValueError as exc:
        raise UnknownAction(str(exc)) from None


# --- typed messages ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Mention:
    user_id: str
    text: str


def mentions(entities: object, bot_id: str | None) -> list[Mention]:
    """User mentions in a message, in the order they appear; the bot's own mention is not one of them."""
    found: list[Mention] = []
    for entity in entities if isinstance(entities, list) else ():
        raw = entity.model_dump(by_alias=True) if isinstance(entity, BaseModel) else entity
        if not isinstance(raw, dict) or raw.get("type") != "mention":
            continue
        mentioned = raw.get("mentioned") or {}
        user_id = mentioned.get("id") if isinstance(mentioned, dict) else None
        if isinstance(user_id, str) and user_id and user_id != bot_id:
            found.append(Mention(user_id, str(raw.get("text") or "")))
    return found


def parse_typed(text: str | None, people: list[Mention]) -> Command:
    """A typed message: the one grammar every surface shares; who is meant comes from the mention entities
    (their ids), never from the names in the text."""
    return parse_text(text, [(person.text, UserMention(person.user_id)) for person in people])
