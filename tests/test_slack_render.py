"""Block Kit rendering: every step of every pack round-trips through slack_sdk.models within Slack's limits."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from adapters.slack import render
from adapters.slack.parse import FollowUpRef
from bot.followup_content import followup_content
from bot.services.help import help_message
from dialogs.content import AnswerKind, available_packs, load_pack
from dialogs.engine import Engine
from dialogs.messages import (
    Cancelled,
    ChoiceView,
    CitationView,
    Completion,
    Digest,
    DigestFigure,
    DigestItem,
    FollowUpPrompt,
    Info,
    LinkView,
    MythView,
    PendingItem,
    PendingList,
    Prompt,
    SummaryLine,
)
from dialogs.state import DialogState
from tests.support.flows import explore

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


def round_trip(blocks: list[Block], limit: int = render.MESSAGE_BLOCKS_MAX) -> list[dict[str, Any]]:
    dicts = render.to_dicts(blocks)  # slack_sdk checks its limits here
    assert 1 <= len(dicts) <= limit
    for d in dicts:
        parsed = Block.parse(d)
        assert parsed is not None, d  # parse() returns None for a type it does not know
        assert parsed.to_dict() == d
    return dicts


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


def every_prompt() -> list[tuple[str, Engine, str]]:
    cases = []
    for pack_id in available_packs():
        engine = Engine(load_pack(pack_id), LINKS)
        cases.extend((pack_id, engine, step.id) for step in engine.pack.steps)
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
    text = json.dumps(dicts, ensure_ascii=False)  # the progress line has "›"
    assert prompt.progress.label() in text
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
        view = render.answer_modal(prompt, "D0000001", "1764000000.000001")
        as_dict = view.to_dict()
        assert View(**as_dict).to_dict() == as_dict
        round_trip(view.blocks, render.MODAL_BLOCKS_MAX)
        assert len(as_dict["private_metadata"]) <= 3000 and len(as_dict["title"]["text"]) <= 24
        kinds = {b["element"]["type"] for b in as_dict["blocks"] if b["type"] == "input"}
        assert kinds == (
            {"users_select", "plain_text_input"} if prompt.input.kind is AnswerKind.RECIPIENT else {"plain_text_input"}
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
    base = prompt_at(engine, "identifiable")
    myths = tuple(
        MythView(title=f"Myth {n}: {NASTY}", text=(NASTY * 3 + "\n") * 3, citation=CITATION) for n in range(4)
    )
    dicts = round_trip(render.prompt_blocks(base.model_copy(update={"myths": myths})))
    check_text_limits(dicts)
    text = json.dumps(dicts)
    assert "<!channel>" not in text and "<https://evil" not in text
    assert text.count("[non-statutory advice]") == 4 and "Information sharing &lt;advice&gt; (2024)" in text
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
    round_trip(render.info_blocks(help_message(pack, "/share-check", LINKS)))
    empty = round_trip(render.pending_blocks(PendingList()))
    assert [e["action_id"] for b in empty if b["type"] == "actions" for e in b["elements"]] == ["sc:start"]
    assert "sc:start" in json.dumps(round_trip(render.no_check_blocks()))
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
