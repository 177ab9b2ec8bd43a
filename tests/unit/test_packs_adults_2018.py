"""Issue 17: the adults and 2018 packs in the decision-first shape (2.0.0).

Danger first, then the gates, then the decision; only a share asks who, what and how; a 'do not share' gate never
offers Share; 'not sure' always reaches 'Ask my lead now'; each record field is written by its own question.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.packs import PackRegistry
from dialogs.content import PACKS_DIR, AnswerKind, Pack, PackError, load_archived_pack, load_pack, load_pack_file
from dialogs.engine import REVIEW, Engine, InvalidAnswer, parse_when
from dialogs.messages import CHANGE_PREFIX, Prompt
from dialogs.record import SHARE_ONLY_FIELDS, RecordMemo, build_completion, build_snapshot
from dialogs.state import Answer, AnswerValue, DialogState, FieldAnswer, Status
from tests.support.flows import AnswerSpec, explore, review_answer, scripted_answer, walk

T0 = datetime(2026, 11, 24, 10, tzinfo=UTC)
PACKS = ("adults-england", "children-england-2018")
TYPED = {AnswerKind.FREE_TEXT, AnswerKind.CASE_REFERENCE, AnswerKind.DATETIME, AnswerKind.RECIPIENT}
HOW_TO_SHARE = {"recipient", "recipient_role", "method", "timely", "shared_at", "onward_limits", "lawful_basis"}

SHARE: dict[str, AnswerSpec] = {"immediate_danger": "no", "request_context": "own_initiative", "decision": "share"}
SCRIPTS: dict[str, dict[str, dict[str, AnswerSpec]]] = {
    "adults-england": {
        "share": {**SHARE, "adult_at_risk": "yes", "consent": "not_safe", "special_category": "yes"},
        "share, refusal overridden": {**SHARE, "consent": "refused", "override": ("others_at_risk",)},
        "not share, asked": {"immediate_danger": "no", "request_context": "asked", "decision": "not_share"},
        "urgent": {"immediate_danger": "yes", "urgent_action": ("called_999",), "urgent_told": ("police",)},
    },
    "children-england-2018": {
        "share": {**SHARE, "consent": "not_appropriate", "special_category": "yes"},
        "share, refusal overridden": {**SHARE, "risk_of_harm": "yes", "consent": "refused"},
        "not share, asked": {"immediate_danger": "no", "request_context": "asked", "decision": "not_share"},
        "urgent": {"immediate_danger": "yes", "urgent_action": ("called_999",), "urgent_told": ("police",)},
    },
}
BUDGET = {"share": (14, 5), "share, refusal overridden": (14, 5), "not share, asked": (12, 5), "urgent": (9, 5)}
"""Issue 17's targets for the default pack plus two answers: (answers, typed answers), the review's Save included."""


def counted_walk(engine: Engine, script: dict[str, AnswerSpec]) -> tuple[DialogState, int, int, set[str]]:
    """Walk a path as a practitioner would: the answers given, how many were typed, and the record fields asked."""
    turn = engine.start(T0)
    answers = typed = 0
    asked: set[str] = set()
    now = T0
    while turn.state.status is Status.ACTIVE:
        message = turn.message
        assert isinstance(message, Prompt)
        answers += 1
        now += timedelta(seconds=20)
        if message.step_id == REVIEW:
            turn = engine.answer(turn.state, review_answer(turn.state), now)
            continue
        step = engine.pack.step(message.step_id)
        typed += step.kind in TYPED
        asked |= {engine.pack.step(f.id).field or "" for f in message.input.fields} | {step.field or ""}
        turn = engine.answer(turn.state, scripted_answer(step, turn.state, script), now)
    return turn.state, answers, typed, asked


@pytest.mark.parametrize("pack_id", PACKS)
@pytest.mark.parametrize("path", list(BUDGET))
def test_each_main_path_stays_within_two_answers_of_the_default_packs_targets(pack_id: str, path: str) -> None:
    engine = Engine(load_pack(pack_id))
    state, answers, typed, asked = counted_walk(engine, SCRIPTS[pack_id][path])
    most, most_typed = BUDGET[path]
    assert answers <= most and typed <= most_typed, (answers, typed)
    snap = build_snapshot(engine.pack, state)
    if path.startswith("not share"):
        assert snap.decision == "not_share"
        assert asked & HOW_TO_SHARE == set(), "a check that does not share never asks how to share"
        assert {"requester", "requested_at", "requester_told", "not_share_reason"} <= set(snap.fields)
    elif path == "urgent":
        assert {"urgent_action", "urgent_told", "family_told", "method", "shared_at"} <= set(snap.fields)
    else:
        assert snap.decision == "share"


@pytest.fixture(scope="module", params=PACKS)
def walks(request: pytest.FixtureRequest) -> tuple[Engine, list[DialogState]]:
    engine = Engine(load_pack(request.param))
    _, finished = explore(engine, T0, seed=23)
    return engine, finished


def test_a_share_records_with_whom_what_how_and_when(walks: tuple[Engine, list[DialogState]]) -> None:
    engine, finished = walks
    shares = [s for s in finished if build_snapshot(engine.pack, s).decision == "share"]
    assert shares
    for state in shares:
        fields = build_snapshot(engine.pack, state).fields
        urgent = "urgent_decision" in state.path_answers()
        # an emergency share records who was told (not a recipient) and is confirmed in writing afterwards
        needed = {"urgent_told", "method", "what_shared"} if urgent else {"recipient", "method", "lawful_basis"}
        assert needed <= set(fields), (needed - set(fields), state.history)
        assert "shared_at" in fields or "timely" in fields
        assert "what_shared" in fields and fields["reasons"]


def test_a_record_without_a_share_holds_no_details_of_one(walks: tuple[Engine, list[DialogState]]) -> None:
    engine, finished = walks
    for state in finished:
        snap = build_snapshot(engine.pack, state)
        if snap.decision != "share":
            assert set(snap.fields) & SHARE_ONLY_FIELDS == set(), state.history
            assert snap.recipient is None
            assert build_completion(engine.pack, state).covering_note is None


def test_not_sure_never_carries_on_to_a_share_without_the_answer_changing(
    walks: tuple[Engine, list[DialogState]],
) -> None:
    """Whatever route 'not sure' takes, the check shares only once the question is answered again."""
    engine, finished = walks
    pack = engine.pack
    advice_steps = [s for s in pack.steps if any(c.action == "ask_lead" for c in s.choices)]
    assert advice_steps
    for step in advice_steps:
        for choice in step.choices:
            # each choice goes back to a question, or to a decision that is not Share
            target = pack.step(choice.goto) if choice.goto else None
            if target is not None and target.field == "decision":
                assert "share" not in {c.id for c in target.choices}
    for state in finished:
        if "advice_decision" in state.path_answers():
            assert build_snapshot(pack, state).decision != "share", state.history


@pytest.mark.parametrize("pack_id", PACKS)
def test_ask_my_lead_is_offered_wherever_an_answer_is_not_sure(pack_id: str) -> None:
    pack = load_pack(pack_id)
    routes = {
        "adults-england": [
            ("gates", "advice_purpose"),
            ("consent", "advice_capacity"),
            ("best_interests", "advice_best_interests"),
            ("override", "advice_override"),
            ("how", "advice_lawful"),
            ("special_condition", "advice_lawful"),
            ("how", "advice_inform"),
        ],
        "children-england-2018": [
            ("gates", "advice_purpose"),
            ("how", "advice_lawful"),
            ("special_condition", "advice_lawful"),
            ("how", "advice_inform"),
        ],
    }[pack_id]
    for source, advice in routes:
        step = pack.step(source)
        assert advice in {c.goto for c in step.choices} | {b.goto for b in step.branches}, (source, advice)
        ask = [c for c in pack.step(advice).choices if c.action == "ask_lead"]
        assert len(ask) == 1 and ask[0].label.startswith("Ask my lead now")


def test_adults_none_of_these_cannot_be_ticked_with_a_reason_to_override() -> None:
    engine = Engine(load_pack("adults-england"))
    state, _ = _at(engine, "override", {"immediate_danger": "no", "consent": "refused"})
    for mixed in (("others_at_risk", "none"), ("serious_crime", "unsure")):
        with pytest.raises(InvalidAnswer, match="cannot be combined"):
            engine.answer(state, Answer(step_id="override", revision=state.revision, choices=mixed), T0)
    after = engine.answer(state, Answer(step_id="override", revision=state.revision, choices=("none",)), T0)
    assert after.state.step == "respect_refusal"
    assert {c.id for c in engine.pack.step("respect_refusal").choices} == {"not_share", "seek_advice"}


def test_adults_not_sure_about_overriding_goes_to_advice_not_towards_sharing() -> None:
    engine = Engine(load_pack("adults-england"))
    state, _ = _at(engine, "override", {"immediate_danger": "no", "consent": "refused"})
    turn = engine.answer(state, Answer(step_id="override", revision=state.revision, choices=("unsure",)), T0)
    assert turn.state.step == "advice_override"
    assert {c.goto for c in engine.pack.step("advice_override").choices} == {
        "advice_override",
        "override",
        "advice_decision",
    }


@pytest.mark.parametrize(
    ("at_risk", "consent", "offered"),
    [
        ("yes", "refused", True),
        ("yes", "not_safe", True),
        ("yes", "not_sought", True),
        ("yes", "lacks_capacity", True),
        ("yes", "given", False),  # consent is relied on
        ("no", "refused", False),  # not an adult at risk
        ("unsure", "not_safe", False),
    ],
)
def test_adults_para_18_and_19_only_for_an_adult_at_risk_without_consent(
    at_risk: str, consent: str, offered: bool
) -> None:
    engine = Engine(load_pack("adults-england"))
    answers = {
        "adult_at_risk": AnswerValue(choices=(at_risk,), at=T0),
        "consent": AnswerValue(choices=(consent,), at=T0),
    }
    shown = {c.id for c in engine.visible_choices(engine.pack.step("special_condition"), answers)}
    assert ({"sch1_para18", "sch1_para19"} <= shown) is offered
    assert ({"sch1_para18", "sch1_para19"} & shown == set()) is not offered
    assert {"health_care", "explicit_consent", "none", "unsure"} <= shown


def test_adults_each_question_writes_its_own_field() -> None:
    pack = load_pack("adults-england")
    writers: dict[str, list[str]] = {}
    for step in pack.steps_by_id.values():
        if step.field:
            writers.setdefault(step.field, []).append(step.id)
        for item in step.items:
            if item.field:
                writers.setdefault(item.field, []).append(f"{step.id}.{item.id}")
    shared = {field: steps for field, steps in writers.items() if len(steps) > 1}
    # decisions replace one another; the reasons are 'why not' or the emergency's account (never both on a path);
    # the recipient's role is the ticked item or, when left unticked, its follow-up
    assert set(shared) == {"decision", "reasons", "recipient_role"}, shared
    for field in ("consent", "consent_reason", "best_interests", "best_interests_reason", "override_grounds"):
        assert len(writers[field]) == 1, field


@pytest.mark.parametrize("pack_id", PACKS)
def test_the_lawful_bases_include_recognised_legitimate_interest_and_none(pack_id: str) -> None:
    basis = load_pack(pack_id).step("lawful_basis")
    ids = [c.id for c in basis.choices]
    assert {"public_task", "recognised_legitimate_interest", "legitimate_interests", "vital_interests"} <= set(ids)
    assert "none" in ids and "unsure" in ids


@pytest.mark.parametrize("pack_id", PACKS)
def test_no_lawful_basis_after_deciding_to_share_records_do_not_share_only(pack_id: str) -> None:
    engine = Engine(load_pack(pack_id))
    state, visited = walk(engine, T0, {**SHARE, "lawful_basis": "none", "no_basis": "not_share"})
    assert "no_basis" in visited and "decision" in visited
    snap = build_snapshot(engine.pack, state)
    assert snap.decision == "not_share" and snap.fields["decision"] == "Do not share"
    assert set(snap.fields) & SHARE_ONLY_FIELDS == set()
    assert snap.fields["not_share_reason"].startswith("No lawful basis")


@pytest.mark.parametrize("pack_id", PACKS)
def test_seeking_advice_on_the_basis_after_deciding_to_share_keeps_no_share_details(pack_id: str) -> None:
    engine = Engine(load_pack(pack_id))
    script = {**SHARE, "lawful_basis": "unsure", "advice_lawful": "record_advice", "advice_decision": "seek_advice"}
    state, visited = walk(engine, T0, script)
    assert visited[-4:] == ["advice_decision", "advice", "reasons", "case_reference"]
    snap = build_snapshot(engine.pack, state)
    assert snap.decision == "seek_advice" and snap.recipient is None
    assert set(snap.fields) & SHARE_ONLY_FIELDS == set()
    assert "advice_from" in snap.fields


@pytest.mark.parametrize("pack_id", PACKS)
def test_every_item_left_unticked_gets_its_follow_up_and_is_recorded(pack_id: str) -> None:
    engine = Engine(load_pack(pack_id))
    state, visited = walk(engine, T0, {**SHARE, "before_send": (), "check_recipient_role": "checked"})
    items = engine.pack.step("before_send").items
    assert [v for v in visited if v in {i.followup for i in items}] == [i.followup for i in items]
    snap = build_snapshot(engine.pack, state)
    assert set(snap.unconfirmed) == {i.label for i in items}  # counted in the lead's digest
    assert snap.fields["identity_protection"].startswith("Not confirmed")
    assert snap.fields["how_much"] == "The whole file" and "minimum_necessary" in snap.fields


@pytest.mark.parametrize("pack_id", PACKS)
def test_all_true_in_one_click_and_the_covering_note_protects_identities(pack_id: str) -> None:
    engine = Engine(load_pack(pack_id))
    state, visited = walk(engine, T0, SHARE)
    assert visited[-2:] == ["before_send", "case_reference"]
    done = build_completion(engine.pack, state)
    assert done.covering_note is not None
    assert "do not disclose it" in done.covering_note and "Sharing is needed" in done.covering_note


def test_2018_outcomes_say_the_advice_is_superseded() -> None:
    pack = load_pack("children-england-2018")
    for decision in ("share", "not_share", "seek_advice"):
        default = next(o for o in pack.outcomes if o.decision == decision and not o.when)
        assert any("superseded 2018 advice" in s for s in default.next_steps)
    assert "safety is a lawful" not in (PACKS_DIR / "children-england-2018.yaml").read_text(encoding="utf-8")


def test_2018_a_refusal_where_nobody_is_at_risk_is_respected() -> None:
    engine = Engine(load_pack("children-england-2018"))
    state, visited = walk(
        engine, T0, {"immediate_danger": "no", "risk_of_harm": "no", "consent": "refused", "request_context": "asked"}
    )
    assert "respect_refusal" in visited and "decision" not in visited
    assert build_snapshot(engine.pack, state).decision == "not_share"


# --- engine and record fixes found on the way (issue 17) -----------------------------------------------------------


def test_a_worry_ticked_in_a_form_shows_its_myth_buster() -> None:
    engine = Engine(load_pack("adults-england"))
    state, _ = _at(engine, "gates", {"immediate_danger": "no"})
    answer = Answer(
        step_id="gates",
        revision=state.revision,
        fields={"purpose": _f("yes"), "adult_at_risk": _f("yes"), "hesitation": _f("consent", "criticism")},
    )
    turn = engine.answer(state, answer, T0)
    assert isinstance(turn.message, Prompt)
    assert [m.title for m in turn.message.myths] == [
        engine.pack.myth("consent").title,
        engine.pack.myth("criticism").title,
    ]
    assert turn.state.myths_shown == ["consent", "criticism"]


def test_the_review_offers_each_answer_once_after_asking_the_lead() -> None:
    engine = Engine(load_pack("adults-england"))
    script: dict[str, AnswerSpec] = {**SHARE, "purpose": "unsure", "advice_purpose": "ask_lead"}
    turn = engine.start(T0)
    while turn.state.step != REVIEW:
        step = engine.pack.step(turn.state.step or "")
        turn = engine.answer(turn.state, scripted_answer(step, turn.state, script), T0)
        if step.id == "advice_purpose" and script["advice_purpose"] == "ask_lead":
            assert turn.state.step == "advice_purpose", "the check waits at the question put to the lead"
            # the lead answered: the practitioner asks to be asked again, and answers the gate again
            script = {**script, "advice_purpose": "ask_again", "purpose": "yes"}
    assert isinstance(turn.message, Prompt) and turn.message.review is not None
    changes = [c.id for c in turn.message.review.changes]
    assert len(changes) == len(set(changes)) and f"{CHANGE_PREFIX}gates" in changes
    assert turn.state.history.count("gates") == 2 and turn.state.history.count("advice_purpose") == 2


def test_a_condition_may_test_the_items_of_a_confirmation_list(tmp_path: Path) -> None:
    raw = yaml.safe_load((PACKS_DIR / "adults-england.yaml").read_text(encoding="utf-8"))
    raw["covering_note"]["lines"].append({"text": "x", "when": [{"step": "before_send", "any_of": ["no_such_item"]}]})
    path = tmp_path / "adults-england.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(PackError, match="unknown choices \\['no_such_item'\\] of 'before_send'"):
        load_pack_file(path)


def test_typed_form_fields_are_never_memoised_as_pack_text() -> None:
    raw = yaml.safe_load(
        (Path(__file__).parent.parent / "data" / "packs" / "steps-demo.yaml").read_text(encoding="utf-8")
    )
    gates = next(s for s in raw["steps"] if s["id"] == "gates")
    gates["fields"].append(
        {"id": "note", "kind": "free_text", "title": "Note", "question": "Q?", "field": "urgent_action"}
    )
    pack = Pack.model_validate(raw)
    assert "urgent_action" not in RecordMemo.for_pack(pack).choice_fields


def _f(*choices: str) -> FieldAnswer:
    return FieldAnswer(choices=choices)


def _at(engine: Engine, step_id: str, script: dict[str, AnswerSpec]) -> tuple[DialogState, Prompt]:
    turn = engine.start(T0)
    while turn.state.step != step_id:
        step = engine.pack.step(turn.state.step or "")
        turn = engine.answer(turn.state, scripted_answer(step, turn.state, script), T0)
    assert isinstance(turn.message, Prompt)
    return turn.state, turn.message


@pytest.mark.parametrize("pack_id", PACKS)
def test_a_check_started_under_1_2_0_finishes_under_it(pack_id: str) -> None:
    archived = load_archived_pack(pack_id, "1.2.0")
    assert archived is not None and archived.version == "1.2.0" and not archived.review
    assert PackRegistry(pack_id).engine(pack_id, "1.2.0").pack.version == "1.2.0"
    assert load_pack(pack_id).version == "2.0.0"


def test_a_typed_date_is_the_practitioners_local_time_and_the_record_shows_it_so() -> None:
    engine = Engine(load_pack("adults-england"))
    summer = datetime(2026, 7, 1, 13, tzinfo=UTC)
    script: dict[str, AnswerSpec] = {
        "immediate_danger": "no",
        "request_context": "asked",
        "decision": "not_share",
        "requested_at": "30/06/2026 14:30",
    }
    state, _ = walk(engine, summer, script)
    assert state.answers["requested_at"].text == "2026-06-30T13:30+00:00"  # stored in UTC
    snap = build_snapshot(engine.pack, state)
    assert snap.fields["requested_at"] == "2026-06-30 14:30 BST"
    assert "When they asked: 2026-06-30 14:30 BST" in build_completion(engine.pack, state).case_notes
    assert parse_when("01/12/2026 14:30", summer, ZoneInfo("Europe/London")).isoformat() == "2026-12-01T14:30:00+00:00"
