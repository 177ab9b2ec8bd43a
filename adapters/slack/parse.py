"""Slack payloads -> validated models -> neutral answers.

Every request body is validated here (after Bolt has checked its signature) before any listener sees it:
a payload that does not fit gets 400. Only the shape is checked; whether an answer is acceptable is the
engine's decision.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from adapters.slack import ids
from dialogs.state import Answer, FieldAnswer, Recipient

SlackId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]


"""Team, user, channel ids, message timestamps and trigger ids: never free text."""
Short = Annotated[str, Field(max_length=255)]
Typed = Annotated[str, Field(max_length=3000)]
"""Text a user typed (Slack caps plain_text_input at 3000 characters)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Ref(_Model):
    """What a button or modal refers to: one step of one check at one revision (kept short: c, s, r)."""

    c: uuid.UUID
    s: Annotated[str, Field(min_length=1, max_length=64)]
    r: Annotated[int, Field(ge=0)]


class CheckRef(_Model):
    """A button about a whole finished check (reconsider a 'do not share' decision): just the check."""

    c: uuid.UUID


class ChoiceRef(Ref):
    v: Annotated[str, Field(min_length=1, max_length=80)]
    """A choice id, or on the review screen ``change:<step id>`` (a step id is up to 64 characters)."""


class FormRef(Ref):
    """A modal's private_metadata: the step it answers and the DM message to update afterwards."""

    ch: SlackId
    ts: SlackId


class FollowUpRef(_Model):
    """A follow-up answer button's value: which follow-up, which answer, and whether a note is asked for.

    ``n`` is "r" (a note is required), "o" (optional) or absent; ``p`` is the question shown above the note.
    The service still decides what is acceptable: these only say which form to open.
    """

    f: uuid.UUID
    v: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]
    n: Literal["r", "o"] | None = None
    p: Annotated[str, Field(max_length=300)] = ""


class NoteRef(_Model):
    """The follow-up note modal's private_metadata: the answer it completes and the DM message to update."""

    f: uuid.UUID
    v: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]
    ch: SlackId | None = None
    ts: SlackId | None = None


class SlashCommand(_Model):
    team_id: SlackId
    user_id: SlackId
    channel_id: SlackId | None = None
    command: Annotated[str, Field(pattern=r"^/[a-z0-9_-]{1,31}$")]
    text: Typed = ""
    trigger_id: SlackId
    response_url: Annotated[str, Field(max_length=2000)] | None = None

    @property
    def subcommand(self) -> str:
        return self.text.strip().lower()

    @property
    def words(self) -> list[str]:
        """The text split on whitespace, case kept (mentions carry ids and names)."""
        return self.text.split()


class Team(_Model):
    id: SlackId


class User(_Model):
    id: SlackId


class Channel(_Model):
    id: SlackId


# --- Web API answers the adapter and the deliverer read ------------------------------------------


class Opened(_Model):
    """conversations.open"""

    channel: Channel


class Posted(_Model):
    """chat.postMessage"""

    channel: SlackId
    ts: SlackId


class Profile(_Model):
    tz: str | None = None


class UserInfo(_Model):
    """users.info"""

    user: Profile


class Container(_Model):
    type: Short
    message_ts: SlackId | None = None
    channel_id: SlackId | None = None


class SelectedOption(_Model):
    value: Annotated[str, Field(max_length=150)]


class StateValue(_Model):
    type: Short
    value: Typed | None = None
    selected_user: SlackId | None = None
    selected_option: SelectedOption | None = None
    selected_options: Annotated[list[SelectedOption], Field(max_length=100)] | None = None


class State(_Model):
    values: dict[Short, dict[Short, StateValue]] = Field(default_factory=dict)

    def get(self, block_id: str) -> StateValue | None:
        return self.values.get(block_id, {}).get(ids.INPUT_ACTION)


class Action(_Model):
    action_id: Short
    block_id: Short | None = None
    type: Short
    value: Annotated[str, Field(max_length=2000)] | None = None
    selected_option: SelectedOption | None = None
    """A select menu's pick (the review screen's 'change an answer')."""

    @property
    def ours(self) -> bool:
        return self.action_id.startswith(ids.CHOICE) or self.action_id in ids.REF_ACTIONS

    @property
    def follow_up(self) -> bool:
        return self.action_id.startswith(ids.FOLLOW_UP)

    @property
    def reconsider(self) -> bool:
        return self.action_id == ids.RECONSIDER

    def check_ref(self) -> CheckRef:
        return CheckRef.model_validate_json(self.value or "")

    def follow_up_ref(self) -> FollowUpRef:
        return FollowUpRef.model_validate_json(self.value or "")

    def ref(self) -> Ref:
        if self.action_id == ids.CHANGE:
            # a select menu has no value of its own: each option carries the whole reference
            picked = self.selected_option.value if self.selected_option else ""
            return ChoiceRef.model_validate_json(picked)
        model = ChoiceRef if self.action_id.startswith(ids.CHOICE) else Ref
        return model.model_validate_json(self.value or "")


class BlockActions(_Model):
    type: Literal["block_actions"]
    team: Team
    user: User
    trigger_id: SlackId | None = None
    container: Container
    channel: Channel | None = None
    actions: Annotated[list[Action], Field(min_length=1, max_length=25)]
    state: State = Field(default_factory=State)

    @model_validator(mode="after")
    def _our_values_parse(self) -> BlockActions:
        for action in self.actions:
            try:
                if action.ours:
                    action.ref()
                elif action.follow_up:
                    action.follow_up_ref()
                elif action.reconsider:
                    action.check_ref()
            except ValidationError:
                raise ValueError("a button of ours with a value we did not write") from None
        return self

    @property
    def action(self) -> Action:
        return self.actions[0]

    @property
    def message(self) -> tuple[str, str] | None:
        """(channel, ts) of the message the button was in, when it was in a message."""
        channel = self.container.channel_id or (self.channel.id if self.channel else None)
        if channel is None or self.container.message_ts is None:
            return None
        return channel, self.container.message_ts


class View(_Model):
    id: SlackId
    type: Short
    """'modal' (Bolt itself reads it, so it must be there)."""
    callback_id: Short = ""
    private_metadata: Annotated[str, Field(max_length=3000)] = ""
    state: State = Field(default_factory=State)

    def form_ref(self) -> FormRef:
        return FormRef.model_validate_json(self.private_metadata)

    def note_ref(self) -> NoteRef:
        return NoteRef.model_validate_json(self.private_metadata)


class ViewSubmission(_Model):
    type: Literal["view_submission"]
    team: Team
    user: User
    trigger_id: SlackId | None = None
    view: View

    @model_validator(mode="after")
    def _our_metadata_parses(self) -> ViewSubmission:
        try:
            if self.view.callback_id in (ids.ANSWER_VIEW, ids.FIELDS_VIEW):
                self.view.form_ref()
            elif self.view.callback_id == ids.FOLLOW_UP_VIEW:
                self.view.note_ref()
        except ValidationError:
            raise ValueError("our modal with metadata we did not write") from None
        return self


class ViewClosed(_Model):
    type: Literal["view_closed"]
    team: Team
    user: User
    view: View


Interaction = Annotated[BlockActions | ViewSubmission | ViewClosed, Field(discriminator="type")]
_INTERACTION: TypeAdapter[BlockActions | ViewSubmission | ViewClosed] = TypeAdapter(Interaction)
INTERACTION_TYPES = frozenset({"block_actions", "view_submission", "view_closed"})

LIFECYCLE_EVENTS = frozenset({"app_uninstalled", "tokens_revoked"})
"""The only Events API events ShareCheck subscribes to: a workspace removing the app or revoking its tokens."""


class RevokedTokens(_Model):
    oauth: list[SlackId] = Field(default_factory=list, max_length=1000)
    bot: list[SlackId] = Field(default_factory=list, max_length=1000)


class LifecycleEvent(_Model):
    type: Literal["app_uninstalled", "tokens_revoked"]
    tokens: RevokedTokens | None = None


class EventCallback(_Model):
    """An Events API delivery of an app lifecycle event (Bolt's listeners read the team from it)."""

    type: Literal["event_callback"]
    team_id: SlackId
    enterprise_id: SlackId | None = None
    event: LifecycleEvent


class UrlVerification(_Model):
    """Slack's one-off check of the Events request URL: Bolt answers it with the challenge."""

    type: Literal["url_verification"]
    challenge: Annotated[str, Field(min_length=1, max_length=200)]


Payload = SlashCommand | BlockActions | ViewSubmission | ViewClosed | EventCallback | UrlVerification


def parse_payload(body: dict[str, Any]) -> Payload | None:
    """The validated payload, or None for kinds ShareCheck does not handle (Bolt answers those itself).

    Raises ``ValidationError`` for a slash command or interaction that does not have Slack's shape.
    """
    if "command" in body:
        return SlashCommand.model_validate(body)
    kind = _text(body.get("type"))  # a list or an object there names no kind (and cannot be looked up)
    if kind in INTERACTION_TYPES:
        return _INTERACTION.validate_python(body)
    if kind == "url_verification":
        return UrlVerification.model_validate(body)
    event = body.get("event")
    if kind == "event_callback" and isinstance(event, dict) and _text(event.get("type")) in LIFECYCLE_EVENTS:
        return EventCallback.model_validate(body)
    return None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def error_block(state: State) -> str:
    """The input block of our modal that a refusal is shown under."""
    return ids.USER_BLOCK if ids.USER_BLOCK in state.values else ids.TEXT_BLOCK


def field_blocks(state: State) -> list[str]:
    """The input blocks of a form's modal, in the order Slack sent them."""
    return [block_id for block_id in state.values if block_id.startswith(ids.FIELD_BLOCK)]


# --- neutral answers ---------------------------------------------------------------------


def note_text(state: State) -> str | None:
    """What was typed in the follow-up note modal (None when left empty)."""
    value = state.get(ids.NOTE_BLOCK)
    return value.value if value is not None and value.value and value.value.strip() else None


# Slack sends mentions in slash command text escaped (the manifest's should_escape: true):
# users as <@U123|name> (or <@U123>), channels as <#C123|name> (or <#C123>).
USER_MENTION = re.compile(r"^<@([UW][A-Z0-9]{1,20})(?:\|[^>]*)?>$")
CHANNEL_MENTION = re.compile(r"^<#([CG][A-Z0-9]{1,20})(?:\|[^>]*)?>$")


def mentioned_user(word: str) -> str | None:
    match = USER_MENTION.match(word)
    return match.group(1) if match else None


def mentioned_channel(word: str) -> str | None:
    match = CHANNEL_MENTION.match(word)
    return match.group(1) if match else None


def choice_answer(ref: ChoiceRef) -> Answer:
    return Answer(step_id=ref.s, revision=ref.r, choices=(ref.v,))


def multi_answer(ref: Ref, state: State) -> Answer:
    """The ticked boxes of every checkboxes element in the message (long lists are split over several)."""
    picked: list[str] = []
    for block_id, elements in state.values.items():
        if not block_id.startswith(ids.MULTI_BLOCK):
            continue
        for action_id, value in elements.items():
            if action_id.startswith(ids.MULTI):
                picked.extend(option.value for option in value.selected_options or ())
    return Answer(step_id=ref.s, revision=ref.r, choices=tuple(picked))


def form_answer(ref: FormRef, state: State) -> Answer:
    """A typed answer from our modal: free text, or a recipient (a colleague, or organisation and role).

    Raises ``ValidationError`` when a typed value breaks a length limit of the neutral model.
    """
    base: dict[str, Any] = {"step_id": ref.s, "revision": ref.r}
    user = state.get(ids.USER_BLOCK)
    org = state.get(ids.ORG_BLOCK)
    role = state.get(ids.ROLE_BLOCK)
    if user is None and org is None and role is None:
        text = state.get(ids.TEXT_BLOCK)
        return Answer(**base, text=(text.value if text else None) or "")
    parts = {
        "user_id": user.selected_user if user else None,
        "organisation": org.value if org else None,
        "role": role.value if role else None,
    }
    if not any(parts.values()):
        return Answer(**base)  # nothing given: the engine asks for a recipient
    # both a colleague and an organisation may arrive: the engine decides what is acceptable
    return Answer(**base, recipient=Recipient(**parts))


def fields_answer(ref: FormRef, state: State) -> Answer:
    """A form's modal: each field's input as it came, by field id (the engine checks each on its own).

    Text inputs give text, radio buttons and selects one choice, checkboxes and multi-selects the ticked ones.
    Raises ``ValidationError`` when the values do not fit the neutral model (too many fields).
    """
    fields: dict[str, FieldAnswer] = {}
    for block_id in field_blocks(state):
        value = state.get(block_id)
        if value is None:
            continue
        field_id = block_id.removeprefix(ids.FIELD_BLOCK)
        if value.selected_options is not None:
            fields[field_id] = FieldAnswer(choices=tuple(o.value for o in value.selected_options))
        elif value.selected_option is not None:
            fields[field_id] = FieldAnswer(choices=(value.selected_option.value,))
        elif value.value is not None:
            fields[field_id] = FieldAnswer(text=value.value)
        # nothing picked or typed: the field is left out, which the engine reads as unanswered
    return Answer(step_id=ref.s, revision=ref.r, fields=fields)


__all__ = [
    "BlockActions",
    "CheckRef",
    "ChoiceRef",
    "EventCallback",
    "FollowUpRef",
    "FormRef",
    "NoteRef",
    "Payload",
    "Ref",
    "SlashCommand",
    "ValidationError",
    "ViewClosed",
    "ViewSubmission",
    "choice_answer",
    "field_blocks",
    "fields_answer",
    "form_answer",
    "mentioned_channel",
    "mentioned_user",
    "multi_answer",
    "note_text",
    "parse_payload",
]
