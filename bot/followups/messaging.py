"""What a follow-up says: its questions, replies, notices and escalations as neutral messages (wording from
bot/content/followups.yaml), and the outbox rows that carry them.

Every platform renders these messages itself; nothing here knows one. Text a person typed is quoted through
``typed()`` (dialogs/text_safety.py) so no renderer reads markup or mention tokens in it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import FollowUp, OutboxMessage
from bot.followups.content import FollowUpContent, Question
from bot.followups.models import Kind, Purpose, Reason, State
from bot.settings import Settings
from dialogs.messages import ChoiceView, FollowUpPrompt, Info, Outbound, PendingItem
from dialogs.personal_data import Finding, refusal_text
from dialogs.text_safety import typed
from dialogs.tokens import command_token


class Notice(StrEnum):
    """A text of bot/content/followups.yaml that a transition says (its path in ``FollowUpContent``)."""

    THANKS = "notices.thanks"
    CONFIRMED = "notices.confirmed"
    CLARIFICATION = "notices.clarification"
    NOT_RECEIVED = "notices.not_received"
    SENDER_CONFIRMED = "notices.sender_confirmed"
    REMIND_LATER = "notices.remind_later"
    TOLD_REQUESTER = "notices.told_requester"
    DISAGREEMENT_RESOLVED = "notices.disagreement_resolved"
    IN_WRITING_RECORDED = "notices.in_writing_recorded"
    IN_WRITING_NOT_NEEDED = "notices.in_writing_not_needed"
    BECAUSE_NOT_RECEIVED = "notices.because_not_received"
    BECAUSE_COULD_NOT_CONFIRM = "notices.because_could_not_confirm"
    BECAUSE_DISAGREES = "notices.because_disagrees"
    RECEIPT_UNDERSTOOD = "receipt.understood"
    RECEIPT_RECEIVED = "receipt.received"
    RECEIPT_CLARIFICATION = "receipt.clarification"
    RECEIPT_NO_INFORMATION = "receipt.no_information"
    RECEIPT_NO_INFORMATION_CLOSED = "receipt.no_information_closed"
    RECEIPT_BECAUSE = "receipt.disagreement_reason"


ESCALATION_BODY: dict[Reason, str] = {
    Reason.OVERDUE: "notices.escalation_overdue",
    Reason.NOT_RECEIVED: "notices.escalation_not_received",
    Reason.COULD_NOT_CONFIRM: "notices.escalation_could_not_confirm",
    Reason.UNDELIVERABLE: "notices.escalation_undeliverable",
    Reason.DISAGREEMENT_UNRESOLVED: "notices.disagreement_unresolved",
    Reason.NO_INFORMATION: "receipt.escalation_no_information",
    Reason.NOT_IN_WRITING: "notices.escalation_not_in_writing",
}
"""What the lead is told, by why."""

_OPEN_STATE_WORDS = {
    State.SCHEDULED: "not yet sent",
    State.AWAITING: "awaiting an answer",
    State.ESCALATED: "escalated to the lead",
}


def user_token(user_id: str) -> str:
    return "{user:" + user_id + "}"


def note_warning(findings: list[Finding]) -> str:
    return refusal_text(findings, "Edit your note to leave out personal details")


def plain(text: str) -> str:
    # kept for the stored text; messages quote typed text through typed() (dialogs/text_safety.py)
    return text.replace("{", "(").replace("}", ")")


def noted(note: str | None, kinds: tuple[str, ...]) -> dict[str, Any]:
    """A note in event data, with the identifier kinds its writer confirmed (as a check answer records them)."""
    if not note:
        return {}
    return {"note": note, **({"personal_data": list(kinds)} if kinds else {})}


def _disagree_command(case_reference: str | None) -> str:
    try:
        return command_token(f"disagree {case_reference}") if case_reference else ""
    except ValueError:  # not a reference a command can carry: say it in words instead
        return "The 'disagree' command (see help)"


def outbox_row(fu: FollowUp, user_id: str, purpose: Purpose, message: Outbound, now: datetime) -> dict[str, Any]:
    """A queued message about ``fu``, as a row for ``insert(OutboxMessage)`` (the scheduler's batches) or a model."""
    return {
        "id": uuid.uuid4(),
        "platform": fu.platform,
        "workspace_id": fu.workspace_id,
        "user_id": user_id,
        "purpose": purpose,
        "follow_up_id": fu.id,
        "message": message.model_dump(mode="json"),
        "status": "queued",
        "attempts": 0,
        "due_at": now,
        "created_at": now,
    }


def queue(
    session: AsyncSession, fu: FollowUp, user_id: str, purpose: Purpose, message: Outbound, now: datetime
) -> None:
    """Queue a message in the caller's transaction: it goes out (or is collected) only if that commits."""
    session.add(OutboxMessage(**outbox_row(fu, user_id, purpose, message, now)))


class FollowUpMessaging:
    def __init__(self, content: FollowUpContent, settings: Settings) -> None:
        self.content = content
        self._settings = settings

    def text(self, notice: Notice | str) -> str:
        """The wording at ``notice``'s path in the content."""
        node: Any = self.content
        for part in notice.split("."):
            node = getattr(node, part)
        assert isinstance(node, str)
        return node

    def question(self, fu: FollowUp) -> Question:
        if fu.kind == Kind.DISAGREEMENT:
            stage = int((fu.details or {}).get("stage", 0))
            return self.content.disagreement_offer if stage == 0 else self.content.disagreement_stage
        return self.content.question(fu.kind)

    def values(self, fu: FollowUp, **extra: str) -> dict[str, str]:
        details: dict[str, Any] = fu.details or {}
        recipient_user = details.get("recipient_user")
        return {
            "sender": user_token(fu.sender_id),
            "target": user_token(fu.target_id),
            # what the sender typed about the recipient: marked, so no renderer reads markup or tokens in it
            "recipient": user_token(recipient_user) if recipient_user else typed(str(details.get("recipient", ""))),
            "case_reference": fu.case_reference or "(no reference)",
            "method": str(details.get("method", "")),
            "shared_on": str(details.get("shared_on", "")),
            "question": str(details.get("question", "")),
            "disagree_command": _disagree_command(fu.case_reference),
            "reason": str(details.get("reason", "")),
            "in_writing_by": str(details.get("in_writing_by", "")),
            "receipt_hint": self.content.receipt.sender_hint.format(receipt_expires=details["receipt_expires"])
            if details.get("receipt_expires")
            else "",
            "policy": f" Local policy: {self._settings.sharecheck_escalation_policy_url}"
            if self._settings.sharecheck_escalation_policy_url
            else "",
            **self._stage_values(details),
            **extra,
        }

    def _stage_values(self, details: dict[str, Any]) -> dict[str, str]:
        stages = self._settings.sharecheck_escalation_stages
        stage = int(details.get("stage", 0))
        if not 1 <= stage <= len(stages):
            return {"stage_name": "", "stage_what": "", "stage_due": ""}
        current = stages[stage - 1]
        return {"stage_name": current.name, "stage_what": current.what, "stage_due": str(details.get("stage_due", ""))}

    def title(self, fu: FollowUp, values: dict[str, str] | None = None) -> str:
        return self.question(fu).title.format(**(values if values is not None else self.values(fu)))

    def info(self, fu: FollowUp, template: str, **extra: str) -> Info:
        """A one-line reply or notice about this follow-up, titled like its question."""
        values = self.values(fu, **extra)
        return Info(title=self.title(fu, values), lines=(template.format(**values),))

    def prompt(self, fu: FollowUp, nudge: bool) -> FollowUpPrompt:
        """The follow-up's question with its one-click answers; a nudge is marked as a reminder."""
        question = self.question(fu)
        values = self.values(fu)
        title = question.title.format(**values)
        return FollowUpPrompt(
            follow_up_id=str(fu.id),
            title=self.content.nudge_prefix + title if nudge else title,
            lines=tuple(line.format(**values) for line in question.lines),
            choices=tuple(ChoiceView(id=c.id, label=c.label, style=c.style) for c in question.choices),
            note_required=question.note_required,
            note_optional=question.note_optional,
            note_prompt=question.note_prompt,
        )

    def to_sender(self, fu: FollowUp, text: str, *, can_disagree: bool = False) -> Info:
        """A notice to the practitioner who shared, with how to disagree where the news is a response to them."""
        lines = (text, self.disagree_hint(fu)) if can_disagree else (text,)
        return Info(title=self.title(fu), lines=lines)

    def disagree_hint(self, fu: FollowUp) -> str:
        """How to start the disagreement route about a response, as a line under the response."""
        return self.content.notices.disagreement_hint.format(**self.values(fu))

    def escalation(self, fu: FollowUp, reason: Reason, *, trail: str, to_lead: bool, **extra: str) -> Info:
        """What the lead is told (or, with no lead, the sender, who is asked to raise it themselves)."""
        notices = self.content.notices
        values = self.values(fu, trail=trail, **extra)
        body = self.text(ESCALATION_BODY[reason]).format(**values)
        last = notices.escalation_trail.format(**values) if to_lead else notices.no_lead
        return Info(title=notices.escalation_title.format(**values), lines=(body, last))

    def unreachable(self, fu: FollowUp, *, ours: bool) -> Info:
        """Told to the sender when the person asked cannot be reached."""
        notices = self.content.notices
        text = (notices.undeliverable_ours if ours else notices.undeliverable).format(**self.values(fu))
        return Info(title=self.content.recipient_confirm.title, lines=(text,))

    def already_answered(self, fu: FollowUp) -> Info:
        answered = fu.answered_at.strftime("%d %b %Y %H:%M UTC") if fu.answered_at else "earlier"
        return self.info(fu, self.content.notices.already_answered, answered_on=answered)

    def advice_given(self, fu: FollowUp, label: str, note: str | None) -> Info:
        """The lead's advice, told to the practitioner whose check waits for it."""
        notices = self.content.notices
        values = self.values(fu)
        advice = notices.advice_given.format(**values | {"advice": label, "note": f"“{typed(note)}” " if note else ""})
        return Info(title=notices.advice_title.format(**values), lines=(advice,))

    def advice_case_note(self, fu: FollowUp, advised_on: datetime) -> str:
        """The lead's advice as a line of the check's case notes."""
        details = fu.details or {}
        note = details.get("advice_note")
        values = self.values(fu) | {
            "advice": str(details.get("advice", "")),
            "advised_on": f"{advised_on:%d %b %Y %H:%M} UTC",
            "note": f"“{note}”" if note else "",
        }
        return self.content.notices.advice_case_note.format(**values).rstrip()

    def stage(self, fu: FollowUp, template: str) -> Info:
        """A message about the disagreement route's current stage."""
        values = self.values(fu)
        return Info(title=self.title(fu, values), lines=(template.format(**values),))

    def pending_item(self, fu: FollowUp, user_id: str, *, retrying: bool) -> PendingItem:
        """One line of ``pending``: the follow-up, where it stands, and this person's part in it."""
        if fu.kind == Kind.ADVICE:
            role = "you are asked to advise" if fu.target_id == user_id else "waiting for your lead"
        else:
            role = "you are asked to confirm" if fu.target_id == user_id else "waiting for the recipient"
        when = f", next reminder {fu.due_at:%d %b %H:%M} UTC" if fu.due_at else ""
        state = _OPEN_STATE_WORDS[State(fu.state)]
        details = fu.details or {}
        if retrying:
            state = "not delivered yet, ShareCheck is retrying"
        elif details.get("undelivered"):
            state = f"ShareCheck could not send it to you, {state}"
        elif details.get("instead_of"):
            state = f"ShareCheck could not reach the recipient, so you are asked; {state}"
        return PendingItem(
            kind="follow_up",
            case_reference=fu.case_reference,
            status=f"{self.title(fu)}: {state} ({role}{when})",
            check_id=str(fu.check_id),
        )
