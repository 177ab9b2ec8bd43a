"""Every card the Teams adapter can send, against the official Adaptive Card 1.5 schema; plain-text safety."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.teams.agent import TEAMS
from adapters.teams.cards import TEAMS_EXTENSIONS, escape_markdown, render, render_info, render_notice
from adapters.teams.parse import UnknownAction, mentions, parse_execute, parse_submit, parse_typed
from bot.conversation.commands import AnswerStep, Cancel, FollowUpAnswer, Help, NameColleague, Revoke, Start
from bot.conversation.wording import Wording
from dialogs.content import available_packs, load_pack
from dialogs.engine import Engine
from dialogs.messages import Cancelled, Completion, Info, PendingItem, PendingList, Prompt
from dialogs.state import DialogState
from tests.support.adaptive_cards import HOSTILE, NOW, _text_blocks, assert_valid, card_validator
from tests.support.flows import explore

CARD_WIDTH_CHARS = 60
"""About how many characters of body text fit on a line of a card in a Teams chat."""
SUMMARY_LINES_MAX = 24
"""The summary's visible part, in such lines: the whole card fits a chat window (it was 76 lines with every
answer as a 'label: value' line and two editable copy boxes)."""


def _wrapped(text: str) -> int:
    return sum(max(1, -(-len(part) // CARD_WIDTH_CHARS)) for part in text.split("\n"))


def visible_lines(node: Any) -> int:
    """An approximate height: lines of text (wrapped at CARD_WIDTH_CHARS) a reader sees before pressing anything.

    Hidden elements count nothing; an input box counts its label and rows, a row of buttons two lines.
    """
    if isinstance(node, list):
        return sum(visible_lines(n) for n in node)
    if not isinstance(node, dict) or node.get("isVisible") is False:
        return 0
    kind = node.get("type")
    if kind == "TextBlock":
        return _wrapped(node["text"])
    if kind == "RichTextBlock":
        return _wrapped("".join(i["text"] for i in node["inlines"]))
    if kind == "Input.Text":
        return 1 + (4 if node.get("isMultiline") else 1)
    if kind == "FactSet":
        return len(node["facts"])
    if kind == "ActionSet":
        return 2
    if kind == "Container":
        return visible_lines(node["items"])
    if kind == "AdaptiveCard":
        return visible_lines(node["body"]) + (2 if node.get("actions") else 0)
    return 1


def copied(container: dict[str, Any]) -> str:
    """The text a reader copies from a copyable container: its monospaced lines, one TextRun each."""
    lines = [run for item in container["items"] if item["type"] == "RichTextBlock" for run in item["inlines"]]
    assert all(run["fontType"] == "Monospace" for run in lines)
    return "\n".join(run["text"] for run in lines)


def prompts(engine: Engine) -> Iterator[Prompt]:
    """Every step of the pack, fresh, and again as revisited with an earlier answer and a notice."""
    start = engine.start(NOW).state
    for step in engine.pack.steps:
        state = start.model_copy(update={"step": step.id, "history": [engine.pack.start]})
        view = engine.view(state)
        assert isinstance(view, Prompt)
        yield view.model_copy(update={"check_id": "5f0c6f8e-0000-4000-8000-000000000001"})
        spec = view.input.model_copy(update={"previous": HOSTILE})
        yield view.model_copy(update={"input": spec, "notice": HOSTILE, "urgent_exit": False, "can_go_back": False})


def completions(engine: Engine) -> Iterator[Completion]:
    _, finished = explore(engine, NOW, max_walks=400)
    seen: set[tuple[str, bool]] = set()
    for state in finished:
        done = engine.view(state)
        assert isinstance(done, Completion)
        key = (done.decision, done.immediate_risk)
        if key not in seen:
            seen.add(key)
            yield done


@pytest.mark.parametrize("pack_id", available_packs())
@pytest.mark.parametrize("style", ["execute", "submit"])
def test_every_step_and_summary_is_a_valid_card(pack_id: str, style: str) -> None:
    engine = Engine(load_pack(pack_id))
    count = 0
    for prompt in prompts(engine):
        assert_valid(render(prompt, style))  # type: ignore[arg-type]
        count += 1
    assert count == 2 * len(engine.pack.steps)
    done = list(completions(engine))
    assert done
    for completion in done:
        card = render(completion, style)  # type: ignore[arg-type]
        assert_valid(card)
        [notes] = [b for b in card["body"] if b.get("id") == "sc_case_notes"]
        assert notes["type"] == "Container" and notes["isVisible"] is False, "behind a toggle, not an input box"
        assert copied(notes) == completion.case_notes
        assert not [b for b in card["body"] if b["type"].startswith("Input.")], "nothing on a summary is editable"
        assert visible_lines(card) <= SUMMARY_LINES_MAX, (completion.decision, visible_lines(card))


@pytest.mark.parametrize("style", ["execute", "submit"])
def test_info_pending_welcome_and_notices_are_valid_cards(style: str) -> None:
    pack = load_pack("children-england-2024")
    words = Wording(TEAMS)
    text = words.content
    help_info = Info(
        title=words(text.help.title),
        lines=words.lines(text.help.lines, pack_title=pack.title, pack_version=pack.version),
    )
    welcome = Info(title=words(text.welcome.title), lines=words.lines(text.welcome.lines))
    messages: list[Any] = [
        help_info,
        Info(title="No check in progress", lines=("Message me `share-check` to start one.",)),
        Cancelled(),
        PendingList(),
        PendingList(
            items=(
                PendingItem(kind="check_in_progress", case_reference=HOSTILE, status="step 4 of 12", check_id="c1"),
                PendingItem(kind="follow_up", case_reference=None, status="awaiting confirmation", check_id="c2"),
            )
        ),
    ]
    for message in messages:
        assert_valid(render(message, style))  # type: ignore[arg-type]
    assert_valid(render_info(welcome, style, start_button=True))  # type: ignore[arg-type]
    assert_valid(render_notice(HOSTILE))
    assert_valid(render_notice(words(text.closed)))
    assert "**share-check**" in json.dumps(render_notice(words(text.closed))), "a command to type shows in bold"


def test_typed_text_is_never_parsed_as_markdown() -> None:
    engine = Engine(load_pack("children-england-2024"))
    prompt = next(p for p in prompts(engine) if p.notice)
    card = render(prompt, "execute")
    assert not any("evil.example" in t for t in _text_blocks(card)), "typed text must sit in TextRuns, not TextBlocks"
    runs = json.dumps(card)
    assert json.dumps(HOSTILE)[1:-1] in runs  # shown exactly as typed
    assert escape_markdown("**a** [b](c)") == r"\*\*a\*\* \[b\]\(c\)"


def test_choices_render_as_buttons_or_a_multi_select() -> None:
    engine = Engine(load_pack("children-england-2024"))
    for prompt in prompts(engine):
        card = render(prompt, "submit")
        text = json.dumps(card)
        if prompt.input.multiple:
            assert '"isMultiSelect": true' in text
        elif prompt.input.choices and len(prompt.input.choices) <= 5:
            for choice in prompt.input.choices:
                assert f'"sc_choice": "{choice.id}"' in text
        if prompt.urgent_exit:
            assert "Someone is in immediate danger" in text
        assert f'"revision": {prompt.revision}' in text and f'"step_id": "{prompt.step_id}"' in text


def test_parsing_card_actions() -> None:
    data = {"sc_verb": "answer", "check_id": "5f0c6f8e-0000-4000-8000-000000000001", "step_id": "s", "revision": 3}
    submit = parse_submit({**data, "sc_choice": "a,b", "msteams": {"x": 1}})
    assert submit.style == "submit" and submit.data.answer().choices == ("a", "b")
    execute = parse_execute({"action": {"type": "Action.Execute", "verb": "answer", "data": {**data, "sc_text": "x"}}})
    assert execute.style == "execute" and execute.data.answer().text == "x" and execute.data.answer().revision == 3
    recipient = parse_submit({**data, "sc_org": " Police ", "sc_role": ""}).data.answer().recipient
    assert recipient is not None and recipient.organisation == "Police" and recipient.role is None
    for bad in (None, "x", {"sc_verb": "delete_everything"}, {**data, "revision": "many"}, {**data, "check_id": "1"}):
        with pytest.raises(UnknownAction):
            parse_submit(bad)
    with pytest.raises(UnknownAction):
        parse_execute({"action": {"type": "Action.Submit"}})
    # each button is one neutral command; one that does not say enough for it is not ours
    assert isinstance(submit.command, AnswerStep) and submit.command.answer.choices == ("a", "b")
    cancel = parse_submit({**data, "sc_verb": "cancel"}).command
    assert isinstance(cancel, Cancel) and cancel.revision == 3 and str(cancel.check_id) == data["check_id"]
    assert isinstance(parse_submit({"sc_verb": "start"}).command, Start)
    for vague in ({"sc_verb": "answer", "step_id": "s"}, {"sc_verb": "follow_up", "sc_choice": "x"}):
        with pytest.raises(UnknownAction):
            parse_submit(vague)
    # typed text reads the one grammar of every surface; who is meant comes from the mention entities
    assert isinstance(parse_typed(" Share-Check ", []), Start) and isinstance(parse_typed("/help", []), Help)
    assert isinstance(parse_typed("tell me a joke", []), Help)
    assert isinstance(parse_typed(None, []), Help) and isinstance(parse_typed("  ", []), Help), "no words: help"
    assert parse_typed("revoke CS-1.", []) == Revoke(case_reference="CS-1")
    entities = [
        {"type": "mention", "text": "<at>ShareCheck</at>", "mentioned": {"id": "28:bot"}},
        {"type": "mention", "text": "<at>Jo</at>", "mentioned": {"id": "29:jo"}},
    ]
    people = mentions(entities, "28:bot")
    assert parse_typed("send it to <at>Jo</at>", people) == NameColleague(user_ids=("29:jo",))


def test_empty_progress_state_is_a_prompt() -> None:
    # sanity for prompts(): a state positioned on a step renders as that step
    engine = Engine(load_pack("adults-england"))
    state: DialogState = engine.start(NOW).state
    assert isinstance(engine.view(state), Prompt)


# --- follow-ups, notices and digests ------------------------------------------------------------


def follow_up_prompts() -> Iterator[Any]:
    from bot.followups.content import followup_content
    from dialogs.messages import ChoiceView, FollowUpPrompt

    content = followup_content()
    values = {
        "sender": "{user:29:sender}",
        "target": "{user:29:target}",
        "recipient": HOSTILE,
        "case_reference": "CS_2024_0113",
        "method": "secure email",
        "shared_on": "24 Nov 2026",
        "receipt_hint": "",
    }
    for kind in ("recipient_confirm", "sender_confirm", "tell_requester"):
        q = content.question(kind)
        for prefix in ("", content.nudge_prefix):
            yield FollowUpPrompt(
                follow_up_id="5f0c6f8e-0000-4000-8000-000000000009",
                title=prefix + q.title,
                lines=tuple(line.format(**values) for line in q.lines),
                choices=tuple(ChoiceView(id=c.id, label=c.label, style=c.style) for c in q.choices),
                note_required=q.note_required,
                note_optional=q.note_optional,
                note_prompt=q.note_prompt,
            )


@pytest.mark.parametrize("style", ["execute", "submit"])
def test_follow_up_cards_are_valid_and_carry_their_answers(style: str) -> None:
    from adapters.teams.cards import render_follow_up, render_note_needed
    from adapters.teams.parse import parse_execute

    for prompt in follow_up_prompts():
        card = render_follow_up(prompt, style, viewer="29:target")  # type: ignore[arg-type]
        assert_valid(card)
        text = json.dumps(card)
        assert "29:" not in text.replace(prompt.follow_up_id, ""), "no raw ids in what people read"
        assert "{user:" not in text
        for choice in prompt.choices:
            assert f'"sc_choice": "{choice.id}"' in text
        # the sender's description of the recipient is plain text, not markdown
        assert not any("evil.example" in t for t in _text_blocks(card))
    assert_valid(render_note_needed("5f0c6f8e-0000-4000-8000-000000000009", "clarification", "What?", style))  # type: ignore[arg-type]
    data = {
        "sc_verb": "follow_up",
        "follow_up_id": "5f0c6f8e-0000-4000-8000-000000000009",
        "sc_choice": "clarification",
    }
    parsed = parse_execute(
        {
            "action": {
                "type": "Action.Execute",
                "verb": "follow_up",
                "data": {**data, "sc_note_clarification": "which school?", "sc_note_confirmed": "not this one"},
            }
        }
    )
    assert parsed.data.note == "which school?" and str(parsed.data.follow_up_id).startswith("5f0c6f8e")
    assert isinstance(parsed.command, FollowUpAnswer) and parsed.command.note == "which school?"
    with pytest.raises(UnknownAction):
        parse_submit({**data, "follow_up_id": "not-a-uuid"})


def test_people_are_neutral_words() -> None:
    from adapters.teams.cards import people

    assert people("{user:U1} shared with {user:U2}; {user:U1} again") == (
        "A colleague shared with another colleague; a colleague again"
    )
    assert people("Sent by {user:U1}. {user:ME} asked", viewer="ME") == "Sent by a colleague. You asked"
    # the reader as a sentence's subject: 'you are', never 'you is'
    assert (
        people("{user:ME} is now a lead; {user:U1} was not", viewer="ME") == "You are now a lead; a colleague was not"
    )


def test_outcomes_and_digests_are_valid_cards() -> None:
    from adapters.teams.cards import render_digest, render_outcome
    from dialogs.messages import Digest, DigestFigure, DigestItem

    note = Info(title="Case CS_1: {user:29:a}", lines=(f"{{user:29:b}} asked: “{HOSTILE}”",))
    card = render_outcome(note, viewer="29:a")
    assert_valid(card)
    assert "29:" not in json.dumps(card) and not any("evil.example" in t for t in _text_blocks(card))
    assert "actions" not in card

    empty = Digest(title="Information sharing in your team", period="Mon to Mon", empty=True, trend=(0,) * 8)
    card = render_digest(empty)
    assert_valid(card)
    assert "Nothing this period" in json.dumps(card)
    full = Digest(
        title="Information sharing in your team",
        period="Mon 16 Nov 2026 to Mon 23 Nov 2026 (Europe/London)",
        needs_you=tuple(
            DigestItem(case_reference=f"CS-{i:04d}_x*", text="overdue: still no confirmation") for i in range(15)
        ),
        figures=tuple(DigestFigure(label=f"Figure {i}", value=i * 3, previous=i) for i in range(10)),
        unsure=(DigestFigure(label="Necessary and proportionate", value=4, previous=1),),
        worries=(DigestFigure(label="Consent is always needed", value=2, previous=0),),
        trend_label="Checks completed, last 8 weeks",
        trend=(0, 3, 8, 2, 0, 14, 9, 21),
    )
    card = render_digest(full)
    assert_valid(card)
    text = json.dumps(card, ensure_ascii=False)
    assert text.index("Needs you now") < text.index("This period"), "actionable items first"
    assert full.sparkline() in text and "+18 on the period before" in text
    assert text.index("Worries that came up (myth-busters shown)") < text.index("Consent is always needed")


def test_the_summary_shows_headline_decision_and_next_steps_first_and_the_notes_behind_toggles() -> None:
    engine = Engine(load_pack("children-england-2024"))
    done = next(c for c in completions(engine) if c.decision == "share" and c.covering_note and c.next_steps)
    card = render(done, "execute")
    assert_valid(card)
    body = card["body"]
    text = json.dumps(body, ensure_ascii=False)
    headline = text.index(f"Decision recorded: {done.decision_label}")
    assert headline < text.index("What happens next") < text.index("Case notes to copy")
    assert text.index(done.next_steps[0][:40]) < text.index("Copy this into the case notes")
    # every toggle opens a hidden container that holds text to copy, right under the toggles
    [toggles] = [b for b in body if b["type"] == "ActionSet"]
    targets = [t for a in toggles["actions"] for t in a["targetElements"]]
    hidden = {b["id"]: b for b in body if b.get("isVisible") is False}
    assert targets == ["sc_case_notes", "sc_covering_note"] and set(targets) == set(hidden)
    assert done.covering_note is not None and copied(hidden["sc_covering_note"]) in done.covering_note
    # short before a press; everything after both toggles (the notes are long)
    shown = visible_lines(card)
    opened = visible_lines({**card, "body": [{**b, "isVisible": True} for b in body]})
    assert shown <= SUMMARY_LINES_MAX < opened, (shown, opened)
    titles = [a["title"] for a in card["actions"]]
    assert titles[:2] == ["What is still open", "Start a new check"]


def test_the_people_picker_is_the_one_teams_extension_and_only_it_is_outside_the_schema() -> None:
    assert TEAMS_EXTENSIONS == {"Input.ChoiceSet": ("choices.data",)}
    engine = Engine(load_pack("children-england-2024"))
    recipient = next(p for p in prompts(engine) if p.input.kind.value == "recipient")
    card = render(recipient, "execute")
    assert_valid(card)
    # against the plain 1.5 schema, the picker's choices.data is the one and only error
    plain_errors = list(card_validator(teams_extensions=False).iter_errors(card))
    assert len(plain_errors) == 1 and "choices.data" in plain_errors[0].message
    [picker] = [b for b in card["body"] if b.get("id") == "sc_person"]
    assert picker["choices.data"] == {"type": "Data.Query", "dataset": "graph.microsoft.com/users"}
    # nothing else on any card uses it
    for prompt in prompts(engine):
        if prompt.input.kind.value != "recipient":
            assert "choices.data" not in json.dumps(render(prompt, "submit"))
