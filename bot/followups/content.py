"""The follow-up wording (bot/content/followups.yaml), validated once at start."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from dialogs.content import Choice

CONTENT_FILE = Path(__file__).parent.parent / "content" / "followups.yaml"


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(max_length=150)
    lines: tuple[str, ...]
    choices: tuple[Choice, ...] = Field(min_length=1, max_length=5)
    note_required: tuple[str, ...] = ()
    note_optional: tuple[str, ...] = ()
    note_prompt: str = ""


class Notices(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    confirmed: str
    clarification: str
    not_received: str
    sender_confirmed: str
    remind_later: str
    told_requester: str
    already_answered: str
    thanks: str
    undeliverable: str
    undeliverable_ours: str
    escalation_title: str
    escalation_overdue: str
    escalation_not_received: str
    escalation_could_not_confirm: str
    escalation_undeliverable: str
    escalation_trail: str
    advice_asked: str
    advice_no_lead: str
    advice_given: str
    advice_title: str
    advice_case_note: str
    disagreement_started: str
    disagreement_resolved: str
    disagreement_lead: str
    disagreement_unresolved: str
    disagreement_under_way: str
    disagreement_hint: str
    no_lead: str
    because_not_received: str
    because_could_not_confirm: str
    because_disagrees: str
    """Why the disagreement route is offered, shown in the offer as {reason}."""
    in_writing_recorded: str
    in_writing_not_needed: str
    escalation_not_in_writing: str


class ReceiptChoice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    label: str = Field(min_length=1, max_length=80)
    hint: str = ""


class ReceiptWording(BaseModel):
    """The receipt page's answers, and what the sender and lead are told when one comes in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    choices: tuple[ReceiptChoice, ...] = Field(min_length=1, max_length=6)
    sender_hint: str
    understood: str
    next_step: str
    received: str
    clarification: str
    no_information: str
    no_information_closed: str = (
        "The recipient, who gave their name as {respondent}, opened the receipt link for case {case_reference} "
        "but says they do NOT have the information. You had already closed this follow-up, so your safeguarding "
        "lead has not been told: check with the recipient and send it again securely if it did not arrive."
    )
    """'No information' after the sender closed the follow-up in chat: told to the sender only, not escalated."""
    escalation_no_information: str
    disagreement_reason: str

    def choice(self, choice_id: str) -> ReceiptChoice | None:
        return next((c for c in self.choices if c.id == choice_id), None)


class FollowUpContent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    recipient_confirm: Question
    sender_confirm: Question
    tell_requester: Question
    advice: Question
    disagreement_offer: Question
    disagreement_stage: Question
    written_confirmation: Question
    receipt: ReceiptWording
    nudge_prefix: str
    notices: Notices

    def question(self, kind: str) -> Question:
        question = getattr(self, kind)
        assert isinstance(question, Question)
        return question


@cache
def followup_content() -> FollowUpContent:
    return FollowUpContent.model_validate(yaml.safe_load(CONTENT_FILE.read_text(encoding="utf-8")))
