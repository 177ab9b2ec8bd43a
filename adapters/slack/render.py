"""Neutral messages -> Block Kit, built with slack_sdk.models so Slack's limits are checked on ``to_dict()``.

All text goes into mrkdwn escaped (&, <, >) and with ``verbatim`` on, so nothing a practitioner typed, and
nothing in a content pack, can mention @channel, a user or forge a link: the only links are the ones built here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    UserSelectElement,
)
from slack_sdk.models.blocks.basic_components import ConfirmObject
from slack_sdk.models.views import View

from adapters.slack import ids
from dialogs.content import AnswerKind
from dialogs.messages import (
    Cancelled,
    CitationView,
    Completion,
    Info,
    LinkView,
    Message,
    PendingList,
    Prompt,
)

# Slack's limits (https://docs.slack.dev/reference/block-kit/blocks); slack_sdk enforces them in to_dict().
HEADER_MAX = 150
SECTION_MAX = 3000
CONTEXT_TEXT_MAX = 3000
BUTTON_TEXT_MAX = 75
OPTION_TEXT_MAX = 75
ACTIONS_MAX = 25
CHECKBOX_OPTIONS_MAX = 10
MESSAGE_BLOCKS_MAX = 50
MODAL_BLOCKS_MAX = 100
MODAL_TITLE_MAX = 24
INPUT_MAX = 3000
FALLBACK_MAX = 300
"""The notification text: short, the blocks carry the message."""

Blocks = list[Block]
IMMEDIATE_RISK = ":rotating_light: Immediate risk: act first, record after. This record shows what you did."


# --- text helpers ---------------------------------------------------------------------------


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: the only three characters it needs."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = _safe_cut(text, limit - 1)
    return text[:cut].rstrip() + "…"


def _safe_cut(text: str, limit: int) -> int:
    """A cut point at or before ``limit``: at a line break or space if one is near, never inside an entity."""
    if len(text) <= limit:
        return len(text)
    cut = limit
    for sep in ("\n", " "):
        at = text.rfind(sep, limit // 2, limit)
        if at > 0:
            cut = at
            break
    amp = text.rfind("&", 0, cut)
    if amp > text.rfind(";", 0, cut):  # do not split &amp; &lt; &gt;
        cut = amp
    return cut


def split(text: str, limit: int) -> list[str]:
    """Split (already escaped) text into pieces of at most ``limit`` characters."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = _safe_cut(text, limit) or limit
        pieces.append(text[:cut])
        text = text[cut + 1 :] if text[cut] in "\n " else text[cut:]  # the separator is not carried over
    if text or not pieces:
        pieces.append(text)
    return pieces


def md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=True)


def plain(text: str, limit: int) -> PlainTextObject:
    return PlainTextObject(text=truncate(text, limit), emoji=False)


def sections(text: str) -> Blocks:
    """One or more section blocks for mrkdwn text of any length."""
    return [SectionBlock(text=md(piece)) for piece in split(text, SECTION_MAX) if piece.strip()]


def context(text: str) -> ContextBlock:
    return ContextBlock(elements=[md(truncate(text, CONTEXT_TEXT_MAX))])


def link(item: LinkView) -> str:
    url = item.url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")
    return f"<{url}|{escape(item.title).replace('|', '/')}>"


def citation(c: CitationView) -> str:
    text = escape(c.short())
    return f"{text} {link(LinkView(title='read', url=c.url))}" if c.url else text


def links_block(links: Sequence[LinkView]) -> Blocks:
    if not links:
        return []
    return sections("\n".join(f"• {link(item)}" for item in links))


def fallback(text: str) -> str:
    return escape(truncate(text, FALLBACK_MAX))


def cap(blocks: Blocks, limit: int = MESSAGE_BLOCKS_MAX) -> Blocks:
    """Keep within the block limit; what is cut is said, not silently lost."""
    if len(blocks) <= limit:
        return blocks
    return [*blocks[: limit - 1], context("(Shortened to fit Slack: the full text is in the exported record.)")]


def to_dicts(blocks: Iterable[Block]) -> list[dict[str, Any]]:
    """Serialise, which is where slack_sdk checks every limit."""
    return [block.to_dict() for block in blocks]


def value(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


def ref(prompt: Prompt) -> dict[str, Any]:
    assert prompt.check_id is not None, "a prompt shown in Slack always belongs to a stored check"
    return {"c": prompt.check_id, "s": prompt.step_id, "r": prompt.revision}


# --- a step of the check --------------------------------------------------------------------

FORM_BUTTON = {
    AnswerKind.CASE_REFERENCE: "Type the case reference",
    AnswerKind.RECIPIENT: "Choose the recipient",
    AnswerKind.DATETIME: "Give the date",
    AnswerKind.FREE_TEXT: "Type your answer",
}


def needs_form(prompt: Prompt) -> bool:
    """Typed answers are taken in a modal; choices stay as buttons in the message."""
    return not prompt.input.choices


def prompt_blocks(prompt: Prompt) -> Blocks:
    blocks: Blocks = [
        HeaderBlock(text=plain(prompt.title, HEADER_MAX)),
        context(f"{escape(prompt.pack_title)} · *{prompt.progress.label()}*"),
    ]
    if prompt.notice:
        blocks.extend(sections(f":warning: {escape(prompt.notice)}"))
    blocks.extend(sections(f"*{escape(prompt.question)}*"))
    if prompt.help:
        blocks.extend(sections(escape(prompt.help)))
    for guidance in prompt.guidance:
        blocks.extend(sections("> " + escape(guidance.text).replace("\n", "\n> ")))
        if guidance.citation:
            blocks.append(context(f"Source: {citation(guidance.citation)}"))
    if prompt.citations:
        blocks.append(context("Sources: " + "; ".join(citation(c) for c in prompt.citations)))
    blocks.extend(links_block(prompt.links))
    if prompt.input.previous:
        blocks.append(context(f"Your earlier answer: {escape(prompt.input.previous)}"))
    blocks.extend(_input_blocks(prompt))
    nav = _nav_buttons(prompt)
    if nav:
        blocks.append(ActionsBlock(block_id=ids.NAV_BLOCK, elements=nav))
    return cap(blocks)


def _input_blocks(prompt: Prompt) -> Blocks:
    spec = prompt.input
    base = ref(prompt)
    if needs_form(prompt):
        label = plain(FORM_BUTTON.get(spec.kind, "Answer"), BUTTON_TEXT_MAX)
        button = ButtonElement(text=label, action_id=ids.FORM, value=value(base), style="primary")
        return [ActionsBlock(block_id="sc_form", elements=[button])]
    if spec.multiple:
        options = [Option(value=c.id, text=plain(c.label, OPTION_TEXT_MAX)) for c in spec.choices]
        groups = [options[i : i + CHECKBOX_OPTIONS_MAX] for i in range(0, len(options), CHECKBOX_OPTIONS_MAX)]
        blocks: Blocks = [context("Tick all that apply, then *Continue*.")]
        blocks.extend(
            ActionsBlock(
                block_id=f"{ids.MULTI_BLOCK}_{n}",
                elements=[CheckboxesElement(action_id=f"{ids.MULTI}{n}", options=group)],
            )
            for n, group in enumerate(groups)
        )
        submit = ButtonElement(
            text=plain("Continue", BUTTON_TEXT_MAX), action_id=ids.MULTI_SUBMIT, value=value(base), style="primary"
        )
        blocks.append(ActionsBlock(block_id="sc_multi_submit", elements=[submit]))
        return blocks
    buttons = [
        ButtonElement(
            text=plain(c.label, BUTTON_TEXT_MAX),
            action_id=f"{ids.CHOICE}{c.id}",
            value=value({**base, "v": c.id}),
            style=c.style,
        )
        for c in spec.choices
    ]
    return [
        ActionsBlock(block_id=f"sc_choices_{n}", elements=buttons[i : i + ACTIONS_MAX])
        for n, i in enumerate(range(0, len(buttons), ACTIONS_MAX))
    ]


def _nav_buttons(prompt: Prompt) -> list[ButtonElement]:
    base = value(ref(prompt))
    buttons: list[ButtonElement] = []
    if prompt.can_go_back:
        buttons.append(ButtonElement(text=plain("Back", BUTTON_TEXT_MAX), action_id=ids.BACK, value=base))
    buttons.append(
        ButtonElement(
            text=plain("Cancel check", BUTTON_TEXT_MAX),
            action_id=ids.CANCEL,
            value=base,
            confirm=ConfirmObject(
                title="Cancel this check?",
                text="Nothing will be decided. The cancellation is recorded.",
                confirm="Cancel check",
                deny="Keep going",
            ),
        )
    )
    if prompt.urgent_exit:
        buttons.append(
            ButtonElement(
                text=plain("Someone is in immediate danger", BUTTON_TEXT_MAX),
                action_id=ids.URGENT,
                value=base,
                style="danger",
            )
        )
    return buttons


def prompt_fallback(prompt: Prompt) -> str:
    return fallback(f"{prompt.progress.label()}: {prompt.question}")


# --- the modal for a typed answer -----------------------------------------------------------


def answer_modal(prompt: Prompt, channel: str, ts: str) -> View:
    spec = prompt.input
    meta = value({**ref(prompt), "ch": channel, "ts": ts})
    blocks: Blocks = [context(f"{escape(prompt.pack_title)} · *{prompt.progress.label()}*")]
    if prompt.notice:
        blocks.extend(sections(f":warning: {escape(prompt.notice)}"))
    blocks.extend(sections(f"*{escape(prompt.question)}*"))
    if prompt.help:
        blocks.append(context(escape(prompt.help)))
    if spec.previous:
        blocks.append(context(f"Your earlier answer: {escape(spec.previous)}"))
    placeholder = plain(spec.placeholder, 150) if spec.placeholder else None
    if spec.kind is AnswerKind.RECIPIENT:
        blocks.extend(
            [
                InputBlock(
                    block_id=ids.USER_BLOCK,
                    label=plain("A colleague in this workspace", 2000),
                    element=UserSelectElement(action_id=ids.INPUT_ACTION, placeholder=plain("Pick a colleague", 150)),
                    optional=True,
                ),
                context("Or, for someone at another organisation, their organisation and role (not their name):"),
                InputBlock(
                    block_id=ids.ORG_BLOCK,
                    label=plain("Organisation", 2000),
                    element=PlainTextInputElement(action_id=ids.INPUT_ACTION, max_length=200),
                    optional=True,
                ),
                InputBlock(
                    block_id=ids.ROLE_BLOCK,
                    label=plain("Their role", 2000),
                    element=PlainTextInputElement(action_id=ids.INPUT_ACTION, max_length=200),
                    optional=True,
                ),
            ]
        )
    else:
        blocks.append(
            InputBlock(
                block_id=ids.TEXT_BLOCK,
                label=plain(prompt.title, 2000),
                element=PlainTextInputElement(
                    action_id=ids.INPUT_ACTION,
                    multiline=spec.kind is AnswerKind.FREE_TEXT,
                    max_length=max(1, min(spec.max_length, INPUT_MAX)),
                    placeholder=placeholder,
                ),
                optional=spec.optional,
            )
        )
    return View(
        type="modal",
        callback_id=ids.ANSWER_VIEW,
        title=plain("ShareCheck", MODAL_TITLE_MAX),
        submit=plain("Save answer", MODAL_TITLE_MAX),
        close=plain("Close", MODAL_TITLE_MAX),
        private_metadata=meta,
        blocks=cap(blocks, MODAL_BLOCKS_MAX),
    )


# --- outcomes and replies -------------------------------------------------------------------


def completion_blocks(done: Completion) -> Blocks:
    blocks: Blocks = [HeaderBlock(text=plain(f"Decision recorded: {done.decision_label}", HEADER_MAX))]
    if done.immediate_risk:
        blocks.extend(sections(IMMEDIATE_RISK))
    facts = [f"*Decision:* {escape(done.decision_label)}"]
    if done.case_reference:
        facts.insert(0, f"*Case reference:* {escape(done.case_reference)}")
    blocks.extend(sections("\n".join(facts)))
    if done.reasons:
        blocks.extend(sections(f"*Reasons*\n{escape(done.reasons)}"))
    if done.next_steps:
        blocks.extend(sections("*Next steps*\n" + "\n".join(f"• {escape(s)}" for s in done.next_steps)))
    if done.unsure:
        blocks.append(context("You were unsure about: " + escape("; ".join(done.unsure)) + ". Your lead can help."))
    blocks.append(DividerBlock())
    blocks.extend(sections("*Copy this into the case notes:*"))
    # ``` keeps the notes monospaced and one click to select; each piece must fit a section with its fences
    for piece in split(escape(done.case_notes), SECTION_MAX - 8):
        blocks.append(SectionBlock(text=md(f"```\n{piece}\n```")))
    blocks.extend(links_block(done.links))
    return cap(blocks)


def completion_fallback(done: Completion) -> str:
    return fallback(f"Decision recorded: {done.decision_label}")


def finished_blocks(done: Completion) -> Blocks:
    """What the check message becomes once the summary is posted below it (its buttons go away)."""
    return sections(f":white_check_mark: Check finished: *{escape(done.decision_label)}*. The summary is below.")


def cancelled_blocks(cancelled: Cancelled) -> Blocks:
    return sections(escape(cancelled.text))


def info_blocks(info: Info) -> Blocks:
    blocks: Blocks = [HeaderBlock(text=plain(info.title, HEADER_MAX))]
    for line in info.lines:
        blocks.extend(sections(escape(line)))
    blocks.extend(links_block(info.links))
    return cap(blocks)


def pending_blocks(pending: PendingList) -> Blocks:
    blocks: Blocks = [HeaderBlock(text=plain("Still open for you", HEADER_MAX))]
    if not pending.items:
        blocks.extend(sections(escape(pending.empty_text)))
    for item in pending.items:
        ref_text = escape(item.case_reference) if item.case_reference else "No case reference yet"
        blocks.extend(sections(f"*{ref_text}*: {escape(item.status)}"))
    if any(item.kind == "check_in_progress" for item in pending.items):
        blocks.append(context("Type `/share-check resume` to carry on with your check."))
    return cap(blocks)


def message_blocks(message: Message) -> tuple[Blocks, str]:
    """Blocks and notification text for a message that goes into the check's DM."""
    if isinstance(message, Prompt):
        return prompt_blocks(message), prompt_fallback(message)
    if isinstance(message, Completion):
        return completion_blocks(message), completion_fallback(message)
    return cancelled_blocks(message), fallback(message.text)
