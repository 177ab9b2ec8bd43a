"""The check-length bench (issue 17) counts what a practitioner does: a form, a confirmation list and the review's
Save are one answer each, the words shown include a form's questions, a list's statements and the review
screen, and paths are found by intent, so a redesigned pack is measured without editing the bench."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.bench_check_length import (
    DEFAULT_PACK,
    INTENTS,
    Intent,
    main,
    measure,
    prompt_words,
    target_met,
    walk_intent,
    words,
)
from dialogs.content import available_packs, load_pack
from dialogs.engine import Engine
from dialogs.messages import Prompt
from dialogs.state import Answer, FieldAnswer

DEMO = Path(__file__).parent.parent / "data" / "packs"
NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo() -> Engine:
    return Engine(load_pack("steps-demo", DEMO))


def test_a_form_a_list_and_save_are_one_answer_each(demo: Engine) -> None:
    share = walk_intent(demo, next(i for i in INTENTS if i.name == "share"))
    # before you start (2 fields), should you share (3: own initiative asks the lawful basis), decision, what,
    # recipient, before you send (all true), case reference, Save
    assert (share.decision, share.answers, share.fields_answered, share.typed) == ("share", 8, 10, 3)
    assert share.teams_cards == 8
    assert share.slack_interactions == (2 + 2) + (2 + 3) + 1 + 2 + 2 + 1 + 2 + 1
    assert share.reached and share.found_by == "script"
    assert target_met(share) is True and share.target == "<=14 answers"


def test_urgent_needs_who_to_call_on_the_screen_after_yes(demo: Engine) -> None:
    urgent = walk_intent(demo, next(i for i in INTENTS if i.name == "urgent"))
    assert urgent.decision == "share" and urgent.contacts_next is True
    # the form, act now, what happened, recorded as shared, Save
    assert urgent.answers == 5 and target_met(urgent) is True


def test_not_sharing_after_a_request_asks_nothing_about_how_to_share(demo: Engine) -> None:
    refused = walk_intent(demo, next(i for i in INTENTS if i.name == "not share after a request"))
    assert refused.decision == "not_share" and refused.how_to_share_asked == ()
    assert target_met(refused) is True


def test_the_words_shown_include_form_fields_list_statements_and_the_review_screen_not_its_record(demo: Engine) -> None:
    turn = demo.start(NOW)
    form = turn.message
    assert isinstance(form, Prompt)
    fields = sum(words(f.label) + sum(words(c.label) for c in f.choices) for f in form.input.fields)
    links = sum(words(link.title) for link in form.links)
    assert prompt_words(form) == words(form.title) + words(form.question) + fields + links

    def answer(step_id: str, **given: object) -> Prompt:
        nonlocal turn
        turn = demo.answer(turn.state, Answer(step_id=step_id, revision=turn.state.revision, **given), NOW)
        assert isinstance(turn.message, Prompt)
        return turn.message

    answer(
        "start",
        fields={
            "immediate_danger": FieldAnswer(choices=("no",)),
            "request_context": FieldAnswer(choices=("own_initiative",)),
        },
    )
    answer(
        "gates",
        fields={
            f: FieldAnswer(choices=(c,))
            for f, c in [("purpose", "yes"), ("risk_of_harm", "yes"), ("lawful_basis", "public_task")]
        },
    )
    answer("decision", choices=("share",))
    answer("what", text="The weight concerns.")
    listed = answer("recipient", text="Northshire Community Health, health visitor")
    statements = sum(words(c.label) for c in listed.input.choices)
    assert statements and prompt_words(listed) >= statements + words(listed.input.all_label)
    answer("before_send", choices=("all_true",))
    review = answer("case_reference", text="CS-1")
    assert review.review is not None
    record = sum(words(line.label) + words(line.value) for line in review.review.lines)
    changes = sum(words(c.label) for c in review.review.changes)
    # the review's own words count; the record it previews is the record itself, read after, not before
    assert prompt_words(review) >= changes + words(review.review.decision_label) > 0
    assert prompt_words(review) < record + changes


def test_a_path_the_usual_answers_miss_is_found_by_a_seeded_walk(demo: Engine) -> None:
    # no choices named: the usual answers decide 'share', so only a seeded walk reaches 'seek advice'
    advice = walk_intent(demo, Intent("advice, unnamed", "seek_advice", {}))
    assert advice.reached and advice.decision == "seek_advice" and advice.found_by.startswith("walk ")
    assert walk_intent(demo, Intent("advice, unnamed", "seek_advice", {})) == advice, "seeded: the same walk"
    never = walk_intent(demo, Intent("impossible", "share", {}, requires={"request_context": ("nowhere",)}))
    assert not never.reached and never.found_by == "not found"


def test_every_shipped_pack_has_a_share_a_refusal_after_a_request_and_an_urgent_path() -> None:
    figures = measure()
    assert {f.pack for f in figures} == set(available_packs())
    for f in figures:
        if f.path in ("share", "not share after a request", "urgent"):
            assert f.reached, f"{f.pack}: no walk ends as '{f.path}' does"
    default = [f for f in figures if f.pack == DEFAULT_PACK]
    assert {f.path for f in default} >= {"share", "not share after a request", "urgent"}


def test_the_bench_prints_the_targets_and_a_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--content-dir", str(DEMO)])
    out = capsys.readouterr().out
    assert "steps-demo" in out and "<=14 answers (met)" in out
    assert out.strip().splitlines()[-1].startswith('{"bench": "check_length"')
