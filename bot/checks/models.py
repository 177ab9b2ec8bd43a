"""The check's vocabulary: who acts, what a move came to, the kinds of event on its trail, and its errors.

Event kinds, decisions and actions are stored as their string values (``check_events.kind``, ``checks.decision``,
a pack's ``action``), so a StrEnum compares equal to what a row holds and the values must never be renamed.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Check
from dialogs.messages import LinkView, Message, PendingItem
from dialogs.record import RecordSnapshot
from dialogs.state import DialogState


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user of one workspace (Slack team, Teams tenant) on one platform."""

    platform: str
    workspace_id: str
    user_id: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.workspace_id}:{self.user_id}"


class Outcome(StrEnum):
    STARTED = "started"
    RESUMED = "resumed"
    ADVANCED = "advanced"
    REFUSED = "refused"
    """The answer was not accepted; the message is the same step with the reason in its notice."""
    STALE = "stale"
    """The request was for a step or revision already passed (double click, retry): nothing changed."""
    CLOSED = "closed"


@dataclass(frozen=True)
class Reply:
    check_id: uuid.UUID
    outcome: Outcome
    message: Message
    error: str | None = None


class EventKind(StrEnum):
    """What the check service writes on a check's trail (``check_events.kind``). Other domains add their own
    events to the same trail (follow-ups, receipt links)."""

    STARTED = "started"
    ANSWERED = "answered"
    WENT_BACK = "went_back"
    CANCELLED = "cancelled"
    URGENT_EXIT = "urgent_exit"
    COMPLETED = "completed"
    """Written after the move that completed the check, with the decision."""
    PERSONAL_DATA_WARNING = "personal_data_warning"
    """An answer looked like it held personal data: the kinds found are recorded, never the text."""
    RECONSIDERED = "reconsidered"
    """On a 'do not share' check: a new check reconsiders it (the new one's ``started`` names the old one)."""


class Decision(StrEnum):
    """A completed check's decision (``checks.decision``; the packs' DECISIONS, dialogs/content.py)."""

    SHARE = "share"
    NOT_SHARE = "not_share"
    SEEK_ADVICE = "seek_advice"


class Action(StrEnum):
    """What a pack's choice can set off besides moving the check on (``Choice.action``, dialogs/content.py)."""

    ASK_LEAD = "ask_lead"


class CheckNotFound(LookupError):
    """No such check for this actor (never reveals whether it exists for someone else)."""


@dataclass(frozen=True)
class CompletionExtras:
    """What a completion hook adds to the practitioner's Completion message.

    Hooks run inside the completing transaction, so something they create there (a receipt link whose
    token exists only in memory) can reach the practitioner only through the message returned now.
    """

    covering_note_lines: tuple[str, ...] = ()
    """Appended to the covering note (the text the practitioner sends to the recipient)."""
    case_note_lines: tuple[str, ...] = ()
    """Appended to the case notes (for example the lead's advice given during the check)."""
    links: tuple[LinkView, ...] = ()
    next_steps: tuple[str, ...] = ()


CompletionHook = Callable[[AsyncSession, Check, RecordSnapshot, Actor], Awaitable[CompletionExtras | None]]
PendingSource = Callable[[Actor], Awaitable[list[PendingItem]]]
ActionHook = Callable[[AsyncSession, Check, DialogState, str, Actor], Awaitable[str | None]]
"""Runs when an answer carries an action (e.g. 'ask_lead'); may return a notice for the practitioner."""
