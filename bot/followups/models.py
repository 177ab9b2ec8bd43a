"""The follow-up's vocabulary: its kinds, states and verbs, the purposes of its messages, and its errors.

Stored as their string values (``follow_ups.kind``, ``follow_ups.state``, ``outbox.purpose``, the trail's event
data), so a StrEnum compares equal to what a row holds and the values must never be renamed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dialogs.messages import Info


class Kind(StrEnum):
    RECIPIENT_CONFIRM = "recipient_confirm"
    """A colleague in the workspace received the information: are they sure it arrived and is understood?"""
    SENDER_CONFIRM = "sender_confirm"
    """The recipient is outside the workspace (or could not be reached): the sender confirms it with them."""
    TELL_REQUESTER = "tell_requester"
    """Not sharing after a request: the requester is to be told."""
    ADVICE = "advice"
    """'Ask my lead now' during a check: the lead advises once; the check waits."""
    DISAGREEMENT = "disagreement"
    """The local professional-disagreement route, offered or started about a share."""
    WRITTEN_CONFIRMATION = "written_confirmation"
    """The urgent path: a referral made by phone is to be confirmed in writing within a set time."""


class State(StrEnum):
    SCHEDULED = "scheduled"
    """Not asked yet: the scheduler asks when ``due_at`` comes."""
    AWAITING = "awaiting"
    """Asked; nudged at ``due_at`` until answered (and escalated at ``escalate_at`` where the kind is)."""
    ESCALATED = "escalated"
    """The lead has been told; still answerable, a late answer is recorded."""
    CONFIRMED = "confirmed"
    CLARIFICATION = "clarification"
    NOT_RECEIVED = "not_received"
    COULD_NOT_CONFIRM = "could_not_confirm"
    TOLD = "told"
    UNDELIVERABLE = "undeliverable"
    ADVISED = "advised"
    RESOLVED = "resolved"
    UNRESOLVED = "unresolved"
    CONFIRMED_IN_WRITING = "confirmed_in_writing"
    NOT_NEEDED = "not_needed"


OPEN_STATES: tuple[State, ...] = (State.SCHEDULED, State.AWAITING, State.ESCALATED)
"""Still answerable, and listed by ``pending``."""
SCHEDULED_STATES: tuple[State, ...] = (State.SCHEDULED, State.AWAITING)
"""Where the scheduler acts at ``due_at``."""
CLOSED_STATES: tuple[State, ...] = tuple(s for s in State if s not in OPEN_STATES)

SHARE_KINDS: tuple[Kind, ...] = (Kind.RECIPIENT_CONFIRM, Kind.SENDER_CONFIRM)
"""The 'received and understood' loop after a share: what the disagreement route starts from."""


class Verb(StrEnum):
    """What moves a follow-up: a one-click answer (its id in bot/content/followups.yaml), an answer on the receipt
    page, or the scheduler."""

    # answers in chat or the console
    UNDERSTOOD = "understood"
    CLARIFICATION = "clarification"
    NOT_RECEIVED = "not_received"
    CONFIRMED = "confirmed"
    REMIND_ME = "remind_me"
    COULD_NOT_CONFIRM = "could_not_confirm"
    TOLD = "told"
    SHARE_OK = "share_ok"
    DONT_SHARE = "dont_share"
    TALK = "talk"
    START = "start"
    NOT_NEEDED = "not_needed"
    RESOLVED = "resolved"
    NEXT_STAGE = "next_stage"
    IN_WRITING = "in_writing"
    # answers on the receipt page, by a recipient outside the workspace (ReceiptAnswer)
    RECEIPT_UNDERSTOOD = "receipt:understood"
    RECEIPT_RECEIVED = "receipt:received"
    RECEIPT_CLARIFICATION = "receipt:clarification"
    RECEIPT_NO_INFORMATION = "receipt:no_information"
    # the scheduler and the outbox
    ASK = "ask"
    NUDGE = "nudge"
    OVERDUE = "overdue"
    UNDELIVERABLE = "undeliverable"
    """The person asked, someone other than the sender, cannot be reached."""
    SENDER_UNREACHABLE = "sender_unreachable"
    """The sender, asked in their own chat, cannot be reached there."""


class ReceiptAnswer(StrEnum):
    """The answers on the receipt page (their ids in bot/content/followups.yaml, stored on the link)."""

    UNDERSTOOD = "understood"
    RECEIVED = "received"
    CLARIFICATION = "clarification"
    NO_INFORMATION = "no_information"

    @property
    def verb(self) -> Verb:
        return Verb(f"receipt:{self.value}")


RECEIPT_ANSWERS = frozenset(ReceiptAnswer)


class Purpose(StrEnum):
    """Why a follow-up's message is in the outbox (``outbox.purpose``)."""

    ASK = "ask"
    NUDGE = "nudge"
    NOTICE = "notice"
    ESCALATION = "escalation"
    NO_LEAD = "no_lead"
    UNDELIVERABLE = "undeliverable"
    DISAGREEMENT = "disagreement"
    ADVICE = "advice"


QUESTION_PURPOSES: tuple[Purpose, ...] = (Purpose.ASK, Purpose.NUDGE)
"""The messages that put a follow-up's question to the person asked."""


class Reason(StrEnum):
    """Why the lead is told (``follow_up_escalated`` in the trail)."""

    OVERDUE = "overdue"
    NOT_RECEIVED = "not_received"
    COULD_NOT_CONFIRM = "could_not_confirm"
    UNDELIVERABLE = "undeliverable"
    DISAGREEMENT_UNRESOLVED = "disagreement_unresolved"
    NO_INFORMATION = "no_information"
    NOT_IN_WRITING = "not_in_writing"


ACTOR_SYSTEM = "sharecheck:scheduler"
ACTOR_RECEIPT = "sharecheck:receipt-link"
"""The trail's actor for answers given on a receipt page (the person is named in the event's data)."""


class FollowUpNotFound(LookupError):
    """No such follow-up for this person (never says whether it exists for someone else)."""


class NoteRequired(ValueError):
    """This answer needs a typed note (for example, what is unclear)."""


class NotePersonalData(NoteRequired):
    """The note looks like it holds personal identifiers: asked for again, like a note that is missing (the
    warning is on the trail, its kinds only); ``confirm_personal_data`` keeps it as it is where that is offered."""

    def __init__(self, message: str, kinds: tuple[str, ...]) -> None:
        super().__init__(message)
        self.kinds = kinds


@dataclass(frozen=True)
class AnswerResult:
    changed: bool
    reply: Info
