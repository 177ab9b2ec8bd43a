"""What a finished check records, and the summary a practitioner pastes into case notes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache, lru_cache
from string import Formatter
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from dialogs.content import CHOICE_KINDS, AnswerKind, Pack, Step, holds
from dialogs.messages import Completion, LinkView, SummaryLine
from dialogs.state import AnswerValue, DialogState, Recipient

# Record fields in the order a reader of the case notes expects them (DESIGN.md section 5).
FIELD_LABELS: dict[str, str] = {
    "case_reference": "Case reference",
    "request_context": "Asked to share, or sharing on own initiative",
    "requester": "Who asked",
    "requested_at": "When they asked",
    "immediate_risk": "Immediate risk of harm",
    "urgent_action": "Urgent action taken",
    "urgent_told": "Who was told",
    "family_told": "Family told",
    "written_confirmation": "Phone referral confirmed in writing",
    "purpose": "Purpose",
    "purpose_detail": "Purpose in brief",
    "what_shared": "What is shared, and why",
    "identifiable": "Identifies a living person",
    "risk_of_harm": "Risk of harm if not shared",
    "adult_at_risk": "Adult at risk (care and support needs, abuse or neglect, cannot protect themselves)",
    "special_category": "Special category or criminal offence information",
    "consent": "Consent",
    "consent_reason": "Consent: why",
    "capacity": "Mental capacity",
    "best_interests": "Sharing in their best interests (Mental Capacity Act 2005)",
    "best_interests_reason": "Best interests: why, and whose views were taken into account",
    "override_grounds": "Reasons to share without the adult's agreement",
    "override_reason": "Why that outweighs the adult's wishes",
    "lawful_basis": "Lawful basis (UK GDPR Article 6)",
    "special_category_condition": "Special category condition (Article 9 / DPA 2018 Schedule 1)",
    "how_much": "How much is shared",
    "minimum_necessary": "Could less do",
    "relevant": "Relevant to the concern",
    "adequate": "Enough to be understood",
    "fact_opinion": "Fact and opinion distinguished",
    "historic": "Historic information flagged",
    "identity_protection": "Identities protected",
    "others_involved": "Another agency already involved or aware",
    "others_confirmed": "Confirmed they hold this information",
    "hesitation": "What made them hesitate",
    "recipient": "Recipient",
    "recipient_type": "Kind of recipient",
    "recipient_role": "Recipient's safeguarding role",
    "recipient_identity_check": "Recipient identity and address checked",
    "method": "Method of sharing",
    "method_reason": "Why this method",
    "timely": "Timing",
    "shared_at": "When shared",
    "informed": "Person informed",
    "informed_reason": "Why not informed",
    "onward_limits": "Limits on onward sharing",
    "advice_from": "Advice sought from",
    "advice_outcome": "Advice given",
    "requester_told": "Requester told",
    "not_share_reason": "Main reason for not sharing",
    "decision": "Decision",
    "reasons": "Reasons",
}


SHARE_ONLY_FIELDS = frozenset(
    {
        "recipient",
        "recipient_role",
        "recipient_type",
        "recipient_identity_check",
        "method",
        "method_reason",
        "timely",
        "shared_at",
        "onward_limits",
        "lawful_basis",
        "special_category_condition",
        "what_shared",
    }
)
"""Details of a share: a record of a decision not to share (or not yet, while seeking advice) never holds them
(DESIGN.md section 5), even where they were answered before the decision, or it would say 'do not share' beside a
method and a time."""

KEPT_OUT_OF_CASE_NOTES = frozenset({"hesitation"})
"""Kept in the record's data for the lead digest (a training signal), but not pasted onto the child's file."""


class AnsweredStep(BaseModel):
    model_config = ConfigDict(frozen=True)

    step_id: str
    title: str
    question: str
    answer: str
    choices: tuple[str, ...] = ()
    field: str | None = None
    unsure: bool = False


class RecordSnapshot(BaseModel):
    """The decision record of a completed check, as stored and exported."""

    model_config = ConfigDict(frozen=True)

    pack_id: str
    pack_version: str
    decision: str
    case_reference: str | None
    reasons: str | None
    immediate_risk: bool
    recipient: Recipient | None
    fields: dict[str, str]
    answers: tuple[AnsweredStep, ...]
    unsure_steps: tuple[str, ...]
    unsure_rules: tuple[str, ...]
    """Ids of the principles and golden rules checked by steps answered 'not sure'."""
    myths_shown: tuple[str, ...] = ()
    unconfirmed: tuple[str, ...] = ()
    """Confirmation-list statements left unticked before sending (their labels), counted in the lead digest."""


def _local(stored: str, zone: ZoneInfo) -> str:
    try:
        return datetime.fromisoformat(stored).astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    except ValueError:
        return stored


def display_answer(step: Step, value: AnswerValue, zone: ZoneInfo | None = None) -> str:
    """``zone``: where the practitioner works, so a date and time reads as local (the pack's time zone)."""
    if value.recipient is not None:
        return describe_recipient(value.recipient)
    choices = value.choices
    if len(choices) == 1:
        # the common case, by the step's id index rather than a scan of its choices
        choice = step.choice(choices[0])
        if choice is not None and value.organisation_default:
            return f"{choice.label} (the organisation's default)"
        return choice.label if choice is not None else ""
    if choices:
        return "; ".join(c.label for c in step.effective_choices() if c.id in choices)
    if step.kind is AnswerKind.DATETIME and value.text and zone is not None:
        return _local(value.text, zone)
    return value.text or "(left blank)"


def describe_recipient(recipient: Recipient) -> str:
    if recipient.user_id:
        return f"workspace user {recipient.user_id}"
    return f"{recipient.role}, {recipient.organisation}"


AnsweredMemo = dict[tuple[str, tuple[str, ...]], tuple[AnsweredStep, str, bool]]
"""A choice answer's record line, display text and 'unsure' flag by (step id, choices), for one pack.

Those depend only on the pack's step and the choices, so an engine keeps one memo for its pack and
builds each distinct line once (the frozen AnsweredStep is shared between records)."""

MEMO_LIMIT = 4096
"""Entries a RecordMemo map takes at most: far more than a pack's choice combinations, so a full map
means something unexpected (a vast multi-choice step), and lines are then built each time instead."""


@dataclass(frozen=True)
class RecordMemo:
    """What a pack's records repeat from check to check, built once and shared (one memo per pack).

    Only lines made of pack text are kept, never typed text: a case reference or a reason stays in the
    record it belongs to, not in a process-wide map."""

    choice_fields: frozenset[str]
    """Record fields fed only by choice steps: their summary lines are pack text."""
    answered: AnsweredMemo = field(default_factory=dict)
    lines: dict[tuple[str, str], SummaryLine] = field(default_factory=dict)

    @classmethod
    def for_pack(cls, pack: Pack) -> RecordMemo:
        # forms' fields included: a field typed in a form must never be memoised as pack text
        steps = pack.steps_by_id.values()
        typed = {s.field for s in steps if s.field and s.kind not in CHOICE_KINDS}
        chosen = {s.field for s in steps if s.field and s.kind in CHOICE_KINDS}
        # 'immediate_risk' is filled in as Yes or No when no step answers it
        return cls(choice_fields=frozenset((chosen | {"immediate_risk"}) - typed))

    def summary_line(self, field_id: str, label: str, value: str) -> SummaryLine:
        if field_id not in self.choice_fields:
            return SummaryLine(label=label, value=value)
        line = self.lines.get((field_id, value))
        if line is None:
            line = SummaryLine(label=label, value=value)
            if len(self.lines) < MEMO_LIMIT:
                self.lines[(field_id, value)] = line
        return line


def build_snapshot(
    pack: Pack,
    state: DialogState,
    memo: AnsweredMemo | None = None,
    answers: dict[str, AnswerValue] | None = None,
) -> RecordSnapshot:
    """``memo`` (see AnsweredMemo) must only ever be used with this ``pack``; ``answers`` is
    ``state.path_answers()``, passed in where the caller already has it."""
    if answers is None:
        answers = state.path_answers()
    steps = pack.steps_by_id
    answered: list[AnsweredStep] = []
    fields: dict[str, str] = {}
    decision = None
    recipient = None
    unsure_steps: list[str] = []
    unsure_rules: list[str] = []
    typed_once: dict[str, str] = {}
    unconfirmed: list[str] = []
    for sid, value in answers.items():
        step = steps[sid]
        if step.kind is AnswerKind.FORM:
            continue  # its fields follow it in the path, each recorded as a step of its own
        if step.kind is AnswerKind.NOTICE:
            if step.field:  # a notice that settles a field records what it said (its title), not 'Continue'
                fields[step.field] = step.title
            continue
        if step.kind is AnswerKind.CONFIRM_LIST:
            ticked = value.choices
            for item in step.items:
                if item.when and not holds(item.when, answers):
                    continue
                confirmed = item.id in ticked
                shown = item.confirmed if confirmed else item.unconfirmed
                answered.append(
                    AnsweredStep(
                        step_id=f"{sid}.{item.id}",
                        title=item.label,
                        question=step.question,
                        answer=shown,
                        choices=(item.id,) if confirmed else (),
                        field=item.field,
                    )
                )
                if item.field:
                    fields[item.field] = shown
                if not confirmed:
                    unconfirmed.append(item.label)
            continue
        choices = value.choices
        if memo is not None and choices and value.recipient is None and not value.organisation_default:
            known = memo.get((sid, choices))
            if known is None:
                known = _answered_line(step, value, pack.timezone)
                if len(memo) < MEMO_LIMIT:
                    memo[(sid, choices)] = known
        else:
            known = _answered_line(step, value, pack.timezone)
        line, shown, unsure = known
        answered.append(line)
        field_id = step.field
        for also in step.also_fills:
            typed_once.setdefault(also, shown)
        if field_id == "decision":
            # a later decision replaces an earlier one (a share that met 'no lawful basis' is not 'Share; Do not share')
            fields[field_id] = shown
            decision = choices[0]
        elif field_id:
            fields[field_id] = shown if field_id not in fields else f"{fields[field_id]}; {shown}"
            if field_id == "recipient" and value.recipient:
                recipient = value.recipient
        if unsure:
            unsure_steps.append(sid)
            unsure_rules.extend(r for r in (*step.principles, *step.rules) if r not in unsure_rules)
    for field_id, shown in typed_once.items():
        fields.setdefault(field_id, shown)  # 'type it once': a field typed elsewhere fills these unless answered
    for derived in pack.derived:
        if derived.field not in fields and holds(derived.when, answers):
            fields[derived.field] = _derived_text(derived.value, pack, state)
    if decision in ("not_share", "seek_advice"):
        answered = [a for a in answered if a.field not in SHARE_ONLY_FIELDS]
        fields = {f: v for f, v in fields.items() if f not in SHARE_ONLY_FIELDS}
        recipient = None
    urgent = state.urgent or pack.urgent_step in answers
    fields.setdefault("immediate_risk", "Yes" if urgent else "No")
    if decision is None:  # pragma: no cover - the pack validator makes a decision step mandatory on every path
        decision = "seek_advice"
    return RecordSnapshot(
        pack_id=pack.id,
        pack_version=pack.version,
        decision=decision,
        case_reference=fields.get("case_reference"),
        reasons=fields.get("reasons"),
        immediate_risk=urgent,
        recipient=recipient,
        fields=fields,
        answers=tuple(answered),
        unsure_steps=tuple(unsure_steps),
        unsure_rules=tuple(unsure_rules),
        myths_shown=tuple(state.myths_shown),
        unconfirmed=tuple(unconfirmed),
    )


def _derived_text(template: str, pack: Pack, state: DialogState) -> str:
    if "{" not in template:
        return template
    local = state.updated_at.astimezone(ZoneInfo(pack.timezone))
    return template.format(
        decided_at=local.strftime("%Y-%m-%d %H:%M %Z"),
        next_working_day=add_working_days(local, 1).strftime("%A %d %B %Y"),
    )


def _answered_line(step: Step, value: AnswerValue, pack_zone: str | None = None) -> tuple[AnsweredStep, str, bool]:
    """One answer's record line, its display text, and whether it was a 'not sure'."""
    unsure = bool(value.choices) and any((c := step.choice(cid)) is not None and c.unsure for cid in value.choices)
    shown = display_answer(step, value, ZoneInfo(pack_zone) if pack_zone else None)
    line = AnsweredStep(
        step_id=step.id,
        title=step.title,
        question=step.question,
        answer=shown,
        choices=value.choices,
        field=step.field,
        unsure=unsure,
    )
    return line, shown, unsure


def build_completion(
    pack: Pack, state: DialogState, links: Sequence[LinkView] = (), memo: RecordMemo | None = None
) -> Completion:
    answers = state.path_answers()
    snap = build_snapshot(pack, state, memo.answered if memo is not None else None, answers)
    outcomes = [o for o in pack.outcomes if o.decision == snap.decision and holds(o.when, answers)]
    label = outcomes[0].label if outcomes else snap.decision
    next_steps = tuple(s for o in outcomes for s in o.next_steps)
    titles = pack.rule_titles()
    unsure = tuple(titles[r] for r in snap.unsure_rules)
    fields = snap.fields
    hidden = KEPT_OUT_OF_CASE_NOTES | _echoes(pack, fields)
    shown = [(f, label) for f, label in FIELD_LABELS.items() if f in fields and f not in hidden]
    if memo is None:
        lines = tuple(SummaryLine(label=label, value=fields[f]) for f, label in shown)
    else:
        lines = tuple(memo.summary_line(f, label, fields[f]) for f, label in shown)
    # a chronology on the case file is kept in local time (GMT or BST for England), not UTC
    when = state.updated_at.astimezone(ZoneInfo(pack.timezone)).strftime("%Y-%m-%d %H:%M %Z")
    notes = [
        "Information-sharing decision (recorded with ShareCheck)",
        f"Date: {when}",
        f"Guidance: {pack.title}, content version {pack.version}",
        *(f"{line.label}: {line.value}" for line in lines),
    ]
    if unsure:
        notes.append("Unsure about: " + "; ".join(unsure))
    if next_steps:
        notes.append("Next steps: " + " ".join(next_steps))
    note = covering_note(pack, state, snap, answers)
    return Completion(
        pack_title=pack.title,
        decision=snap.decision,
        decision_label=label,
        case_reference=snap.case_reference,
        reasons=snap.reasons,
        immediate_risk=snap.immediate_risk,
        lines=lines,
        next_steps=next_steps,
        unsure=unsure,
        links=tuple(links),
        case_notes="\n".join(notes),
        covering_note=note,
        can_reconsider=snap.decision == "not_share",
    )


def _echoes(pack: Pack, fields: Mapping[str, str]) -> set[str]:
    """Fields that only repeat what was typed once for another ('type it once'): the record's data keeps them,
    but the case notes say it once, under the answer's own field (an edited copy differs, and shows)."""
    return {
        also
        for step in pack.steps
        for also in step.also_fills
        if step.field is not None and also in fields and fields[also] == fields.get(step.field)
    }


def covering_note(
    pack: Pack, state: DialogState, snap: RecordSnapshot, answers: dict[str, AnswerValue] | None = None
) -> str | None:
    """The recipient's covering note for a 'share' decision (None otherwise).

    ``answers`` is ``state.path_answers()``, passed in where the caller already has it.
    """
    template = pack.covering_note
    if template is None or snap.decision != "share":
        return None
    if answers is None:
        answers = state.path_answers()
    values = dict(snap.fields)
    values["confirm_by"] = _confirm_by(state.updated_at.date(), template.confirm_within_working_days)
    lines = [template.title]
    for line in template.lines:
        if not all(
            (given := answers.get(c.step)) is not None and set(c.any_of) & set(given.choices) for c in line.when
        ):
            continue
        if all(name in values for name in _template_fields(line.text)):
            lines.append(line.text.format(**values))
    return "\n".join(lines)


@cache
def _template_fields(text: str) -> tuple[str, ...]:
    """The fields a covering-note line names, parsed once per line of the (fixed) pack text."""
    return tuple(name for _, name, _, _ in Formatter().parse(text) if name)


@lru_cache(maxsize=64)
def _confirm_by(day: date, working_days: int) -> str:
    """The covering note's 'confirm by' date: the same for every share made on one day."""
    return add_working_days(datetime.combine(day, time()), working_days).strftime("%A %d %B %Y")


def add_working_days(start: datetime, days: int) -> datetime:
    day = start
    while days > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day
