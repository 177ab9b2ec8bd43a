"""What a person asks ShareCheck to do, the same on every platform.

An adapter turns a platform payload (a slash command, a button, a card submission, a typed line) into one of
these, with ``Who`` says who asked and where, and hands both to ``Conversation.handle``. Nothing here knows a
platform: ids are the platform's own, opaque strings, and an answer is the engine's neutral ``Answer``, passed
through untouched whatever kind of step it answers.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.checks.models import Actor
from dialogs.state import Answer

PlatformId = Annotated[str, Field(min_length=1, max_length=200)]
"""A user, channel, team or workspace id as the platform gives it (never free text)."""
CaseReference = Annotated[str, Field(min_length=1, max_length=200)]
"""A case reference as typed: checked by the services, never trusted here."""


class Verb(StrEnum):
    START = "start"
    RESUME = "resume"
    ANSWER = "answer"
    BACK = "back"
    CANCEL = "cancel"
    URGENT = "urgent"
    FORM = "form"
    """Open the typed form of the step on screen (Slack's 'Answer' button before its modal)."""
    RECONSIDER = "reconsider"
    REVOKE = "revoke"
    DISAGREE = "disagree"
    PENDING = "pending"
    DIGEST = "digest"
    HELP = "help"
    ADMIN = "admin"
    FOLLOW_UP = "follow_up"
    MENTION = "mention"
    """A message naming colleagues (with @) that is no command: while the check asks who receives the
    information, the colleague named is the answer."""


class Who(BaseModel):
    """Who asked, and where: everything the handler needs about the person and the place, nothing else."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: PlatformId
    workspace_id: PlatformId
    """The Slack team, the Teams tenant, 'console'."""
    user_id: PlatformId
    channel_id: PlatformId | None = None
    """Where it was asked when that was not the private chat: the Slack channel, the Teams team (else
    channel). Checks started there are led by the lead of that channel; 'admin lead add @lead team' uses it."""
    private: bool = True
    """Asked in the person's own one-to-one conversation with ShareCheck (Slack DM with the app, Teams
    personal chat, the console). False in a channel or group chat: case details never go there."""
    tz: str | None = Field(default=None, max_length=64)
    """The person's IANA time zone when the platform sends it with the request (Teams). Otherwise the
    adapter's ``Directory`` is asked, once in a while (follow-ups wait for working hours in it)."""
    conversation_ref: dict[str, Any] | None = None
    """How to reach the person later in their private chat (Teams' conversation reference, ids only), kept so
    the scheduler can deliver follow-ups. Only from the private chat."""
    aad_object_id: str | None = Field(default=None, max_length=64)
    """The person's Entra object id (Teams), what a people picker returns for them."""
    delivery: str | None = Field(default=None, max_length=300)
    """The platform's id of this delivery (Slack trigger id; Teams conversation and activity id): a retry of
    the same delivery is acted on once."""

    @property
    def actor(self) -> Actor:
        return Actor(self.platform, self.workspace_id, self.user_id)

    def delivery_key(self) -> str | None:
        """The dedupe key: the same shape for every platform, unique per workspace."""
        if not self.delivery:
            return None
        return f"{self.platform}:{self.workspace_id}:{self.delivery}"[:200]


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Start(_Command):
    verb: Literal[Verb.START] = Verb.START
    pack_id: str | None = Field(default=None, max_length=100)


class Resume(_Command):
    """Carry on: with the check in progress, or with ``check_id`` (a 'carry on' button about that check)."""

    verb: Literal[Verb.RESUME] = Verb.RESUME
    check_id: uuid.UUID | None = None


class AnswerStep(_Command):
    """An answer to one step: the engine's neutral answer, whatever the step's kind (form, list, review...)."""

    verb: Literal[Verb.ANSWER] = Verb.ANSWER
    check_id: uuid.UUID
    answer: Answer
    picked: str | None = Field(default=None, max_length=200)
    """A colleague picked with a people picker that returns an Entra object id (Teams): matched to a user."""


class _Move(_Command):
    check_id: uuid.UUID | None = None
    """None when typed ('back', 'urgent'): the check in progress."""
    revision: int | None = Field(default=None, ge=0)
    """The revision the button was shown at: a second press of the same button changes nothing."""


class Back(_Move):
    verb: Literal[Verb.BACK] = Verb.BACK


class Cancel(_Move):
    verb: Literal[Verb.CANCEL] = Verb.CANCEL


class Urgent(_Move):
    verb: Literal[Verb.URGENT] = Verb.URGENT


class OpenForm(_Command):
    """Type the answer to the step on screen (the adapter opens a form for it if it is still current)."""

    verb: Literal[Verb.FORM] = Verb.FORM
    check_id: uuid.UUID
    step_id: str = Field(max_length=64)
    revision: int = Field(ge=0)


class Reconsider(_Command):
    """Reopen a 'do not share' decision with new information: by its check (a button) or case reference."""

    verb: Literal[Verb.RECONSIDER] = Verb.RECONSIDER
    check_id: uuid.UUID | None = None
    case_reference: CaseReference | None = None


class Revoke(_Command):
    verb: Literal[Verb.REVOKE] = Verb.REVOKE
    case_reference: CaseReference | None = None
    """None when it was not given (the usage is shown)."""


class Disagree(_Command):
    verb: Literal[Verb.DISAGREE] = Verb.DISAGREE
    case_reference: CaseReference | None = None


class Pending(_Command):
    verb: Literal[Verb.PENDING] = Verb.PENDING


class DigestNow(_Command):
    verb: Literal[Verb.DIGEST] = Verb.DIGEST


class Help(_Command):
    verb: Literal[Verb.HELP] = Verb.HELP


class AdminAction(StrEnum):
    LEAD_ADD = "lead_add"
    LEAD_REMOVE = "lead_remove"
    ADMIN_ADD = "admin_add"
    ADMIN_REMOVE = "admin_remove"
    USAGE = "usage"
    """Not understood: the admin commands are shown."""


class LeadScope(StrEnum):
    """Whom a lead leads: the people and channels named, the channel or team where it is typed, everyone."""

    NAMED = "named"
    HERE = "here"
    EVERYONE = "everyone"


class Admin(_Command):
    verb: Literal[Verb.ADMIN] = Verb.ADMIN
    action: AdminAction
    lead: PlatformId | None = None
    users: tuple[PlatformId, ...] = ()
    """Practitioners the lead leads (LEAD_ADD, NAMED), or the people made or unmade administrators."""
    channels: tuple[PlatformId, ...] = ()
    scope: LeadScope = LeadScope.NAMED


class NoteAsk(StrEnum):
    REQUIRED = "required"
    OPTIONAL = "optional"


class FollowUpAnswer(_Command):
    """An answer to a follow-up question (did it arrive, the lead's advice, the disagreement route)."""

    verb: Literal[Verb.FOLLOW_UP] = Verb.FOLLOW_UP
    follow_up_id: uuid.UUID
    choice: str = Field(min_length=1, max_length=64)
    note: str | None = Field(default=None, max_length=4000)
    ask_note: NoteAsk | None = None
    """Pressed an answer that takes a note before typing it (Slack opens a form for it first): the note is
    asked for (a required one after checking the follow-up is theirs), nothing is recorded yet."""
    question: str = Field(default="", max_length=300)
    """The note's question as the button carried it, for an optional note."""
    confirm_personal_data: bool = False
    """Keep a note that was warned about as it is."""


class NameColleague(_Command):
    """Colleagues mentioned in a message that is no command, in the order named."""

    verb: Literal[Verb.MENTION] = Verb.MENTION
    user_ids: tuple[PlatformId, ...] = Field(min_length=1)


Command = Annotated[
    Start
    | Resume
    | AnswerStep
    | Back
    | Cancel
    | Urgent
    | OpenForm
    | Reconsider
    | Revoke
    | Disagree
    | Pending
    | DigestNow
    | Help
    | Admin
    | FollowUpAnswer
    | NameColleague,
    Field(discriminator="verb"),
]
