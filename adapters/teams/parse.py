"""Card actions (Action.Submit ``value`` or Action.Execute invoke data) -> neutral commands, validated by pydantic.

Teams merges the card's input values into the action's ``data``; anything it adds of its own is ignored.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.teams.cards import CHOICE, ORG, ROLE, TEXT, VERB, ActionStyle
from dialogs.state import Answer, Recipient

Verb = Literal["answer", "back", "cancel", "urgent", "start", "resume", "pending", "help"]
COMMANDS: dict[str, Verb] = {
    "share-check": "start",
    "sharecheck": "start",
    "start": "start",
    "resume": "resume",
    "pending": "pending",
    "help": "help",
}


class ActionData(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    verb: Verb = Field(alias=VERB)
    check_id: uuid.UUID | None = None
    step_id: str | None = Field(default=None, max_length=64)
    revision: int | None = Field(default=None, ge=0)
    choice: str | None = Field(default=None, alias=CHOICE, max_length=2000)
    text: str | None = Field(default=None, alias=TEXT, max_length=10000)
    organisation: str | None = Field(default=None, alias=ORG, max_length=200)
    role: str | None = Field(default=None, alias=ROLE, max_length=200)

    def answer(self) -> Answer:
        """The neutral answer; whether it fits the step is the engine's call, not the adapter's."""
        if self.step_id is None:
            raise ValueError("an answer needs its step")
        base: dict[str, Any] = {"step_id": self.step_id, "revision": self.revision}
        if self.organisation is not None or self.role is not None:
            recipient = Recipient(organisation=_blank(self.organisation), role=_blank(self.role))
            return Answer(**base, recipient=recipient)
        if self.choice is not None:
            # a multi-select Input.ChoiceSet sends its values comma-separated
            return Answer(**base, choices=tuple(c for c in self.choice.split(",") if c))
        return Answer(**base, text=self.text)


@dataclass(frozen=True)
class CardAction:
    data: ActionData
    style: ActionStyle


class UnknownAction(ValueError):
    """A card action we did not send (an old card, another app's card, a tampered payload)."""


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def parse_submit(value: object) -> CardAction:
    """The ``value`` of a message activity sent by Action.Submit."""
    return CardAction(_validate(value), "submit")


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
    return CardAction(_validate(data), "execute")


def _validate(value: object) -> ActionData:
    if not isinstance(value, dict):
        raise UnknownAction("no action data")
    try:
        return ActionData.model_validate(value)
    except ValidationError as exc:
        # the error names fields, never the values typed into them
        raise UnknownAction(f"{exc.error_count()} invalid field(s)") from None


def parse_command(text: str | None) -> Verb | None:
    """A typed command ('share-check', 'help', ...), case- and punctuation-tolerant; None if not one."""
    if not text:
        return None
    word = text.strip().lower().lstrip("/").rstrip(".!?")
    return COMMANDS.get(word)
