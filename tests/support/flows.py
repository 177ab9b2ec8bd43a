"""Driving a content pack through the engine: scripted paths and an edge-covering explorer."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime, timedelta

from dialogs.content import END, AnswerKind, Choice, Pack, Step, holds, successors
from dialogs.engine import Engine
from dialogs.messages import Prompt
from dialogs.state import Answer, DialogState, Recipient, Status

DEFAULT_TEXT = "Sharing is needed so the recipient can act on the concern today."
DEFAULT_RECIPIENT = Recipient(organisation="Northshire Police", role="MASH detective sergeant")
AnswerSpec = str | tuple[str, ...] | Recipient


def default_answer(step: Step, state: DialogState) -> Answer:
    base = {"step_id": step.id, "revision": state.revision}
    if step.kind is AnswerKind.CASE_REFERENCE:
        return Answer(**base, text="CS-2024-0113")
    if step.kind is AnswerKind.FREE_TEXT:
        return Answer(**base, text=DEFAULT_TEXT)
    if step.kind is AnswerKind.RECIPIENT:
        return Answer(**base, recipient=DEFAULT_RECIPIENT)
    if step.kind is AnswerKind.DATETIME:
        return Answer(**base, text="now")
    return Answer(**base, choices=(offered(step, state)[0].id,))


def offered(step: Step, state: DialogState) -> tuple[Choice, ...]:
    """The choices shown now (conditional ones only when their conditions hold)."""
    answers = state.path_answers()
    return tuple(c for c in step.effective_choices() if holds(c.when, answers))


def answer_for(step: Step, state: DialogState, spec: AnswerSpec) -> Answer:
    base = {"step_id": step.id, "revision": state.revision}
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
        assert isinstance(turn.message, Prompt)
        assert len(visited) < max_steps, f"no end after {max_steps} steps: {visited[-10:]}"
        step = engine.pack.step(turn.message.step_id)
        visited.append(step.id)
        answer = (
            answer_for(step, turn.state, script[step.id]) if step.id in script else default_answer(step, turn.state)
        )
        now += timedelta(seconds=20)
        turn = engine.answer(turn.state, answer, now)
    return turn.state, visited


def all_edges(pack: Pack) -> set[tuple[str, str]]:
    return {(s.id, t) for s in pack.steps for t in successors(s)}


def explore(
    engine: Engine, now: datetime, seed: int = 7, max_walks: int = 3000
) -> tuple[set[tuple[str, str]], list[DialogState]]:
    """Random walks (seeded, so repeatable) until every edge of the flow has been taken.

    Returns the edges taken and the completed state of every walk.
    """
    rng = random.Random(seed)
    pack = engine.pack
    wanted = all_edges(pack)
    covered: set[tuple[str, str]] = set()
    finished: list[DialogState] = []
    for _ in range(max_walks):
        turn = engine.start(now)
        for _ in range(200):
            state = turn.state
            if state.status is not Status.ACTIVE:
                break
            assert state.step is not None
            step = pack.step(state.step)
            choices = offered(step, state)
            answer = (
                Answer(step_id=step.id, revision=state.revision, choices=(rng.choice(choices).id,))
                if choices
                else default_answer(step, state)
            )
            turn = engine.answer(state, answer, now)
            covered.add((step.id, turn.state.step or END))
        assert turn.state.status is Status.COMPLETED, "a walk did not finish within 200 answers"
        finished.append(turn.state)
        if covered >= wanted:
            break
    return covered, finished
