"""The form, confirmation-list and review cards, and the progress line, against the Adaptive Card 1.5 schema; what
each input sends back parsed into the neutral answer."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.teams.cards import render
from adapters.teams.parse import UnknownAction, parse_execute, parse_submit
from dialogs.content import AnswerKind, load_pack
from dialogs.engine import REVIEW, Engine, InvalidForm
from dialogs.messages import ALL_TRUE, SAVE, FieldSpec, Prompt, ReviewView, SummaryLine
from dialogs.state import Answer, FieldAnswer, Recipient, Status
from tests.support.adaptive_cards import HOSTILE, NOW, _text_blocks, assert_valid, inputs
from tests.support.teams import actions

PACKS = Path(__file__).parent.parent / "data" / "packs"
CHECK = "5f0c6f8e-0000-4000-8000-000000000001"


def demo() -> Engine:
    return Engine(load_pack("steps-demo", PACKS))


def walk_demo(engine: Engine) -> Iterator[Prompt]:
    """Every kind of screen of the demo pack, in the order a sharing check meets them, ending on the review."""
    turn = engine.start(NOW)

    def step(**given: Any) -> Prompt:
        nonlocal turn
        assert isinstance(turn.message, Prompt)
        turn = engine.answer(
            turn.state, Answer(step_id=turn.message.step_id, revision=turn.state.revision, **given), NOW
        )
        assert isinstance(turn.message, Prompt), turn.message
        return turn.message.model_copy(update={"check_id": CHECK})

    assert isinstance(turn.message, Prompt)
    yield turn.message.model_copy(update={"check_id": CHECK})
    yield step(
        fields={
            "immediate_danger": FieldAnswer(choices=("no",)),
            "request_context": FieldAnswer(choices=("own_initiative",)),
        }
    )
    gates = {"purpose": ("yes",), "risk_of_harm": ("yes",), "lawful_basis": ("public_task",)}
    yield step(fields={k: FieldAnswer(choices=v) for k, v in gates.items()})
    yield step(choices=("share",))
    yield step(text=HOSTILE)
    yield step(recipient=Recipient(organisation="Northshire Police", role="MASH detective sergeant"))
    yield step(choices=("relevant",))  # two items left unticked: their follow-ups come next
    yield step(text=HOSTILE)
    yield step(choices=("continue",))
    review = step(text="CS-2024-0113")
    assert review.step_id == REVIEW
    yield review


@pytest.mark.parametrize("style", ["execute", "submit"])
def test_every_screen_of_the_demo_pack_is_a_valid_card(style: str) -> None:
    kinds = set()
    for prompt in walk_demo(demo()):
        kinds.add(prompt.input.kind)
        card = render(prompt, style)  # type: ignore[arg-type]
        assert_valid(card)
        text = json.dumps(card, ensure_ascii=False)
        assert not re.search(r"[Ss]tep \d+ of \d+", text), "progress is sections, not a count"
        # the section line: every section named, the current one in bold
        line = card["body"][0]["inlines"]
        bold = [run["text"] for run in line if run.get("weight") == "Bolder"]
        assert bold == [prompt.progress.section]
        assert all(section in text for section in prompt.progress.sections)
    assert {AnswerKind.FORM, AnswerKind.CONFIRM_LIST, AnswerKind.REVIEW} <= kinds


def test_a_form_is_one_card_with_an_input_per_field_and_one_continue() -> None:
    engine = demo()
    first = next(walk_demo(engine))
    card = render(first, "submit")
    fields = inputs(card)
    assert set(fields) == {"sc_fc_immediate_danger", "sc_fc_request_context"}
    danger = fields["sc_fc_immediate_danger"]
    assert danger["label"] == "Is anyone in immediate danger now?" and danger["isRequired"] is True
    assert danger["style"] == "expanded" and danger["isMultiSelect"] is False
    assert [c["value"] for c in danger["choices"]] == ["yes", "no", "unsure"]
    answers = [a for a in actions(card) if a["data"].get("sc_verb") == "answer"]
    assert len(answers) == 1 and answers[0]["title"] == "Continue"
    assert answers[0]["data"] == {
        "sc_verb": "answer",
        "check_id": CHECK,
        "step_id": "start",
        "revision": 0,
        "sc_form": ["immediate_danger", "request_context"],
    }
    # Back, Cancel and the urgent exit never carry (or wait for) the form's inputs
    assert all(a.get("associatedInputs") == "none" for a in actions(card) if a["data"]["sc_verb"] != "answer")


def test_a_refused_form_shows_each_fields_reason_and_keeps_what_was_given() -> None:
    engine = demo()
    turn = engine.start(NOW)
    given = {"immediate_danger": FieldAnswer(choices=("no",))}
    with pytest.raises(InvalidForm) as refused:
        engine.answer(turn.state, Answer(step_id="start", revision=0, fields=given), NOW)
    prompt = engine.refused(turn.state, refused.value)
    assert isinstance(prompt, Prompt)
    card = render(prompt, "execute")
    assert_valid(card)
    fields = inputs(card)
    assert fields["sc_fc_immediate_danger"]["value"] == "no", "the field that was fine is kept"
    assert "value" not in fields["sc_fc_request_context"]
    body = card["body"]
    at = next(i for i, b in enumerate(body) if b.get("id") == "sc_fc_request_context")
    reason = body[at + 1]
    assert reason["type"] == "RichTextBlock" and reason["inlines"][0]["color"] == "Attention"
    assert reason["inlines"][0]["text"] == "Please choose one."
    assert fields["sc_fc_request_context"]["errorMessage"] == "Please choose one."
    # the line at the top says which question
    assert body[1]["inlines"][0]["text"] == "Were you asked for this information? Please choose one."


def test_every_field_kind_renders_prefilled_and_typed_text_stays_text() -> None:
    spec = [
        FieldSpec(id="one", label="One?", kind=AnswerKind.SINGLE_CHOICE, choices=_choices(8), initial=("c3",)),
        FieldSpec(id="many", label="Many?", kind=AnswerKind.MULTI_CHOICE, choices=_choices(3), initial=("c0", "c2")),
        FieldSpec(id="what", label="What?", kind=AnswerKind.FREE_TEXT, max_length=500, initial_text=HOSTILE),
        FieldSpec(id="ref", label="Ref", kind=AnswerKind.CASE_REFERENCE, max_length=40, error=HOSTILE),
        FieldSpec(id="when", label="When?", kind=AnswerKind.DATETIME, optional=True, help="Use **now** if it is now."),
    ]
    first = next(walk_demo(demo()))
    prompt = first.model_copy(update={"input": first.input.model_copy(update={"fields": tuple(spec)})})
    card = render(prompt, "execute")
    assert_valid(card)
    fields = inputs(card)
    assert fields["sc_fc_one"]["style"] == "compact" and fields["sc_fc_one"]["value"] == "c3"
    assert fields["sc_fc_many"]["isMultiSelect"] is True and fields["sc_fc_many"]["value"] == "c0,c2"
    assert fields["sc_ft_what"]["isMultiline"] is True and fields["sc_ft_what"]["value"] == HOSTILE
    assert fields["sc_ft_ref"]["isMultiline"] is False and "CS-2024-0113" in fields["sc_ft_ref"]["placeholder"]
    assert fields["sc_ft_when"]["isRequired"] is False and fields["sc_ft_when"]["label"] == "When? (optional)"
    assert "'now'" in fields["sc_ft_when"]["placeholder"]
    # a refusal quoting typed text is a TextRun, never parsed as markdown
    assert not any("evil.example" in t for t in _text_blocks(card))


def _choices(n: int) -> tuple[Any, ...]:
    from dialogs.messages import ChoiceView

    return tuple(ChoiceView(id=f"c{i}", label=f"Choice {i}") for i in range(n))


def test_a_confirmation_list_is_checkboxes_with_all_true_first_and_confirm_ticked() -> None:
    screens = list(walk_demo(demo()))
    confirm = next(p for p in screens if p.input.kind is AnswerKind.CONFIRM_LIST)
    again = confirm.model_copy(update={"input": confirm.input.model_copy(update={"initial": ("relevant", "summary")})})
    for prompt in (confirm, again):
        card = render(prompt, "submit")
        assert_valid(card)
        ticks = inputs(card)["sc_ticks"]
        assert ticks["isMultiSelect"] is True and ticks["style"] == "expanded" and not ticks.get("isRequired")
        assert [c["value"] for c in ticks["choices"]] == ["relevant", "summary", "identities"]
        [all_true, ticked] = [a for a in actions(card) if a["data"]["sc_verb"] == "answer"]
        assert all_true["title"] == "All true" and all_true["style"] == "positive"
        assert all_true["data"]["sc_choice"] == ALL_TRUE and all_true["associatedInputs"] == "none"
        assert ticked["title"] == "Confirm ticked" and "sc_choice" not in ticked["data"]
    assert inputs(render(again, "submit"))["sc_ticks"]["value"] == "relevant,summary", "ticked before, ticked again"


def test_the_review_shows_the_record_as_text_save_first_and_a_change_select() -> None:
    review = list(walk_demo(demo()))[-1]
    assert review.review is not None
    hostile = review.review.model_copy(
        update={
            "lines": (*review.review.lines, SummaryLine(label="Typed", value=HOSTILE)),
            "covering_note": "Covering note\nShared: " + HOSTILE,
        }
    )
    prompt = review.model_copy(update={"review": hostile})
    card = render(prompt, "execute")
    assert_valid(card)
    text = json.dumps(card, ensure_ascii=False)
    for line in review.review.lines:
        assert line.label in text
    assert not any("evil.example" in t for t in _text_blocks(card)), "record values are TextRuns, not markdown"
    assert "https[:]//evil.example" in text, "typed addresses are defanged, as everywhere"
    [note] = [b for b in card["body"] if b.get("id") == "sc_review_note"]
    assert note["isVisible"] is True and all(
        run["fontType"] == "Monospace" for b in note["items"][1:] for run in b["inlines"]
    )
    [step_actions] = [b for b in card["body"] if b["type"] == "ActionSet"]
    save, change = step_actions["actions"]
    assert save["title"] == "Save" and save["style"] == "positive" and save["data"]["sc_choice"] == SAVE
    assert save["associatedInputs"] == "none"
    assert change["type"] == "Action.ShowCard" and change["title"] == "Change an answer"
    select = change["card"]["body"][0]
    assert select["id"] == "sc_change" and select["type"] == "Input.ChoiceSet"
    assert [c["value"] for c in select["choices"]] == [c.id for c in review.review.changes]
    [go] = change["card"]["actions"]
    assert go["title"] == "Change" and go["data"]["step_id"] == REVIEW and "sc_choice" not in go["data"]


def test_a_review_with_nothing_to_change_has_only_save() -> None:
    review = list(walk_demo(demo()))[-1]
    bare = review.model_copy(update={"review": ReviewView(decision_label="Share", lines=())})
    card = render(bare, "submit")
    assert_valid(card)
    assert not [a for a in json.dumps(card).split('"type": "Action.ShowCard"')[1:]]


BASE = {"sc_verb": "answer", "check_id": CHECK, "revision": 4}


def test_a_form_submission_is_parsed_field_by_field() -> None:
    value = {
        **BASE,
        "step_id": "gates",
        "sc_form": ["purpose", "many", "what", "left_out"],
        "sc_fc_purpose": "yes",
        "sc_fc_many": "a,b",
        "sc_ft_what": HOSTILE,
        "sc_fc_not_asked": "x",  # an input the form's list does not name is not an answer
        "fields": {"injected": {"text": "x"}},
    }
    answer = parse_submit(value).data.answer()
    assert answer == Answer(
        step_id="gates",
        revision=4,
        fields={
            "purpose": FieldAnswer(choices=("yes",)),
            "many": FieldAnswer(choices=("a", "b")),
            "what": FieldAnswer(text=HOSTILE),
            "left_out": FieldAnswer(),
        },
    )
    # Teams sends an empty input as "": unanswered, as the engine counts it
    empty = parse_submit({**BASE, "step_id": "gates", "sc_form": ["a", "b"], "sc_fc_a": "", "sc_ft_b": ""})
    assert empty.data.answer().fields == {"a": FieldAnswer(), "b": FieldAnswer()}
    execute = parse_execute({"action": {"type": "Action.Execute", "verb": "answer", "data": value}})
    assert execute.data.answer() == answer
    for bad in ({"sc_form": "purpose"}, {"sc_form": [1]}, {"sc_form": ["x"] * 31}, {"sc_form": ["a"], "sc_fc_a": 3}):
        with pytest.raises(UnknownAction):
            parse_submit({**BASE, "step_id": "gates", **bad})


def test_confirmation_list_and_review_answers_are_parsed() -> None:
    ticked = parse_submit({**BASE, "step_id": "before_send", "sc_ticks": "relevant,summary"}).data.answer()
    assert ticked.choices == ("relevant", "summary")
    none = parse_submit({**BASE, "step_id": "before_send", "sc_ticks": ""}).data.answer()
    assert none.choices == () and none.text is None
    # 'All true' names its own answer; ticks a client sent along anyway do not change it
    all_true = parse_submit({**BASE, "step_id": "before_send", "sc_choice": ALL_TRUE, "sc_ticks": "relevant"})
    assert all_true.data.answer().choices == (ALL_TRUE,)
    change = parse_submit({**BASE, "step_id": "review", "sc_change": "change:gates"}).data.answer()
    assert change.choices == ("change:gates",)
    save = parse_submit({**BASE, "step_id": "review", "sc_choice": SAVE, "sc_change": "change:gates"})
    assert save.data.answer().choices == (SAVE,)
    assert parse_submit({**BASE, "step_id": "review", "sc_change": ""}).data.answer().choices == ()


def test_the_demo_pack_answered_as_the_cards_send_reaches_the_review_and_saves() -> None:
    """Each screen's card answered with exactly the data and inputs Teams would send, parsed and applied."""
    engine = demo()
    turn = engine.start(NOW)
    sent: list[dict[str, Any]] = [
        {"sc_fc_immediate_danger": "no", "sc_fc_request_context": "asked"},
        {"sc_fc_purpose": "yes", "sc_fc_risk_of_harm": "yes"},
        {"sc_choice": "share"},
        {"sc_text": "A summary of the concern."},
        {"sc_org": "Northshire Police", "sc_role": "MASH detective sergeant"},
        {"sc_choice": ALL_TRUE},
        {"sc_text": "CS-2024-0113"},
        {"sc_choice": SAVE},
    ]
    for inputs_sent in sent:
        assert isinstance(turn.message, Prompt)
        card = render(turn.message.model_copy(update={"check_id": CHECK}), "submit")
        press = next(
            a
            for a in actions(card)
            if a["data"].get("sc_verb") == "answer"
            and a["data"].get("sc_choice") in (None, inputs_sent.get("sc_choice"))
        )
        answer = parse_submit({**press["data"], **inputs_sent}).data.answer()
        turn = engine.answer(turn.state, answer, NOW)
    assert turn.state.status is Status.COMPLETED
