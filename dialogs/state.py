"""The dialog state of one check and the answers that move it on. Plain data, stored as JSON."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Status(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Recipient(BaseModel):
    """Who receives the information: a user of the same workspace, or a role at another organisation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user_id: str | None = Field(default=None, max_length=200)
    organisation: str | None = Field(default=None, max_length=200)
    role: str | None = Field(default=None, max_length=200)

    @property
    def in_workspace(self) -> bool:
        return self.user_id is not None


class AnswerValue(BaseModel):
    """What was answered at one step."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    choices: tuple[str, ...] = ()
    text: str | None = None
    recipient: Recipient | None = None
    personal_data: tuple[str, ...] = ()
    """Kinds of identifier the practitioner was warned about and confirmed as needed."""
    organisation_default: bool = False
    """The answer is the organisation's own default (its lawful basis), accepted rather than chosen."""
    parts: tuple[str, ...] = ()
    """A form's answer: the ids of its fields, each answered in ``DialogState.answers`` under its own id."""
    at: datetime


class DialogState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pack_id: str
    pack_version: str
    status: Status = Status.ACTIVE
    step: str | None
    history: list[str] = Field(default_factory=list)
    """Steps answered on the way to ``step``, oldest first: the path 'back' walks."""
    answers: dict[str, AnswerValue] = Field(default_factory=dict)
    revision: int = 0
    """Bumped on every change; an answer must name the revision it was given for, so a double
    click or a replayed request cannot advance the check twice."""
    started_at: datetime
    updated_at: datetime
    urgent: bool = False
    myths_shown: list[str] = Field(default_factory=list)
    """Myth-busters shown during the check (a training signal for the lead digest)."""
    show_myths: list[str] = Field(default_factory=list)
    """Myth-busters to show with the current question (prompted by the answer just given)."""

    editing: bool = False
    """An answer is being changed from the review screen: answers still valid are carried forward."""

    def path_answers(self) -> dict[str, AnswerValue]:
        """Answers on the path actually taken (steps abandoned by going back are left out).

        A form's fields follow the form, each under its own id, as if each had been a step."""
        answers, history = self.answers, self.history
        if len(answers) == len(history) and list(answers) == history:
            # the usual case, no step left by going back or skipped by the urgent exit: a plain copy
            return dict(answers)
        path: dict[str, AnswerValue] = {}
        for sid in history:
            value = answers.get(sid)
            if value is None:
                continue
            path[sid] = value
            for part in value.parts:
                if part in answers:
                    path[part] = answers[part]
        return path


class FieldAnswer(BaseModel):
    """One field of a submitted form."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    choices: tuple[str, ...] = Field(default=(), max_length=50)
    text: str | None = Field(default=None, max_length=20000)


class Answer(BaseModel):
    """An answer as it arrives from an adapter, before the engine checks it against the step."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step_id: str = Field(max_length=64)
    revision: int | None = None
    choices: tuple[str, ...] = Field(default=(), max_length=50)
    text: str | None = None
    recipient: Recipient | None = None
    fields: dict[str, FieldAnswer] | None = Field(default=None, max_length=30)
    """A form's answer: each field by its id (fields left out count as unanswered)."""
    confirm_personal_data: bool = False
    """The practitioner saw the personal-data warning and keeps the text as it is."""
