"""The children (England, 2024) flow: each branch the issue names, with the record it produces."""

from __future__ import annotations

import pytest

from dialogs.content import load_pack
from dialogs.engine import Engine
from dialogs.record import build_completion, build_snapshot
from dialogs.state import Recipient
from tests.support.flows import AnswerSpec
from tests.support.flows import walk as walk_any
from tests.support.settings import T0


def walk(engine: Engine, now, script: dict[str, AnswerSpec]):
    """Walk the usual way in (nobody in immediate danger) unless the script says otherwise."""
    return walk_any(engine, now, {"immediate_danger": "no", **script})


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_pack("children-england-2024"))


def test_share_path_checks_every_principle(engine: Engine) -> None:
    state, visited = walk(
        engine,
        T0,
        {
            "immediate_danger": "no",
            "risk_of_harm": "yes",
            "special_category": "yes",
            "lawful_basis": "public_task",
            "special_condition": "sch1_para18",
            "inform": "will_tell",
            "decision": "share",
            "recipient": Recipient(user_id="U024BE7LH"),
        },
    )
    snap = build_snapshot(engine.pack, state)
    assert snap.decision == "share"
    assert "consent" not in visited, "2024 rule 3: no consent question when a child is at risk"
    assert "consent_not_needed" in visited
    assert snap.fields["consent"] == "Consent not needed: a child is at risk", "recorded on the commonest path too"
    assert snap.fields["lawful_basis"] == "Public task (statutory functions)"
    assert snap.fields["special_category_condition"] == "Safeguarding a child or an adult at risk"
    assert snap.recipient == Recipient(user_id="U024BE7LH")
    checked = {p for sid in visited for p in engine.pack.step(sid).principles}
    assert checked == {p.id for p in engine.pack.principles}


def test_immediate_risk_acts_first_and_records_after(engine: Engine) -> None:
    state, visited = walk(engine, T0, {"immediate_danger": "yes", "urgent_action": ("called_999", "told_lead")})
    assert visited == [
        "case_reference",
        "immediate_danger",
        "urgent_action",
        "urgent_recipient",
        "urgent_decision",
        "urgent_reasons",
    ]
    snap = build_snapshot(engine.pack, state)
    assert snap.immediate_risk is True
    assert snap.fields["urgent_action"] == "Called 999 / the police; Told my designated safeguarding lead"
    assert build_completion(engine.pack, state).immediate_risk


def test_not_sure_about_danger_is_treated_as_urgent(engine: Engine) -> None:
    state, visited = walk(engine, T0, {"immediate_danger": "unsure"})
    assert "urgent_action" in visited
    assert "immediate_danger" in build_snapshot(engine.pack, state).unsure_steps


def test_no_legitimate_purpose_records_not_share_and_never_offers_share(engine: Engine) -> None:
    state, visited = walk(engine, T0, {"purpose": "no", "request_context": "own_initiative"})
    assert visited[-3:] == ["purpose", "no_purpose", "reasons"]
    assert build_snapshot(engine.pack, state).decision == "not_share"
    gate = engine.pack.step("no_purpose")
    assert [c.id for c in gate.effective_choices()] == ["not_share", "seek_advice"]


def test_unsure_purpose_offers_advice_and_can_be_asked_again(engine: Engine) -> None:
    turn = engine.start(T0)
    from tests.support.flows import answer_for

    for step_id, spec in [
        ("case_reference", "CS-9"),
        ("immediate_danger", "no"),
        ("request_context", "asked"),
        ("purpose", "unsure"),
        ("advice_purpose", "ask_again"),
    ]:
        assert turn.state.step == step_id
        turn = engine.answer(turn.state, answer_for(engine.pack.step(step_id), turn.state, spec), T0)
    assert turn.state.step == "purpose"


def test_seek_advice_is_a_recorded_outcome(engine: Engine) -> None:
    state, _ = walk(engine, T0, {"purpose": "unsure", "advice_purpose": "record_advice", "advice_from": "dpo"})
    snap = build_snapshot(engine.pack, state)
    assert snap.decision == "seek_advice"
    assert snap.fields["advice_from"] == "Data protection officer or IG lead"
    assert "purpose" in snap.unsure_steps
    done = build_completion(engine.pack, state)
    assert "Seek advice" in done.decision_label
    assert done.unsure == ("Necessary and proportionate", "Protection comes before privacy")


def test_information_identifying_nobody_skips_lawful_basis(engine: Engine) -> None:
    _, visited = walk(engine, T0, {"identifiable": "no"})
    assert "not_identifiable" in visited
    assert "lawful_basis" not in visited and "consent" not in visited
    assert "method" in visited, "the principles still apply"


def test_consent_asked_when_no_child_at_risk_and_refusal_needs_a_reason(engine: Engine) -> None:
    state, visited = walk(engine, T0, {"risk_of_harm": "no", "special_category": "no", "consent": "refused"})
    assert "consent" in visited and "consent_reason" in visited
    snap = build_snapshot(engine.pack, state)
    assert snap.fields["consent"] == "No, they refused, but another reason justifies sharing"
    assert "special_condition" not in visited


def test_a_refusal_respected_when_nobody_is_at_risk_is_a_decision_not_to_share(engine: Engine) -> None:
    script = {"risk_of_harm": "no", "special_category": "no", "consent": "refused_respect", "request_context": "asked"}
    state, visited = walk(engine, T0, script)
    assert visited[-4:] == ["consent", "respect_refusal", "reasons", "requester_told"]
    snap = build_snapshot(engine.pack, state)
    assert snap.decision == "not_share"
    assert "lawful_basis" not in visited and "method" not in visited


def test_no_lawful_basis_is_a_decision_not_to_share(engine: Engine) -> None:
    script = {"risk_of_harm": "no", "consent": "given", "lawful_basis": "none", "request_context": "own_initiative"}
    state, visited = walk(engine, T0, script)
    assert visited[-3:] == ["lawful_basis", "no_basis", "reasons"]
    assert build_snapshot(engine.pack, state).decision == "not_share"


def test_recognised_legitimate_interest_is_offered_and_recorded(engine: Engine) -> None:
    state, _ = walk(engine, T0, {"lawful_basis": "recognised_legitimate_interest"})
    assert build_snapshot(engine.pack, state).fields["lawful_basis"] == "Recognised legitimate interest: safeguarding"


def test_covering_note_warns_the_recipient_not_to_tell_a_family_that_was_not_told(engine: Engine) -> None:
    state, _ = walk(engine, T0, {"inform": "no_increases_risk"})
    note = build_completion(engine.pack, state).covering_note
    assert note is not None and "have not been told about this sharing" in note


def test_lawful_basis_unsure_leads_to_advice(engine: Engine) -> None:
    _, visited = walk(engine, T0, {"lawful_basis": "unsure", "advice_lawful": "record_advice"})
    assert "advice_lawful" in visited and "advice_from" in visited


def test_not_telling_the_person_needs_a_reason(engine: Engine) -> None:
    state, visited = walk(engine, T0, {"inform": "no_increases_risk"})
    assert "inform_reason" in visited
    snap = build_snapshot(engine.pack, state)
    assert snap.fields["informed"] == "No: telling them could increase the risk"
    assert snap.fields["informed_reason"]


def test_whole_file_and_insecure_method_need_justification(engine: Engine) -> None:
    state, visited = walk(engine, T0, {"how_much": "whole_file", "method": "insecure"})
    assert "whole_file_reason" in visited and "method_reason" in visited
    snap = build_snapshot(engine.pack, state)
    assert snap.fields["method"] == "Personal email, messaging app or ordinary post"
    assert snap.fields["method_reason"]


@pytest.mark.parametrize(
    ("recipient_type", "method"),
    [
        ("police_courts", "cjsm"),
        ("health", "nhsmail"),
        ("health", "secure_email"),
        ("la_school", "secure_email"),
        ("voluntary", "portal"),
        ("other", "phone"),
        ("police_courts", "in_person"),
    ],
)
def test_secure_methods_need_no_extra_reason(engine: Engine, recipient_type: str, method: str) -> None:
    state, visited = walk(engine, T0, {"recipient_type": recipient_type, "method": method})
    assert "method_reason" not in visited
    assert build_snapshot(engine.pack, state).fields["method"]


def test_not_share_after_request_reminds_to_tell_the_requester(engine: Engine) -> None:
    state, visited = walk(engine, T0, {"request_context": "asked", "decision": "not_share"})
    assert visited[-1] == "requester_told"
    done = build_completion(engine.pack, state)
    assert any("Tell the requester" in s for s in done.next_steps)


def test_not_share_on_own_initiative_has_no_requester_step(engine: Engine) -> None:
    state, visited = walk(engine, T0, {"request_context": "own_initiative", "decision": "not_share"})
    assert "requester_told" not in visited
    assert not any("requester" in s for s in build_completion(engine.pack, state).next_steps)


def test_unsure_answers_are_recorded_as_training_signals(engine: Engine) -> None:
    state, _ = walk(engine, T0, {"relevant": "unsure", "fact_opinion": "unsure", "identity_protection": "unsure"})
    snap = build_snapshot(engine.pack, state)
    assert set(snap.unsure_steps) == {"relevant", "fact_opinion", "identity_protection"}
    assert {"relevant", "accurate", "protect_identities"} <= set(snap.unsure_rules)


def test_going_back_drops_the_abandoned_branch_from_the_record(engine: Engine) -> None:
    from tests.support.flows import answer_for

    turn = engine.start(T0)
    for spec in (
        "CS-9",
        "no",
        "own_initiative",
        "yes",
        "A clear purpose stated.",
        "no",
        ("none",),
        "yes",
        "no",
        "no",
        "refused",
    ):
        step = engine.pack.step(turn.state.step)
        turn = engine.answer(turn.state, answer_for(step, turn.state, spec), T0)
    assert turn.state.step == "consent_reason"
    turn = engine.back(turn.state, T0)
    turn = engine.answer(turn.state, answer_for(engine.pack.step("consent"), turn.state, "given"), T0)
    assert turn.state.step == "lawful_basis"
    assert "consent_reason" not in turn.state.path_answers()


@pytest.mark.parametrize(
    ("recipient_type", "offered", "not_offered"),
    [
        ("police_courts", {"cjsm", "portal", "phone", "in_person", "insecure"}, {"nhsmail", "secure_email"}),
        ("health", {"nhsmail", "secure_email", "portal"}, {"cjsm"}),
        ("la_school", {"secure_email", "portal"}, {"cjsm", "nhsmail"}),
    ],
)
def test_methods_offered_fit_the_recipient(
    engine: Engine, recipient_type: str, offered: set[str], not_offered: set[str]
) -> None:
    from dialogs.messages import Prompt
    from tests.support.flows import answer_for, default_answer

    turn = engine.start(T0)
    while turn.state.step != "method":
        step = engine.pack.step(turn.state.step)
        spec = {"immediate_danger": "no", "recipient_type": recipient_type}.get(step.id)
        answer = answer_for(step, turn.state, spec) if spec else default_answer(step, turn.state)
        turn = engine.answer(turn.state, answer, T0)
    assert isinstance(turn.message, Prompt)
    shown = {c.id for c in turn.message.input.choices}
    assert offered <= shown and not (not_offered & shown)
    from dialogs.engine import InvalidAnswer
    from dialogs.state import Answer

    for hidden in not_offered:
        with pytest.raises(InvalidAnswer):
            engine.answer(turn.state, Answer(step_id="method", revision=turn.state.revision, choices=(hidden,)), T0)


def test_dont_assume_someone_else_told_them(engine: Engine) -> None:
    state, visited = walk(engine, T0, {"others_involved": "involved", "others_confirmed": "assuming"})
    assert "others_confirmed" in visited
    snap = build_snapshot(engine.pack, state)
    assert snap.fields["others_confirmed"] == "No, I am assuming they have it"
    _, visited = walk(engine, T0, {"others_involved": "no"})
    assert "others_confirmed" not in visited


def test_myths_are_shown_at_the_point_of_hesitation_and_recorded(engine: Engine) -> None:
    from dialogs.messages import Prompt
    from tests.support.flows import answer_for, default_answer

    turn = engine.start(T0)
    while turn.state.step != "hesitation":
        step = engine.pack.step(turn.state.step)
        spec = {"immediate_danger": "no"}.get(step.id)
        turn = engine.answer(
            turn.state, answer_for(step, turn.state, spec) if spec else default_answer(step, turn.state), T0
        )
    turn = engine.answer(
        turn.state, answer_for(engine.pack.step("hesitation"), turn.state, ("data_protection", "criticism")), T0
    )
    assert isinstance(turn.message, Prompt)
    assert [m.title for m in turn.message.myths] == [
        "Myth: data protection law stops me sharing",
        "Worried about criticism?",
    ]
    assert all(m.citation.authority for m in turn.message.myths)
    state, _ = walk(engine, T0, {"hesitation": ("consent",)})
    assert build_snapshot(engine.pack, state).myths_shown == ("consent",)


def test_none_of_these_cannot_be_combined(engine: Engine) -> None:
    from dialogs.engine import InvalidAnswer
    from tests.support.flows import answer_for, default_answer

    turn = engine.start(T0)
    while turn.state.step != "hesitation":
        step = engine.pack.step(turn.state.step)
        spec = {"immediate_danger": "no"}.get(step.id)
        turn = engine.answer(
            turn.state, answer_for(step, turn.state, spec) if spec else default_answer(step, turn.state), T0
        )
    with pytest.raises(InvalidAnswer, match="cannot be combined"):
        engine.answer(turn.state, answer_for(engine.pack.step("hesitation"), turn.state, ("none", "consent")), T0)


def test_covering_note_for_the_recipient(engine: Engine) -> None:
    state, _ = walk(
        engine,
        T0,
        {"decision": "share", "fact_opinion": "yes", "identity_protection": "protected", "onward_limits": "stated"},
    )
    note = build_completion(engine.pack, state).covering_note
    assert note is not None
    assert "Case reference: CS-2024-0113" in note
    assert "Why I am sharing this: Sharing is needed" in note
    assert "What is shared: A summary of the relevant points." in note
    assert "marked separately" in note
    assert "do not disclose" in note
    assert "Onward sharing:" in note
    # completed on Tuesday 24 Nov 2026 + 2 working days
    assert note.endswith("by Thursday 26 November 2026.")
    not_shared, _ = walk(engine, T0, {"decision": "not_share"})
    assert build_completion(engine.pack, not_shared).covering_note is None
