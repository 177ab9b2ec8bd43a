"""Driving a content pack through the engine: scripted paths and an edge-covering explorer."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dialogs.content import END, AnswerKind, Choice, Condition, Pack, Step, holds, successors
from dialogs.engine import REVIEW, Engine
from dialogs.messages import ALL_TRUE, SAVE, Prompt
from dialogs.state import Answer, DialogState, FieldAnswer, Recipient, Status

DEFAULT_TEXT = "Sharing is needed so the recipient can act on the concern today."
DEFAULT_RECIPIENT = Recipient(organisation="Northshire Police", role="MASH detective sergeant")
AnswerSpec = str | tuple[str, ...] | Recipient

SHARE_SCREENS = ("start", "gates", "decision", "what", "recipient", "how", "before_send", REVIEW)
"""The default pack's common share path, a screen each, ending on the review (the surfaces' walks expect it)."""
NOT_SHARE_SCREENS = ("start", "gates", "decision", "not_sharing", "requester", REVIEW)
"""The default pack's 'do not share' after a request."""


def default_answer(step: Step, state: DialogState) -> Answer:
    base = {"step_id": step.id, "revision": state.revision}
    if step.kind is AnswerKind.FORM:
        return form_answer(step, state, {})
    if step.kind is AnswerKind.CONFIRM_LIST:
        return Answer(**base, choices=(ALL_TRUE,))
    if step.kind is AnswerKind.CASE_REFERENCE:
        return Answer(**base, text="CS-2024-0113")
    if step.kind is AnswerKind.FREE_TEXT:
        return Answer(**base, text=DEFAULT_TEXT)
    if step.kind is AnswerKind.RECIPIENT:
        return Answer(**base, recipient=DEFAULT_RECIPIENT)
    if step.kind is AnswerKind.DATETIME:
        return Answer(**base, text="now")
    return Answer(**base, choices=(offered(step, state)[0].id,))


def _field_default(sub: Step, state: DialogState) -> FieldAnswer:
    if sub.kind is AnswerKind.CASE_REFERENCE:
        return FieldAnswer(text="CS-2024-0113")
    if sub.kind is AnswerKind.FREE_TEXT:
        return FieldAnswer(text=DEFAULT_TEXT)
    if sub.kind is AnswerKind.DATETIME:
        return FieldAnswer(text="now")
    return FieldAnswer(choices=(offered(sub, state)[0].id,))


def _field_spec(sub: Step, spec: AnswerSpec) -> FieldAnswer:
    if isinstance(spec, tuple):
        return FieldAnswer(choices=spec)
    assert isinstance(spec, str), f"field {sub.id}: a form field takes choices or text"
    return FieldAnswer(choices=(spec,)) if sub.effective_choices() else FieldAnswer(text=spec)


def form_answer(step: Step, state: DialogState, script: Mapping[str, AnswerSpec]) -> Answer:
    """A form answered field by field: from ``script`` by field id, else a default (optional fields left blank)."""
    answers = state.path_answers()
    fields: dict[str, FieldAnswer] = {}
    for sub in step.fields:
        if not holds(sub.when, answers):
            continue
        if sub.id in script:
            fields[sub.id] = _field_spec(sub, script[sub.id])
        elif not sub.optional:
            fields[sub.id] = _field_default(sub, state)
    return Answer(step_id=step.id, revision=state.revision, fields=fields)


def review_answer(state: DialogState) -> Answer:
    """Save on the review screen."""
    return Answer(step_id=REVIEW, revision=state.revision, choices=(SAVE,))


def offered(step: Step, state: DialogState) -> tuple[Choice, ...]:
    """The choices shown now (conditional ones only when their conditions hold)."""
    answers = state.path_answers()
    return tuple(c for c in step.effective_choices() if holds(c.when, answers))


def answer_for(step: Step, state: DialogState, spec: AnswerSpec) -> Answer:
    base = {"step_id": step.id, "revision": state.revision}
    if step.kind is AnswerKind.CONFIRM_LIST and isinstance(spec, str):
        return Answer(**base, choices=(spec,))
    if isinstance(spec, Recipient):
        return Answer(**base, recipient=spec)
    if isinstance(spec, tuple):
        return Answer(**base, choices=spec)
    if step.effective_choices():
        return Answer(**base, choices=(spec,))
    return Answer(**base, text=spec)


def walk(
    engine: Engine, now: datetime, script: Mapping[str, AnswerSpec] | None = None, max_steps: int = 200
) -> tuple[DialogState, list[str]]:
    """Answer every step (from ``script`` by step id, else a default) until the check ends."""
    script = script or {}
    turn = engine.start(now)
    visited: list[str] = []
    while turn.state.status is Status.ACTIVE:
        message = turn.message
        assert isinstance(message, Prompt)
        assert len(visited) < max_steps, f"no end after {max_steps} steps: {visited[-10:]}"
        now += timedelta(seconds=20)
        if message.step_id == REVIEW:
            turn = engine.answer(turn.state, review_answer(turn.state), now)
            continue
        step = engine.pack.step(message.step_id)
        visited.append(step.id)
        turn = engine.answer(turn.state, scripted_answer(step, turn.state, script), now)
    return turn.state, visited


def scripted_answer(step: Step, state: DialogState, script: Mapping[str, AnswerSpec]) -> Answer:
    """The answer ``script`` gives this step (a form: each field by its id), else a default."""
    if step.kind is AnswerKind.FORM:
        return form_answer(step, state, script)
    return answer_for(step, state, script[step.id]) if step.id in script else default_answer(step, state)


def answer_at(pack: Pack, state: DialogState, script: Mapping[str, AnswerSpec] | None = None) -> Answer:
    """The answer to whatever the check shows now: Save on the review screen, else ``scripted_answer``."""
    assert state.step is not None
    if state.step == REVIEW:
        return review_answer(state)
    return scripted_answer(pack.step(state.step), state, script or {})


def all_edges(pack: Pack) -> set[tuple[str, str]]:
    edges = {(s.id, t) for s in pack.steps for t in successors(s)}
    # a confirmation list's follow-up goes on to the next unticked item's follow-up (engine routing, not the graph)
    for followup, (list_id, index) in pack.followups.items():
        later = pack.step(list_id).items[index + 1 :]
        edges |= {(followup, i.followup) for i in later if i.followup}
    return edges


def explore(
    engine: Engine, now: datetime, seed: int = 7, max_walks: int = 3000
) -> tuple[set[tuple[str, str]], list[DialogState]]:
    """Random walks (seeded, so repeatable) until every edge of the flow has been taken.

    An edge that only a rare combination of answers takes (a form's third branch, say) is then sought on
    purpose: walks steered towards it (see ``steer_to``). Returns the edges taken and the completed state of
    every walk.
    """
    rng = random.Random(seed)
    pack = engine.pack
    wanted = all_edges(pack)
    covered: set[tuple[str, str]] = set()
    finished: list[DialogState] = []
    for _ in range(max_walks):
        finished.append(_walk(engine, now, rng, covered))
        if covered >= wanted:
            break
    for edge in sorted(wanted - covered):
        for _ in range(60):
            steer = steer_to(pack, edge, rng)
            if steer is None:
                continue
            finished.append(_walk(engine, now, rng, covered, steer, edge))
            if edge in covered:
                break
    return covered, finished


def _walk(
    engine: Engine,
    now: datetime,
    rng: random.Random,
    covered: set[tuple[str, str]],
    steer: Steer | None = None,
    edge: tuple[str, str] | None = None,
) -> DialogState:
    """One walk, steered (if at all) until it has taken ``edge``, then at random, so a loop cannot trap it."""
    turn = engine.start(now)
    for answered in range(200):
        state = turn.state
        if state.status is not Status.ACTIVE:
            break
        assert state.step is not None
        if state.step == REVIEW:
            turn = engine.answer(state, review_answer(state), now)
            continue
        step = engine.pack.step(state.step)
        if answered == 100:
            steer = None  # a steer that keeps a walk in a loop is dropped
        turn = engine.answer(state, random_answer(rng, step, state, steer), now)
        taken = (step.id, END if turn.state.step in (None, REVIEW) else turn.state.step)
        covered.add(taken)
        if taken == edge:
            steer = None
    assert turn.state.status is Status.COMPLETED, "a walk did not finish within 200 answers"
    return turn.state


@dataclass
class Steer:
    """Answers to prefer and to avoid, by step or form field id (a confirmation list's items: '<list>.<item>',
    with the choices 'ticked' and 'unticked'), so that a walk takes one wanted edge."""

    want: dict[str, frozenset[str]] = field(default_factory=dict)
    avoid: dict[str, frozenset[str]] = field(default_factory=dict)

    def merged(self, other: Steer) -> Steer | None:
        want = dict(self.want)
        for key, choices in other.want.items():
            want[key] = want[key] & choices if key in want else choices
            if not want[key]:
                return None
        avoid = dict(self.avoid)
        for key, choices in other.avoid.items():
            avoid[key] = avoid.get(key, frozenset()) | choices
        if any(want[k] <= avoid[k] for k in want if k in avoid):
            return None
        return Steer(want, avoid)

    def pick(self, key: str, options: list[str]) -> list[str]:
        """The options this steer allows for ``key`` (all of them when it allows none)."""
        allowed = [o for o in options if o in self.want.get(key, options) and o not in self.avoid.get(key, ())]
        return allowed or options


def _miss(branch_when: tuple[Condition, ...], want: dict[str, frozenset[str]]) -> Steer | None:
    """A steer under which this (earlier) branch does not match: one of its conditions fails."""
    for cond in branch_when:
        forced = want.get(cond.step)
        if forced is None or not forced & set(cond.any_of):
            return Steer(avoid={cond.step: frozenset(cond.any_of)})
    return None


def _leaves(step: Step, pack: Pack, target: str) -> Steer | None:
    """How to answer ``step`` so that the engine goes on to ``target`` (None if no answer can)."""
    gotos = [c for c in step.effective_choices() if c.goto]
    by_goto = [c.id for c in gotos if c.goto == target]
    if by_goto:
        return Steer(want={step.id: frozenset(by_goto)})
    steer: Steer | None = Steer(avoid={step.id: frozenset(c.id for c in gotos)}) if gotos else Steer()
    assert steer is not None
    followed = pack.followups.get(step.id)
    if step.items or followed:
        list_id, after = followed if followed else (step.id, -1)
        items = pack.step(list_id).items
        want: dict[str, frozenset[str]] = {}
        found = False
        for n, item in enumerate(items):
            if n <= after or not item.followup:
                continue
            key = f"{list_id}.{item.id}"
            if item.followup == target and not found:
                want[key], found = frozenset({"unticked"}), True
            elif not found:
                want[key] = frozenset({"ticked"})
        if found:
            return steer.merged(Steer(want=want))
        steer = steer.merged(Steer(want=want))
        if steer is None:
            return None
    for branch in step.branches:
        if branch.goto == target:
            return steer.merged(Steer(want={c.step: frozenset(c.any_of) for c in branch.when}))
        missed = _miss(branch.when, steer.want)
        steer = steer.merged(missed) if missed is not None else None
        if steer is None:
            return None
    return steer if step.next == target else None


def steer_to(pack: Pack, edge: tuple[str, str], rng: random.Random) -> Steer | None:
    """A steer that takes ``edge``, by a random way to it from the start (None if the way's answers conflict)."""
    into: dict[str, list[str]] = {}
    for s in pack.steps:
        for t in sorted(set(successors(s))):
            into.setdefault(t, []).append(s.id)
    distance = _distances(pack)
    source, target = edge
    steer = _leaves(pack.step(source), pack, target)
    while steer is not None and source != pack.start:
        # one step back towards the start, always closer to it, so the way has no loop
        before = [p for p in into.get(source, []) if distance.get(p, 1_000) < distance.get(source, 1_000)]
        if not before:
            return None
        previous = rng.choice(before)
        leaving = _leaves(pack.step(previous), pack, source)
        steer = steer.merged(leaving) if leaving is not None else None
        source = previous
    return steer


def _distances(pack: Pack) -> dict[str, int]:
    """Each step's fewest answers from the start."""
    distance = {pack.start: 0}
    todo = [pack.start]
    while todo:
        sid = todo.pop(0)
        for t in successors(pack.step(sid)):
            if t != END and t not in distance:
                distance[t] = distance[sid] + 1
                todo.append(t)
    return distance


def random_answer(rng: random.Random, step: Step, state: DialogState, steer: Steer | None = None) -> Answer:
    """Any answer a practitioner could give: a random choice, random form fields, random ticks (as steered)."""
    steer = steer or Steer()
    if step.kind is AnswerKind.FORM:
        answers = state.path_answers()
        fields: dict[str, FieldAnswer] = {}
        for sub in step.fields:
            if not holds(sub.when, answers):
                continue
            if sub.optional and sub.id not in steer.want and rng.random() < 0.5:
                continue
            fields[sub.id] = _random_field(rng, sub, state, steer)
        return Answer(step_id=step.id, revision=state.revision, fields=fields)
    if step.kind is AnswerKind.CONFIRM_LIST:
        items = [i.id for i in step.items if holds(i.when, state.path_answers())]
        if rng.random() < 0.3 and not any(k.startswith(f"{step.id}.") for k in steer.want):
            return Answer(step_id=step.id, revision=state.revision, choices=(ALL_TRUE,))
        ticked = tuple(
            i for i in items if rng.choice(steer.pick(f"{step.id}.{i}", ["ticked", "ticked", "unticked"])) == "ticked"
        )
        return Answer(step_id=step.id, revision=state.revision, choices=ticked)
    if step.effective_choices():
        field_answer = _random_field(rng, step, state, steer)
        return Answer(step_id=step.id, revision=state.revision, choices=field_answer.choices)
    return default_answer(step, state)


def _random_field(rng: random.Random, step: Step, state: DialogState, steer: Steer) -> FieldAnswer:
    options = [c.id for c in offered(step, state)]
    if not options:
        return _field_default(step, state)
    allowed = steer.pick(step.id, options)
    if step.kind is AnswerKind.MULTI_CHOICE and rng.random() < 0.5:
        exclusive = {c.id for c in step.effective_choices() if c.exclusive}
        plain = [c for c in allowed if c not in exclusive]
        if plain:
            return FieldAnswer(choices=tuple(rng.sample(plain, rng.randint(1, len(plain)))))
    return FieldAnswer(choices=(rng.choice(allowed),))
