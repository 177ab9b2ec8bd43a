"""The console adapter: the whole share-check in a terminal, one question at a time.

Typed lines become the conversation's commands (bot/conversation/), the same handler Slack and Teams use: a line
is a command when the grammar reads one ('back', 'pending', 'revoke CASE'...), else the answer to the question on
screen. Works the same when stdin is a pipe, so checks can be scripted for tests and demos.
"""

from __future__ import annotations

import asyncio
import re
import textwrap
import uuid
from typing import TextIO

from bot.checks.models import Actor
from bot.conversation.commands import (
    AnswerStep,
    Back,
    Cancel,
    Command,
    DigestNow,
    Disagree,
    FollowUpAnswer,
    Pending,
    Reconsider,
    Resume,
    Revoke,
    Start,
    Urgent,
    Who,
)
from bot.conversation.grammar import parse_text
from bot.conversation.handler import CHECK_MESSAGES, Conversation
from bot.conversation.replies import AskTyped, NoteRequest, Reply, ShowInPlace, Shown, ShowNew, Unchanged
from bot.conversation.wording import Surface, shared_copy
from dialogs import text_safety
from dialogs.content import AnswerKind
from dialogs.messages import (
    ALL_TRUE,
    SAVE,
    Cancelled,
    Completion,
    Digest,
    FieldSpec,
    FollowUpPrompt,
    Info,
    Message,
    PendingList,
    Prompt,
)
from dialogs.personal_data import find_identifiers
from dialogs.state import Answer, FieldAnswer, Recipient
from dialogs.tokens import render_commands

WIDTH = 78
ADVANCE_ROUNDS = 10
"""Batches of due follow-ups the console advances before showing the inbox (the scheduler does the rest)."""
COMMANDS = (
    "Commands: 'back', 'cancel', 'help', 'pending', 'urgent' (someone is in immediate danger), 'quit' (save and leave)."
)
CONSOLE = Surface("console", "share-check")
WORKSPACE = "local"
QUIT = ("quit", "exit")


def console_who(user: str) -> Who:
    """A terminal user: one workspace, login names, always their own private conversation."""
    return Who(platform="console", workspace_id=WORKSPACE, user_id=user)


def _wrap(text: str, indent: str = "") -> str:
    return "\n".join(
        textwrap.fill(p, WIDTH, initial_indent=indent, subsequent_indent=indent) for p in text.splitlines() or [""]
    )


_USER = re.compile(r"\{user:([^{}]+)\}")


def people(text: str, viewer: str | None = None) -> str:
    """``{user:ID}`` becomes 'you' for the reader, else '@ID' (console ids are login names), and commands are
    shown as typed in a terminal."""

    def expand(part: str) -> str:
        named = _USER.sub(lambda m: "you" if m.group(1) == viewer else f"@{m.group(1)}", part)
        return render_commands(named, "`sharecheck {words}`")

    # tokens only where the code wrote them: typed parts are shown as typed (dialogs/text_safety.py)
    return text_safety.render(text, text_safety.plain, expand)


def render_info(info: Info, viewer: str | None = None) -> str:
    lines = [_wrap(people(info.title, viewer).upper())]
    lines.extend(_wrap(people(line, viewer), "  ") for line in info.lines)
    lines.extend(_wrap(f"{link.title}: {link.url}", "  ") for link in info.links)
    return "\n".join(lines)


def render_follow_up(prompt: FollowUpPrompt, viewer: str | None = None) -> str:
    lines = [_wrap(people(prompt.title, viewer).upper())]
    lines.extend(_wrap(people(line, viewer), "  ") for line in prompt.lines)
    lines.extend(f"  {i}) {choice.label}" for i, choice in enumerate(prompt.choices, 1))
    lines.append("Type the number, or 'later' to answer another time.")
    return "\n".join(lines)


def render_prompt(prompt: Prompt, full_help: bool = False) -> str:
    lines = [f"--- {prompt.pack_title} · {prompt.progress.label()} ---"]
    if prompt.contacts:
        # who to call comes before anything else to read on the immediate-danger path
        lines.append("CALL NOW")
        lines.extend(_wrap(f"{c.label}: {c.contact}", "  ") for c in prompt.contacts)
    spec = prompt.input
    if spec.kind is AnswerKind.FORM and any(f.error for f in spec.fields) and not prompt.personal_data_warning:
        # each refused question shows its own message when it is asked again
        lines.append("! Some answers need another look: only those questions are asked again.")
    elif prompt.notice:
        lines.append(_wrap(f"! {prompt.notice}"))
    if prompt.personal_data_warning:
        if spec.kind is AnswerKind.FORM:
            lines.append("  Type 'keep' to keep your answers as they are, or press Enter to type them again.")
        else:
            lines.append("  Type a new answer, or 'keep' to keep it as it is.")
    for myth in prompt.myths:
        lines.append(_wrap(f"* {myth.title}"))
        lines.append(_wrap(myth.text, "  "))
        lines.append(_wrap(f"Source: {myth.citation.short()}", "    "))
    lines.append(_wrap(prompt.title.upper()))
    lines.append(_wrap(prompt.question))
    if prompt.help:
        lines.append(_wrap(prompt.help, "  "))
    for g in prompt.guidance:
        lines.append(_wrap(g.text, "  > "))
        if g.citation:
            lines.append(_wrap(f"Source: {g.citation.short()}", "    "))
    if full_help:
        lines.extend(render_sources(prompt))
    for link in prompt.links:
        lines.append(_wrap(f"{link.title}: {link.url}", "  "))
    if spec.previous:
        lines.append(_wrap(f"(Earlier answer: {text_safety.plain(spec.previous)})", "  "))
    if spec.kind is AnswerKind.FORM:
        if len(spec.fields) > 1 and not any(f.error for f in spec.fields):
            lines.append(f"{len(spec.fields)} questions, one at a time.")
    elif spec.kind is AnswerKind.CONFIRM_LIST:
        lines.extend(_confirm_list(prompt))
    elif spec.kind is AnswerKind.REVIEW:
        lines.extend(_review(prompt))
    elif spec.choices:
        for i, choice in enumerate(spec.choices, 1):
            lines.append(f"  {i}) {choice.label}")
        lines.append("Type the number" + (" or numbers, separated by commas." if spec.multiple else "."))
    elif spec.kind is AnswerKind.RECIPIENT:
        lines.append("Type 'organisation, role' (for example: Northshire Police, MASH detective sergeant).")
    else:
        lines.append(_typed_hint(spec.kind, spec.max_length, spec.optional))
    return "\n".join(lines)


def render_sources(prompt: Prompt) -> list[str]:
    """The step's sources with their authority: what 'help' adds."""
    return [_wrap(f"Source: {c.short()}" + (f" {c.url}" if c.url else ""), "  ") for c in prompt.citations]


def _typed_hint(kind: AnswerKind, max_length: int, optional: bool) -> str:
    if kind is AnswerKind.CASE_REFERENCE:
        return "Type the case reference (no names)."
    if kind is AnswerKind.DATETIME:
        return "Type a date (2026-11-24 or 24/11/2026), optionally with a time, or 'now'."
    limit = f"up to {max_length:,} characters"
    return f"Type your answer ({limit}" + ("; or 'skip')." if optional else ").")


def _confirm_list(prompt: Prompt) -> list[str]:
    spec = prompt.input
    lines = [f"  {i}) {item.label}" for i, item in enumerate(spec.choices, 1)]
    ticked = [str(i) for i, item in enumerate(spec.choices, 1) if item.id in spec.initial]
    if ticked:
        lines.append(f"  (Ticked before: {', '.join(ticked)})")
    everything = f" ({spec.all_label})" if spec.all_label else ""
    lines.append(
        _wrap(
            f"Press Enter or type 'a' if all are true{everything}. Otherwise type the numbers of the true ones, "
            "separated by commas, or 'none'."
        )
    )
    return lines


def _review(prompt: Prompt) -> list[str]:
    review = prompt.review
    if review is None:  # pragma: no cover - the engine always sends the review with its screen
        return ["Type 's' to save."]
    lines = [f"TO BE RECORDED: {review.decision_label.upper()}", ""]
    # the values are what people typed: shown as typed, never as markup (dialogs/text_safety.py)
    lines.extend(_wrap(f"{line.label}: {text_safety.plain(line.value)}", "  ") for line in review.lines)
    if review.covering_note:
        lines.extend(["", "Covering note:", "-" * WIDTH, text_safety.plain(review.covering_note), "-" * WIDTH])
    lines.append("")
    if review.changes:
        lines.append("To change an answer, type its number:")
        lines.extend(f"  {i}) {change.label}" for i, change in enumerate(review.changes, 1))
    lines.append("Type 's' to save the decision" + (", or a number to change that answer." if review.changes else "."))
    return lines


def render_field(field: FieldSpec, position: int, count: int) -> str:
    """One question of a form, asked on its own: its number in the form, any refusal, and how to answer."""
    lines = [_wrap(f"({position}/{count}) {field.label}")]
    if field.error:
        lines.append(_wrap(f"! {field.error}", "  "))
    if field.help:
        lines.append(_wrap(field.help, "  "))
    for i, choice in enumerate(field.choices, 1):
        lines.append(f"  {i}) {choice.label}")
    kept = _kept(field)
    if field.choices:
        multiple = field.kind is AnswerKind.MULTI_CHOICE
        lines.append("Type the number" + (" or numbers, separated by commas." if multiple else "."))
        if field.optional and not kept:
            lines.append("  Press Enter to leave it out.")
    else:
        lines.append(_typed_hint(field.kind, field.max_length, field.optional))
        if field.error and field.initial_text and find_identifiers(field.initial_text):
            lines.append("  Or type 'keep' to keep it as it is.")
    if kept:
        lines.append(_wrap(f"Press Enter to keep: {kept}", "  "))
    return "\n".join(lines)


def _kept(field: FieldSpec) -> str | None:
    """What Enter keeps: the earlier answer, the organisation's default, or what was sent with a refused form."""
    if field.error:
        return None  # what was sent was refused: nothing to keep ('keep' confirms personal details)
    if field.choices and field.initial:
        labels = [c.label for c in field.choices if c.id in field.initial]
        return ", ".join(labels) or None
    if field.initial_text:
        return text_safety.plain(field.initial_text)
    return None


def render_completion(done: Completion) -> str:
    bar = "=" * WIDTH
    lines = [bar, f"DECISION RECORDED: {done.decision_label.upper()}", bar]
    if done.immediate_risk:
        lines.append(shared_copy().immediate_risk)
    lines.append("Copy this into the case notes:")
    lines.append("")
    lines.append(done.case_notes)
    lines.append("")
    if done.covering_note:
        lines.append("-" * WIDTH)
        lines.append(done.covering_note)
        lines.append("-" * WIDTH)
    for link in done.links:
        lines.append(f"{link.title}: {link.url}")
    if done.can_reconsider and done.case_reference:
        lines.append(f"New information? Reconsider with: sharecheck chat --reconsider {done.case_reference}")
    lines.append(bar)
    return "\n".join(lines)


def render_digest(digest: Digest) -> str:
    lines = [digest.title, digest.period, ""]
    if digest.empty:
        lines.append(digest.empty_text)
    if digest.needs_you:
        lines.append("NEEDS YOU")
        lines.extend(f"  {item.case_reference}: {item.text}" for item in digest.needs_you)
        lines.append("")
    for figure in digest.figures:
        change = f"{figure.change:+d}" if figure.change else "no change"
        lines.append(f"  {figure.label}: {figure.value} ({change})")
    if digest.unsure:
        lines.append("")
        lines.append("Where practitioners were unsure most often:")
        lines.extend(f"  {f.label}: {f.value} (previously {f.previous})" for f in digest.unsure)
    if digest.worries:
        lines.append("")
        lines.append(f"{digest.worries_label}:")
        lines.extend(f"  {f.label}: {f.value} (previously {f.previous})" for f in digest.worries)
    if digest.trend:
        lines.append("")
        lines.append(f"{digest.trend_label}: {digest.sparkline()}  {' '.join(map(str, digest.trend))}")
    return "\n".join(lines)


def render_pending(pending: PendingList) -> str:
    lines = ["STILL OPEN FOR YOU"]
    if not pending.items:
        lines.append(_wrap(pending.empty_text, "  "))
    lines.extend(
        _wrap(f"{item.case_reference or 'No case reference yet'}: {item.status}", "  ") for item in pending.items
    )
    return "\n".join(lines)


def render(message: Message, full_help: bool = False) -> str:
    if isinstance(message, Prompt):
        return render_prompt(message, full_help)
    if isinstance(message, Completion):
        return render_completion(message)
    assert isinstance(message, Cancelled)
    return message.text


def render_shown(shown: Shown, viewer: str | None = None) -> str:
    """Anything a reply shows: a check's message, an info, a list, a digest."""
    if isinstance(shown, Info):
        return render_info(shown, viewer)
    if isinstance(shown, PendingList):
        return render_pending(shown)
    if isinstance(shown, Digest):
        return render_digest(shown)
    return render(shown)


def _numbers(line: str, choices: tuple[str, ...]) -> tuple[str, ...] | None:
    """The choice ids of typed numbers ('1, 3' or '1 3'); None if anything else was typed."""
    picked: list[str] = []
    for token in line.replace(" ", ",").split(","):
        if not token:
            continue
        if not (token.isdigit() and 1 <= int(token) <= len(choices)):
            return None
        picked.append(choices[int(token) - 1])
    return tuple(picked)


def parse_answer(prompt: Prompt, line: str, last_text: str | None = None) -> Answer:
    """Translate a typed line into a neutral answer; the engine decides whether it is valid."""
    spec = prompt.input
    base = {"step_id": prompt.step_id, "revision": prompt.revision}
    word = line.strip().lower()
    if spec.kind is AnswerKind.CONFIRM_LIST:
        if word in ("", "a", "all"):
            return Answer(**base, choices=(ALL_TRUE,))
        if word == "none":
            return Answer(**base, choices=())
        ticked = _numbers(line, tuple(c.id for c in spec.choices))
        return Answer(**base, text=line) if ticked is None else Answer(**base, choices=ticked)
    if spec.kind is AnswerKind.REVIEW:
        if word in ("s", "save"):
            return Answer(**base, choices=(SAVE,))
        changes = prompt.review.changes if prompt.review is not None else ()
        if word.isdigit() and 1 <= int(word) <= len(changes):
            return Answer(**base, choices=(changes[int(word) - 1].id,))
        return Answer(**base, text=line)  # the engine explains what is expected
    if spec.choices:
        picked = _numbers(line, tuple(c.id for c in spec.choices))
        return Answer(**base, text=line) if picked is None else Answer(**base, choices=picked)
    if spec.kind is AnswerKind.RECIPIENT:
        keep = prompt.personal_data_warning and word == "keep" and last_text is not None
        if keep and last_text is not None:  # 'keep': the organisation and role typed before, confirmed
            org, _, role = last_text.partition(",")
            recipient = Recipient(organisation=org.strip() or None, role=role.strip() or None)
            return Answer(**base, recipient=recipient, confirm_personal_data=True)
        if line.startswith("@"):
            return Answer(**base, recipient=Recipient(user_id=line[1:].strip()))
        org, _, role = line.partition(",")
        return Answer(**base, recipient=Recipient(organisation=org.strip() or None, role=role.strip() or None))
    if prompt.personal_data_warning and word == "keep" and last_text is not None:
        return Answer(**base, text=last_text, confirm_personal_data=True)
    if spec.optional and word == "skip":
        return Answer(**base, text="")
    return Answer(**base, text=line)


def parse_field(field: FieldSpec, line: str) -> FieldAnswer:
    """One form field's typed line; Enter keeps what is shown as kept (see ``render_field``)."""
    word = line.strip().lower()
    if not word and _kept(field) is not None:
        return FieldAnswer(choices=field.initial, text=field.initial_text)
    if field.choices:
        picked = _numbers(line, tuple(c.id for c in field.choices))
        # anything but numbers goes to the engine as typed, so it explains what is expected
        return FieldAnswer(text=line) if picked is None else FieldAnswer(choices=picked)
    if field.optional and word == "skip":
        return FieldAnswer()
    return FieldAnswer(text=line)


class ConsoleInbox:
    """What is waiting for a terminal user: notices, then each question put to them (a lead's advice request,
    'did it arrive?', the disagreement route), answered by number or left for later."""

    def __init__(self, conversation: Conversation, user: str, stdin: TextIO, stdout: TextIO) -> None:
        self.conversation = conversation
        self.followups = conversation.runtime.followups
        self.inbox = conversation.runtime.inbox
        self.who = console_who(user)
        self.actor = Actor("console", WORKSPACE, user)
        self.io = LineIO(stdin, stdout)
        self.shown = False

    async def run(self) -> bool:
        """Show and answer what is waiting; False if the person quit."""
        # what has come due since they last looked (safe beside a running scheduler: rows are locked);
        # bounded, so a database with a large backlog still opens the inbox promptly
        for _ in range(ADVANCE_ROUNDS):
            if await self.followups.scheduled.advance_due() == 0:
                break
        notices = await self.inbox.collect(self.actor)
        asked = self.followups.open_prompts(await self.followups.asked_of(self.actor))
        if not notices and not asked:
            return True
        self.shown = True
        self.io.say(f"--- For you: {len(notices)} message(s), {len(asked)} question(s) ---")
        for notice in notices:
            self.io.say("")
            viewer = self.actor.user_id
            self.io.say(render_digest(notice) if isinstance(notice, Digest) else render_info(notice, viewer))
        for prompt in asked:
            self.io.say("")
            if not await self._ask(prompt):
                return False
        self.io.say("")
        return True

    async def _ask(self, prompt: FollowUpPrompt) -> bool:
        self.io.say(render_follow_up(prompt, self.actor.user_id))
        while True:
            line = await self.io.read()
            if line is None or line.strip().lower() in QUIT:
                return False
            word = line.strip().lower()
            if word == "later":
                self.io.say("Left for later: it will be here next time.")
                return True
            if not (word.isdigit() and 1 <= int(word) <= len(prompt.choices)):
                self.io.say(f"Type a number from 1 to {len(prompt.choices)}, or 'later'.")
                continue
            return await self._answer(prompt, prompt.choices[int(word) - 1].id)

    async def _answer(self, prompt: FollowUpPrompt, choice: str) -> bool:
        """Send the answer, with a note when one is offered or asked for; False if the person quit."""
        command = FollowUpAnswer(follow_up_id=uuid.UUID(prompt.follow_up_id), choice=choice)
        if choice in prompt.note_optional:
            self.io.say(_wrap(f"{prompt.note_prompt} Press Enter to skip."))
            command = command.model_copy(update={"note": await self.io.read()})
        while True:
            reply = await self.conversation.handle(self.who, command)
            if isinstance(reply, AskTyped) and isinstance(reply.prompt, NoteRequest):
                asked = reply.prompt
                if asked.personal_data:
                    # as with a check answer: a new note, or 'keep' to keep this one as it is
                    self.io.say(_wrap(f"{asked.prompt} Type a new note, or 'keep' to keep it as it is."))
                else:
                    self.io.say(_wrap(asked.prompt or prompt.note_prompt))
                line = await self.io.read()
                if line is None:
                    return False
                keep = asked.personal_data and line.strip().lower() == "keep"
                note = asked.note if keep else line
                command = command.model_copy(update={"note": note, "confirm_personal_data": keep})
                continue
            if isinstance(reply, Unchanged):
                self.io.say(reply.reason or "Nothing was changed.")
            elif isinstance(reply, ShowInPlace | ShowNew):
                self.io.say(render_shown(reply.message, self.actor.user_id))
            return True


class LineIO:
    """Reading typed lines and writing text; piped input is echoed so the output reads as a transcript."""

    def __init__(self, stdin: TextIO, stdout: TextIO) -> None:
        self.stdin = stdin
        self.stdout = stdout

    def say(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    async def read(self) -> str | None:
        self.stdout.write("> ")
        self.stdout.flush()
        line = await asyncio.to_thread(self.stdin.readline)
        if not line:
            self.stdout.write("\n")
            return None
        line = line.rstrip("\n")
        if not self.stdin.isatty():
            self.stdout.write(line + "\n")
        return line


class ConsoleChat:
    def __init__(
        self, conversation: Conversation, user: str, stdin: TextIO, stdout: TextIO, inbox: ConsoleInbox | None = None
    ) -> None:
        self.conversation = conversation
        self.who = console_who(user)
        self.io = LineIO(stdin, stdout)
        self.say = self.io.say
        self.read = self.io.read
        self.inbox = inbox
        self._last_text: str | None = None
        self._sent_form: tuple[str, int, dict[str, FieldAnswer]] | None = None
        """The last form sent (step, revision, fields): a personal-data warning sends it back as it was."""

    async def run(self, pack_id: str | None = None, reconsider: str | None = None) -> int:
        if self.inbox is not None and not await self.inbox.run():
            self.say("Nothing else has changed. Run 'sharecheck chat' again when you are ready.")
            return 0
        if reconsider:
            reply = await self._do(Reconsider(case_reference=reconsider))
            if not isinstance(_shown(reply), Prompt):
                self._tell(reply)  # not one of their 'do not share' decisions
                return 2
        else:
            reply = await self._do(Resume())
            if isinstance(_shown(reply), Prompt):
                self.say("You have a check in progress; carrying on where you stopped.")
            else:
                reply = await self._do(Start(pack_id=pack_id))
        self.say(COMMANDS)
        message = _shown(reply)
        full_help = False
        while isinstance(message, Prompt):
            self.say("")
            self.say(render_prompt(message, full_help))
            full_help = False
            if message.input.kind is AnswerKind.FORM:
                moved = await self._form(message)
                if moved is None:
                    return self._saved()
                message = moved
                continue
            line = await self.read()
            if line is None or line.strip().lower() in QUIT:
                return self._saved()
            if line.strip().lower() == "help":
                full_help = True  # this step's help in full; the commands' help is the conversation's
                continue
            message = await self._line(message, line)
        self.say("")
        if message is not None:
            self.say(render_shown(message, self.who.user_id))
        return 0

    def _saved(self) -> int:
        self.say("Your check is saved. Run 'sharecheck chat' again to carry on where you stopped.")
        return 0

    async def _do(self, command: Command) -> Reply:
        return await self.conversation.handle(self.who, command)

    def _tell(self, reply: Reply) -> None:
        """Say what a reply that is not the next step says: a list, a result, why nothing changed."""
        if isinstance(reply, Unchanged) and reply.reason:
            self.say(_wrap(reply.reason))
        elif isinstance(reply, ShowInPlace | ShowNew):
            self.say(render_shown(reply.message, self.who.user_id))

    async def _after(self, prompt: Prompt, command: Command) -> Shown | None:
        """Send ``command`` about the check on screen: the check's next message, or (for anything else, said
        here) the same step again."""
        reply = await self._do(command)
        shown = _shown(reply)
        if isinstance(shown, CHECK_MESSAGES):
            return shown
        self._tell(reply)
        return prompt

    def _move(self, prompt: Prompt, line: str) -> Command | None:
        """'back', 'cancel' or 'urgent': about the step on screen (a second try changes nothing)."""
        command = parse_text(line)
        if isinstance(command, Back | Cancel | Urgent):
            return type(command)(check_id=_check(prompt), revision=prompt.revision)
        return None

    def _typed_command(self, prompt: Prompt, line: str) -> Command | None:
        """A line that is a command rather than an answer: the moves, 'pending' and 'digest'; a case command
        ('revoke CASE') only where the answer is a number, so a typed answer is never taken for one."""
        move = self._move(prompt, line)
        if move is not None:
            return move
        command = parse_text(line)
        if isinstance(command, Pending | DigestNow):
            return command
        typed = not prompt.input.choices and prompt.input.kind not in (AnswerKind.CONFIRM_LIST, AnswerKind.REVIEW)
        if isinstance(command, Revoke | Disagree | Reconsider) and command.case_reference and not typed:
            return command
        return None

    async def _line(self, prompt: Prompt, line: str) -> Shown | None:
        command = self._typed_command(prompt, line)
        if command is None:
            answer = parse_answer(prompt, line, self._last_text)
            typed = answer.recipient
            self._last_text = f"{typed.organisation}, {typed.role}" if typed and typed.organisation else answer.text
            command = AnswerStep(check_id=_check(prompt), answer=answer)
        return await self._after(prompt, command)

    async def _form(self, prompt: Prompt) -> Shown | None:
        """A form as consecutive questions, sent together; None if the person quit.

        A refused form comes back with each refused field's message and the others as sent: only the refused
        ones are asked again. A personal-data warning on the whole form offers 'keep' or typing them again."""
        fields = prompt.input.fields
        values = {f.id: parse_field(f, "") for f in fields}  # what each holds now: the earlier or sent answer
        confirm = False
        ask = [f for f in fields if f.error] or list(fields)
        sent = self._sent_form
        if prompt.personal_data_warning and sent is not None and sent[:2] == (prompt.step_id, prompt.revision):
            values = dict(sent[2])
            line = await self.read()
            if line is None or line.strip().lower() in QUIT:
                return None
            move = self._move(prompt, line)
            if move is not None:
                return await self._after(prompt, move)
            confirm = line.strip().lower() == "keep"
            typed = [f for f in fields if not f.choices and values.get(f.id, FieldAnswer()).text]
            ask = [] if confirm else [f.model_copy(update={"initial_text": values[f.id].text}) for f in typed]
        position = {f.id: n for n, f in enumerate(fields, 1)}
        i = 0
        while i < len(ask):
            field = ask[i]
            self.say("")
            self.say(render_field(field, position[field.id], len(fields)))
            line = await self.read()
            if line is None or line.strip().lower() in QUIT:
                return None
            word = line.strip().lower()
            if word == "help":
                self.say("\n".join(render_sources(prompt)) or "No further sources for this question.")
                continue
            if word == "back" and i > 0:
                i -= 1  # the form's previous question: nothing has been sent yet
                continue
            move = self._move(prompt, line)
            if move is not None:
                return await self._after(prompt, move)
            if word == "keep" and field.error and field.initial_text and find_identifiers(field.initial_text):
                values[field.id] = FieldAnswer(text=field.initial_text)
                confirm = True
            else:
                values[field.id] = parse_field(field, line)
            i += 1
        self._sent_form = (prompt.step_id, prompt.revision, values)
        answer = Answer(step_id=prompt.step_id, revision=prompt.revision, fields=values, confirm_personal_data=confirm)
        return await self._after(prompt, AnswerStep(check_id=_check(prompt), answer=answer))


def _check(prompt: Prompt) -> uuid.UUID:
    assert prompt.check_id is not None, "a prompt shown at the console belongs to a stored check"
    return uuid.UUID(prompt.check_id)


def _shown(reply: Reply) -> Shown | None:
    return reply.message if isinstance(reply, ShowInPlace | ShowNew) else None
