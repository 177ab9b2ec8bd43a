"""Neutral messages: everything an adapter needs to render a step or an outcome, and nothing platform-specific.

User-typed text inside these models is raw; each adapter escapes it for its own markup.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from dialogs.content import AnswerKind
from dialogs.profile import EmergencyContact


class ChoiceView(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    label: str
    style: str | None = None


class FieldSpec(BaseModel):
    """One field of a form: a question answered together with the others on one screen."""

    model_config = ConfigDict(frozen=True)

    id: str
    label: str
    kind: AnswerKind
    """single_choice, multi_choice, yes_no_unsure, free_text, case_reference or datetime."""
    choices: tuple[ChoiceView, ...] = ()
    optional: bool = False
    max_length: int = 2000
    placeholder: str | None = None
    help: str | None = None
    initial: tuple[str, ...] = ()
    """Choice ids to show selected: the earlier answer, or the organisation's default."""
    initial_text: str | None = None
    """Typed text to show filled in: the earlier answer, or what was submitted with a refused form."""
    error: str | None = None
    """Why this field's value was refused (the other fields keep theirs)."""


class InputSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: AnswerKind
    choices: tuple[ChoiceView, ...] = ()
    """For a confirmation list, its items; for the review screen, Save and one 'change' per answer."""
    multiple: bool = False
    optional: bool = False
    min_length: int = 0
    max_length: int = 2000
    placeholder: str | None = None
    previous: str | None = None
    """The earlier answer, shown when the practitioner comes back to a step."""
    fields: tuple[FieldSpec, ...] = ()
    """A form's fields, in order."""
    initial: tuple[str, ...] = ()
    """Choice ids to show selected (a confirmation list's items ticked before)."""
    all_label: str | None = None
    """A confirmation list's one-click 'all of these are true' (its answer: ``ALL_TRUE``)."""


class CitationView(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    publisher: str
    year: int | None
    authority: str
    """Human label: 'statutory guidance', 'non-statutory advice', ..."""
    url: str | None = None
    where: str | None = None

    def short(self) -> str:
        when = f" ({self.year})" if self.year else ""
        where = f", {self.where}" if self.where else ""
        return f"{self.publisher}, {self.title}{when}{where} [{self.authority}]"


class GuidanceView(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    citation: CitationView | None = None


class MythView(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    text: str
    citation: CitationView


class LinkView(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    url: str


class SummaryLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    label: str
    value: str


ALL_TRUE = "all_true"
"""The choice a confirmation list's 'all true' button sends: every item ticked."""

SAVE = "save"
"""The review screen's Save: the only answer that records the decision."""

CHANGE_PREFIX = "change:"
"""Review-screen choices ``change:<step id>`` go back to that answer to edit it."""


class Progress(BaseModel):
    """Where the check is, in its sections ('Decide', 'Share', 'Review'): never a count that moves."""

    model_config = ConfigDict(frozen=True)

    sections: tuple[str, ...]
    current: int
    """Index into ``sections``."""

    def label(self) -> str:
        return " › ".join(f"{s.upper()}" if i == self.current else s for i, s in enumerate(self.sections))

    @property
    def section(self) -> str:
        return self.sections[self.current]


class ReviewView(BaseModel):
    """The review screen: the record and covering note as they will be saved, each answer editable."""

    model_config = ConfigDict(frozen=True)

    decision_label: str
    lines: tuple[SummaryLine, ...]
    covering_note: str | None = None
    changes: tuple[ChoiceView, ...] = ()
    """One per answer that can be changed: id ``change:<step id>``, label the question's title."""


class Prompt(BaseModel):
    """One step of the check, waiting for an answer."""

    model_config = ConfigDict(frozen=True)

    type: Literal["prompt"] = "prompt"
    check_id: str | None = None
    pack_title: str
    step_id: str
    revision: int
    title: str
    question: str
    help: str | None = None
    input: InputSpec
    guidance: tuple[GuidanceView, ...] = ()
    citations: tuple[CitationView, ...] = ()
    links: tuple[LinkView, ...] = ()
    contacts: tuple[EmergencyContact, ...] = ()
    """Who to call now: the organisation's emergency contacts, shown on the immediate-danger step."""
    progress: Progress
    can_go_back: bool
    urgent_exit: bool
    """Offer 'someone is in immediate danger' (hidden once the check is on that path)."""
    notice: str | None = None
    """A line to show above the question: why an answer was refused, or that a check was resumed."""
    myths: tuple[MythView, ...] = ()
    """Short answers to the worry the last answer revealed, shown above the question."""
    personal_data_warning: bool = False
    """The notice warns of likely personal details; offer 'keep my answer as it is' (confirm_personal_data)."""
    review: ReviewView | None = None
    """Set on the review screen (input kind ``review``): what Save will record."""


class Completion(BaseModel):
    """The recorded outcome of a finished check."""

    model_config = ConfigDict(frozen=True)

    type: Literal["completion"] = "completion"
    check_id: str | None = None
    pack_title: str
    decision: str
    decision_label: str
    case_reference: str | None
    reasons: str | None
    immediate_risk: bool
    lines: tuple[SummaryLine, ...]
    next_steps: tuple[str, ...]
    unsure: tuple[str, ...]
    """Titles of the principles or rules the practitioner was unsure about."""
    links: tuple[LinkView, ...] = ()
    case_notes: str
    """Plain text ready to paste into the case record."""
    covering_note: str | None = None
    """When sharing: a note for the recipient, to paste into the secure email or read out."""
    can_reconsider: bool = False
    """A 'do not share' decision: offer 'reconsider with new information'."""


class Cancelled(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: Literal["cancelled"] = "cancelled"
    check_id: str | None = None
    text: str = "Check cancelled. Nothing was decided; the cancellation is recorded."


class Info(BaseModel):
    """A short informational reply: help, a list, a confirmation."""

    model_config = ConfigDict(frozen=True)

    type: Literal["info"] = "info"
    title: str
    lines: tuple[str, ...] = ()
    links: tuple[LinkView, ...] = ()


class PendingItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["check_in_progress", "follow_up"]
    case_reference: str | None
    status: str
    """Human words: 'in progress, step 4 of 12', 'awaiting confirmation', 'overdue since ...'."""
    check_id: str


class PendingList(BaseModel):
    """What is still open for a practitioner: a check in progress and follow-ups not yet closed."""

    model_config = ConfigDict(frozen=True)

    type: Literal["pending"] = "pending"
    items: tuple[PendingItem, ...] = ()
    empty_text: str = "Nothing open: no check in progress and no follow-ups waiting."


class FollowUpPrompt(BaseModel):
    """A 'received and understood' question with one-click answers.

    ``lines`` may hold ``{user:ID}`` tokens, which each adapter turns into a mention; all other text
    is plain and is escaped by the adapter.
    """

    model_config = ConfigDict(frozen=True)

    type: Literal["follow_up"] = "follow_up"
    follow_up_id: str
    title: str
    lines: tuple[str, ...]
    choices: tuple[ChoiceView, ...]
    note_required: tuple[str, ...] = ()
    """Choices that need a typed note (for example what is unclear)."""
    note_optional: tuple[str, ...] = ()
    note_prompt: str = ""


class DigestFigure(BaseModel):
    model_config = ConfigDict(frozen=True)

    label: str
    value: int
    previous: int

    @property
    def change(self) -> int:
        return self.value - self.previous


class DigestItem(BaseModel):
    """Something that needs the lead: a case reference and what is wrong."""

    model_config = ConfigDict(frozen=True)

    case_reference: str
    text: str


class Digest(BaseModel):
    """A lead's summary for one period, actionable items first."""

    model_config = ConfigDict(frozen=True)

    type: Literal["digest"] = "digest"
    title: str
    period: str
    needs_you: tuple[DigestItem, ...] = ()
    figures: tuple[DigestFigure, ...] = ()
    unsure: tuple[DigestFigure, ...] = ()
    worries_label: str = "Worries that came up (myth-busters shown)"
    worries: tuple[DigestFigure, ...] = ()
    """The myth-busters shown most often: worries that held practitioners back (a training signal)."""
    """Principles and rules practitioners most often answered 'not sure' about."""
    trend_label: str = ""
    trend: tuple[int, ...] = ()
    """Completed checks per period, oldest first (the last is this period)."""
    empty: bool = False
    empty_text: str = "Nothing this period: no checks were completed and no follow-ups need you."

    def sparkline(self) -> str:
        bars = "▁▂▃▄▅▆▇█"
        top = max(self.trend, default=0)
        if top == 0:
            return bars[0] * len(self.trend)
        return "".join(bars[min(7, round(v * 7 / top))] for v in self.trend)


Outbound = FollowUpPrompt | Info | Digest
"""What the scheduler delivers to people outside a conversation turn."""

Message = Prompt | Completion | Cancelled
