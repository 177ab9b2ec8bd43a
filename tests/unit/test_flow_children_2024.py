"""The children (England, 2024) flow, 2.0.0 (issue 17): each branch the issue names, with the record it produces.

Danger first (the `start` form), then the gates (purpose, risk of harm, hesitation, case reference), then the
decision; only a share asks what, who and how, and the review screen shows the record before Save.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from dialogs.content import load_pack
from dialogs.engine import REVIEW, Engine, InvalidAnswer, InvalidForm
from dialogs.messages import ALL_TRUE, CHANGE_PREFIX, Prompt
from dialogs.record import SHARE_ONLY_FIELDS, build_completion, build_snapshot
from dialogs.state import Answer, DialogState, Recipient, Status
from tests.support.flows import SHARE_SCREENS, AnswerSpec, answer_at, form_answer
from tests.support.flows import walk as walk_any
from tests.support.settings import T0

NO_DANGER: dict[str, AnswerSpec] = {"immediate_danger": "no", "request_context": "own_initiative"}
SHARE: dict[str, AnswerSpec] = {**NO_DANGER, "decision": "share"}
ITEMS = (
    "relevant",
    "adequate",
    "fact_opinion",
    "how_much",
    "identity_protection",
    "recipient_role",
    "recipient_identity_check",
    "onward_limits",
)
"""The statements of the 'before you send' list."""


def walk(engine: Engine, now: datetime, script: dict[str, AnswerSpec]) -> tuple[DialogState, list[str]]:
    """Walk the usual way in (nobody in immediate danger, own initiative) unless the script says otherwise."""
    return walk_any(engine, now, {**NO_DANGER, **script})


def at(engine: Engine, step_id: str, script: dict[str, AnswerSpec]) -> tuple[DialogState, Prompt]:
    """Answer from ``script`` (nobody in immediate danger unless it says so) until ``step_id`` is on screen."""
    script = {**NO_DANGER, **script}
    turn = engine.start(T0)
    for _ in range(50):
        if turn.state.step == step_id:
            assert isinstance(turn.message, Prompt)
            return turn.state, turn.message
        assert turn.state.status is Status.ACTIVE, f"ended before {step_id}: {turn.state.history}"
        turn = engine.answer(turn.state, answer_at(engine.pack, turn.state, script), T0)
    raise AssertionError(f"{step_id} not reached: {turn.state.history}")


def finish(engine: Engine, state: DialogState, script: dict[str, AnswerSpec]) -> DialogState:
    """Answer on from ``state`` (Save on the review screen) until the check is saved."""
    script = {**NO_DANGER, **script}
    for _ in range(50):
        if state.status is not Status.ACTIVE:
            return state
        state = engine.answer(state, answer_at(engine.pack, state, script), T0).state
    raise AssertionError(f"no end: {state.history}")


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_pack("children-england-2024"))


def test_share_path_checks_every_principle(engine: Engine) -> None:
    state, visited = walk(
        engine,
        T0,
        {
            **SHARE,
            "risk_of_harm": "yes",
            "special_category": "yes",
            "lawful_basis": "public_task",
            "informed": "will_tell",
            "recipient": Recipient(user_id="U024BE7LH"),
        },
    )
    assert visited == list(SHARE_SCREENS[:-1])  # walk() answers the review without counting it
    snap = build_snapshot(engine.pack, state)
    assert snap.decision == "share"
    assert "consent" not in visited, "2024 rule 3: no consent question when a child is at risk"
    assert snap.fields["consent"] == "Not needed: a child is at risk of harm", "recorded on the commonest path too"
    assert snap.fields["lawful_basis"] == "Public task"
    assert snap.fields["special_category_condition"].startswith("Safeguarding of children and individuals at risk")
    assert snap.recipient == Recipient(user_id="U024BE7LH")
    # each principle is checked by a question on the way: a step, a field of a form, or an item of the list
    checked: set[str] = set()
    for sid in visited:
        step = engine.pack.step(sid)
        for part in (step, *step.fields, *step.items):
            checked |= set(part.principles)
    assert checked == {p.id for p in engine.pack.principles}


def test_immediate_risk_acts_first_and_records_after(engine: Engine) -> None:
    state, visited = walk(engine, T0, {"immediate_danger": "yes", "urgent_action": ("called_999", "told_lead")})
    assert visited == ["start", "urgent_action", "urgent_details", "urgent_account"]
    snap = build_snapshot(engine.pack, state)
    assert snap.immediate_risk is True
    assert snap.fields["urgent_action"] == "Called 999; Told my designated safeguarding lead"
    assert snap.fields["consent"] == "Not needed: an emergency" and snap.fields["timely"] == "Now: an emergency"
    assert build_completion(engine.pack, state).immediate_risk


def test_not_sure_about_danger_is_treated_as_urgent(engine: Engine) -> None:
    state, visited = walk(engine, T0, {"immediate_danger": "unsure"})
    assert visited[:2] == ["start", "urgent_action"]
    snap = build_snapshot(engine.pack, state)
    assert snap.immediate_risk is True
    assert "immediate_danger" in snap.unsure_steps


def test_no_legitimate_purpose_records_not_share_and_never_offers_share(engine: Engine) -> None:
    state, visited = walk(engine, T0, {"purpose": "no"})
    assert visited == ["start", "gates", "no_purpose", "not_sharing"]
    snap = build_snapshot(engine.pack, state)
    assert snap.decision == "not_share"
    assert snap.fields["not_share_reason"] == "No clear safeguarding purpose"
    gate = engine.pack.step("no_purpose")
    assert [c.id for c in gate.effective_choices()] == ["not_share", "seek_advice"]


def test_unsure_purpose_offers_advice_and_can_be_asked_again(engine: Engine) -> None:
    state, prompt = at(engine, "advice_purpose", {"purpose": "unsure"})
    assert [c.id for c in prompt.input.choices] == ["ask_lead", "ask_again", "record_advice"]
    assert prompt.input.choices[0].label.startswith("Ask my lead now")
    assert engine.pack.step("advice_purpose").choice("ask_lead").action == "ask_lead"  # sent to the lead at once
    asked = engine.answer(state, Answer(step_id="advice_purpose", revision=state.revision, choices=("ask_lead",)), T0)
    # the check waits at the question the lead is asked (the gates' own question), to be answered again
    assert asked.state.step == "gates"
    again = engine.answer(state, Answer(step_id="advice_purpose", revision=state.revision, choices=("ask_again",)), T0)
    assert again.state.step == "gates"
    state = finish(engine, again.state, {**SHARE, "purpose": "yes"})
    assert build_snapshot(engine.pack, state).decision == "share"
    assert state.history.count("gates") == 2


def test_seek_advice_is_a_recorded_outcome(engine: Engine) -> None:
    state, visited = walk(engine, T0, {"purpose": "unsure", "advice_purpose": "record_advice", "advice_from": "dpo"})
    assert visited[-3:] == ["advice_purpose", "advice_decision", "advice"]
    snap = build_snapshot(engine.pack, state)
    assert snap.decision == "seek_advice"
    assert snap.fields["advice_from"] == "Our data protection officer"
    assert "purpose" in snap.unsure_steps
    done = build_completion(engine.pack, state)
    assert "Seek advice" in done.decision_label
    assert "Necessary and proportionate" in done.unsure


def test_consent_asked_when_no_child_at_risk_and_refusal_needs_a_reason(engine: Engine) -> None:
    _, visited = walk(engine, T0, {**SHARE, "risk_of_harm": "yes"})
    assert "consent" not in visited
    script: dict[str, AnswerSpec] = {**SHARE, "risk_of_harm": "no", "special_category": "no"}
    state, _ = at(engine, "consent_reason", {**script, "consent": "refused_override"})
    with pytest.raises(InvalidAnswer):  # a reason, not a word
        engine.answer(state, Answer(step_id="consent_reason", revision=state.revision, text="because"), T0)
    state = finish(engine, state, script)
    assert state.history[2:5] == ["consent", "consent_reason", "decision"]
    snap = build_snapshot(engine.pack, state)
    assert snap.fields["consent"] == "They refused, but another reason justifies sharing"
    assert snap.fields["consent_reason"]
    assert "special_condition" not in state.path_answers()


def test_a_refusal_respected_when_nobody_is_at_risk_is_a_decision_not_to_share(engine: Engine) -> None:
    script: dict[str, AnswerSpec] = {"risk_of_harm": "no", "consent": "refused_respect", "request_context": "asked"}
    state, visited = walk(engine, T0, script)
    assert visited[-4:] == ["consent", "respect_refusal", "not_sharing", "requester"]
    snap = build_snapshot(engine.pack, state)
    assert snap.decision == "not_share"
    assert snap.fields["not_share_reason"].startswith("Nobody is at risk of harm and they refused")
    assert "decision" not in visited and "how" not in visited


def test_no_lawful_basis_is_a_decision_not_to_share(engine: Engine) -> None:
    state, visited = walk(engine, T0, {**SHARE, "lawful_basis": "none"})
    assert visited[-3:] == ["how", "no_basis", "not_sharing"]
    snap = build_snapshot(engine.pack, state)
    assert snap.decision == "not_share" and snap.fields["not_share_reason"] == "No lawful basis applies"
    assert set(snap.fields) & SHARE_ONLY_FIELDS == set()


def test_recognised_legitimate_interest_is_offered_and_recorded(engine: Engine) -> None:
    _, prompt = at(engine, "how", SHARE)
    basis = next(f for f in prompt.input.fields if f.id == "lawful_basis")
    assert "recognised_legitimate_interest" in {c.id for c in basis.choices}
    state, _ = walk(engine, T0, {**SHARE, "lawful_basis": "recognised_legitimate_interest"})
    assert build_snapshot(engine.pack, state).fields["lawful_basis"] == "Recognised legitimate interest: safeguarding"


def test_covering_note_warns_the_recipient_not_to_tell_a_family_that_was_not_told(engine: Engine) -> None:
    state, _ = walk(engine, T0, {**SHARE, "informed": "no_increases_risk"})
    note = build_completion(engine.pack, state).covering_note
    assert note is not None and "have not been told about this sharing" in note
    assert "could increase the risk to the child: please do not tell them" in note
    # the same on the urgent path, when the family was not told because that could raise the risk
    state, _ = walk(engine, T0, {"immediate_danger": "yes", "family_told": "not_safe"})
    note = build_completion(engine.pack, state).covering_note
    assert note is not None and "The family has not been told because that could increase the risk" in note
    told, _ = walk(engine, T0, {**SHARE, "informed": "will_tell"})
    assert "not been told" not in (build_completion(engine.pack, told).covering_note or "")


def test_lawful_basis_unsure_leads_to_advice(engine: Engine) -> None:
    state, visited = walk(engine, T0, {**SHARE, "lawful_basis": "unsure", "advice_lawful": "record_advice"})
    assert visited[-4:] == ["how", "advice_lawful", "advice_decision", "advice"]
    snap = build_snapshot(engine.pack, state)
    assert snap.decision == "seek_advice" and "advice_from" in snap.fields
    assert "lawful_basis" in state.myths_shown, "the lawful basis myth-buster is shown where the doubt is"


def test_not_telling_the_person_needs_a_reason(engine: Engine) -> None:
    script: dict[str, AnswerSpec] = {**SHARE, "informed": "no_not_practicable"}
    state, prompt = at(engine, "details", script)
    assert [f.id for f in prompt.input.fields] == ["informed_reason"]
    with pytest.raises(InvalidForm) as refused:
        engine.answer(state, Answer(step_id="details", revision=state.revision, fields={}), T0)
    assert set(refused.value.errors) == {"informed_reason"}
    state = finish(engine, state, script)
    snap = build_snapshot(engine.pack, state)
    assert snap.fields["informed"] == "No: it is not practicable"
    assert snap.fields["informed_reason"]


def test_whole_file_and_insecure_method_need_justification(engine: Engine) -> None:
    ticked = tuple(i for i in ITEMS if i != "how_much")
    state, visited = walk(engine, T0, {**SHARE, "method": "insecure", "before_send": ticked})
    # the insecure method: its reason in the details form; more than a summary: the list's one follow-up
    assert visited[-4:] == ["how", "details", "before_send", "whole_file_reason"]
    snap = build_snapshot(engine.pack, state)
    assert snap.fields["method"] == "Personal email, an app or post"
    assert snap.fields["method_reason"]
    assert snap.fields["how_much"] == "More than a summary" and snap.fields["minimum_necessary"]
    assert snap.unconfirmed == ("It is a summary, not the whole file",)


@pytest.mark.parametrize("method", ["cjsm", "nhsmail", "secure_email", "portal", "phone", "in_person"])
def test_secure_methods_need_no_extra_reason(engine: Engine, method: str) -> None:
    state, visited = walk(engine, T0, {**SHARE, "method": method})
    assert "details" not in visited
    snap = build_snapshot(engine.pack, state)
    assert snap.fields["method"] and "method_reason" not in snap.fields


def test_not_share_after_request_asks_who_asked_and_reminds_to_tell_the_requester(engine: Engine) -> None:
    script: dict[str, AnswerSpec] = {"request_context": "asked", "decision": "not_share", "requester_told": "will_tell"}
    state, visited = walk(engine, T0, script)
    assert visited[-2:] == ["not_sharing", "requester"]
    snap = build_snapshot(engine.pack, state)
    assert {"requester", "requested_at", "requester_told"} <= set(snap.fields)
    done = build_completion(engine.pack, state)
    assert any("Tell the requester" in s for s in done.next_steps)
    told, _ = walk(engine, T0, {**script, "requester_told": "told"})
    assert not any("Tell the requester" in s for s in build_completion(engine.pack, told).next_steps)


def test_not_share_on_own_initiative_has_no_requester_step(engine: Engine) -> None:
    state, visited = walk(engine, T0, {"request_context": "own_initiative", "decision": "not_share"})
    assert visited[-1] == "not_sharing" and "requester" not in visited
    assert "requester" not in build_snapshot(engine.pack, state).fields
    assert not any("requester" in s for s in build_completion(engine.pack, state).next_steps)


def test_unsure_answers_are_recorded_as_training_signals(engine: Engine) -> None:
    script: dict[str, AnswerSpec] = {
        **SHARE,
        "risk_of_harm": "unsure",
        "hesitation": ("lawful_basis",),
        "special_category": "unsure",
        "informed": "unsure",
        "advice_inform": "carry_on",
    }
    state, visited = walk(engine, T0, script)
    assert "advice_inform" in visited and "details" in visited
    snap = build_snapshot(engine.pack, state)
    assert snap.decision == "share"
    assert set(snap.unsure_steps) == {"risk_of_harm", "hesitation", "special_category", "informed"}
    assert {"protection_first", "seek_advice", "necessary_proportionate", "engage_safely"} <= set(snap.unsure_rules)
    assert snap.fields["consent"] == "Not needed: a child may be at risk of harm"


def test_going_back_drops_the_abandoned_branch_from_the_record(engine: Engine) -> None:
    script: dict[str, AnswerSpec] = {**SHARE, "risk_of_harm": "no", "consent": "refused_override"}
    state, _ = at(engine, "consent_reason", script)
    turn = engine.back(state, T0)
    assert turn.state.step == "consent"
    turn = engine.answer(turn.state, Answer(step_id="consent", revision=turn.state.revision, choices=("given",)), T0)
    assert turn.state.step == "decision"
    assert "consent_reason" not in turn.state.path_answers()


def test_changing_an_answer_on_the_review_drops_the_abandoned_branch(engine: Engine) -> None:
    script: dict[str, AnswerSpec] = {**SHARE, "risk_of_harm": "no", "consent": "refused_override"}
    state, prompt = at(engine, REVIEW, script)
    assert prompt.review is not None and f"{CHANGE_PREFIX}gates" in {c.id for c in prompt.review.changes}
    change = Answer(step_id=REVIEW, revision=state.revision, choices=(f"{CHANGE_PREFIX}gates",))
    turn = engine.answer(state, change, T0)
    assert turn.state.step == "gates"
    # a child is at risk after all: no consent question, and the refusal and its reason leave the record
    state = finish(engine, turn.state, {**script, "risk_of_harm": "yes"})
    assert "consent" not in state.path_answers() and "consent_reason" not in state.path_answers()
    snap = build_snapshot(engine.pack, state)
    assert snap.decision == "share"
    assert snap.fields["consent"] == "Not needed: a child is at risk of harm" and "consent_reason" not in snap.fields


def _gates_answer(engine: Engine, state: DialogState, hesitation: tuple[str, ...]) -> Answer:
    return form_answer(
        engine.pack.step("gates"), state, {"purpose": "yes", "risk_of_harm": "yes", "hesitation": hesitation}
    )


def test_myths_are_shown_at_the_point_of_hesitation_and_recorded(engine: Engine) -> None:
    state, prompt = at(engine, "gates", {})
    assert prompt.myths == ()
    turn = engine.answer(state, _gates_answer(engine, state, ("data_protection", "criticism")), T0)
    assert isinstance(turn.message, Prompt) and turn.message.step_id == "decision"
    assert [m.title for m in turn.message.myths] == [
        "Myth: data protection law stops me sharing",
        "Worried about criticism?",
    ]
    assert all(m.citation.authority for m in turn.message.myths)
    state, _ = walk(engine, T0, {"hesitation": ("consent",)})
    assert build_snapshot(engine.pack, state).myths_shown == ("consent",)


def test_dont_assume_someone_else_told_them(engine: Engine) -> None:
    state, _ = at(engine, "gates", {})
    turn = engine.answer(state, _gates_answer(engine, state, ("someone_else",)), T0)
    assert isinstance(turn.message, Prompt)
    assert [m.title for m in turn.message.myths] == ["Don't assume someone else has told them"]
    assert "No practitioner should assume" in turn.message.myths[0].text


def test_nothing_cannot_be_combined_with_a_worry(engine: Engine) -> None:
    state, _ = at(engine, "gates", {})
    with pytest.raises(InvalidForm, match="cannot be combined") as refused:
        engine.answer(state, _gates_answer(engine, state, ("none", "consent")), T0)
    assert set(refused.value.errors) == {"hesitation"}
    turn = engine.answer(state, _gates_answer(engine, state, ("none",)), T0)
    assert isinstance(turn.message, Prompt) and turn.message.myths == ()


def test_covering_note_for_the_recipient(engine: Engine) -> None:
    state, _ = walk(engine, T0, {**SHARE, "before_send": (ALL_TRUE,)})
    note = build_completion(engine.pack, state).covering_note
    assert note is not None
    assert "Case reference: CS-2024-0113" in note
    assert "What I am sharing, and why: Sharing is needed" in note
    assert "How much: A summary of the relevant points." in note
    assert "marked separately" in note
    assert "do not disclose" in note
    assert "check with me before sharing it further" in note
    # completed on Tuesday 24 Nov 2026 + 2 working days
    assert note.endswith("by Thursday 26 November 2026.")
    # fact and opinion not yet marked: the recipient is asked to check instead
    unmarked, _ = walk(engine, T0, {**SHARE, "before_send": tuple(i for i in ITEMS if i != "fact_opinion")})
    note = build_completion(engine.pack, unmarked).covering_note
    assert note is not None and "marked separately" not in note and "Please ask me if anything is unclear" in note
    not_shared, _ = walk(engine, T0, {"decision": "not_share"})
    assert build_completion(engine.pack, not_shared).covering_note is None
