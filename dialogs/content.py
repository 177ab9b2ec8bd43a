"""Content packs: the share-check flow as data, validated by pydantic.

A pack is a YAML file in ``dialogs/packs/``. It declares its sources (with their authority),
the principles and golden rules it checks, and the steps of the conversation. Everything the
practitioner reads comes from a pack, so a lead can review it and an organisation can ship its
own without code changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from string import Formatter
from typing import Annotated, Literal, Protocol, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

END = "END"
"""The goto target that completes the check."""

Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]

# Slack caps button text at 75 characters; keeping choices short serves Teams and the console too.
CHOICE_LABEL_MAX = 75
QUESTION_MAX = 300
GUIDANCE_MAX = 1200


class PackError(ValueError):
    """A content pack that cannot be loaded: the message names the pack and the problem."""


class Authority(StrEnum):
    """What kind of source a citation is, shown beside it so practitioners know its weight."""

    LEGISLATION = "legislation"
    STATUTORY_GUIDANCE = "statutory_guidance"
    STATUTORY_CODE = "statutory_code"
    NON_STATUTORY_ADVICE = "non_statutory_advice"
    PROFESSIONAL_PRINCIPLES = "professional_principles"
    REGULATOR_GUIDANCE = "regulator_guidance"
    LOCAL_GUIDANCE = "local_guidance"

    @property
    def label(self) -> str:
        return _AUTHORITY_LABELS[self]


_AUTHORITY_LABELS = {
    Authority.LEGISLATION: "legislation",
    Authority.STATUTORY_GUIDANCE: "statutory guidance",
    Authority.STATUTORY_CODE: "statutory code",
    Authority.NON_STATUTORY_ADVICE: "non-statutory advice",
    Authority.PROFESSIONAL_PRINCIPLES: "professional principles",
    Authority.REGULATOR_GUIDANCE: "regulator guidance",
    Authority.LOCAL_GUIDANCE: "local guidance",
}


class AnswerKind(StrEnum):
    SINGLE_CHOICE = "single_choice"
    MULTI_CHOICE = "multi_choice"
    YES_NO_UNSURE = "yes_no_unsure"
    FREE_TEXT = "free_text"
    CASE_REFERENCE = "case_reference"
    RECIPIENT = "recipient"
    DATETIME = "datetime"
    NOTICE = "notice"
    """Information to read and acknowledge; its single choice is 'continue'."""
    FORM = "form"
    """Several questions answered on one screen (its ``fields``): one Slack modal, one Teams card."""
    CONFIRM_LIST = "confirm_list"
    """'Before you send, confirm': items ticked at once, 'all true' in one click; an unticked item
    leads to its own follow-up step."""
    REVIEW = "review"
    """The engine's review screen before Save (never a pack step)."""


FORM_FIELD_KINDS = frozenset(
    {
        AnswerKind.SINGLE_CHOICE,
        AnswerKind.MULTI_CHOICE,
        AnswerKind.YES_NO_UNSURE,
        AnswerKind.FREE_TEXT,
        AnswerKind.CASE_REFERENCE,
        AnswerKind.DATETIME,
    }
)
"""What a form can hold: a recipient (a people picker) and notices stay steps of their own."""


CHOICE_KINDS = frozenset(
    {AnswerKind.SINGLE_CHOICE, AnswerKind.MULTI_CHOICE, AnswerKind.YES_NO_UNSURE, AnswerKind.NOTICE}
)

# Fields of the decision record (DESIGN.md section 5) a step's answer can fill.
RECORD_FIELDS = frozenset(
    {
        "case_reference",
        "request_context",
        "immediate_risk",
        "purpose",
        "purpose_detail",
        "identifiable",
        "risk_of_harm",
        "special_category",
        "lawful_basis",
        "special_category_condition",
        "consent",
        "consent_reason",
        "capacity",
        # adults at risk: each question of the Mental Capacity Act and override routes writes its own field
        "adult_at_risk",
        "best_interests",
        "best_interests_reason",
        "override_grounds",
        "override_reason",
        "informed",
        "informed_reason",
        "how_much",
        "minimum_necessary",
        "relevant",
        "adequate",
        "fact_opinion",
        "historic",
        "identity_protection",
        "recipient",
        "recipient_role",
        "recipient_identity_check",
        "method",
        "method_reason",
        "timely",
        "onward_limits",
        "decision",
        "reasons",
        "advice_from",
        "requester_told",
        "urgent_action",
        "shared_at",
        "recipient_type",
        "others_involved",
        "others_confirmed",
        "hesitation",
        "what_shared",
        "requester",
        "requested_at",
        "not_share_reason",
        "urgent_told",
        "family_told",
        "advice_outcome",
        "written_confirmation",
    }
)

DECISIONS = ("share", "not_share", "seek_advice")


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    title: str
    publisher: str
    year: int | None = Field(default=None, ge=1989, le=2100)
    authority: Authority
    url: str | None = None


class Citation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Slug
    where: str | None = Field(default=None, max_length=80, description="e.g. 'golden rule 3' or 'Schedule 1 para 18'")


class Rule(BaseModel):
    """A principle or golden rule the pack checks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    number: int = Field(ge=1, le=20)
    title: str = Field(max_length=80)
    text: str = Field(max_length=600)
    cite: Citation


class Guidance(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1, max_length=GUIDANCE_MAX)
    cite: Citation | None = None


class Condition(BaseModel):
    """True when the answer already given to ``step`` includes any of ``any_of``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step: Slug
    any_of: tuple[Slug, ...] = Field(min_length=1)


class _Answered(Protocol):
    @property
    def choices(self) -> tuple[str, ...]: ...


def holds(conditions: Iterable[Condition], answers: Mapping[str, _Answered]) -> bool:
    """Whether every condition holds for the answers given so far (no conditions: true)."""
    for cond in conditions:
        given = answers.get(cond.step)
        if given is None or not any(c in given.choices for c in cond.any_of):
            return False
    return True


class Choice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    label: str = Field(min_length=1, max_length=CHOICE_LABEL_MAX)
    goto: str | None = None
    unsure: bool = False
    """Answering this records the step as 'unsure' (a training signal for the lead digest)."""
    style: str | None = Field(default=None, pattern=r"^(primary|danger)$")
    when: tuple[Condition, ...] = ()
    """Offer this choice only when every condition holds (e.g. methods that suit the recipient)."""
    myth: Slug | None = None
    """A myth-buster to show right after this answer: it reveals a common worry."""
    exclusive: bool = False
    """On a multi-choice step, this choice cannot be combined with others ('none of these')."""
    action: Literal["ask_lead"] | None = None
    """Something the application does when this is chosen: 'ask_lead' sends the question to the lead now."""


class Myth(BaseModel):
    """A short answer to a common worry, shown at the point of hesitation, with its source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    title: str = Field(max_length=100)
    text: str = Field(min_length=1, max_length=600)
    cite: Citation


class CoveringLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1, max_length=600)
    when: tuple[Condition, ...] = ()


class CoveringNote(BaseModel):
    """The note a practitioner pastes into the secure email, or reads out, when sharing.

    Lines are templates over the record's fields ({purpose_detail}, {how_much}, ...) and {confirm_by};
    a line is included when its conditions hold and every field it names was answered.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(max_length=100)
    lines: tuple[CoveringLine, ...] = Field(min_length=1)
    confirm_within_working_days: int = Field(default=2, ge=1, le=10)


class Branch(BaseModel):
    """Where to go after a step when every condition holds (checked in order, before ``next``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    when: tuple[Condition, ...] = Field(min_length=1)
    goto: str


class ConfirmItem(BaseModel):
    """One line of a confirmation list: a statement the practitioner ticks as true."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    label: str = Field(min_length=1, max_length=CHOICE_LABEL_MAX)
    field: str | None = None
    confirmed: str = Field(default="Confirmed", max_length=80)
    """What the record says when the item was ticked."""
    unconfirmed: str = Field(default="Not confirmed", max_length=80)
    """What the record says when it was left unticked."""
    followup: Slug | None = None
    """The step asked when this item is left unticked (a targeted question or a reminder)."""
    principles: tuple[Slug, ...] = ()
    rules: tuple[Slug, ...] = ()
    when: tuple[Condition, ...] = ()
    """Show this item only when every condition holds."""


class Section(BaseModel):
    """A part of the check shown as progress: 'Decide', 'Share', 'Review'."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    title: str = Field(max_length=30)
    when: tuple[Condition, ...] = ()
    """Show this section in the progress line only when every condition holds..."""
    default: bool = True
    """...or, while a step it tests is unanswered, when this is true."""


class Derived(BaseModel):
    """A record field filled from other answers (for example consent 'not needed: a child is at risk')."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    value: str = Field(min_length=1, max_length=300)
    """Text for the record; ``{decided_at}`` and ``{next_working_day}`` are filled in (local time)."""
    when: tuple[Condition, ...] = Field(min_length=1)


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    kind: AnswerKind
    title: str = Field(max_length=80)
    question: str = Field(min_length=1, max_length=QUESTION_MAX)
    help: str | None = Field(default=None, max_length=GUIDANCE_MAX)
    guidance: tuple[Guidance, ...] = ()
    cite: tuple[Citation, ...] = ()
    choices: tuple[Choice, ...] = ()
    branches: tuple[Branch, ...] = ()
    next: str | None = None
    field: str | None = None
    principles: tuple[Slug, ...] = ()
    rules: tuple[Slug, ...] = ()
    optional: bool = False
    min_length: int = Field(default=0, ge=0)
    max_length: int = Field(default=2000, ge=1, le=10000)
    placeholder: str | None = Field(default=None, max_length=150)
    fields: tuple[Step, ...] = ()
    """A form's questions: steps without a way on of their own, each recording its own field."""
    items: tuple[ConfirmItem, ...] = ()
    """A confirmation list's statements."""
    all_label: str = Field(default="All true", max_length=CHOICE_LABEL_MAX)
    section: Slug | None = None
    """The progress section this step belongs to (a pack with sections gives every step one)."""
    also_fills: tuple[str, ...] = ()
    """Record fields this typed answer also fills unless another step answers them ('type it once')."""
    when: tuple[Condition, ...] = ()
    """For a form field: ask it only when every condition (on answers before the form) holds."""

    @model_validator(mode="after")
    def _choices_fit_kind(self) -> Self:
        if self.kind is AnswerKind.REVIEW:
            raise ValueError(f"step {self.id!r}: 'review' is the engine's own screen, not a pack step")
        if (self.kind is AnswerKind.FORM) != bool(self.fields):
            raise ValueError(f"step {self.id!r}: a form, and only a form, has fields")
        if (self.kind is AnswerKind.CONFIRM_LIST) != bool(self.items):
            raise ValueError(f"step {self.id!r}: a confirmation list, and only one, has items")
        for sub in self.fields:
            if sub.kind not in FORM_FIELD_KINDS:
                raise ValueError(f"form {self.id!r}: field {sub.id!r} cannot be a {sub.kind.value} in a form")
            if sub.next or sub.branches or any(c.goto for c in sub.choices):
                raise ValueError(f"form {self.id!r}: field {sub.id!r} cannot route (the form's branches do)")
        if self.when and not self.fields and self.kind is not AnswerKind.FORM:
            pass  # a step's own 'when' is only read on form fields; the form validator checks them
        for field_id in self.also_fills:
            if field_id not in RECORD_FIELDS:
                raise ValueError(f"step {self.id!r}: also fills unknown record field {field_id!r}")
        item_ids = [i.id for i in self.items]
        if len(item_ids) != len(set(item_ids)):
            raise ValueError(f"step {self.id!r}: duplicate item ids")
        for item in self.items:
            if item.field is not None and item.field not in RECORD_FIELDS:
                raise ValueError(f"step {self.id!r}: item {item.id!r} fills unknown record field {item.field!r}")
        if self.kind in CHOICE_KINDS and self.kind is not AnswerKind.YES_NO_UNSURE and not self.choices:
            raise ValueError(f"step {self.id!r}: a {self.kind.value} step needs choices")
        if self.kind not in CHOICE_KINDS and self.choices:
            raise ValueError(f"step {self.id!r}: a {self.kind.value} step takes no choices")
        if self.kind is AnswerKind.NOTICE and len(self.choices) != 1:
            raise ValueError(f"step {self.id!r}: a notice has exactly one choice (its 'continue' button)")
        ids = [c.id for c in self.choices]
        if len(ids) != len(set(ids)):
            raise ValueError(f"step {self.id!r}: duplicate choice ids")
        if self.min_length > self.max_length:
            raise ValueError(f"step {self.id!r}: min_length exceeds max_length")
        if self.field is not None and self.field not in RECORD_FIELDS:
            raise ValueError(f"step {self.id!r}: unknown record field {self.field!r}")
        return self

    def effective_choices(self) -> tuple[Choice, ...]:
        """The choices as shown: yes/no/unsure steps get the standard three unless the pack words them."""
        if self.kind is AnswerKind.YES_NO_UNSURE and not self.choices:
            return YES_NO_UNSURE_DEFAULT
        return self.choices

    def choice(self, choice_id: str) -> Choice | None:
        return self._choices_by_id.get(choice_id)

    @cached_property
    def _choices_by_id(self) -> dict[str, Choice]:
        return {c.id: c for c in self.effective_choices()}

    @cached_property
    def conditional(self) -> bool:
        """Whether some choices are offered only under conditions."""
        return any(c.when for c in self.effective_choices())


YES_NO_UNSURE_DEFAULT = (
    Choice(id="yes", label="Yes"),
    Choice(id="no", label="No"),
    Choice(id="unsure", label="Not sure", unsure=True),
)


class Outcome(BaseModel):
    """What the practitioner is told to do next for a decision, optionally only when conditions hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decision: str = Field(pattern=r"^(share|not_share|seek_advice)$")
    label: str = Field(max_length=80)
    next_steps: tuple[str, ...] = ()
    when: tuple[Condition, ...] = ()


class Pack(BaseModel):
    """One versioned content pack."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{2,63}$")]
    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")]
    title: str = Field(max_length=80)
    audience: str = Field(max_length=200)
    jurisdiction: str = Field(max_length=40)
    summary: str = Field(max_length=600)
    timezone: str = "Europe/London"
    """Where the pack's practitioners work: case notes give the time of a decision in this zone."""
    sources: tuple[Source, ...] = Field(min_length=1)
    principles: tuple[Rule, ...] = Field(min_length=1)
    golden_rules: tuple[Rule, ...] = Field(min_length=1)
    start: Slug
    urgent_step: Slug
    """Where the 'someone is in immediate danger' exit, offered at every step, leads."""
    steps: tuple[Step, ...] = Field(min_length=1)
    outcomes: tuple[Outcome, ...] = Field(min_length=3)
    myths: tuple[Myth, ...] = ()
    covering_note: CoveringNote | None = None
    sections: tuple[Section, ...] = ()
    """Progress sections in order; without them the whole check is one section."""
    derived: tuple[Derived, ...] = ()
    review: bool = False
    """End with the review screen: nothing is recorded as a decision until Save."""

    @model_validator(mode="after")
    def _graph_is_sound(self) -> Self:
        try:
            ZoneInfo(self.timezone)
        except (ValueError, ZoneInfoNotFoundError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        _validate_graph(self)
        return self

    def step(self, step_id: str) -> Step:
        step = self.steps_by_id.get(step_id)
        if step is None:
            raise KeyError(step_id)
        return step

    def has_step(self, step_id: str) -> bool:
        return step_id in self.steps_by_id

    def source(self, source_id: str) -> Source:
        return next(s for s in self.sources if s.id == source_id)

    def myth(self, myth_id: str) -> Myth:
        return next(m for m in self.myths if m.id == myth_id)

    def rule_titles(self) -> dict[str, str]:
        return {r.id: r.title for r in (*self.principles, *self.golden_rules)}

    @cached_property
    def steps_by_id(self) -> dict[str, Step]:
        """Steps by id, forms' fields included; ``step(id)`` reads better, this is for the per-answer loops."""
        return {sub.id: sub for s in self.steps for sub in (s, *s.fields)}

    @cached_property
    def followups(self) -> dict[str, tuple[str, int]]:
        """Each confirmation-list follow-up step: the list it follows and the index of its item."""
        return {i.followup: (s.id, n) for s in self.steps for n, i in enumerate(s.items) if i.followup}


def successors(step: Step) -> list[str]:
    """Every target a step can lead to."""
    targets = [c.goto for c in step.effective_choices() if c.goto]
    targets += [i.followup for i in step.items if i.followup]
    targets += [b.goto for b in step.branches]
    if step.next:
        targets.append(step.next)
    return targets


def _validate_graph(pack: Pack) -> None:
    ids = [s.id for s in pack.steps]
    all_ids = [sub.id for s in pack.steps for sub in (s, *s.fields)]
    dupes = {i for i in all_ids if all_ids.count(i) > 1}
    if dupes:
        raise ValueError(f"duplicate step ids: {sorted(dupes)}")
    by_id = pack.steps_by_id
    section_ids = {s.id for s in pack.sections}
    for step in pack.steps:
        if pack.sections and step.section not in section_ids:
            raise ValueError(f"step {step.id!r}: needs a section among {sorted(section_ids)}")
        if not pack.sections and step.section is not None:
            raise ValueError(f"step {step.id!r}: names a section but the pack has none")
    for followup, (list_id, _) in pack.followups.items():
        follow = by_id.get(followup)
        if follow is None:
            raise ValueError(f"confirmation list {list_id!r}: follow-up {followup!r} is not a step")
        if follow.next != by_id[list_id].next:
            raise ValueError(f"follow-up {followup!r} must carry on where its list {list_id!r} does (same 'next')")
    source_ids = {s.id for s in pack.sources}
    rule_ids = {r.id for r in (*pack.principles, *pack.golden_rules)}
    for special in (pack.start, pack.urgent_step):
        if special not in by_id:
            raise ValueError(f"{special!r} is not a step")

    def check_cite(where: str, cite: Citation) -> None:
        if cite.source not in source_ids:
            raise ValueError(f"{where}: cites unknown source {cite.source!r}")

    for rule in (*pack.principles, *pack.golden_rules):
        check_cite(f"rule {rule.id!r}", rule.cite)
    myth_ids = {m.id for m in pack.myths}
    for myth in pack.myths:
        check_cite(f"myth {myth.id!r}", myth.cite)
    top_ids = set(ids)
    for step in by_id.values():
        for c in step.cite:
            check_cite(f"step {step.id!r}", c)
        for g in step.guidance:
            if g.cite:
                check_cite(f"step {step.id!r} guidance", g.cite)
        for r in (*step.principles, *step.rules):
            if r not in rule_ids:
                raise ValueError(f"step {step.id!r}: checks unknown principle or rule {r!r}")
        for target in successors(step):
            if target != END and target not in top_ids:
                raise ValueError(f"step {step.id!r}: goes to unknown step {target!r}")
        choices = step.effective_choices()
        for choice in choices:
            if choice.myth and choice.myth not in myth_ids:
                raise ValueError(f"step {step.id!r}: choice {choice.id!r} shows unknown myth {choice.myth!r}")
            for cond in choice.when:
                if cond.step not in by_id:
                    raise ValueError(f"step {step.id!r}: choice {choice.id!r} tests unknown step {cond.step!r}")
        if choices and all(c.when for c in choices):
            raise ValueError(f"step {step.id!r}: at least one choice must be offered unconditionally")
        every_choice_routes = step.kind in CHOICE_KINDS and all(c.goto for c in step.effective_choices())
        if step.id in top_ids and step.next is None and not every_choice_routes:
            raise ValueError(f"step {step.id!r}: has no way on (set 'next', or 'goto' on every choice)")
        for branch in step.branches:
            for cond in branch.when:
                tested = by_id.get(cond.step)
                if tested is None:
                    raise ValueError(f"step {step.id!r}: a branch tests unknown step {cond.step!r}")
                unknown = set(cond.any_of) - _answer_ids(tested)
                if unknown:
                    raise ValueError(
                        f"step {step.id!r}: a branch tests unknown choices {sorted(unknown)} of {cond.step!r}"
                    )

    reachable = _reachable(by_id, [pack.start, pack.urgent_step])
    unreachable = [i for i in ids if i not in reachable]
    if unreachable:
        raise ValueError(f"steps nothing leads to: {unreachable}")
    # every step must be able to finish, or a practitioner could be trapped in a loop
    can_finish = {END}
    changed = True
    while changed:
        changed = False
        for step in pack.steps:
            if step.id not in can_finish and any(t in can_finish for t in successors(step)):
                can_finish.add(step.id)
                changed = True
    trapped = [i for i in ids if i not in can_finish]
    if trapped:
        raise ValueError(f"steps from which the check can never finish: {trapped}")
    decision_steps = [s for s in by_id.values() if s.field == "decision"]
    if not decision_steps:
        raise ValueError("no step records the decision (field: decision)")
    for s in decision_steps:
        bad = {c.id for c in s.effective_choices()} - set(DECISIONS)
        if bad:
            raise ValueError(f"decision step {s.id!r}: choices must be among {DECISIONS}, not {sorted(bad)}")
    if not any(
        (s.field == "reasons" or "reasons" in s.also_fills) and s.kind is AnswerKind.FREE_TEXT and not s.optional
        for s in by_id.values()
    ):
        raise ValueError("no required free-text step records the reasons (field: reasons)")
    unconditional = {o.decision for o in pack.outcomes if not o.when}
    missing = set(DECISIONS) - unconditional
    if missing:
        raise ValueError(f"outcomes without a default entry for {sorted(missing)}")
    for outcome in pack.outcomes:
        for cond in outcome.when:
            if cond.step not in by_id:
                raise ValueError(f"an outcome for {outcome.decision!r} tests unknown step {cond.step!r}")

    def check_conditions(where: str, conditions: Iterable[Condition]) -> None:
        for cond in conditions:
            tested = by_id.get(cond.step)
            if tested is None:
                raise ValueError(f"{where}: tests unknown step {cond.step!r}")
            unknown = set(cond.any_of) - _answer_ids(tested)
            if unknown:
                raise ValueError(f"{where}: tests unknown choices {sorted(unknown)} of {cond.step!r}")

    for step in pack.steps:
        for choice in step.effective_choices():
            check_conditions(f"step {step.id!r} choice {choice.id!r}", choice.when)
        for item in step.items:
            check_conditions(f"step {step.id!r} item {item.id!r}", item.when)
        for sub in step.fields:
            check_conditions(f"form {step.id!r} field {sub.id!r}", sub.when)
            for choice in sub.effective_choices():
                check_conditions(f"form {step.id!r} field {sub.id!r} choice {choice.id!r}", choice.when)
    for section in pack.sections:
        check_conditions(f"section {section.id!r}", section.when)
    for derived in pack.derived:
        if derived.field not in RECORD_FIELDS:
            raise ValueError(f"derived field {derived.field!r} is not a record field")
        check_conditions(f"derived {derived.field!r}", derived.when)
    if pack.covering_note is not None:
        known_fields = RECORD_FIELDS | {"confirm_by"}
        for n, line in enumerate(pack.covering_note.lines, 1):
            check_conditions(f"covering note line {n}", line.when)
            names = {name for _, name, _, _ in Formatter().parse(line.text) if name}
            if names - known_fields:
                raise ValueError(f"covering note line {n}: unknown fields {sorted(names - known_fields)}")
    checked = {
        r
        for s in pack.steps
        for r in (
            *s.principles,
            *s.rules,
            *(x for f in s.fields for x in (*f.principles, *f.rules)),
            *(x for i in s.items for x in (*i.principles, *i.rules)),
        )
    }
    unchecked = sorted(rule_ids - checked)
    if unchecked:
        raise ValueError(f"principles or rules no step checks: {unchecked}")


def _answer_ids(step: Step) -> set[str]:
    """What a condition on this step can test: its choices, or the items of a confirmation list (ticked ones)."""
    return {c.id for c in step.effective_choices()} | {i.id for i in step.items}


def _reachable(by_id: dict[str, Step], roots: list[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        sid = todo.pop()
        if sid in seen or sid == END:
            continue
        seen.add(sid)
        todo.extend(successors(by_id[sid]))
    return seen


PACKS_DIR = Path(__file__).parent / "packs"
_PACK_FILE = re.compile(r"^[a-z0-9][a-z0-9-]+\.ya?ml$")


def load_pack_file(path: Path) -> Pack:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PackError(f"content pack {path.name}: cannot read it ({exc.__class__.__name__}: {exc})") from exc
    try:
        return Pack.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'pack'}: {e['msg']}" for e in exc.errors()[:10])
        raise PackError(f"content pack {path.name} is not valid: {problems}") from exc


def available_packs(directory: Path = PACKS_DIR) -> dict[str, Path]:
    return {p.stem: p for p in sorted(directory.iterdir()) if _PACK_FILE.match(p.name)}


ARCHIVE = "archive"
"""Earlier versions of each pack, ``<id>@<version>.yaml``: a check started under one carries on under it."""


def load_archived_pack(pack_id: str, version: str, directory: Path = PACKS_DIR) -> Pack | None:
    """An earlier version of a pack, kept so checks in flight finish under the flow they started (None if not kept)."""
    path = directory / ARCHIVE / f"{pack_id}@{version}.yaml"
    if not _PACK_FILE.match(pack_id + ".yaml") or not re.fullmatch(r"\d+\.\d+\.\d+", version) or not path.is_file():
        return None
    pack = load_pack_file(path)
    if (pack.id, pack.version) != (pack_id, version):
        raise PackError(f"archived content pack {path.name} declares {pack.id!r} {pack.version}")
    return pack


def load_pack(pack_id: str, directory: Path = PACKS_DIR) -> Pack:
    files = available_packs(directory)
    if pack_id not in files:
        raise PackError(f"unknown content pack {pack_id!r}; available: {', '.join(files) or 'none'}")
    pack = load_pack_file(files[pack_id])
    if pack.id != pack_id:
        raise PackError(f"content pack file {files[pack_id].name} declares id {pack.id!r}")
    return pack
