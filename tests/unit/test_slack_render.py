"""Block Kit rendering: every step of every pack round-trips through slack_sdk.models within Slack's limits."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.views import View

from adapters.slack import render
from adapters.slack.commands import SLACK
from adapters.slack.parse import FollowUpRef
from bot.conversation.wording import Wording
from bot.followups.content import followup_content
from dialogs.content import AnswerKind, available_packs, load_pack
from dialogs.engine import Engine, InvalidForm
from dialogs.messages import (
    ALL_TRUE,
    Cancelled,
    ChoiceView,
    CitationView,
    Completion,
    Digest,
    DigestFigure,
    DigestItem,
    FieldSpec,
    FollowUpPrompt,
    Info,
    LinkView,
    MythView,
    PendingItem,
    PendingList,
    Progress,
    Prompt,
    SummaryLine,
)
from dialogs.state import Answer, DialogState, FieldAnswer, Recipient
from dialogs.text_safety import typed
from tests.support.flows import explore
from tests.support.slack_blocks import round_trip

NOW = datetime(2026, 11, 24, 10, tzinfo=UTC)
CHECK_ID = str(uuid.UUID(int=7))
LINKS = (LinkView(title="Northshire MASH | front door", url="https://example.org/mash?a=1&b=<2>"),)


SUMMARY_LINES_MAX = 16
"""The summary message's height in lines of text (it was 62 with the notes and covering note on it)."""


def summary_lines(dicts: list[dict[str, Any]]) -> int:
    """An approximate height: a section's lines (wrapped at about 80 characters), one line for any other block."""
    height = 0
    for block in dicts:
        if block["type"] == "section" and "text" in block:
            height += sum(max(1, -(-len(line) // 80)) for line in block["text"]["text"].split("\n"))
        else:
            height += 1
    return height


def check_text_limits(dicts: list[dict[str, Any]]) -> None:
    for block in dicts:
        if block["type"] == "section":
            for text in [block["text"]] if "text" in block else block["fields"]:
                assert len(text["text"]) <= render.SECTION_MAX
                assert text.get("verbatim") is True
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= render.HEADER_MAX
        for element in block.get("elements", []):
            if element.get("type") == "button":
                assert len(element["text"]["text"]) <= render.BUTTON_TEXT_MAX
                assert len(element.get("value", "")) <= 2000
            if element.get("type") == "mrkdwn":
                assert element.get("verbatim") is True


DEMO_PACKS = Path(__file__).parent.parent / "data" / "packs"
"""The demo pack with every step kind (forms, a confirmation list, the review screen, sections)."""


def every_prompt() -> list[tuple[str, Engine, str]]:
    cases: list[tuple[str, Engine, str]] = []
    packs = [load_pack(pack_id) for pack_id in available_packs()] + [load_pack("steps-demo", DEMO_PACKS)]
    for pack in packs:
        engine = Engine(pack, LINKS)
        cases.extend((pack.id, engine, step.id) for step in engine.pack.steps)
    return cases


def prompt_at(engine: Engine, step_id: str, notice: str | None = None) -> Prompt:
    state = DialogState(
        pack_id=engine.pack.id,
        pack_version=engine.pack.version,
        step=step_id,
        history=[engine.pack.start] if step_id != engine.pack.start else [],
        started_at=NOW,
        updated_at=NOW,
        revision=12345,
    )
    message = engine.view(state, notice)
    assert isinstance(message, Prompt)
    return message.model_copy(update={"check_id": CHECK_ID})


@pytest.mark.parametrize(
    ("pack_id", "engine", "step_id"), every_prompt(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_step_renders_within_slack_limits(pack_id: str, engine: Engine, step_id: str) -> None:
    prompt = prompt_at(engine, step_id, notice="That is not one of the options here. " * 100)
    dicts = round_trip(render.prompt_blocks(prompt))
    check_text_limits(dicts)
    text = json.dumps(dicts)
    # where the check is, by its sections, the current one in bold (never a count)
    assert dicts[1]["elements"][0]["text"].endswith(render.progress_line(prompt.progress))
    assert f"*{render.escape(prompt.progress.section)}*" in dicts[1]["elements"][0]["text"]
    assert ("Someone is in immediate danger" in text) == prompt.urgent_exit
    for citation in (*prompt.citations, *(g.citation for g in prompt.guidance if g.citation)):
        assert render.escape(citation.authority) in text  # every source shows its authority
    # every button routes back to this check, step and revision
    for block in dicts:
        for element in block.get("elements", []):
            if element.get("type") == "button":
                ref = json.loads(element["value"])
                assert (ref["c"], ref["s"], ref["r"]) == (CHECK_ID, step_id, 12345)
    if render.needs_form(prompt):
        view = render.modal(prompt, "D0000001", "1764000000.000001")
        as_dict = view.to_dict()
        assert View(**as_dict).to_dict() == as_dict
        round_trip(view.blocks, render.MODAL_BLOCKS_MAX)
        assert len(as_dict["private_metadata"]) <= 3000 and len(as_dict["title"]["text"]) <= 24
        kinds = {b["element"]["type"] for b in as_dict["blocks"] if b["type"] == "input"}
        if prompt.input.kind is AnswerKind.FORM:
            assert len([b for b in as_dict["blocks"] if b["type"] == "input"]) == len(prompt.input.fields)
            assert kinds <= {"radio_buttons", "static_select", "checkboxes", "multi_static_select", "plain_text_input"}
        else:
            assert kinds == (
                {"users_select", "plain_text_input"}
                if prompt.input.kind is AnswerKind.RECIPIENT
                else {"plain_text_input"}
            )
    elif prompt.input.multiple:
        assert any(e.get("type") == "checkboxes" for b in dicts for e in b.get("elements", []))


@pytest.mark.parametrize("pack_id", sorted(available_packs()))
def test_every_completion_renders_within_slack_limits(pack_id: str) -> None:
    engine = Engine(load_pack(pack_id), LINKS)
    _, finished = explore(engine, NOW, max_walks=300)
    for state in finished[:60]:
        done = engine.view(state)
        assert isinstance(done, Completion)
        dicts = round_trip(render.completion_blocks(done))
        check_text_limits(dicts)
        assert done.decision_label in json.dumps(dicts)
        assert summary_lines(dicts) <= SUMMARY_LINES_MAX, (done.decision, summary_lines(dicts))
        check_text_limits(round_trip(render.notes_blocks(done)))
        round_trip(render.finished_blocks(done))


NASTY = "<!channel> & <https://evil|click> "
CITATION = CitationView(
    title="Information sharing <advice>", publisher="HM Government", year=2024, authority="non-statutory advice"
)


def test_myth_busters_render_above_the_question_escaped_with_source_and_authority() -> None:
    engine = Engine(load_pack("children-england-2024"), LINKS)
    base = prompt_at(engine, "decision")  # where the gates' worries show their myth-busters
    myths = tuple(
        MythView(title=f"Myth {n}: {NASTY}", text=(NASTY * 3 + "\n") * 3, citation=CITATION) for n in range(4)
    )
    dicts = round_trip(render.prompt_blocks(base.model_copy(update={"myths": myths})))
    check_text_limits(dicts)
    text = json.dumps(dicts)
    assert "<!channel>" not in text and "<https://evil" not in text
    cited = json.dumps(round_trip(render.prompt_blocks(base))).count("[non-statutory advice]")  # the step's own
    assert text.count("[non-statutory advice]") == cited + 4 and "Information sharing &lt;advice&gt; (2024)" in text
    assert text.index(":bulb: *Myth 3") < text.index(json.dumps(base.question)[1:-1][:30])


def test_the_covering_note_links_and_reconsider_round_trip_within_limits() -> None:
    note = (
        "Covering note <for> you\n" + f"Purpose: {NASTY}\n" * 300 + "Please confirm receipt by Monday 8 December 2026."
    )
    done = Completion(
        check_id=CHECK_ID,
        pack_title="Pack",
        decision="share",
        decision_label="Share",
        case_reference="CS-1",
        reasons=None,
        immediate_risk=False,
        lines=(),
        next_steps=(),
        unsure=(),
        links=(LinkView(title="Receipt link", url="https://sharecheck.example.org/r/abc"),),
        case_notes="Decision: share",
        covering_note=note,
    )
    dicts = round_trip(render.notes_blocks(done))
    check_text_limits(dicts)
    text = json.dumps(dicts)
    assert "*Covering note &lt;for&gt; you*" in text and "<!channel>" not in text
    codes = [b["text"]["text"] for b in dicts if b["type"] == "section" and b["text"]["text"].startswith("```")]
    assert len(codes) >= 3, "the long note is split over several blocks, none cut"
    assert codes[-1].endswith("by Monday 8 December 2026.\n```")
    summary = json.dumps(round_trip(render.completion_blocks(done)))
    assert "<https://sharecheck.example.org/r/abc|Receipt link>" in summary and "Covering note" not in summary
    assert "sc:reconsider" not in summary + text

    # 'do not share' with very long notes: the Reconsider button survives the block cap
    refused = done.model_copy(
        update={"decision": "not_share", "covering_note": None, "can_reconsider": True, "case_notes": NASTY * 4000}
    )
    dicts = round_trip(render.completion_blocks(refused))
    assert dicts[-1]["type"] == "actions" and dicts[-1]["elements"][0]["action_id"] == "sc:reconsider"
    assert json.loads(dicts[-1]["elements"][0]["value"]) == {"c": CHECK_ID}
    notes = round_trip(render.notes_blocks(refused))
    assert len(notes) == render.MESSAGE_BLOCKS_MAX and "Shortened to fit Slack" in json.dumps(notes[-1])
    many = refused.model_copy(update={"links": LINKS * 2000})  # the summary's own cap keeps the button
    dicts = round_trip(render.completion_blocks(many))
    assert len(dicts) <= render.MESSAGE_BLOCKS_MAX and dicts[-1]["elements"][0]["action_id"] == "sc:reconsider"


def test_long_text_is_split_not_cut_and_stays_escaped() -> None:
    nasty = "<!channel> & <https://evil|click> " * 400  # ~14,000 characters, mostly escapes
    done = Completion(
        pack_title="Pack",
        decision="share",
        decision_label="Share",
        case_reference="CS-1",
        reasons=nasty,
        immediate_risk=True,
        lines=(SummaryLine(label="Reasons", value=nasty),),
        next_steps=(nasty[:500],),
        unsure=("Rule <1>",),
        links=LINKS,
        case_notes=f"Reasons: {nasty}\n" * 2,
    )
    dicts = round_trip(render.completion_blocks(done)) + round_trip(render.notes_blocks(done))
    check_text_limits(dicts)
    text = json.dumps(dicts)
    assert "<!channel>" not in text and "<https://evil" not in text
    sections = [b["text"]["text"] for b in dicts if b["type"] == "section"]
    for piece in sections:  # no entity cut in half at a split
        assert not piece.rstrip("`\n").endswith(("&", "&a", "&am", "&amp", "&l", "&lt", "&g", "&gt"))
    assert len(dicts) <= 2 * render.MESSAGE_BLOCKS_MAX


def test_escape_and_links() -> None:
    assert render.escape("a & <b> <!here>") == "a &amp; &lt;b&gt; &lt;!here&gt;"
    link = render.link(LinkView(title="A|B <c>", url="https://x.example/p?q=<1>|2"))
    assert link == "<https://x.example/p?q=%3C1%3E%7C2|A/B &lt;c&gt;>"


def test_help_and_pending_render() -> None:
    pack = load_pack("children-england-2024")
    words = Wording(SLACK)
    lines = words.lines(words.content.help.lines, pack_title=pack.title, pack_version=pack.version)
    round_trip(render.info_blocks(Info(title=words(words.content.help.title), lines=lines, links=LINKS)))
    empty = round_trip(render.pending_blocks(PendingList()))
    assert [e["action_id"] for b in empty if b["type"] == "actions" for e in b["elements"]] == ["sc:start"]
    assert "sc:start" in json.dumps(round_trip(render.cancelled_blocks(Cancelled())))
    items = (
        PendingItem(kind="check_in_progress", case_reference="<!here>", status="step 2 of 9", check_id=CHECK_ID),
        PendingItem(kind="follow_up", case_reference=None, status="awaiting confirmation", check_id=CHECK_ID),
    )
    dicts = round_trip(render.pending_blocks(PendingList(items=items)))
    assert "<!here>" not in json.dumps(dicts)


def test_split_and_truncate() -> None:
    assert render.split("", 10) == [""]
    assert render.split("abc def ghi", 5) == ["abc", "def", "ghi"]
    assert render.truncate("x" * 200, 150) == "x" * 149 + "…"
    assert render.split("&amp;" * 10, 12) == ["&amp;&amp;", "&amp;&amp;", "&amp;&amp;", "&amp;&amp;", "&amp;&amp;"]


# --- what the scheduler delivers ---------------------------------------------------------------


def follow_up_prompt(kind: str = "recipient_confirm") -> FollowUpPrompt:
    content = followup_content()
    question = content.question(kind)
    values = {
        "sender": "{user:U0SENDER}",
        "target": "{user:U0RECIP}",
        "recipient": "Northshire <Police> & Co",
        "case_reference": "CS-1",
        "method": "secure email",
        "shared_on": "24 Nov 2026",
        "receipt_hint": "",
    }
    return FollowUpPrompt(
        follow_up_id=str(uuid.UUID(int=9)),
        title=question.title,
        lines=tuple(line.format(**values) for line in question.lines),
        choices=tuple(ChoiceView(id=c.id, label=c.label, style=c.style) for c in question.choices),
        note_required=question.note_required,
        note_optional=question.note_optional,
        note_prompt=question.note_prompt,
    )


@pytest.mark.parametrize("kind", ["recipient_confirm", "sender_confirm", "tell_requester"])
def test_follow_up_prompts_round_trip_with_mentions_and_answer_buttons(kind: str) -> None:
    prompt = follow_up_prompt(kind)
    blocks, text = render.outbound_blocks(prompt)
    dicts = round_trip(blocks)
    check_text_limits(dicts)
    sent = json.dumps(dicts)
    assert "{user:" not in sent and "{user:" not in text
    if kind == "recipient_confirm":
        assert "<@U0SENDER> shared information with you" in sent
    elif kind == "sender_confirm":
        assert "Northshire &lt;Police&gt; &amp; Co" in sent
    buttons = [e for d in dicts if d["type"] == "actions" for e in d["elements"]]
    assert [b["action_id"] for b in buttons] == [f"sc:fu:{c.id}" for c in prompt.choices]
    for button in buttons:  # every value reads back through the pydantic model the adapter validates with
        ref = FollowUpRef.model_validate_json(button["value"])
        assert str(ref.f) == prompt.follow_up_id and button["action_id"].endswith(ref.v)
        assert ref.n == ("r" if ref.v in prompt.note_required else "o" if ref.v in prompt.note_optional else None)


def test_mentions_only_from_tokens_after_escaping() -> None:
    assert render.mentions("{user:U1} & <@U2> {user:<!here>}") == "<@U1> &amp; &lt;@U2&gt; {user:&lt;!here&gt;}"
    assert render.unmention("Hello {user:U1}") == "Hello @U1"
    info = Info(title="Case {user:U1}", lines=("{user:U2} confirmed <b>",))
    dicts = round_trip(render.info_blocks(info))
    assert dicts[0]["text"]["text"] == "Case @U1" and dicts[1]["text"]["text"] == "<@U2> confirmed &lt;b&gt;"
    round_trip(render.answered_blocks(info))


def test_note_modal_round_trips() -> None:
    for required in (True, False):
        view = render.note_modal({"f": str(uuid.UUID(int=9)), "v": "clarification"}, "What is unclear? <x>", required)
        as_dict = view.to_dict()
        assert View(**as_dict).to_dict() == as_dict
        [note] = [b for b in as_dict["blocks"] if b["type"] == "input"]
        assert note["optional"] is (not required) and note["element"]["max_length"] == 1000


def digest(items: int, figures: int = 10, empty: bool = False) -> Digest:
    return Digest(
        title="Information sharing in your team: week to Mon 30 Nov 2026",
        period="Mon 23 Nov 2026 to Mon 30 Nov 2026 (Europe/London)",
        needs_you=tuple(
            DigestItem(case_reference=f"CS-{i:04d}<&>", text="escalated: no confirmation that it arrived")
            for i in range(items)
        ),
        figures=tuple(DigestFigure(label=f"Figure {i}", value=i, previous=5) for i in range(figures)),
        unsure=tuple(DigestFigure(label=f"Principle {i}", value=3, previous=i) for i in range(3)) if figures else (),
        worries=(DigestFigure(label="Consent <always> needed?", value=2, previous=0),) if figures else (),
        trend_label="Checks completed, last 8 weeks",
        trend=(0, 1, 4, 2, 9, 3, 0, 7) if figures else (0,) * 8,
        empty=empty,
    )


def test_digests_round_trip_actionable_items_first() -> None:
    blocks, text = render.outbound_blocks(digest(15))
    dicts = round_trip(blocks)
    check_text_limits(dicts)
    sent = json.dumps(dicts, ensure_ascii=False)
    assert sent.index("Needs you now (15)") < sent.index("Figure 0") < sent.index("not sure") < sent.index("▁")
    assert "Worries that came up (myth-busters shown): Consent &lt;always&gt; needed? (2, ↑ +2)" in sent
    assert "CS-0014&lt;&amp;&gt;" in sent and "CS-0014<" not in sent
    assert "↑ +4" in sent and "↓ −5" in sent and "→ same" in sent
    assert "15 need you" in text
    assert dicts[-1]["type"] == "context" and f"`{digest(15).sparkline()}`" in json.dumps(dicts[-1], ensure_ascii=False)
    assert len(dicts) <= 8, "compact"


def test_an_empty_digest_is_short_not_silent() -> None:
    dicts = round_trip(render.digest_blocks(digest(0, figures=0, empty=True)))
    assert "Nothing this period" in json.dumps(dicts) and len(dicts) <= 4


def test_a_digest_with_many_items_stays_within_limits() -> None:
    huge = digest(0).model_copy(
        update={
            "needs_you": tuple(DigestItem(case_reference=f"CS-{i}", text="x" * 200) for i in range(200)),
            "figures": tuple(DigestFigure(label=f"F{i}" * 20, value=i, previous=0) for i in range(30)),
        }
    )
    dicts = round_trip(render.digest_blocks(huge))
    check_text_limits(dicts)


# --- the step kinds of issue 17: forms, confirmation lists, the review screen -------------------


def demo_engine() -> Engine:
    return Engine(load_pack("steps-demo", DEMO_PACKS), LINKS)


def demo_walk(engine: Engine, until: str, what: str = "Summary of the concern, roles only.") -> DialogState:
    """The demo pack answered up to (not including) ``until``: own initiative, share, every statement true."""
    answers = {
        "start": Answer(
            step_id="start",
            fields={
                "immediate_danger": FieldAnswer(choices=("no",)),
                "request_context": FieldAnswer(choices=("own_initiative",)),
            },
        ),
        "gates": Answer(
            step_id="gates",
            fields={
                "purpose": FieldAnswer(choices=("yes",)),
                "risk_of_harm": FieldAnswer(choices=("yes",)),
                "lawful_basis": FieldAnswer(choices=("public_task",)),
            },
        ),
        "decision": Answer(step_id="decision", choices=("share",)),
        "what": Answer(step_id="what", text=what, confirm_personal_data=True),
        "recipient": Answer(step_id="recipient", recipient=Recipient(organisation="Northshire <Police>", role="DS")),
        "before_send": Answer(step_id="before_send", choices=(ALL_TRUE,)),
        "case_reference": Answer(step_id="case_reference", text="CS-2024-0113"),
    }
    state = engine.start(NOW).state
    while state.step != until:
        assert state.step is not None
        state = engine.answer(state, answers[state.step], NOW).state
    return state


def view_of(state: DialogState, engine: Engine) -> Prompt:
    message = engine.view(state)
    assert isinstance(message, Prompt)
    return message.model_copy(update={"check_id": CHECK_ID})


def modal_round_trip(view: View) -> dict[str, Any]:
    as_dict = view.to_dict()  # slack_sdk validates the view (title, blocks, metadata) and every block in it
    assert View(**as_dict).to_dict() == as_dict
    round_trip(view.blocks, render.MODAL_BLOCKS_MAX)
    return as_dict


def test_a_form_is_one_modal_with_an_input_per_field_prefilled() -> None:
    engine = demo_engine()
    state = demo_walk(engine, "gates")
    prompt = view_of(state, engine)
    dicts = round_trip(render.prompt_blocks(prompt))
    button = next(e for b in dicts if b["type"] == "actions" for e in b["elements"] if e["action_id"] == "sc:form")
    assert button["text"]["text"] == "Answer these 3 questions" and button["style"] == "primary"
    assert "Is there a clear safeguarding purpose?" in json.dumps(dicts)  # the questions are listed in the DM
    view = modal_round_trip(render.modal(prompt, "D0000001", "1764000000.000001"))
    assert view["callback_id"] == "sc:fields"
    assert json.loads(view["private_metadata"]) == {
        "c": CHECK_ID,
        "s": "gates",
        "r": prompt.revision,
        "ch": "D0000001",
        "ts": "1764000000.000001",
    }
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert [b["block_id"] for b in inputs] == ["sc_f:purpose", "sc_f:risk_of_harm", "sc_f:lawful_basis"]
    assert {b["element"]["type"] for b in inputs} == {"radio_buttons"}
    assert inputs[0]["label"]["text"] == "Is there a clear safeguarding purpose?"

    # back at the form later: the earlier answers are selected
    state = demo_walk(engine, "decision")
    again = engine.back(state, NOW).state
    view = modal_round_trip(render.modal(view_of(again, engine), "D0000001", "1"))
    picked = {
        b["block_id"]: b["element"].get("initial_option", {}).get("value")
        for b in view["blocks"]
        if b["type"] == "input"
    }
    assert picked == {"sc_f:purpose": "yes", "sc_f:risk_of_harm": "yes", "sc_f:lawful_basis": "public_task"}


def test_a_refused_form_names_each_bad_field_and_keeps_the_others() -> None:
    engine = demo_engine()
    state = demo_walk(engine, "gates")
    bad = Answer(
        step_id="gates",
        revision=state.revision,
        fields={
            "purpose": FieldAnswer(choices=("yes",)),
            "risk_of_harm": FieldAnswer(choices=("maybe",)),
            "lawful_basis": FieldAnswer(choices=("public_task",)),
        },
    )
    with pytest.raises(InvalidForm) as refusal:
        engine.answer(state, bad, NOW)
    refused = engine.refused(state, refusal.value)
    assert isinstance(refused, Prompt)
    errors = render.refusal_errors(refused, str(refusal.value), "sc_f:purpose")
    assert list(errors) == ["sc_f:risk_of_harm"] and "not one of the options" in errors["sc_f:risk_of_harm"]
    # shown again (the modal closed before the refusal came): the error above its input, the rest as submitted
    view = modal_round_trip(render.modal(refused.model_copy(update={"check_id": CHECK_ID}), "D1", "1"))
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert inputs["sc_f:purpose"]["initial_option"]["value"] == "yes"
    assert inputs["sc_f:lawful_basis"]["initial_option"]["value"] == "public_task"
    assert "initial_option" not in inputs["sc_f:risk_of_harm"]  # 'maybe' is not an option to show
    assert ":warning: That is not one of the options" in json.dumps(view["blocks"])
    # a refusal that names no field goes under the block the adapter gives
    assert render.refusal_errors(prompt_at(demo_engine(), "what"), "Too short <x>", "sc_text") == {
        "sc_text": "Too short <x>"
    }


def test_form_fields_of_every_kind_render_as_slack_inputs() -> None:
    engine = demo_engine()
    base = view_of(demo_walk(engine, "gates"), engine)
    many = tuple(ChoiceView(id=f"c{n}", label=f"Choice <{n}>") for n in range(12))
    few = many[:3]
    fields = (
        FieldSpec(id="one", label="One of few", kind=AnswerKind.SINGLE_CHOICE, choices=few, initial=("c1",)),
        FieldSpec(id="one_many", label="One of many", kind=AnswerKind.SINGLE_CHOICE, choices=many, initial=("c11",)),
        FieldSpec(id="some", label="Some of few", kind=AnswerKind.MULTI_CHOICE, choices=few, initial=("c0", "c2")),
        FieldSpec(id="some_many", label="Some of many", kind=AnswerKind.MULTI_CHOICE, choices=many, optional=True),
        FieldSpec(
            id="text",
            label="Why",
            kind=AnswerKind.FREE_TEXT,
            max_length=500,
            initial_text="As typed <b>",
            help="Roles, not names",
        ),
        FieldSpec(
            id="ref", label="Case reference", kind=AnswerKind.CASE_REFERENCE, max_length=40, placeholder="CS-2024-0113"
        ),
        FieldSpec(id="when", label="When", kind=AnswerKind.DATETIME),
    )
    prompt = base.model_copy(update={"input": base.input.model_copy(update={"fields": fields})})
    view = modal_round_trip(render.modal(prompt, "D1", "1"))
    inputs = {b["block_id"].removeprefix("sc_f:"): b for b in view["blocks"] if b["type"] == "input"}
    kinds = {k: b["element"]["type"] for k, b in inputs.items()}
    assert kinds == {
        "one": "radio_buttons",
        "one_many": "static_select",
        "some": "checkboxes",
        "some_many": "multi_static_select",
        "text": "plain_text_input",
        "ref": "plain_text_input",
        "when": "plain_text_input",
    }
    assert inputs["one_many"]["element"]["initial_option"]["value"] == "c11"
    assert [o["value"] for o in inputs["some"]["element"]["initial_options"]] == ["c0", "c2"]
    assert inputs["some_many"]["optional"] is True and inputs["one"]["optional"] is False
    text = inputs["text"]
    assert text["element"]["multiline"] is True and text["element"]["max_length"] == 500
    assert text["element"]["initial_value"] == "As typed <b>" and text["hint"]["text"] == "Roles, not names"
    assert inputs["ref"]["element"].get("multiline") in (None, False)
    assert inputs["ref"]["element"]["placeholder"]["text"] == "CS-2024-0113"
    assert "2026" in inputs["when"]["element"]["placeholder"]["text"]
    assert "Answer these 7 questions" in json.dumps(render.to_dicts(render.prompt_blocks(prompt)))


def test_a_confirmation_list_has_its_ticks_confirm_ticked_and_all_true() -> None:
    engine = demo_engine()
    state = demo_walk(engine, "before_send")
    prompt = view_of(state, engine)
    prompt = prompt.model_copy(update={"input": prompt.input.model_copy(update={"initial": ("summary",)})})
    dicts = round_trip(render.prompt_blocks(prompt))
    check_text_limits(dicts)
    boxes = [e for b in dicts if b["type"] == "actions" for e in b["elements"] if e["type"] == "checkboxes"]
    assert [o["value"] for o in boxes[0]["options"]] == ["relevant", "summary", "identities"]
    assert [o["value"] for o in boxes[0]["initial_options"]] == ["summary"]
    buttons = {
        e["action_id"]: e for b in dicts if b["type"] == "actions" for e in b["elements"] if e["type"] == "button"
    }
    assert (
        buttons["sc:choice:all_true"]["style"] == "primary"
        and buttons["sc:choice:all_true"]["text"]["text"] == "All true"
    )
    assert json.loads(buttons["sc:choice:all_true"]["value"])["v"] == ALL_TRUE
    assert buttons["sc:multi_submit"]["text"]["text"] == "Confirm ticked" and "style" not in buttons["sc:multi_submit"]
    assert not render.needs_form(prompt)


def test_the_review_shows_the_record_escaped_the_note_to_copy_save_and_changes() -> None:
    engine = demo_engine()
    state = demo_walk(engine, "review", what="Needed today " + NASTY + "*bold* ```fence``` > quote")
    prompt = view_of(state, engine)
    review = prompt.review
    assert review is not None
    # the demo pack has no covering note: give it one, with typed text in it
    note = f"Covering note for <Northshire>\nWhat: {typed(NASTY)}\nPlease confirm receipt."
    review = review.model_copy(update={"covering_note": note})
    prompt = prompt.model_copy(update={"review": review})
    dicts = round_trip(render.prompt_blocks(prompt))
    check_text_limits(dicts)
    text = json.dumps(dicts)
    assert "<!channel>" not in text and "<https://evil" not in text and "&lt;!channel&gt;" in text
    assert "*bold*" not in text  # typed emphasis is shown as look-alikes, never as markup
    assert "Northshire &lt;Police&gt;" in text
    assert "*Decision: Share*" in text and "*What is shared, and why:* Needed today &lt;!channel&gt;" in text
    assert "*Covering note for &lt;Northshire&gt;*" in text
    assert any(b["type"] == "section" and b["text"]["text"].startswith("```\nWhat: ") for b in dicts)  # to copy
    actions = next(b for b in dicts if b.get("block_id") == "sc_review")
    save, change = actions["elements"]
    assert (save["action_id"], save["style"], save["text"]["text"]) == ("sc:choice:save", "primary", "Save")
    assert change["type"] == "static_select" and change["action_id"] == "sc:change"
    picked = [json.loads(o["value"]) for o in change["options"]]
    assert all((p["c"], p["s"], p["r"]) == (CHECK_ID, "review", prompt.revision) for p in picked)
    assert [p["v"] for p in picked] == [c.id for c in review.changes]
    assert "change:gates" in [p["v"] for p in picked]
    assert not render.needs_form(prompt)
    # a long step id still fits an option's value (Slack: 150 characters)
    long_change = ChoiceView(id="change:" + "s" * 64, label="Change: a long one")
    long = prompt.model_copy(update={"review": review.model_copy(update={"changes": (long_change,)})})
    round_trip(render.prompt_blocks(long))


def test_the_progress_line_bolds_the_current_section_escaped() -> None:
    progress = Progress(sections=("Decide", "Share <now>", "Review"), current=1)
    assert render.progress_line(progress) == "Decide › *Share &lt;now&gt;* › Review"
    engine = demo_engine()
    prompt = view_of(demo_walk(engine, "what"), engine)
    assert render.progress_line(prompt.progress) == "Decide › *Share* › Review"
    assert render.prompt_fallback(prompt).startswith("Share: ")


def test_a_stale_submission_turns_the_modal_into_a_notice() -> None:
    view = modal_round_trip(render.unchanged_modal())
    assert "submit" not in view and view["close"]["text"] == "Close"
    assert "Nothing was changed" in json.dumps(view)
    why = modal_round_trip(render.unchanged_modal("That check has already finished <1>."))
    assert "&lt;1&gt;" in json.dumps(why) and "Nothing was changed" not in json.dumps(why)
