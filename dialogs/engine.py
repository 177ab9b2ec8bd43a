"""The dialog engine: pure functions of (pack, state, answer, now). No I/O, no clock, no platform."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime, time, tzinfo
from typing import NamedTuple
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from dialogs.content import (
    CHOICE_KINDS,
    CHOICE_LABEL_MAX,
    END,
    AnswerKind,
    Choice,
    Citation,
    ConfirmItem,
    Pack,
    Step,
    holds,
)
from dialogs.evolve import evolve
from dialogs.messages import (
    ALL_TRUE,
    CHANGE_PREFIX,
    SAVE,
    Cancelled,
    ChoiceView,
    CitationView,
    Completion,
    FieldSpec,
    GuidanceView,
    InputSpec,
    LinkView,
    Message,
    MythView,
    Progress,
    Prompt,
    ReviewView,
)
from dialogs.personal_data import find_identifiers, scan, warning_text
from dialogs.profile import OrganisationProfile
from dialogs.record import RecordMemo, build_completion, display_answer
from dialogs.state import Answer, AnswerValue, DialogState, FieldAnswer, Recipient, Status

REVIEW = "review"
"""The step id of the review screen the engine adds after the last question of a pack with ``review``."""

CASE_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_.:#-]{1,39}$")
# Tab and newline are the only control characters a practitioner has reason to type.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class DialogError(Exception):
    """An answer or request the engine refuses; ``str(exc)`` is safe to show the practitioner."""

    errors: dict[str, str] = {}  # noqa: RUF012 - read-only default: a form's refusals by field (InvalidForm)
    submitted: dict[str, FieldAnswer] = {}  # noqa: RUF012 - what the form sent, to show again


class InvalidAnswer(DialogError):
    pass


class PersonalDataWarning(InvalidAnswer):
    """Typed text looks like it holds personal identifiers; it can be confirmed and sent again."""

    def __init__(self, message: str, kinds: tuple[str, ...]) -> None:
        super().__init__(message)
        self.kinds = kinds


class InvalidForm(InvalidAnswer):
    """Some fields of a form were refused: each has its own message; the others keep what was given."""

    def __init__(self, errors: dict[str, str], submitted: dict[str, FieldAnswer]) -> None:
        first = next(iter(errors.values()))
        super().__init__(first if len(errors) == 1 else f"{len(errors)} answers need another look: {first}")
        self.errors = errors
        self.submitted = submitted


class StaleAnswer(DialogError):
    """The answer was for a step or revision that is no longer current (a double click, a replay)."""


class DialogClosed(DialogError):
    pass


class CorruptState(DialogError):
    pass


class Turn(NamedTuple):
    """A step's new state and what to show. A named tuple: one is made per answer, and it is the cheapest."""

    state: DialogState
    message: Message


class Engine:
    def __init__(self, pack: Pack, links: Sequence[LinkView] = (), profile: OrganisationProfile | None = None) -> None:
        self.pack = pack
        self.links = tuple(links)
        self.profile = profile or OrganisationProfile()
        # the organisation's own lawful basis, where the pack offers it: shown first, recorded as its default
        basis_steps = [s for s in pack.steps_by_id.values() if s.field == "lawful_basis"]
        default = self.profile.default_basis
        self._default_basis = {
            s.id: default for s in basis_steps if default is not None and s.choice(default) is not None
        }
        self._steps = pack.steps_by_id
        self._zone = ZoneInfo(pack.timezone)
        self._templates: dict[str, Prompt] = {}
        self._top = {s.id for s in pack.steps}
        self._section_of = {s.id: s.section for s in pack.steps}
        # Per-answer lookups precomputed from the (frozen, validated) pack, so a turn does not
        # rescan every choice of the step for its myth or its goto.
        self._myths_of = {
            s.id: myths
            for s in pack.steps_by_id.values()
            if (myths := tuple((c.id, c.myth) for c in s.effective_choices() if c.myth))
        }
        """Only the steps (and forms' fields) with a choice that shows a myth-buster."""
        self._gotos = {s.id: tuple((c.id, c.goto) for c in s.effective_choices() if c.goto) for s in pack.steps}
        # Frozen messages that recur turn after turn are built once and shared.
        self._progress_views: dict[tuple[tuple[str, ...], int], Progress] = {}
        self._myth_views: dict[str, MythView] = {}
        self._choice_views: dict[str, dict[str, ChoiceView]] = {}
        self._records = RecordMemo.for_pack(pack)
        self._zone = ZoneInfo(pack.timezone)
        """A typed date and time is the practitioner's local time (GMT or BST in England), stored in UTC."""
        # Choice answers are pack ids and the caller's datetime: copying a validated value with
        # them swapped in gives the AnswerValue validation would, at less than half the cost.
        self._choice_value = AnswerValue(choices=(), at=datetime(2000, 1, 1, tzinfo=UTC))

    # --- moving through the check -------------------------------------------------------

    def start(self, now: datetime) -> Turn:
        state = DialogState(
            pack_id=self.pack.id,
            pack_version=self.pack.version,
            step=self.pack.start,
            started_at=now,
            updated_at=now,
        )
        return Turn(state, self.view(state))

    def answer(self, state: DialogState, answer: Answer, now: datetime) -> Turn:
        sid = state.step
        if state.status is not Status.ACTIVE:
            self._require_active(state)
        if answer.step_id != sid or (answer.revision is not None and answer.revision != state.revision):
            raise StaleAnswer("That answer was for an earlier question; the check has moved on.")
        assert sid is not None
        if sid == REVIEW:
            return self._review_answer(state, answer, now)
        step = self._steps[sid]
        path = state.path_answers()
        answers = dict(state.answers)
        if step.kind is AnswerKind.FORM:
            value, parts = self._validate_form(step, answer, now, path)
            for part_id, part in parts.items():
                answers[part_id] = path[part_id] = part
            for stale in set(state.answers.get(sid, value).parts) - set(parts):
                answers.pop(stale, None)  # a field no longer asked (its condition changed) is not kept
        else:
            value = self._validate(step, answer, now, path)
            if value.choices and value.choices == (self._default_basis.get(sid),):
                value = evolve(value, {"organisation_default": True})
        path[sid] = value  # the path now includes this answer (its step joins the history)
        answers[sid] = value
        if step.kind is AnswerKind.FORM:
            # a worry ticked in a form shows its myth-buster just as a step's answer would
            myths = [
                m for part in value.parts for cid, m in self._myths_of.get(part, ()) if cid in answers[part].choices
            ]
            myths = list(dict.fromkeys(myths))
        else:
            myths_of = self._myths_of.get(sid)
            myths = [m for cid, m in myths_of if cid in value.choices] if myths_of else []
        shown = state.myths_shown
        target = self._next(step, path)
        history = [*state.history, sid]
        editing = state.editing
        if editing:
            # changed from the review screen: answers further on that still fit are carried forward,
            # so only what depends on the change is asked again
            target = self._carry_forward(target, history, answers, path)
        update: dict[str, object] = {
            "answers": answers,
            "history": history,
            "show_myths": myths,
            "myths_shown": [*shown, *(m for m in myths if m not in shown)] if myths else list(shown),
            "revision": state.revision + 1,
            "updated_at": now,
        }
        if target == END and self.pack.review:
            target = REVIEW
        if target == END:
            update["status"] = Status.COMPLETED
            update["step"] = None
        else:
            update["step"] = target
            update["urgent"] = state.urgent or target == self.pack.urgent_step
            if editing and target == REVIEW:
                update["editing"] = False
        new = evolve(state, update)
        return Turn(new, self._view(new, path))

    def _carry_forward(
        self, target: str, history: list[str], answers: dict[str, AnswerValue], path: dict[str, AnswerValue]
    ) -> str:
        """Walk on from ``target`` through steps whose earlier answers still fit; stop at the first that does not."""
        seen: set[str] = set(history)
        while target != END and target not in seen:
            earlier = answers.get(target)
            step = self._steps[target]
            if earlier is None or not self._still_fits(step, earlier, path):
                return target
            seen.add(target)
            history.append(target)
            path[target] = earlier
            for part in earlier.parts:
                if part in answers:
                    path[part] = answers[part]
            target = self._next(step, path)
        return target

    def _still_fits(self, step: Step, value: AnswerValue, path: dict[str, AnswerValue]) -> bool:
        if step.kind is AnswerKind.FORM:
            asked = {f.id for f in step.fields if holds(f.when, path)}
            return asked == set(value.parts) and all(
                self._still_fits(f, v, path) for f in step.fields if (v := path.get(f.id)) is not None
            )
        if step.kind is AnswerKind.CONFIRM_LIST:
            return {i.id for i in self._visible_items(step, path)} >= set(value.choices)
        if step.kind in CHOICE_KINDS and step.conditional:
            offered = {c.id for c in self.visible_choices(step, path)}
            return set(value.choices) <= offered
        return True

    def _review_answer(self, state: DialogState, answer: Answer, now: datetime) -> Turn:
        chosen = answer.choices
        if len(chosen) != 1 or answer.text is not None or answer.fields is not None:
            raise InvalidAnswer("Choose Save, or an answer to change.")
        if chosen[0] == SAVE:
            new = _copy(state)
            new.status = Status.COMPLETED
            new.step = None
            new.editing = False
            new.revision += 1
            new.updated_at = now
            return Turn(new, self.view(new))
        target = chosen[0].removeprefix(CHANGE_PREFIX)
        if not chosen[0].startswith(CHANGE_PREFIX) or target not in state.history or target not in self._top:
            raise InvalidAnswer("That answer cannot be changed here; choose one from the list.")
        new = _copy(state)
        new.history = new.history[: new.history.index(target)]
        new.step = target
        new.editing = True
        new.show_myths = []
        new.revision += 1
        new.updated_at = now
        new.urgent = self.pack.urgent_step in new.history or target == self.pack.urgent_step
        return Turn(new, self.view(new))

    def back(self, state: DialogState, now: datetime) -> Turn:
        self._require_active(state)
        if not state.history:
            raise InvalidAnswer("This is the first question: there is nothing to go back to.")
        new = _copy(state)
        new.show_myths = []
        new.step = new.history.pop()
        new.revision += 1
        new.updated_at = now
        new.urgent = self.pack.urgent_step in new.history or new.step == self.pack.urgent_step
        return Turn(new, self.view(new))

    def cancel(self, state: DialogState, now: datetime) -> Turn:
        self._require_active(state)
        new = _copy(state)
        new.status = Status.CANCELLED
        new.revision += 1
        new.updated_at = now
        return Turn(new, Cancelled())

    def urgent(self, state: DialogState, now: datetime) -> Turn:
        """The exit offered at every step: someone is in immediate danger, act now and record after."""
        self._require_active(state)
        assert state.step is not None
        if state.urgent:
            return Turn(state, self.view(state))
        new = _copy(state)
        new.answers.pop(state.step, None)
        new.history.append(state.step)  # unanswered: 'back' returns here, the record skips it
        new.step = self.pack.urgent_step
        new.urgent = True
        new.revision += 1
        new.updated_at = now
        return Turn(new, self.view(new))

    def with_case_reference(self, state: DialogState, reference: str, now: datetime) -> Turn:
        """A new check for a case already known (a reconsidered decision): the first question answered with the
        reference when that is what it asks; else every question that asks it shows it filled in (a form's field,
        a later step's earlier answer). Nothing is on the path, so nothing is recorded, until it is answered."""
        assert state.step is not None
        first = self._steps[state.step]
        if first.kind is AnswerKind.CASE_REFERENCE:
            return self.answer(state, Answer(step_id=first.id, revision=state.revision, text=reference), now)
        new = _copy(state)
        for step in self._steps.values():
            if step.kind is AnswerKind.CASE_REFERENCE:
                new.answers[step.id] = AnswerValue(text=reference, at=now)
        return Turn(new, self.view(new))

    # --- reading a state -----------------------------------------------------------------

    def case_reference(self, state: DialogState) -> str | None:
        """The case reference given so far, whichever question asked it (the urgent path asks its own), or
        filled in for a reconsidered decision: what a check in progress is known by before its record holds it."""
        for step_id, value in state.answers.items():
            step = self._steps.get(step_id)
            if step is not None and step.field == "case_reference" and value.text:
                return value.text
        return None

    def load(self, raw: str | bytes | dict[str, object]) -> DialogState:
        """Parse stored state, refusing anything that does not fit this pack."""
        try:
            state = DialogState.model_validate(raw) if isinstance(raw, dict) else DialogState.model_validate_json(raw)
        except ValidationError as exc:
            raise CorruptState("This check's saved state cannot be read; it has been left as it was.") from exc
        if state.pack_id != self.pack.id:
            raise CorruptState(f"This check was started with the {state.pack_id!r} guidance, not {self.pack.id!r}.")
        current = [state.step] if state.step and state.step != REVIEW else []
        known = [s for s in (*state.history, *current) if not self.pack.has_step(s)]
        if known:
            raise CorruptState("This check refers to questions the current guidance no longer has.")
        if state.status is Status.ACTIVE and state.step is None:
            raise CorruptState("This check's saved state has no current question.")
        return state

    def view(self, state: DialogState, notice: str | None = None, personal_data_warning: bool = False) -> Message:
        return self._view(state, state.path_answers(), notice, personal_data_warning)

    def refused(
        self, state: DialogState, error: InvalidAnswer | DialogError, personal_data_warning: bool = False
    ) -> Message:
        """The current step again with why the answer was refused; a form keeps the fields that were fine."""
        message = self.view(state, notice=str(error), personal_data_warning=personal_data_warning)
        if not error.errors or not isinstance(message, Prompt):  # only a form's refusal names fields
            return message
        fields = []
        for spec in message.input.fields:
            given = error.submitted.get(spec.id)
            update: dict[str, object] = {"error": error.errors.get(spec.id)}
            if given is not None:
                update |= {"initial": given.choices, "initial_text": given.text}
            fields.append(evolve(spec, update))
        return evolve(message, {"input": evolve(message.input, {"fields": tuple(fields)})})

    def _view(
        self,
        state: DialogState,
        path: dict[str, AnswerValue],
        notice: str | None = None,
        personal_data_warning: bool = False,
    ) -> Message:
        """``path`` is ``state.path_answers()``, passed in where the caller already has it."""
        if state.status is Status.CANCELLED:
            return Cancelled()
        if state.status is Status.COMPLETED:
            return build_completion(self.pack, state, self.links, self._records)
        assert state.step is not None
        if state.step == REVIEW:
            return self._review_view(state, path, notice)
        step = self._steps[state.step]
        previous = state.answers.get(step.id)
        template = self._templates.get(step.id)
        if template is None:
            template = self._templates[step.id] = self._template(step)
        update: dict[str, object] = {
            "revision": state.revision,
            "progress": self._progress(state, path),
            "can_go_back": bool(state.history),
            "urgent_exit": not state.urgent,
        }
        # the template's notice is None and its warning False: only a turn that has one sets it
        if notice is not None:
            update["notice"] = notice
        if personal_data_warning:
            update["personal_data_warning"] = True
        input_update: dict[str, object] = {}
        if step.kind is AnswerKind.FORM:
            input_update["fields"] = self._field_specs(step, state, path)
        elif step.kind is AnswerKind.CONFIRM_LIST:
            items = self._visible_items(step, path)
            input_update["choices"] = tuple(ChoiceView(id=i.id, label=i.label) for i in items)
            if previous is not None:
                input_update["initial"] = previous.choices
        elif previous is not None:
            input_update["previous"] = display_answer(step, previous)
        if step.conditional:
            views = self._choice_views.get(step.id)
            if views is None:
                views = self._choice_views[step.id] = {v.id: v for v in template.input.choices}
            input_update["choices"] = tuple(views[c.id] for c in self.visible_choices(step, path))
        if input_update:
            update["input"] = evolve(template.input, input_update)
        if state.show_myths:
            update["myths"] = tuple(self._myth(m) for m in state.show_myths)
        return evolve(template, update)

    def _field_specs(self, step: Step, state: DialogState, path: dict[str, AnswerValue]) -> tuple[FieldSpec, ...]:
        specs = []
        for sub in step.fields:
            if not holds(sub.when, path):
                continue
            choices = [ChoiceView(id=c.id, label=c.label, style=c.style) for c in self.visible_choices(sub, path)]
            earlier = state.answers.get(sub.id)
            default = self._default_basis.get(sub.id)
            help_text = sub.help
            label = sub.question
            initial: tuple[str, ...] = earlier.choices if earlier is not None else ()
            if default is not None:
                choices = [
                    ChoiceView(id=c.id, label=f"{c.label} (my organisation's)"[:CHOICE_LABEL_MAX])
                    if c.id == default
                    else c
                    for c in choices
                ]
                help_text = (
                    "Your organisation has set this as its basis for safeguarding. Change it only if your data "
                    "protection officer or lead has advised it."
                )
                initial = initial or (default,)
            specs.append(
                FieldSpec(
                    id=sub.id,
                    label=label,
                    kind=sub.kind,
                    choices=tuple(choices),
                    optional=sub.optional,
                    max_length=sub.max_length,
                    placeholder=sub.placeholder,
                    help=help_text,
                    initial=initial,
                    initial_text=self._shown_text(sub, earlier),
                )
            )
        return tuple(specs)

    def _shown_text(self, step: Step, earlier: AnswerValue | None) -> str | None:
        """An earlier typed answer as the practitioner would type it again (a date in local time, not ISO UTC)."""
        if earlier is None or earlier.text is None:
            return None
        if step.kind is AnswerKind.DATETIME:
            return local_when(earlier.text, self._zone)
        return earlier.text

    def _visible_items(self, step: Step, answers: dict[str, AnswerValue]) -> tuple[ConfirmItem, ...]:
        return tuple(i for i in step.items if holds(i.when, answers))

    def _review_view(self, state: DialogState, path: dict[str, AnswerValue], notice: str | None) -> Prompt:
        record = build_completion(self.pack, state, self.links, self._records)
        changes = tuple(
            ChoiceView(id=f"{CHANGE_PREFIX}{sid}", label=f"Change: {self._steps[sid].title}"[:CHOICE_LABEL_MAX])
            for sid in dict.fromkeys(state.history)  # a step asked twice ('ask my lead' and back) is changed once
            if sid in path and sid in self._top and self._steps[sid].kind is not AnswerKind.NOTICE
        )
        return Prompt(
            pack_title=self.pack.title,
            step_id=REVIEW,
            revision=state.revision,
            title="Check and save",
            question="This is what will be recorded. Change any answer, or save the decision.",
            input=InputSpec(kind=AnswerKind.REVIEW, choices=(ChoiceView(id=SAVE, label="Save", style="primary"),)),
            progress=self._progress(state, path),
            can_go_back=bool(state.history),
            urgent_exit=False,
            notice=notice,
            review=ReviewView(
                decision_label=record.decision_label,
                lines=record.lines,
                covering_note=record.covering_note,
                changes=changes,
            ),
        )

    def visible_choices(self, step: Step, answers: dict[str, AnswerValue]) -> tuple[Choice, ...]:
        """The choices offered now: conditional ones only when their conditions hold."""
        if not step.conditional:
            return step.effective_choices()
        return tuple(c for c in step.effective_choices() if holds(c.when, answers))

    def _myth(self, myth_id: str) -> MythView:
        view = self._myth_views.get(myth_id)
        if view is None:
            myth = self.pack.myth(myth_id)
            view = MythView(title=myth.title, text=myth.text, citation=self._citation(myth.cite))
            self._myth_views[myth_id] = view
        return view

    def _template(self, step: Step) -> Prompt:
        """The parts of a step's prompt that never change, built once per step."""
        choices = [ChoiceView(id=c.id, label=c.label, style=c.style) for c in step.effective_choices()]
        help_text = step.help
        default = self._default_basis.get(step.id)
        if default is not None:
            chosen = next(c for c in choices if c.id == default)
            label = f"Use my organisation's basis: {chosen.label}"
            if len(label) > CHOICE_LABEL_MAX:
                label = f"{chosen.label} (my organisation's)"[:CHOICE_LABEL_MAX]
            choices = [ChoiceView(id=default, label=label, style="primary"), *(c for c in choices if c.id != default)]
            help_text = (
                f"Your organisation has set {chosen.label.lower()} as its basis for safeguarding. "
                "Choose another only if your data protection officer or lead has advised it."
            )
        return Prompt(
            pack_title=self.pack.title,
            step_id=step.id,
            revision=0,
            title=step.title,
            question=step.question,
            help=help_text,
            input=InputSpec(
                kind=step.kind,
                choices=tuple(choices)
                if step.kind is not AnswerKind.CONFIRM_LIST
                else tuple(ChoiceView(id=i.id, label=i.label) for i in step.items),
                all_label=step.all_label if step.kind is AnswerKind.CONFIRM_LIST else None,
                multiple=step.kind in (AnswerKind.MULTI_CHOICE, AnswerKind.CONFIRM_LIST),
                optional=step.optional,
                min_length=step.min_length,
                max_length=step.max_length,
                placeholder=step.placeholder,
                previous=None,
            ),
            guidance=tuple(
                GuidanceView(text=g.text, citation=self._citation(g.cite) if g.cite else None) for g in step.guidance
            ),
            citations=tuple(self._citation(c) for c in step.cite),
            links=self.links if step.id in (self.pack.urgent_step, self.pack.start) else (),
            contacts=self.profile.contacts if step.id == self.pack.urgent_step else (),
            progress=Progress(sections=("Check",), current=0),
            can_go_back=False,
            urgent_exit=True,
            # every field set, so a prompt made from the template shares its fields-set (dialogs.evolve)
            notice=None,
            myths=(),
            personal_data_warning=False,
        )

    def progress(self, state: DialogState) -> Progress:
        return self._progress(state, state.path_answers())

    def _progress(self, state: DialogState, answers: dict[str, AnswerValue]) -> Progress:
        """The sections of the check, the current one marked: a fixed line, never a count that moves."""
        sections = self.pack.sections
        if not sections:
            return self._progress_view(("Check",), 0)
        step = state.step
        on_review = step == REVIEW or step is None
        current = sections[-1].id if on_review else (self._section_of.get(step or "") or sections[0].id)
        # a section tests a step ('decision'); any step that records the same field settles it (a gate's own
        # 'do not share' decision step), so 'Share' is not shown on a path that decided at a gate
        settled: dict[str, tuple[str, ...]] = {}
        for sid, value in answers.items():
            field = self._steps[sid].field if sid in self._steps else None
            if field:
                settled.setdefault(field, value.choices)
        shown = []
        for s in sections:
            verdicts = []
            for c in s.when:
                field = self._steps[c.step].field
                choices = answers[c.step].choices if c.step in answers else settled.get(field or "")
                verdicts.append(None if choices is None else any(x in choices for x in c.any_of))
            if s.id == current or all(verdicts) or (s.default and None in verdicts and False not in verdicts):
                shown.append(s)
        titles = tuple(s.title for s in shown)
        return self._progress_view(titles, next(i for i, s in enumerate(shown) if s.id == current))

    def _progress_view(self, sections: tuple[str, ...], current: int) -> Progress:
        # a pack has a handful of distinct lines: share one frozen object for each
        view = self._progress_views.get((sections, current))
        if view is None:
            view = self._progress_views[(sections, current)] = Progress(sections=sections, current=current)
        return view

    # --- internals -----------------------------------------------------------------------

    def _require_active(self, state: DialogState) -> None:
        if state.status is not Status.ACTIVE:
            raise DialogClosed(f"This check is already {state.status.value}.")

    def _citation(self, cite: Citation) -> CitationView:
        source = self.pack.source(cite.source)
        return CitationView(
            title=source.title,
            publisher=source.publisher,
            year=source.year,
            authority=source.authority.label,
            url=source.url,
            where=cite.where,
        )

    def _next(self, step: Step, answers: dict[str, AnswerValue]) -> str:
        chosen = answers[step.id].choices
        for choice_id, goto in self._gotos[step.id]:
            if choice_id in chosen:
                return goto
        followup = self.pack.followups.get(step.id)
        if step.kind is AnswerKind.CONFIRM_LIST or followup is not None:
            # each item left unticked leads to its own follow-up, in list order, then the list's way on
            list_id, after = followup if followup is not None else (step.id, -1)
            listed = self._steps[list_id]
            ticked = answers[list_id].choices if list_id in answers else ()
            for n, item in enumerate(listed.items):
                if n > after and item.followup and item.id not in ticked and holds(item.when, answers):
                    return item.followup
        for branch in step.branches:
            if holds(branch.when, answers):
                return branch.goto
        assert step.next is not None  # the pack validator guarantees a way on
        return step.next

    def _validate_form(
        self, step: Step, answer: Answer, now: datetime, path: dict[str, AnswerValue]
    ) -> tuple[AnswerValue, dict[str, AnswerValue]]:
        """Every field checked on its own: all refusals are reported together, each with its message."""
        given = answer.fields
        if given is None or answer.choices or answer.text is not None or answer.recipient is not None:
            raise InvalidAnswer("Please answer the questions in the form.")
        asked = [f for f in step.fields if holds(f.when, path)]
        unknown = set(given) - {f.id for f in asked}
        if unknown:
            raise InvalidAnswer("That form has answers to questions not asked here; please fill it in again.")
        parts: dict[str, AnswerValue] = {}
        errors: dict[str, str] = {}
        warned: list[str] = []
        for sub in asked:
            field_given = given.get(sub.id)
            empty = field_given is None or (not field_given.choices and not (field_given.text or "").strip())
            if empty and sub.optional:
                continue
            if empty:
                errors[sub.id] = "Please answer this." if sub.kind not in CHOICE_KINDS else "Please choose one."
                continue
            single = Answer(
                step_id=sub.id,
                choices=field_given.choices if field_given else (),
                text=field_given.text if field_given else None,
                confirm_personal_data=answer.confirm_personal_data,
            )
            try:
                value = self._validate(sub, single, now, path)
            except PersonalDataWarning as exc:
                errors[sub.id] = str(exc)
                warned.extend(exc.kinds)
                continue
            except InvalidAnswer as exc:
                errors[sub.id] = str(exc)
                continue
            if value.choices and value.choices == (self._default_basis.get(sub.id),):
                value = evolve(value, {"organisation_default": True})
            parts[sub.id] = value
        if errors:
            if warned and len(warned) == len(errors):
                # only likely personal details: the practitioner may keep them (confirm) or edit those fields
                warning = PersonalDataWarning(next(iter(errors.values())), tuple(warned))
                warning.errors, warning.submitted = errors, dict(given)
                raise warning
            raise InvalidForm(errors, dict(given))
        return AnswerValue(parts=tuple(parts), at=now), parts

    def _validate(
        self, step: Step, answer: Answer, now: datetime, state_answers: dict[str, AnswerValue]
    ) -> AnswerValue:
        kind = step.kind
        if kind is AnswerKind.CONFIRM_LIST:
            if answer.text is not None or answer.recipient is not None or answer.fields is not None:
                raise InvalidAnswer("Tick what is true, or choose 'All true'.")
            items = self._visible_items(step, state_answers)
            ids = [i.id for i in items]
            if answer.choices == (ALL_TRUE,):
                return AnswerValue(choices=tuple(ids), at=now)
            unknown = [c for c in answer.choices if c not in ids]
            if unknown:
                raise InvalidAnswer("That is not one of the statements here; tick from the list.")
            return AnswerValue(choices=tuple(i for i in ids if i in answer.choices), at=now)
        if answer.fields is not None:
            raise InvalidAnswer("This question takes one answer, not a form.")
        if kind in CHOICE_KINDS:
            chosen = answer.choices
            # the usual answer, one button on a step that offers all its choices: it is valid when it is
            # one of them, with nothing to combine, dedupe or reorder (the checks below, in short)
            if (
                len(chosen) == 1
                and answer.text is None
                and answer.recipient is None
                and not step.conditional
                and step.choice(chosen[0]) is not None
            ):
                return evolve(self._choice_value, {"choices": chosen, "at": now})
            options = self.visible_choices(step, state_answers)
            if answer.text is not None or answer.recipient is not None or not chosen:
                raise InvalidAnswer(f"Please pick one of the options: {_listed(options)}.")
            if any(step.choice(c) is None for c in chosen):
                raise InvalidAnswer(f"That is not one of the options here. Please pick from: {_listed(options)}.")
            if kind is not AnswerKind.MULTI_CHOICE and len(chosen) != 1:
                raise InvalidAnswer("Please pick just one option.")
            # every choice of an unconditional step is on offer, and all were just found known
            if step.conditional:
                offered = {o.id for o in options}
                if any(c not in offered for c in chosen):
                    raise InvalidAnswer(f"That is not one of the options here. Please pick from: {_listed(options)}.")
            ordered: tuple[str, ...]
            if len(chosen) == 1:
                ordered = chosen  # one known, offered choice: nothing to combine, dedupe or reorder
            else:
                exclusive = [o for o in options if o.exclusive and o.id in chosen]
                if exclusive and len(set(chosen)) > 1:
                    raise InvalidAnswer(f"'{exclusive[0].label}' cannot be combined with other options.")
                ordered = tuple(c.id for c in options if c.id in chosen)  # dedupe, pack order
            return evolve(self._choice_value, {"choices": ordered, "at": now})
        if answer.choices:
            raise InvalidAnswer("This question needs a typed answer, not an option.")
        if kind is AnswerKind.RECIPIENT:
            recipient = _recipient(answer.recipient, answer.text)
            # an organisation and role are typed text too: the same warning as any other typed answer
            found = scan(recipient.organisation, recipient.role)
            if found and not answer.confirm_personal_data:
                raise PersonalDataWarning(warning_text(found), tuple(f.kind for f in found))
            return AnswerValue(recipient=recipient, personal_data=tuple(f.kind for f in found), at=now)
        text = clean_text(answer.text)
        if kind is AnswerKind.FREE_TEXT:
            if not text:
                if step.optional:
                    return AnswerValue(text=None, at=now)
                raise InvalidAnswer("This answer is required: please type it.")
            if len(text) < step.min_length:
                raise InvalidAnswer(f"Please say a little more (at least {step.min_length} characters).")
            if len(text) > step.max_length:
                raise InvalidAnswer(
                    f"That answer is {len(text):,} characters long; the limit here is {step.max_length:,}. "
                    "Keep to the key points: the case record holds the detail."
                )
            findings = find_identifiers(text)
            kinds = tuple(f.kind for f in findings)
            if findings and not answer.confirm_personal_data:
                raise PersonalDataWarning(warning_text(findings), kinds)
            return AnswerValue(text=text, personal_data=kinds, at=now)
        if kind is AnswerKind.CASE_REFERENCE:
            if not text:
                raise InvalidAnswer("Please type the case reference from your case system.")
            if not CASE_REFERENCE.match(text):
                raise InvalidAnswer(
                    "A case reference is 2 to 40 letters, digits or - / _ . : # with no spaces, "
                    "for example CS-2024-0113. Use the reference, never the person's name."
                )
            return AnswerValue(text=text, at=now)
        if kind is AnswerKind.DATETIME:
            when = parse_when(text, now, self._zone)
            return AnswerValue(text=when.isoformat(timespec="minutes"), at=now)
        raise InvalidAnswer("This question cannot take that answer.")  # pragma: no cover


def _copy(state: DialogState) -> DialogState:
    """A copy safe to change: new containers, shared (frozen) answer values. Much cheaper than deep copy."""
    return evolve(state, {"history": list(state.history), "answers": dict(state.answers)})


def _listed(options: Sequence[Choice]) -> str:
    """The options as the refusal messages name them (built only when an answer is refused)."""
    return ", ".join(f"'{c.label}'" for c in options)


def clean_text(text: str | None) -> str:
    """Normalise typed text: NFC, no control or bidi-override characters, trimmed."""
    if text is None:
        return ""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    if _CONTROL.search(text):
        raise InvalidAnswer("That answer contains control characters; please type it again as plain text.")
    return text.strip()


def _recipient(recipient: Recipient | None, text: str | None) -> Recipient:
    if recipient is None and text:
        # 'Organisation, role' typed in one line (the console and chat fallbacks)
        org, _, role = clean_text(text).partition(",")
        recipient = Recipient(organisation=org.strip() or None, role=role.strip() or None)
    if recipient is None:
        raise InvalidAnswer("Please name the recipient: pick a colleague, or type the organisation and role.")
    if recipient.user_id is not None:
        if recipient.organisation or recipient.role:
            raise InvalidAnswer("Pick a colleague or type an organisation and role, not both.")
        if not re.fullmatch(r"[A-Za-z0-9:_@.\-]{1,200}", recipient.user_id):
            raise InvalidAnswer("That colleague could not be recognised; please pick them again.")
        return recipient
    org = clean_text(recipient.organisation)
    role = clean_text(recipient.role)
    if not org or not role:
        raise InvalidAnswer(
            "Please give both the organisation and the recipient's role (for example: "
            "'Northshire Police, MASH detective sergeant'). A role, not a name, is enough."
        )
    if len(org) > 200 or len(role) > 200:
        raise InvalidAnswer("Keep the organisation and role under 200 characters each.")
    return Recipient(organisation=org, role=role)


_DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M", "%Y-%m-%d", "%d/%m/%Y")


def local_when(stored: str, zone: tzinfo) -> str:
    """A stored (ISO, UTC) date and time as 'YYYY-MM-DD HH:MM' in ``zone``: what parse_when reads back."""
    try:
        return datetime.fromisoformat(stored).astimezone(zone).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return stored


def parse_when(text: str, now: datetime, zone: tzinfo = UTC) -> datetime:
    """A date or date and time as a practitioner types it (UK day/month order) in their local ``zone``, in UTC."""
    lowered = text.strip().lower()
    if lowered in ("now", "today"):
        return now.astimezone(UTC).replace(second=0, microsecond=0)
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
        if "%H" not in fmt:
            parsed = datetime.combine(parsed.date(), time(9, 0))
        return parsed.replace(tzinfo=zone).astimezone(UTC)
    raise InvalidAnswer("Please give a date like 2026-11-24 or 24/11/2026, optionally with a time (14:30), or 'now'.")


__all__ = [
    "Completion",
    "CorruptState",
    "DialogClosed",
    "DialogError",
    "Engine",
    "InvalidAnswer",
    "PersonalDataWarning",
    "StaleAnswer",
    "Turn",
]
