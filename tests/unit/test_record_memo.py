"""The engine's shortcuts give exactly what the plain definitions give, and keep no typed text.

The record memo (dialogs.record.RecordMemo), the path's plain-copy case (DialogState.path_answers)
and the personal-data pre-filter (dialogs.personal_data) exist for speed (bench/bench_engine.py);
these tests hold them to the slow, obvious results on every path through the pack.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dialogs.content import load_pack
from dialogs.engine import REVIEW, Engine
from dialogs.personal_data import find_identifiers
from dialogs.record import MEMO_LIMIT, RecordMemo, build_completion, build_snapshot
from dialogs.state import DialogState, Status
from tests.support.flows import answer_at, answer_for, default_answer, explore, walk
from tests.support.settings import T0


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_pack("children-england-2024"))


def slow_path(state: DialogState) -> dict[str, object]:
    """Each answered step of the history in order, a form followed by its fields."""
    path: dict[str, object] = {}
    for sid in state.history:
        if sid in state.answers:
            path[sid] = state.answers[sid]
            path |= {part: state.answers[part] for part in state.answers[sid].parts if part in state.answers}
    return path


def off_the_path(state: DialogState) -> set[str]:
    """Steps answered but no longer on the path (a form's fields are on it with their form)."""
    parts = {part for value in state.answers.values() for part in value.parts}
    return set(state.answers) - set(state.history) - parts


def test_completions_with_the_memo_equal_those_built_afresh(engine: Engine) -> None:
    _, finished = explore(engine, T0)
    memo = RecordMemo.for_pack(engine.pack)
    for state in finished:
        fresh = build_completion(engine.pack, state, engine.links)
        assert build_completion(engine.pack, state, engine.links, memo) == fresh
        assert build_completion(engine.pack, state, engine.links, memo) == fresh  # now from the memo
        assert build_snapshot(engine.pack, state, memo.answered) == build_snapshot(engine.pack, state)
    assert memo.lines and memo.answered


def test_the_memo_never_holds_typed_text(engine: Engine) -> None:
    # the case reference is a field of the gates form; what is shared also fills the reasons
    typed = {"case_reference": "CS-MEMO-7781", "what": "Memo probe: the school nurse saw the bruising."}
    state, _ = walk(engine, T0, {"immediate_danger": "no", "decision": "share", **typed})
    memo = RecordMemo.for_pack(engine.pack)
    done = build_completion(engine.pack, state, engine.links, memo)
    assert "CS-MEMO-7781" in done.case_notes and "school nurse" in done.case_notes
    kept = repr(memo.lines) + repr(memo.answered)
    assert "CS-MEMO-7781" not in kept and "school nurse" not in kept
    assert "case_reference" not in memo.choice_fields and "reasons" not in memo.choice_fields
    assert "what_shared" not in memo.choice_fields
    assert "decision" in memo.choice_fields


def test_a_full_memo_stops_growing_and_still_answers(engine: Engine) -> None:
    state, _ = walk(engine, T0, {"immediate_danger": "no"})
    memo = RecordMemo.for_pack(engine.pack)
    for i in range(MEMO_LIMIT):
        memo.lines[("filler", str(i))] = memo.summary_line("decision", "Decision", str(i))
    before = len(memo.lines)
    assert build_completion(engine.pack, state, engine.links, memo) == build_completion(engine.pack, state)
    assert len(memo.lines) == before


def forward(engine: Engine, state: DialogState, now: datetime) -> DialogState:
    """The usual answer (nobody in immediate danger; Save on the review screen)."""
    return engine.answer(state, answer_at(engine.pack, state, {"immediate_danger": "no"}), now).state


def test_path_answers_is_the_path_after_going_back_and_branching_elsewhere(engine: Engine) -> None:
    """Going back and answering differently leaves an answer off the path, and can put the answers'
    order out of step with the history: the path must follow the history either way."""
    now = T0
    state = engine.start(now).state
    seen: list[DialogState] = []
    while state.step != REVIEW:
        state = forward(engine, state, now)
        seen.append(state)
    branched = False
    while state.history and not branched:
        now += timedelta(seconds=5)
        state = engine.back(state, now).state
        seen.append(state)
        step = engine.pack.step(state.step or "")
        gotos = {c.goto for c in step.effective_choices() if c.goto}
        if len(gotos) > 1:  # a choice here leads somewhere else than the default: take it
            other = next(c for c in reversed(step.effective_choices()) if c.goto)
            state = engine.answer(state, answer_for(step, state, other.id), now).state
            branched = True
    assert branched
    for _ in range(8):
        if state.status is not Status.ACTIVE:
            break
        state = forward(engine, state, now)
        seen.append(state)
    assert state.status is Status.COMPLETED
    assert any(off_the_path(s) for s in seen)  # an answer was left off the path
    for state in seen:
        assert state.path_answers() == slow_path(state)
        assert list(state.path_answers()) == list(slow_path(state))


def test_path_answers_with_equal_counts_but_a_different_order() -> None:
    """Same number of answers as history entries, same steps, another order: the history's order wins."""
    value = {"choices": ["yes"], "at": T0.isoformat()}
    state = DialogState.model_validate(
        {
            "pack_id": "p",
            "pack_version": "1.0.0",
            "step": "d",
            "started_at": T0,
            "updated_at": T0,
            "history": ["a", "c", "b"],
            "answers": {"a": value, "b": value, "c": value},
        }
    )
    assert list(state.path_answers()) == ["a", "c", "b"]
    urgent_skip = state.model_copy(update={"history": ["a", "x", "b"]})  # 'x' left unanswered (urgent exit)
    assert list(urgent_skip.path_answers()) == ["a", "b"]


@pytest.mark.parametrize(
    "text",
    [
        "Lives at SW1A 1AA with her aunt",
        "email j.smith@example.org about it",
        "NHS number 943 476 5919",
        "dob 01/02/2015",
        "NI AB 12 34 56 C",
        "call 07700 900123",
    ],
)
def test_the_pre_filter_lets_every_kind_of_identifier_through(text: str) -> None:
    assert find_identifiers(text)


def test_text_without_a_digit_or_at_sign_has_no_identifiers() -> None:
    assert find_identifiers("Born on the first of May, lives on Station Road, Leeds") == []


def test_choice_answer_values_are_fresh_per_answer(engine: Engine) -> None:
    """The shared template behind choice answers is never handed out itself."""
    turn = engine.start(T0)
    step = engine.pack.step(turn.state.step or "")
    a = engine.answer(turn.state, default_answer(step, turn.state), T0)
    b = engine.answer(turn.state, default_answer(step, turn.state), T0 + timedelta(minutes=1))
    assert a.state.answers[step.id].at == T0 and b.state.answers[step.id].at == T0 + timedelta(minutes=1)
