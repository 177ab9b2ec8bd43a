"""The dialog engine's mechanics on one-question steps: answers, refusals, back, cancel, urgent exit, resume."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dialogs.content import load_archived_pack
from dialogs.engine import CorruptState, DialogClosed, Engine, InvalidAnswer, StaleAnswer, parse_when
from dialogs.messages import Cancelled, Completion, Prompt
from dialogs.state import Answer, Recipient, Status
from tests.support.settings import T0


@pytest.fixture(scope="module")
def engine() -> Engine:
    # the 1.2.0 pack: one question per step, so each answer kind is exercised alone; checks begun under it still run
    pack = load_archived_pack("children-england-2024", "1.2.0")
    assert pack is not None
    return Engine(pack)


def at_step(engine: Engine, *answers: Answer | str):
    """Start and apply answers (strings are choice ids or text, matched to the current step's kind)."""
    turn = engine.start(T0)
    for a in answers:
        if isinstance(a, str):
            step = engine.pack.step(turn.state.step)
            a = (
                Answer(step_id=step.id, revision=turn.state.revision, choices=(a,))
                if step.effective_choices()
                else Answer(step_id=step.id, revision=turn.state.revision, text=a)
            )
        turn = engine.answer(turn.state, a, T0)
    return turn


def test_start_shows_first_step_with_progress(engine: Engine) -> None:
    turn = engine.start(T0)
    msg = turn.message
    assert isinstance(msg, Prompt)
    assert msg.step_id == "case_reference"
    assert msg.progress.section == msg.progress.sections[0]
    assert "Step" not in msg.progress.label()
    assert msg.can_go_back is False
    assert msg.urgent_exit is True
    assert turn.state.revision == 0 and turn.state.status is Status.ACTIVE


def test_answer_moves_on_and_records(engine: Engine) -> None:
    turn = at_step(engine, "CS-1", "no")
    assert turn.state.step == "request_context"
    assert turn.state.history == ["case_reference", "immediate_danger"]
    assert turn.state.answers["case_reference"].text == "CS-1"
    assert turn.state.answers["immediate_danger"].choices == ("no",)
    assert turn.state.revision == 2
    assert isinstance(turn.message, Prompt) and turn.message.progress.current == 0


def test_unknown_choice_is_refused_with_the_options(engine: Engine) -> None:
    turn = at_step(engine, "CS-1")
    with pytest.raises(InvalidAnswer, match="not one of the options"):
        engine.answer(turn.state, Answer(step_id="immediate_danger", revision=1, choices=("maybe",)), T0)


def test_free_text_where_a_choice_is_expected(engine: Engine) -> None:
    turn = at_step(engine, "CS-1")
    with pytest.raises(InvalidAnswer, match="pick one of the options"):
        engine.answer(turn.state, Answer(step_id="immediate_danger", revision=1, text="no"), T0)


def test_several_choices_on_a_single_choice_step(engine: Engine) -> None:
    turn = at_step(engine, "CS-1")
    with pytest.raises(InvalidAnswer, match="just one"):
        engine.answer(turn.state, Answer(step_id="immediate_danger", revision=1, choices=("yes", "no")), T0)


def test_choice_where_text_is_expected(engine: Engine) -> None:
    turn = engine.start(T0)
    with pytest.raises(InvalidAnswer, match="typed answer"):
        engine.answer(turn.state, Answer(step_id="case_reference", revision=0, choices=("yes",)), T0)


def test_answer_for_a_step_that_is_not_current(engine: Engine) -> None:
    turn = at_step(engine, "CS-1")
    with pytest.raises(StaleAnswer):
        engine.answer(turn.state, Answer(step_id="purpose", revision=1, choices=("yes",)), T0)


def test_double_click_with_old_revision(engine: Engine) -> None:
    first = at_step(engine, "CS-1")
    click = Answer(step_id="immediate_danger", revision=1, choices=("no",))
    second = engine.answer(first.state, click, T0)
    # the same click replayed against the new state names a step that is no longer current
    with pytest.raises(StaleAnswer):
        engine.answer(second.state, click, T0)
    # and the same step id with an outdated revision is refused too
    back = engine.back(second.state, T0)
    with pytest.raises(StaleAnswer):
        engine.answer(back.state, click, T0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "required"),
        ("   \n ", "required"),
        ("short", "at least 10"),
        ("x" * (5 * 1024 * 1024), "5,242,880 characters"),
        ("fine text\x00 with a NUL", "control characters"),
        ("bidi \u202e override", "control characters"),
    ],
)
def test_reasons_field_refuses_bad_text(engine: Engine, text: str, message: str) -> None:
    turn = at_step(engine, "CS-1", "no", "asked", "no", "not_share")
    assert turn.state.step == "reasons"
    before = turn.state.model_copy(deep=True)
    with pytest.raises(InvalidAnswer, match=message):
        engine.answer(turn.state, Answer(step_id="reasons", revision=turn.state.revision, text=text), T0)
    assert turn.state == before  # the state is untouched by a refused answer


def test_text_is_normalised(engine: Engine) -> None:
    turn = at_step(engine, "CS-1", "no", "asked", "no", "not_share")
    done = engine.answer(
        turn.state, Answer(step_id="reasons", revision=turn.state.revision, text="  Line one\r\nline two\t  "), T0
    )
    assert done.state.answers["reasons"].text == "Line one\nline two"


@pytest.mark.parametrize("ref", ["Jane Smith", "a", "x" * 41, "CS 1", "<script>"])
def test_case_reference_refuses_names_and_junk(engine: Engine, ref: str) -> None:
    turn = engine.start(T0)
    with pytest.raises(InvalidAnswer, match="case reference"):
        engine.answer(turn.state, Answer(step_id="case_reference", revision=0, text=ref), T0)


def test_recipient_needs_organisation_and_role_or_a_user(engine: Engine) -> None:
    turn = engine.start(T0)
    state = turn.state.model_copy(update={"step": "recipient"})
    for bad in (
        Recipient(organisation="Police"),
        Recipient(role="DS"),
        Recipient(user_id="U1", organisation="x"),
        Recipient(user_id="U1 <script>"),
    ):
        with pytest.raises(InvalidAnswer):
            engine.answer(state, Answer(step_id="recipient", revision=0, recipient=bad), T0)
    with pytest.raises(InvalidAnswer):
        engine.answer(state, Answer(step_id="recipient", revision=0), T0)
    ok = engine.answer(state, Answer(step_id="recipient", revision=0, recipient=Recipient(user_id="U0123")), T0)
    assert ok.state.answers["recipient"].recipient == Recipient(user_id="U0123")
    typed = engine.answer(state, Answer(step_id="recipient", revision=0, text="Northshire Police, DS"), T0)
    assert typed.state.answers["recipient"].recipient == Recipient(organisation="Northshire Police", role="DS")


def test_back_returns_to_previous_step_and_shows_earlier_answer(engine: Engine) -> None:
    turn = at_step(engine, "CS-1", "no")
    back = engine.back(turn.state, T0 + timedelta(minutes=1))
    assert back.state.step == "immediate_danger"
    assert back.state.history == ["case_reference"]
    assert isinstance(back.message, Prompt)
    assert back.message.input.previous == "No"
    assert back.state.revision == turn.state.revision + 1
    # answering differently takes the new branch, and the abandoned answer leaves the record
    urgent = engine.answer(
        back.state, Answer(step_id="immediate_danger", revision=back.state.revision, choices=("yes",)), T0
    )
    assert urgent.state.step == "urgent_action"


def test_back_at_the_first_step(engine: Engine) -> None:
    with pytest.raises(InvalidAnswer, match="first question"):
        engine.back(engine.start(T0).state, T0)


def test_cancel_closes_the_check(engine: Engine) -> None:
    turn = at_step(engine, "CS-1")
    cancelled = engine.cancel(turn.state, T0)
    assert cancelled.state.status is Status.CANCELLED
    assert isinstance(cancelled.message, Cancelled)
    with pytest.raises(DialogClosed):
        engine.answer(
            cancelled.state, Answer(step_id="immediate_danger", revision=cancelled.state.revision, choices=("no",)), T0
        )
    with pytest.raises(DialogClosed):
        engine.back(cancelled.state, T0)


def test_urgent_exit_from_any_step_and_back_again(engine: Engine) -> None:
    turn = at_step(engine, "CS-1", "no", "own_initiative")
    assert turn.state.step == "purpose"
    urgent = engine.urgent(turn.state, T0)
    assert urgent.state.step == engine.pack.urgent_step
    assert urgent.state.urgent is True
    assert isinstance(urgent.message, Prompt) and urgent.message.urgent_exit is False
    again = engine.urgent(urgent.state, T0)
    assert again.state == urgent.state  # pressing it twice changes nothing
    back = engine.back(urgent.state, T0)
    assert back.state.step == "purpose"
    assert back.state.urgent is False


def test_resume_from_stored_json(engine: Engine) -> None:
    turn = at_step(engine, "CS-1", "no", "asked")
    stored = turn.state.model_dump_json()
    loaded = engine.load(stored)
    assert loaded == turn.state
    assert engine.view(loaded) == turn.message


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "{}",
        '{"pack_id": "children-england-2024", "pack_version": "1.0.0", "step": "no_such_step", "started_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}',
        '{"pack_id": "other-pack", "pack_version": "1.0.0", "step": "purpose", "started_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}',
        '{"pack_id": "children-england-2024", "pack_version": "1.0.0", "step": null, "started_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}',
    ],
)
def test_corrupt_state_is_refused(engine: Engine, raw: str) -> None:
    with pytest.raises(CorruptState):
        engine.load(raw)


def test_completion_carries_the_record(engine: Engine) -> None:
    turn = at_step(engine, "CS-1", "no", "asked", "no", "not_share", "The request had no legitimate purpose.")
    assert turn.state.step == "requester_told"
    done = engine.answer(
        turn.state, Answer(step_id="requester_told", revision=turn.state.revision, choices=("told",)), T0
    )
    assert done.state.status is Status.COMPLETED
    msg = done.message
    assert isinstance(msg, Completion)
    assert msg.decision == "not_share"
    assert msg.case_reference == "CS-1"
    assert msg.reasons == "The request had no legitimate purpose."
    assert any("Tell the requester" in s for s in msg.next_steps)
    assert "Case reference: CS-1" in msg.case_notes
    assert "Decision: Do not share" in msg.case_notes
    assert "Requester told: Yes, I have told them" in msg.case_notes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", "2026-11-24T10:00:00+00:00"),
        ("2026-11-20", "2026-11-20T09:00:00+00:00"),
        ("20/11/2026 14:30", "2026-11-20T14:30:00+00:00"),
        ("2026-11-20 14:30", "2026-11-20T14:30:00+00:00"),
    ],
)
def test_parse_when(text: str, expected: str) -> None:
    assert parse_when(text, T0).isoformat() == expected


def test_parse_when_refuses_nonsense() -> None:
    with pytest.raises(InvalidAnswer, match="date like"):
        parse_when("next tuesday-ish", T0)
