"""How long a check is for the practitioner: answers, typed answers and words read, per path of each pack.

A practitioner's time is the first performance figure (issue 17). This walks each content pack through the
engine once per *intent* ('share', 'not share after a request', 'urgent', ...), answering as a practitioner
with that intent would, and prints per path: the answers given (a form is one answer, a confirmation list is
one, each of its follow-ups one more, the review screen's Save one), the questions in them (a form's fields
each counted), how many were typed, the words shown before the record (questions, help, guidance, sources,
choices, a form's fields, a list's statements, the review screen), the Slack interactions and the Teams cards,
and, beside them, issue 17's targets.

Paths are found, not hard-coded: an intent names the choices it makes by record field ('decision',
'request_context', 'immediate_risk') or step id, the first of them offered is taken, and any other question gets
the usual answer (the first choice that is not 'not sure' or 'ask my lead', all statements true, Save). If that
scripted walk does not end as the intent does (a pack whose wording of a choice differs), seeded random walks
biased the same way look for one that does, so a redesigned pack is measured without editing this file.

The figures are counted, not timed, so they are the same on any machine.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dialogs.content import PACKS_DIR, AnswerKind, Step, available_packs, load_pack
from dialogs.engine import REVIEW, Engine
from dialogs.messages import ALL_TRUE, SAVE, ChoiceView, FieldSpec, Prompt
from dialogs.state import Answer, DialogState, FieldAnswer, Recipient, Status

DEFAULT_PACK = "children-england-2024"

TYPED = frozenset({AnswerKind.FREE_TEXT, AnswerKind.CASE_REFERENCE, AnswerKind.DATETIME, AnswerKind.RECIPIENT})
"""Answers the practitioner types (or, for a recipient, fills in a form) rather than clicks."""

HOW_TO_SHARE = frozenset(
    {"recipient", "recipient_role", "recipient_type", "method", "timely", "onward_limits", "lawful_basis", "shared_at"}
)
"""Record fields a check that ends in 'do not share' should never have asked about."""

TEXT = "Sharing is needed so the recipient can act on the concern today."
RECIPIENT = Recipient(organisation="Northshire Police", role="MASH detective sergeant")
CASE_REFERENCE = "CS-2024-0113"
MAX_ANSWERS = 100
WALKS = 300
"""Seeded random walks tried when an intent's scripted walk does not end as the intent does."""

Prefer = Mapping[str, tuple[str, ...]]
"""Choices by record field or step id (a step id wins): the first of them offered is taken."""


@dataclass(frozen=True)
class Intent:
    """What the practitioner means to do: the decision, and the choices that say so on the way."""

    name: str
    decision: str
    prefer: Prefer
    urgent: bool = False
    """The path goes through the immediate-danger exit."""
    requires: Prefer = field(default_factory=dict)
    """Answers the path must have given where the pack asks them (by record field)."""


_NO_DANGER: Prefer = {"immediate_risk": ("no",)}
INTENTS = (
    Intent(
        "share",
        "share",
        {
            **_NO_DANGER,
            "request_context": ("own_initiative",),
            "decision": ("share",),
            "recipient_type": ("la_school", "council"),
            "method": ("secure_email",),
            "consent": ("not_safe",),
        },
    ),
    Intent(
        "not share after a request",
        "not_share",
        {**_NO_DANGER, "request_context": ("asked",), "decision": ("not_share",)},
        requires={"request_context": ("asked",)},
    ),
    Intent(
        "not share, no clear purpose",
        "not_share",
        {**_NO_DANGER, "request_context": ("asked",), "purpose": ("no",), "decision": ("not_share",)},
    ),
    Intent(
        "seek advice",
        "seek_advice",
        {**_NO_DANGER, "request_context": ("own_initiative",), "decision": ("seek_advice",)},
    ),
    Intent(
        "urgent",
        "share",
        {"immediate_risk": ("yes",), "urgent_action": ("called_999",), "decision": ("share",)},
        urgent=True,
    ),
)


@dataclass(frozen=True)
class Target:
    answers: int
    typed: int | None = None
    words: int | None = None
    no_how_to_share: bool = False
    contacts_next: bool = False
    """Who to call is on the first screen after 'yes, someone is in immediate danger'."""

    def describe(self, default_pack: bool) -> str:
        """The target as printed beside the figures (typed answers and words are the default pack's only)."""
        parts = [f"<={self.answers + (0 if default_pack else OTHER_PACK_SLACK)} answers"]
        if self.typed is not None and default_pack:
            parts.append(f"<={self.typed} typed")
        if self.words is not None and default_pack:
            parts.append(f"<={self.words} words")
        if self.no_how_to_share:
            parts.append("no how-to-share")
        if self.contacts_next:
            parts.append("contacts next")
        return ", ".join(parts)


TARGETS: Mapping[str, Target] = {
    "share": Target(answers=12, typed=3, words=600),
    "not share after a request": Target(answers=10, no_how_to_share=True),
    "urgent": Target(answers=7, contacts_next=True),
}
"""Issue 17's targets for the default pack; the other packs may take up to ``OTHER_PACK_SLACK`` more answers."""
OTHER_PACK_SLACK = 2

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’.-]*")


def words(text: str | None) -> int:
    return len(_WORD.findall(text or ""))


def _choice_words(choices: Sequence[ChoiceView]) -> int:
    return sum(words(c.label) for c in choices)


def _field_words(spec: FieldSpec) -> int:
    return words(spec.label) + words(spec.help) + words(spec.placeholder) + _choice_words(spec.choices)


def prompt_words(prompt: Prompt) -> int:
    """Everything the practitioner has in front of them on this step: question, help, guidance, sources, buttons,
    who to call, a form's questions, a list's statements, the review screen's own words. The record and the covering
    note it previews are the record itself (issue 17 counts the words read *before* the record), so they are not
    counted."""
    total = words(prompt.title) + words(prompt.question) + words(prompt.help) + words(prompt.notice)
    total += sum(words(g.text) + (words(g.citation.short()) if g.citation else 0) for g in prompt.guidance)
    total += sum(words(c.short()) for c in prompt.citations)
    total += sum(words(m.title) + words(m.text) + words(m.citation.short()) for m in prompt.myths)
    total += sum(words(c.label) + words(c.contact) for c in prompt.contacts)
    total += sum(words(link.title) for link in prompt.links)
    spec = prompt.input
    total += _choice_words(spec.choices) + words(spec.placeholder) + words(spec.all_label)
    total += sum(_field_words(f) for f in spec.fields)
    review = prompt.review
    if review is not None:
        total += words(review.decision_label) + _choice_words(review.changes)
    return total


@dataclass(frozen=True)
class PathFigures:
    pack: str
    path: str
    decision: str | None
    answers: int
    typed: int
    words: int
    slack_interactions: int
    teams_cards: int
    how_to_share_asked: tuple[str, ...]
    """On a path that ended in 'do not share': the how-to-share fields it asked about (should be none)."""
    fields_answered: int = 0
    """The questions in those answers: each field of a form counted, a list and a notice one each, Save none."""
    contacts_next: bool | None = None
    """After 'yes, someone is in immediate danger': whether the next screen showed who to call."""
    reached: bool = True
    """The walk ended as the intent does (else the figures are of the nearest walk, and the target is missed)."""
    found_by: str = "script"
    """'script' (the intent's own choices) or 'walk <seed>' (a seeded random walk biased the same way)."""
    target: str = ""


class Chooser:
    """Picks answers for one intent: its own preferences, else the usual answer, or (seeded) a random one."""

    def __init__(self, intent: Intent, rng: random.Random | None = None) -> None:
        self.intent = intent
        self.rng = rng

    def preferred(self, question: Step, offered: Sequence[ChoiceView]) -> str | None:
        ids = {c.id for c in offered}
        for key in (question.id, question.field):
            for choice_id in self.intent.prefer.get(key or "", ()):
                if choice_id in ids:
                    return choice_id
        return None

    def choose(self, question: Step, offered: Sequence[ChoiceView], initial: tuple[str, ...] = ()) -> tuple[str, ...]:
        wanted = self.preferred(question, offered)
        if wanted is not None:
            return (wanted,)
        if initial:
            return initial  # the organisation's default (or the earlier answer), accepted as shown
        if self.rng is not None and self.rng.random() < 0.3:
            return (self.rng.choice(offered).id,)
        return (usual(question, offered),)

    def ticked(self, question: Step, offered: Sequence[ChoiceView]) -> tuple[str, ...]:
        chosen = self.intent.prefer.get(question.id)
        if chosen is not None:
            return tuple(c.id for c in offered if c.id in chosen)
        if self.rng is not None and self.rng.random() < 0.3:
            return tuple(c.id for c in offered if self.rng.random() < 0.5)
        return (ALL_TRUE,)


def usual(question: Step, offered: Sequence[ChoiceView]) -> str:
    """The first choice offered that is not 'not sure' or an action (asking the lead now)."""
    for view in offered:
        choice = question.choice(view.id)
        if choice is not None and not choice.unsure and choice.action is None and choice.id != "unsure":
            return view.id
    return offered[0].id


def _typed_text(kind: AnswerKind) -> str:
    if kind is AnswerKind.CASE_REFERENCE:
        return CASE_REFERENCE
    if kind is AnswerKind.DATETIME:
        return "now"
    return TEXT


@dataclass
class _Tally:
    answers: int = 0
    fields: int = 0
    typed: int = 0
    words: int = 0
    slack: int = 0
    asked: list[str] = field(default_factory=list)
    contacts_next: bool | None = None


def _answer(engine: Engine, state: DialogState, prompt: Prompt, chooser: Chooser, tally: _Tally) -> Answer:
    """The chooser's answer to this prompt, counted as the practitioner would experience it."""
    spec = prompt.input
    base = {"step_id": prompt.step_id, "revision": state.revision}
    tally.answers += 1
    tally.words += prompt_words(prompt)
    if prompt.step_id == REVIEW:
        tally.slack += 1
        return Answer(**base, choices=(SAVE,))
    step = engine.pack.step(prompt.step_id)
    if step.field:
        tally.asked.append(step.field)
    if spec.kind is AnswerKind.FORM:
        given: dict[str, FieldAnswer] = {}
        acted = 0
        for f in spec.fields:
            question = engine.pack.step(f.id)
            tally.fields += 1
            if question.field:
                tally.asked.append(question.field)
            if f.choices:
                chosen = chooser.choose(question, f.choices, f.initial)
                acted += chosen != f.initial
                given[f.id] = FieldAnswer(choices=chosen)
            elif f.initial_text or f.optional:
                given[f.id] = FieldAnswer(text=f.initial_text)  # kept as shown, or left out
            else:
                tally.typed += 1
                acted += 1
                given[f.id] = FieldAnswer(text=_typed_text(f.kind))
        tally.slack += 2 + acted  # open the form, fill in what is not already right, submit
        return Answer(**base, fields=given)
    tally.fields += 1
    if spec.kind is AnswerKind.CONFIRM_LIST:
        ticked = chooser.ticked(step, spec.choices)
        tally.asked.extend(i.field for i in step.items if i.field and i.id in {c.id for c in spec.choices})
        tally.slack += 1 if ticked == (ALL_TRUE,) else 1 + len(ticked)  # 'all true', or ticks then confirm
        return Answer(**base, choices=ticked)
    if spec.kind in TYPED:
        tally.slack += 2  # open and submit
        if step.optional:
            return Answer(**base, text="")
        tally.typed += 1
        if spec.kind is AnswerKind.RECIPIENT:
            return Answer(**base, recipient=RECIPIENT)
        return Answer(**base, text=_typed_text(spec.kind))
    tally.slack += 2 if spec.kind is AnswerKind.MULTI_CHOICE else 1
    return Answer(**base, choices=chooser.choose(step, spec.choices))


def _said_danger(engine: Engine, answer: Answer) -> bool:
    """This answer says someone is in immediate danger (the record's immediate_risk is 'yes')."""
    if answer.fields is not None:
        return any(
            engine.pack.step(fid).field == "immediate_risk" and "yes" in given.choices
            for fid, given in answer.fields.items()
        )
    step = engine.pack.steps_by_id.get(answer.step_id)
    return step is not None and step.field == "immediate_risk" and "yes" in answer.choices


def walk(engine: Engine, chooser: Chooser) -> tuple[DialogState, _Tally]:
    now = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    turn = engine.start(now)
    tally = _Tally()
    danger_said = False
    while turn.state.status is Status.ACTIVE:
        prompt = turn.message
        assert isinstance(prompt, Prompt), prompt
        if danger_said and tally.contacts_next is None:
            tally.contacts_next = bool(prompt.contacts)
        if tally.answers >= MAX_ANSWERS:
            raise RuntimeError(f"{engine.pack.id} {chooser.intent.name}: no end after {MAX_ANSWERS} answers")
        answer = _answer(engine, turn.state, prompt, chooser, tally)
        danger_said = danger_said or _said_danger(engine, answer)
        now += timedelta(seconds=20)
        turn = engine.answer(turn.state, answer, now)
    return turn.state, tally


def decision_of(engine: Engine, state: DialogState) -> str | None:
    decided = None
    for step_id, value in state.path_answers().items():
        step = engine.pack.steps_by_id.get(step_id)
        if step is not None and step.field == "decision" and value.choices:
            decided = value.choices[0]
    return decided


def reached(engine: Engine, state: DialogState, intent: Intent) -> bool:
    if state.status is not Status.COMPLETED or decision_of(engine, state) != intent.decision:
        return False
    if state.urgent != intent.urgent:
        return False
    given = {engine.pack.steps_by_id[sid].field: v for sid, v in state.path_answers().items()}
    return all(any(c in given[f].choices for c in ids) for f, ids in intent.requires.items() if f in given)


def walk_intent(engine: Engine, intent: Intent) -> PathFigures:
    """The intent's scripted walk; failing that, the first seeded walk that ends as the intent does."""
    state, tally = walk(engine, Chooser(intent))
    found_by = "script"
    ok = reached(engine, state, intent)
    for seed in range(WALKS if not ok else 0):
        try:
            tried, tried_tally = walk(engine, Chooser(intent, random.Random(seed)))
        except RuntimeError:
            continue
        if reached(engine, tried, intent):
            state, tally, found_by, ok = tried, tried_tally, f"walk {seed}", True
            break
    decided = decision_of(engine, state)
    asked = tuple(dict.fromkeys(f for f in tally.asked if f in HOW_TO_SHARE)) if decided == "not_share" else ()
    target = TARGETS.get(intent.name)
    pack_id = engine.pack.id
    return PathFigures(
        pack=pack_id,
        path=intent.name,
        decision=decided,
        answers=tally.answers,
        typed=tally.typed,
        words=tally.words,
        slack_interactions=tally.slack,
        teams_cards=tally.answers,  # one card per screen: a form and a list are one card each
        how_to_share_asked=asked,
        fields_answered=tally.fields,
        contacts_next=tally.contacts_next,
        reached=ok,
        found_by=found_by if ok else "not found",
        target=target.describe(pack_id == DEFAULT_PACK) if target else "",
    )


def target_met(fig: PathFigures) -> bool | None:
    target = TARGETS.get(fig.path)
    if target is None:
        return None
    if not fig.reached:
        return False
    default = fig.pack == DEFAULT_PACK
    ok = fig.answers <= target.answers + (0 if default else OTHER_PACK_SLACK)
    if default:
        ok = ok and fig.typed <= (target.typed if target.typed is not None else fig.typed)
        ok = ok and fig.words <= (target.words if target.words is not None else fig.words)
    if target.no_how_to_share:
        ok = ok and not fig.how_to_share_asked
    if target.contacts_next:
        ok = ok and fig.contacts_next is True
    return ok


def measure(directory: Path = PACKS_DIR, packs: Sequence[str] = ()) -> list[PathFigures]:
    chosen = [p for p in available_packs(directory) if not packs or p in packs]
    return [walk_intent(Engine(load_pack(p, directory)), intent) for p in chosen for intent in INTENTS]


def report(figures: Sequence[PathFigures]) -> str:
    header = (
        f"{'pack':24} {'path':28} {'decision':11} {'answers':>7} {'fields':>6} {'typed':>5} {'words':>6} "
        f"{'slack':>5} {'teams':>5}  target"
    )
    lines = [header, "-" * len(header)]
    for f in figures:
        verdict = {None: "", True: " (met)", False: " (MISSED)"}[target_met(f)]
        notes = []
        if not f.reached:
            notes.append("no walk ends as this intent does")
        elif f.found_by != "script":
            notes.append(f"found by a {f.found_by}")
        if f.how_to_share_asked:
            notes.append(f"asked how to share: {', '.join(f.how_to_share_asked)}")
        if f.contacts_next is False:
            notes.append("who to call is not on the screen after 'yes'")
        also = f"  [{'; '.join(notes)}]" if notes else ""
        lines.append(
            f"{f.pack:24} {f.path:28} {f.decision or '-':11} {f.answers:>7} {f.fields_answered:>6} {f.typed:>5} "
            f"{f.words:>6} {f.slack_interactions:>5} {f.teams_cards:>5}  {f.target}{verdict}{also}"
        )
    lines.append(
        "answers: screens answered (a form, a list, Save: one each); fields: questions in them; "
        f"targets: issue 17, the default pack ({DEFAULT_PACK}) exactly, others within {OTHER_PACK_SLACK} answers"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--content-dir", type=Path, default=PACKS_DIR, help="a folder of packs (default: shipped)")
    parser.add_argument("--pack", action="append", default=[], help="only this pack (repeatable)")
    args = parser.parse_args(argv)
    figures = measure(args.content_dir, args.pack)
    print(report(figures))
    result = {
        "bench": "check_length",
        "default_pack": DEFAULT_PACK,
        "paths": [asdict(f) | {"met": target_met(f)} for f in figures],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
