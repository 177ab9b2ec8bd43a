"""Card actions (Action.Submit ``value`` or Action.Execute invoke data) -> neutral commands, validated by pydantic.

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
from dialogs.state import Answer, FieldAnswer, Recipient

Verb = Literal[
    "answer",
    "back",
    "cancel",
    "urgent",
    "start",
    "resume",
    "pending",
    "help",
    "follow_up",
    "digest",
    "reconsider",
    "revoke",
    "disagree",
]
CASE_COMMANDS: tuple[Verb, ...] = ("revoke", "disagree")
"""Commands typed with a case reference after them."""
COMMANDS: dict[str, Verb] = {
    "share-check": "start",
    "sharecheck": "start",
    "start": "start",
    "resume": "resume",
    "pending": "pending",
    "help": "help",
    "digest": "digest",
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
    person: str | None = Field(default=None, alias=PERSON, max_length=200)
    """The people picker's value: an Entra object id (the agent matches it to a user who talked to us)."""
    follow_up_id: uuid.UUID | None = None
    note: str | None = Field(default=None, max_length=NOTE_MAX * 2)
    """A follow-up answer's note: the card's input for the chosen answer (``sc_note_<choice>``)."""
    case_reference: str | None = Field(default=None, max_length=200)
    """For 'revoke' and 'disagree': the case it is about (typed, so checked by the service, not here)."""
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


@dataclass(frozen=True)
class CardAction:
    data: ActionData
    style: ActionStyle


class UnknownAction(ValueError):
    """A card action we did not send (an old card, another app's card, a tampered payload)."""


def _split(value: str) -> tuple[str, ...]:
    """A multi-select Input.ChoiceSet's value: the chosen values, comma-separated."""
    return tuple(c for c in (part.strip() for part in value.split(",")) if c)


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


_ENTRY = ("share-check", "sharecheck")


def parse_case_command(text: str | None) -> tuple[Verb, str] | None:
    """'revoke CASE-REF' or 'disagree CASE-REF' (also after 'share-check', as Slack users type it): the verb
    and the case reference.

    The reference is '' when it is missing (the caller shows how to use it); None if not one of these commands.
    """
    if not text:
        return None
    words = text.split()
    if words and words[0].lower().lstrip("/") in _ENTRY:
        words = words[1:]
    verb = words[0].lower().lstrip("/").rstrip(":") if words else ""
    for command in CASE_COMMANDS:
        if verb == command:
            return command, words[1].strip().rstrip(".,;") if len(words) > 1 else ""
    return None


def parse_revoke(text: str | None) -> str | None:
    """'revoke CASE-REF': the case reference ('' if missing); None if not this command."""
    parsed = parse_case_command(text)
    return parsed[1] if parsed is not None and parsed[0] == "revoke" else None


# --- admin commands ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Mention:
    user_id: str
    text: str


@dataclass(frozen=True)
class AdminCommand:
    action: Literal["lead_add", "lead_remove", "admin_add", "admin_remove", "usage"]
    lead: str | None = None
    users: tuple[str, ...] = ()
    scope: Literal["user", "channel", "workspace"] = "user"


ADMIN_USAGE_TITLE = "ShareCheck admin commands"
ADMIN_USAGE = (
    "Admin commands (for ShareCheck administrators):",
    "**admin lead add** @lead @practitioner ...: the lead for those practitioners",
    "**admin lead add** @lead all: the lead for everyone in your organisation",
    "**admin lead add** @lead team: (in a team channel) the lead for checks started from this team",
    "**admin lead remove** @lead: they lead nobody any more",
    "**admin add** @person: make them an administrator",
    "**admin remove** @person: they are no longer an administrator",
)


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


def parse_admin(text: str | None, people: list[Mention]) -> AdminCommand | None:
    """'admin lead add @lead @a @b', 'admin lead add @lead all|team', 'admin lead remove @lead', 'admin add @x',
    'admin remove @x'.

    Who is meant comes from the mention entities (their ids), never from the names in the text.
    None if the text is not an admin command at all.
    """
    if not text:
        return None
    words = text
    for person in people:
        words = words.replace(person.text, " ") if person.text else words
    tokens = [w.lower().strip(".,;") for w in words.split()]
    tokens = [t for t in tokens if t]
    if not tokens or tokens[0].lstrip("/") != "admin":
        return None
    rest = tokens[1:]
    ids = tuple(dict.fromkeys(p.user_id for p in people))
    if rest[:2] == ["lead", "add"] and ids:
        tail = rest[2:]
        if "all" in tail or "everyone" in tail:
            return AdminCommand("lead_add", ids[0], (), "workspace")
        if "team" in tail or "channel" in tail:
            return AdminCommand("lead_add", ids[0], (), "channel")
        if len(ids) > 1:
            return AdminCommand("lead_add", ids[0], ids[1:], "user")
    if rest[:2] == ["lead", "remove"] and len(ids) == 1:
        return AdminCommand("lead_remove", ids[0])
    if rest[:1] == ["add"] and len(ids) >= 1:
        return AdminCommand("admin_add", None, ids)
    if rest[:1] == ["remove"] and len(ids) >= 1:
        return AdminCommand("admin_remove", None, ids)
    return AdminCommand("usage")
