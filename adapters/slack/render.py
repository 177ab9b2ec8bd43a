"""Neutral messages -> Block Kit, built with slack_sdk.models so Slack's limits are checked on ``to_dict()``.

All text goes into mrkdwn escaped (&, <, >) and with ``verbatim`` on, so nothing a practitioner typed, and
nothing in a content pack, can mention @channel, a user or forge a link: the only links are the ones built here.
"""

from __future__ import annotations

import json
import re
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
    RadioButtonsElement,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.blocks.basic_components import ConfirmObject
from slack_sdk.models.blocks.block_elements import InputInteractiveElement
from slack_sdk.models.views import View

from adapters.slack import ids
from bot.conversation.replies import Shown
from bot.conversation.wording import shared_copy
from dialogs import text_safety
from dialogs.content import AnswerKind
from dialogs.messages import (
    ALL_TRUE,
    Cancelled,
    CitationView,
    Completion,
    Digest,
    DigestFigure,
    FieldSpec,
    FollowUpPrompt,
    Info,
    LinkView,
    Message,
    MythView,
    Outbound,
    PendingList,
    Progress,
    Prompt,
    ReviewView,
)
from dialogs.tokens import render_commands

# Slack's limits (https://docs.slack.dev/reference/block-kit/blocks); slack_sdk enforces them in to_dict().
HEADER_MAX = 150
SECTION_MAX = 3000
CONTEXT_TEXT_MAX = 3000
BUTTON_TEXT_MAX = 75
OPTION_TEXT_MAX = 75
ACTIONS_MAX = 25
CHECKBOX_OPTIONS_MAX = 10
RADIO_OPTIONS_MAX = 10
SELECT_OPTIONS_MAX = 100
PLACEHOLDER_MAX = 150
LABEL_MAX = 2000
"""An input block's label and hint."""
ERROR_MAX = 500
"""A modal's error under an input (Slack shows it as plain text; keep it a sentence or two)."""
MESSAGE_BLOCKS_MAX = 50
MODAL_BLOCKS_MAX = 100
MODAL_TITLE_MAX = 24
INPUT_MAX = 3000
FIELDS_MAX = 10
"""Fields in one section block."""
FALLBACK_MAX = 300
"""The notification text: short, the blocks carry the message."""

Blocks = list[Block]


# --- text helpers ---------------------------------------------------------------------------


def _entities(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: the only three characters it needs; typed parts by the typed-text rule."""
    return text_safety.render(text, text_safety.slack_mrkdwn, _entities)


def typed_mrkdwn(text: str) -> str:
    """Text wholly typed by a person (a reason, an earlier answer), for mrkdwn."""
    return text_safety.slack_mrkdwn(text)


def untrusted(text: str) -> str:
    """Text that may hold typed parts, marked or not (a record line's value): all of it by the typed-text rule."""
    return text_safety.render(text, text_safety.slack_mrkdwn, text_safety.slack_mrkdwn)


SLASH_COMMAND = "/share-check"
"""The app's slash command, as declared in its manifest."""

USER_TOKEN = re.compile(r"\{user:([A-Z0-9]{1,20})\}")
"""``{user:ID}`` in neutral text (dialogs/messages.py): Slack user ids are upper-case letters and digits."""


def _mention(text: str) -> str:
    mentioned = USER_TOKEN.sub(lambda m: f"<@{m.group(1)}>", _entities(text))
    return render_commands(mentioned, f"`{SLASH_COMMAND} {{words}}`")


def mentions(text: str) -> str:
    """Escape ``text``, then turn its ``{user:ID}`` tokens into mentions and its commands into slash commands.

    Escaping first means only the tokens the services wrote can become ``<@...>``; tokens are expanded only
    outside the typed parts, which go through the typed-text rule (dialogs/text_safety.py) instead.
    """
    return text_safety.render(text, text_safety.slack_mrkdwn, _mention)


def _unmention(text: str) -> str:
    return render_commands(USER_TOKEN.sub(lambda m: f"@{m.group(1)}", text), f"{SLASH_COMMAND} {{words}}")


def unmention(text: str) -> str:
    """Plain text (headers, notifications) cannot mention anyone: a token becomes the id with an @."""
    return text_safety.render(text, text_safety.plain, _unmention)


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
    return PlainTextObject(text=truncate(text_safety.render(text, text_safety.plain), limit), emoji=False)


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
    """Typed answers and forms are taken in a modal; choices, lists to tick and the review stay in the message."""
    kind = prompt.input.kind
    if kind is AnswerKind.FORM:
        return True
    if kind in (AnswerKind.CONFIRM_LIST, AnswerKind.REVIEW):
        return False
    return not prompt.input.choices


def progress_line(progress: Progress) -> str:
    """The check's sections with the current one in bold ('Decide › *Share* › Review'): never a count."""
    return " › ".join(
        f"*{escape(title)}*" if n == progress.current else escape(title) for n, title in enumerate(progress.sections)
    )


def where_line(prompt: Prompt) -> ContextBlock:
    return context(f"{escape(prompt.pack_title)} · {progress_line(prompt.progress)}")


def prompt_blocks(prompt: Prompt) -> Blocks:
    blocks: Blocks = [HeaderBlock(text=plain(prompt.title, HEADER_MAX)), where_line(prompt)]
    if prompt.contacts:
        # who to call comes before anything else to read on the immediate-danger path
        calls = "\n".join(f"• {escape(c.label)}: *{escape(c.contact)}*" for c in prompt.contacts)
        blocks.extend(sections(f":rotating_light: *Call now*\n{calls}"))
    if prompt.notice:
        blocks.extend(sections(f":warning: {escape(prompt.notice)}"))
    for myth in prompt.myths:
        blocks.extend(myth_blocks(myth))
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
        blocks.append(context(f"Your earlier answer: {typed_mrkdwn(prompt.input.previous)}"))
    blocks.extend(_input_blocks(prompt))
    nav = _nav_buttons(prompt)
    if nav:
        blocks.append(ActionsBlock(block_id=ids.NAV_BLOCK, elements=nav))
    return cap(blocks)


def myth_blocks(myth: MythView) -> Blocks:
    """A myth-buster at the point of hesitation: the worry answered in a few lines, with its source and authority."""
    return [
        *sections(f":bulb: *{escape(myth.title)}*\n{escape(myth.text)}"),
        context(f"Source: {citation(myth.citation)}"),
    ]


def _input_blocks(prompt: Prompt) -> Blocks:
    spec = prompt.input
    base = ref(prompt)
    if spec.kind is AnswerKind.FORM:
        return _form_button(prompt)
    if spec.kind is AnswerKind.CONFIRM_LIST:
        return _confirm_list(prompt)
    if spec.kind is AnswerKind.REVIEW and prompt.review is not None:
        return _review(prompt, prompt.review)
    if needs_form(prompt):
        label = plain(FORM_BUTTON.get(spec.kind, "Answer"), BUTTON_TEXT_MAX)
        button = ButtonElement(text=label, action_id=ids.FORM, value=value(base), style="primary")
        return [ActionsBlock(block_id="sc_form", elements=[button])]
    if spec.multiple:
        blocks: Blocks = [context("Tick all that apply, then *Continue*."), *_checkbox_groups(prompt)]
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


def _checkbox_groups(prompt: Prompt) -> Blocks:
    """The choices as checkboxes in the message, ten to an element (Slack's limit), those ticked before ticked.

    ``parse.multi_answer`` reads the ticks of every group back from the clicked message's state."""
    spec = prompt.input
    options = [Option(value=c.id, text=plain(c.label, OPTION_TEXT_MAX)) for c in spec.choices]
    groups = [options[i : i + CHECKBOX_OPTIONS_MAX] for i in range(0, len(options), CHECKBOX_OPTIONS_MAX)]
    blocks: Blocks = []
    for n, group in enumerate(groups):
        ticked = [o for o in group if o.value in spec.initial]
        element = CheckboxesElement(action_id=f"{ids.MULTI}{n}", options=group, initial_options=ticked or None)
        blocks.append(ActionsBlock(block_id=f"{ids.MULTI_BLOCK}_{n}", elements=[element]))
    return blocks


def _confirm_list(prompt: Prompt) -> Blocks:
    """'Before you send, confirm': tick the true statements and *Confirm ticked*, or all at once with *All true*."""
    spec = prompt.input
    base = ref(prompt)
    how = "Tick each statement that is true, then *Confirm ticked*."
    if spec.all_label:
        how += f" If every one is true, *{escape(spec.all_label)}*."
    buttons: list[ButtonElement] = []
    if spec.all_label:
        buttons.append(
            ButtonElement(
                text=plain(spec.all_label, BUTTON_TEXT_MAX),
                action_id=f"{ids.CHOICE}{ALL_TRUE}",
                value=value({**base, "v": ALL_TRUE}),
                style="primary",
            )
        )
    buttons.append(
        ButtonElement(text=plain("Confirm ticked", BUTTON_TEXT_MAX), action_id=ids.MULTI_SUBMIT, value=value(base))
    )
    return [context(how), *_checkbox_groups(prompt), ActionsBlock(block_id="sc_confirm", elements=buttons)]


def _review(prompt: Prompt, review: ReviewView) -> Blocks:
    """The record as Save will keep it, the covering note to check, then Save or 'change an answer'."""
    base = ref(prompt)
    lines = [f"*Decision: {escape(review.decision_label)}*", ""]
    # the values hold what was typed (reasons, roles, references): every one by the typed-text rule
    lines.extend(f"*{escape(line.label)}:* {untrusted(line.value)}" for line in review.lines)
    blocks: Blocks = sections("\n".join(lines))
    if review.covering_note:
        blocks.extend(covering_note_blocks(review.covering_note))
        blocks.append(context("The covering note, as it will be given to you to send with the information."))
    elements: list[ButtonElement | StaticSelectElement] = [
        ButtonElement(
            text=plain(c.label, BUTTON_TEXT_MAX),
            action_id=f"{ids.CHOICE}{c.id}",
            value=value({**base, "v": c.id}),
            style=c.style if c.style in ("primary", "danger") else None,
        )
        for c in prompt.input.choices
    ]
    if review.changes:
        options = [
            Option(value=value({**base, "v": c.id}), text=plain(c.label, OPTION_TEXT_MAX))
            for c in review.changes[:SELECT_OPTIONS_MAX]
        ]
        elements.append(
            StaticSelectElement(
                action_id=ids.CHANGE,
                placeholder=plain("Change an answer…", PLACEHOLDER_MAX),
                options=options,
            )
        )
    return [*blocks, ActionsBlock(block_id="sc_review", elements=elements)]


def _form_button(prompt: Prompt) -> Blocks:
    """A form's questions listed in the message; one button opens them all in one modal."""
    fields = prompt.input.fields
    lines = []
    for spec in fields:
        line = f"• {escape(spec.label)}" + (" (optional)" if spec.optional else "")
        if spec.error:
            line += f"\n    :warning: {escape(spec.error)}"
        lines.append(line)
    label = "Answer this question" if len(fields) == 1 else f"Answer these {len(fields)} questions"
    button = ButtonElement(
        text=plain(label, BUTTON_TEXT_MAX), action_id=ids.FORM, value=value(ref(prompt)), style="primary"
    )
    return [*sections("\n".join(lines)), ActionsBlock(block_id="sc_form", elements=[button])]


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
    return fallback(f"{prompt.progress.section}: {prompt.question}")


# --- the modals for a typed answer and for a form ---------------------------------------------


def modal(prompt: Prompt, channel: str, ts: str) -> View:
    """The modal that answers ``prompt`` (a step where ``needs_form``); ``channel``/``ts`` is its DM message."""
    if prompt.input.kind is AnswerKind.FORM:
        return form_modal(prompt, channel, ts)
    return answer_modal(prompt, channel, ts)


def _modal(blocks: Blocks, callback_id: str | None = None, submit: str | None = None, meta: str | None = None) -> View:
    """One of our modals: titled ShareCheck with Close; with ``submit``, a submit button and what it answers."""
    return View(
        type="modal",
        callback_id=callback_id,
        title=plain("ShareCheck", MODAL_TITLE_MAX),
        submit=plain(submit, MODAL_TITLE_MAX) if submit else None,
        close=plain("Close", MODAL_TITLE_MAX),
        private_metadata=meta,
        blocks=blocks,
    )


def answer_modal(prompt: Prompt, channel: str, ts: str) -> View:
    spec = prompt.input
    meta = value({**ref(prompt), "ch": channel, "ts": ts})
    blocks: Blocks = [where_line(prompt)]
    if prompt.notice:
        blocks.extend(sections(f":warning: {escape(prompt.notice)}"))
    blocks.extend(sections(f"*{escape(prompt.question)}*"))
    if prompt.help:
        blocks.append(context(escape(prompt.help)))
    if spec.previous:
        blocks.append(context(f"Your earlier answer: {typed_mrkdwn(spec.previous)}"))
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
    return _modal(cap(blocks, MODAL_BLOCKS_MAX), ids.ANSWER_VIEW, "Save answer", meta)


def form_modal(prompt: Prompt, channel: str, ts: str) -> View:
    """A form as one modal: an input per field, prefilled with the earlier (or refused) answers."""
    meta = value({**ref(prompt), "ch": channel, "ts": ts})
    blocks: Blocks = [where_line(prompt)]
    if prompt.notice:
        blocks.extend(sections(f":warning: {escape(prompt.notice)}"))
    blocks.extend(sections(f"*{escape(prompt.question)}*"))
    if prompt.help:
        blocks.append(context(escape(prompt.help)))
    for spec in prompt.input.fields:
        if spec.error:
            # normally shown by Slack under the input (response_action errors); this is for a form shown again
            blocks.append(context(f":warning: {escape(spec.error)}"))
        blocks.append(
            InputBlock(
                block_id=ids.FIELD_BLOCK + spec.id,
                label=plain(spec.label, LABEL_MAX),
                element=_field_element(spec),
                hint=plain(spec.help, LABEL_MAX) if spec.help else None,
                optional=spec.optional,
            )
        )
    # never capped: a cut input would be a question silently dropped (a form has at most 30 fields)
    return _modal(blocks, ids.FIELDS_VIEW, "Save answers", meta)


DATETIME_PLACEHOLDER = "For example 24/11/2026 14:30, or now"


def _field_element(spec: FieldSpec) -> InputInteractiveElement:
    """One field's input: radio buttons or a menu for one choice, checkboxes or a multi-select for several,
    a text input for typed answers (a date too: the engine reads what is typed)."""
    options = [Option(value=c.id, text=plain(c.label, OPTION_TEXT_MAX)) for c in spec.choices]
    chosen = [o for o in options if o.value in spec.initial]
    placeholder = plain(spec.placeholder, PLACEHOLDER_MAX) if spec.placeholder else None
    action = ids.INPUT_ACTION
    if spec.kind is AnswerKind.MULTI_CHOICE and options:
        if len(options) <= CHECKBOX_OPTIONS_MAX:
            return CheckboxesElement(action_id=action, options=options, initial_options=chosen or None)
        return StaticMultiSelectElement(
            action_id=action,
            options=options[:SELECT_OPTIONS_MAX],
            initial_options=chosen or None,
            placeholder=placeholder or plain("Choose all that apply", PLACEHOLDER_MAX),
        )
    if options:
        first = chosen[0] if chosen else None
        if len(options) <= RADIO_OPTIONS_MAX:
            return RadioButtonsElement(action_id=action, options=options, initial_option=first)
        return StaticSelectElement(
            action_id=action,
            options=options[:SELECT_OPTIONS_MAX],
            initial_option=first,
            placeholder=placeholder or plain("Choose one", PLACEHOLDER_MAX),
        )
    if spec.kind is AnswerKind.DATETIME and placeholder is None:
        placeholder = plain(DATETIME_PLACEHOLDER, PLACEHOLDER_MAX)
    return PlainTextInputElement(
        action_id=action,
        multiline=spec.kind is AnswerKind.FREE_TEXT,
        max_length=max(1, min(spec.max_length, INPUT_MAX)),
        placeholder=placeholder,
        initial_value=spec.initial_text or None,
    )


def refusal_errors(message: Shown, error: str | None, block: str) -> dict[str, str]:
    """``response_action: errors`` for a refused modal: each refused field of a form under its own input
    (Slack keeps what was typed in the others), anything else under ``block``."""
    errors: dict[str, str] = {}
    if isinstance(message, Prompt):
        errors = {ids.FIELD_BLOCK + f.id: _error_text(f.error) for f in message.input.fields if f.error}
    if not errors and error:
        errors = {block: _error_text(error)}
    return errors


def _error_text(text: str) -> str:
    return truncate(text_safety.render(text, text_safety.plain), ERROR_MAX)


UNCHANGED = "That was already answered. Nothing was changed: your check is in your direct messages with ShareCheck."


def unchanged_modal(reason: str | None = None) -> View:
    """What a stale or repeated submission turns the modal into: why nothing happened, and only Close."""
    text = reason or UNCHANGED
    return _modal(sections(escape(text)))


# --- outcomes and replies -------------------------------------------------------------------


def code_blocks(text: str) -> Blocks:
    """Plain text as monospaced sections, one click to select; each piece fits a section with its fences."""
    # a fence typed into the reasons would close the block and let the rest be read as mrkdwn: a look-alike instead
    fenced = escape(text).replace("```", "\u02cb\u02cb\u02cb")
    return [SectionBlock(text=md(f"```\n{piece}\n```")) for piece in split(fenced, SECTION_MAX - 8)]


def covering_note_blocks(note: str) -> Blocks:
    """The note for the recipient, titled by its first line, the rest in a block of its own to copy as it is."""
    title, _, body = note.strip().partition("\n")
    blocks: Blocks = [DividerBlock(), *sections(f"*{escape(title.strip())}*")]
    if body.strip():
        blocks.extend(code_blocks(body.strip()))
    return blocks


def completion_blocks(done: Completion) -> Blocks:
    """The summary, short enough for a chat window: headline, decision and what happens next.

    The case notes and the covering note to copy follow as a second message (``notes_blocks``).
    """
    blocks: Blocks = [HeaderBlock(text=plain(f"Decision recorded: {done.decision_label}", HEADER_MAX))]
    if done.immediate_risk:
        blocks.extend(sections(f":rotating_light: {escape(shared_copy().immediate_risk)}"))
    facts = [f"*Decision:* {escape(done.decision_label)}"]
    if done.case_reference:
        facts.insert(0, f"*Case reference:* {escape(done.case_reference)}")
    blocks.extend(sections("\n".join(facts)))
    if done.next_steps:
        blocks.extend(sections("*What happens next*\n" + "\n".join(f"• {escape(s)}" for s in done.next_steps)))
    if done.unsure:
        blocks.append(context("You were unsure about: " + escape("; ".join(done.unsure)) + ". Your lead can help."))
    what = "the case notes and the covering note" if done.covering_note else "the case notes"
    blocks.append(context(f"The reasons and {what} to copy are in the next message."))
    blocks.extend(links_block(done.links))
    if done.can_reconsider and done.check_id:
        button = ButtonElement(
            text=plain("Reconsider with new information", BUTTON_TEXT_MAX),
            action_id=ids.RECONSIDER,
            value=value({"c": done.check_id}),
        )
        # the button survives the cap: it is the one thing on this message that can still be done
        return [*cap(blocks, MESSAGE_BLOCKS_MAX - 1), ActionsBlock(block_id=ids.RECONSIDER_BLOCK, elements=[button])]
    return cap(blocks)


NOTES_FALLBACK = "Case notes to copy"


def notes_blocks(done: Completion) -> Blocks:
    """The second message after a summary: the case notes, then the covering note, each as a block to copy."""
    blocks: Blocks = [*sections("*Copy this into the case notes:*"), *code_blocks(done.case_notes)]
    if done.covering_note:
        blocks.extend(covering_note_blocks(done.covering_note))
    return cap(blocks)


def completion_fallback(done: Completion) -> str:
    return fallback(f"Decision recorded: {done.decision_label}")


def finished_blocks(done: Completion) -> Blocks:
    """What the check message becomes once the summary is posted below it (its buttons go away)."""
    return sections(f":white_check_mark: Check finished: *{escape(done.decision_label)}*. The summary is below.")


def cancelled_blocks(cancelled: Cancelled) -> Blocks:
    return [*sections(escape(cancelled.text)), start_button("Start a new check")]


def info_blocks(info: Info) -> Blocks:
    blocks: Blocks = [HeaderBlock(text=plain(unmention(info.title), HEADER_MAX))]
    for line in info.lines:
        blocks.extend(sections(mentions(line)))
    blocks.extend(links_block(info.links))
    return cap(blocks)


def start_button(label: str = "Start a check") -> ActionsBlock:
    """Wherever ShareCheck says there is no check, one press starts one (the check opens in the DM)."""
    button = ButtonElement(text=plain(label, BUTTON_TEXT_MAX), action_id=ids.START, style="primary")
    return ActionsBlock(block_id=ids.START_BLOCK, elements=[button])


def pending_blocks(pending: PendingList) -> Blocks:
    blocks: Blocks = [HeaderBlock(text=plain("Still open for you", HEADER_MAX))]
    if not pending.items:
        blocks.extend(sections(escape(pending.empty_text)))
        blocks.append(start_button())
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


def shown_blocks(shown: Shown) -> tuple[Blocks, str]:
    """Blocks and notification text for anything a reply shows: a check's message, an info, a list, a digest."""
    if isinstance(shown, PendingList):
        return pending_blocks(shown), "Still open for you"
    if isinstance(shown, Digest):
        return digest_blocks(shown), digest_fallback(shown)
    if isinstance(shown, Info):
        return info_blocks(shown), fallback(unmention(shown.title))
    return message_blocks(shown)


# --- follow-ups ---------------------------------------------------------------------------------


def follow_up_value(prompt: FollowUpPrompt, choice: str) -> str:
    data: dict[str, Any] = {"f": prompt.follow_up_id, "v": choice}
    if choice in prompt.note_required or choice in prompt.note_optional:
        data["n"] = "r" if choice in prompt.note_required else "o"
        data["p"] = truncate(prompt.note_prompt, 300)
    return value(data)


def follow_up_blocks(prompt: FollowUpPrompt) -> Blocks:
    """The 'received and understood' question: who shared what, and one button per answer."""
    blocks: Blocks = [HeaderBlock(text=plain(unmention(prompt.title), HEADER_MAX))]
    for line in prompt.lines:
        blocks.extend(sections(mentions(line)))
    buttons = [
        ButtonElement(
            text=plain(c.label, BUTTON_TEXT_MAX),
            action_id=f"{ids.FOLLOW_UP}{c.id}",
            value=follow_up_value(prompt, c.id),
            style=c.style if c.style in ("primary", "danger") else None,
        )
        for c in prompt.choices[:ACTIONS_MAX]
    ]
    blocks.append(ActionsBlock(block_id="sc_fu_choices", elements=buttons))
    blocks.append(context("One click records your answer in the case's ShareCheck record."))
    return cap(blocks)


def follow_up_fallback(prompt: FollowUpPrompt) -> str:
    return fallback(unmention(prompt.title))


def answered_blocks(reply: Info) -> Blocks:
    """What a follow-up message becomes once answered: the result, and no buttons to press again."""
    return [*info_blocks(reply), context(":white_check_mark: Answer recorded.")]


def note_modal(ref: dict[str, Any], question: str, required: bool) -> View:
    """The form for a follow-up answer's note: required for 'I need clarification', optional for 'confirmed'."""
    blocks: Blocks = []
    if question:
        blocks.extend(sections(f"*{escape(question)}*"))
    blocks.append(
        InputBlock(
            block_id=ids.NOTE_BLOCK,
            label=plain("Your note" if required else "Your note (optional)", 2000),
            element=PlainTextInputElement(action_id=ids.INPUT_ACTION, multiline=True, max_length=1000),
            optional=not required,
        )
    )
    blocks.append(context(escape(shared_copy().no_names)))
    return _modal(blocks, ids.FOLLOW_UP_VIEW, "Send", value(ref))


# --- digests ----------------------------------------------------------------------------------


def change(figure: DigestFigure) -> str:
    """The change from the previous period, as an arrow and a signed number."""
    if figure.change > 0:
        return f"↑ +{figure.change}"
    if figure.change < 0:
        return f"↓ −{-figure.change}"
    return "→ same"


def digest_blocks(digest: Digest) -> Blocks:
    """A lead's digest, compact: what needs them first (with case references), then figures, then signals."""
    blocks: Blocks = [
        HeaderBlock(text=plain(digest.title, HEADER_MAX)),
        context(escape(digest.period)),
    ]
    if digest.empty:
        blocks.extend(sections(escape(digest.empty_text)))
    if digest.needs_you:
        lines = [f"• *{escape(item.case_reference)}*: {escape(item.text)}" for item in digest.needs_you]
        blocks.extend(sections(f":rotating_light: *Needs you now ({len(digest.needs_you)})*\n" + "\n".join(lines)))
    if digest.figures:
        fields = [md(f"*{escape(f.label)}*\n{f.value}  ({change(f)})") for f in digest.figures]
        blocks.extend(SectionBlock(fields=fields[i : i + FIELDS_MAX]) for i in range(0, len(fields), FIELDS_MAX))
    if digest.unsure:
        unsure = "; ".join(f"{escape(f.label)} ({f.value}, {change(f)})" for f in digest.unsure)
        blocks.append(context(f"Most often answered 'not sure' (a training signal): {unsure}"))
    if digest.worries:
        worries = "; ".join(f"{escape(f.label)} ({f.value}, {change(f)})" for f in digest.worries)
        blocks.append(context(f"{escape(digest.worries_label)}: {worries}"))
    if digest.trend:
        blocks.append(
            context(f"{escape(digest.trend_label)}: `{digest.sparkline()}` ({', '.join(map(str, digest.trend))})")
        )
    return cap(blocks)


def digest_fallback(digest: Digest) -> str:
    urgent = f" ({len(digest.needs_you)} need you)" if digest.needs_you else ""
    return fallback(digest.title + urgent)


def outbound_blocks(message: Outbound) -> tuple[Blocks, str]:
    """Blocks and notification text for what the scheduler delivers to someone's DM."""
    if isinstance(message, FollowUpPrompt):
        return follow_up_blocks(message), follow_up_fallback(message)
    if isinstance(message, Digest):
        return digest_blocks(message), digest_fallback(message)
    return info_blocks(message), fallback(unmention(message.title))
