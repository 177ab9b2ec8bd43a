"""How long a check is for the practitioner: answers, typed answers and words read, per path of each pack.

A practitioner's time is the first performance figure (issue 17). This walks the main paths of every
content pack through the engine as a practitioner would (the answers are in ``PATHS`` below; a step
the script does not name gets the first choice offered) and prints, per path: the answers given, how
many were typed, the words shown before the record, the Slack interactions (a click per choice, two per
typed answer or ticked list: open and submit, tick and continue) and the Teams cards (one per step),
and which record fields a 'do not share' path asked about how to share.

The figures are counted, not timed, so they are the same on any machine; the in-run baseline is the
default pack's common share path, which the other paths are shown against.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from dialogs.content import AnswerKind, available_packs, load_pack
from dialogs.engine import Engine
from dialogs.messages import Prompt
from dialogs.state import Status
from tests.support.flows import AnswerSpec, answer_for, default_answer

DEFAULT_PACK = "children-england-2024"

TYPED = frozenset({AnswerKind.FREE_TEXT, AnswerKind.CASE_REFERENCE, AnswerKind.DATETIME, AnswerKind.RECIPIENT})
"""Answers the practitioner types (or, for a recipient, fills in a form) rather than clicks."""

HOW_TO_SHARE = frozenset(
    {"recipient", "recipient_role", "recipient_type", "method", "timely", "onward_limits", "lawful_basis", "shared_at"}
)
"""Record fields a check that ends in 'do not share' should never have asked about."""

# The paths a practitioner takes most, per pack, by step id. Anything not named: the first choice offered.
_SHARE: dict[str, AnswerSpec] = {
    "immediate_danger": "no",
    "request_context": "own_initiative",
    "recipient_type": "la_school",
    "method": "secure_email",
    "decision": "share",
}
_NOT_SHARE_ASKED: dict[str, AnswerSpec] = {
    "immediate_danger": "no",
    "request_context": "asked",
    "purpose": "no",
    "decision": "not_share",
}
_NOT_SHARE_LATE: dict[str, AnswerSpec] = {"immediate_danger": "no", "request_context": "asked", "decision": "not_share"}
_ADVICE: dict[str, AnswerSpec] = {
    "immediate_danger": "no",
    "request_context": "own_initiative",
    "decision": "seek_advice",
}
_URGENT: dict[str, AnswerSpec] = {
    "immediate_danger": "yes",
    "urgent_action": ("called_999",),
    "urgent_decision": "share",
}
PATHS: Mapping[str, Mapping[str, Mapping[str, AnswerSpec]]] = {
    "children-england-2024": {
        "share (common)": _SHARE,
        "do not share (asked)": _NOT_SHARE_ASKED,
        "do not share (decided)": _NOT_SHARE_LATE,
        "seek advice": _ADVICE,
        "immediate danger": _URGENT,
    },
    "children-england-2018": {
        "share (common)": _SHARE,
        "do not share (asked)": _NOT_SHARE_ASKED,
        "do not share (decided)": _NOT_SHARE_LATE,
        "seek advice": _ADVICE,
        "immediate danger": _URGENT,
    },
    "adults-england": {
        "share (common)": {**_SHARE, "consent": "not_safe", "recipient_type": "council"},
        "do not share (asked)": _NOT_SHARE_ASKED,
        "do not share (decided)": _NOT_SHARE_LATE,
        "seek advice": _ADVICE,
        "immediate danger": _URGENT,
    },
}

TARGETS = {
    "share (common)": {"answers": 12, "typed": 3, "words": 600},
    "do not share (asked)": {"answers": 10},
    "do not share (decided)": {"answers": 10},
    "immediate danger": {"answers": 7},
}
"""Issue 17's targets for the default pack; the other packs may take up to ``OTHER_PACK_SLACK`` more answers."""
OTHER_PACK_SLACK = 2

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’.-]*")


def words(text: str | None) -> int:
    return len(_WORD.findall(text or ""))


def prompt_words(prompt: Prompt) -> int:
    """Everything the practitioner has in front of them on this step: question, help, guidance, sources, buttons."""
    total = words(prompt.title) + words(prompt.question) + words(prompt.help) + words(prompt.notice)
    total += sum(words(g.text) + (words(g.citation.short()) if g.citation else 0) for g in prompt.guidance)
    total += sum(words(c.short()) for c in prompt.citations)
    total += sum(words(m.title) + words(m.text) + words(m.citation.short()) for m in prompt.myths)
    total += sum(words(c.label) for c in prompt.input.choices)
    total += words(prompt.input.placeholder)
    return total


@dataclass(frozen=True)
class PathFigures:
    pack: str
    path: str
    decision: str | None
    answers: int
    typed: int
    words: int
    slack_interactions: int
    teams_cards: int
    how_to_share_asked: tuple[str, ...]
    """On a path that ended in 'do not share': the how-to-share fields it asked about (should be none)."""


def walk_path(pack_id: str, name: str, script: Mapping[str, AnswerSpec]) -> PathFigures:
    engine = Engine(load_pack(pack_id))
    now = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    turn = engine.start(now)
    answers = typed = shown = slack = 0
    fields: list[str] = []
    while turn.state.status is Status.ACTIVE:
        assert isinstance(turn.message, Prompt), turn.message
        assert answers < 100, f"{pack_id} {name}: no end after 100 answers"
        step = engine.pack.step(turn.message.step_id)
        shown += prompt_words(turn.message)
        answers += 1
        if step.kind in TYPED:
            typed += 1
            slack += 2
        elif step.kind is AnswerKind.MULTI_CHOICE:
            slack += 2
        else:
            slack += 1
        if step.field:
            fields.append(step.field)
        answer = (
            answer_for(step, turn.state, script[step.id]) if step.id in script else default_answer(step, turn.state)
        )
        now += timedelta(seconds=20)
        turn = engine.answer(turn.state, answer, now)
    assert turn.state.status is Status.COMPLETED, f"{pack_id} {name}: ended {turn.state.status}"
    decided = None
    for step_id, value in turn.state.path_answers().items():
        if engine.pack.step(step_id).field == "decision" and value.choices:
            decided = value.choices[0]
    asked = tuple(f for f in fields if f in HOW_TO_SHARE) if decided == "not_share" else ()
    return PathFigures(pack_id, name, decided, answers, typed, shown, slack, answers, asked)


def target_met(fig: PathFigures) -> bool | None:
    target = TARGETS.get(fig.path)
    if target is None:
        return None
    extra = 0 if fig.pack == DEFAULT_PACK else OTHER_PACK_SLACK
    ok = fig.answers <= target["answers"] + extra
    if fig.pack == DEFAULT_PACK:
        ok = ok and fig.typed <= target.get("typed", fig.typed) and fig.words <= target.get("words", fig.words)
    return ok and not fig.how_to_share_asked


def main() -> None:
    figures = [
        walk_path(pack_id, name, script)
        for pack_id in available_packs()
        if pack_id in PATHS
        for name, script in PATHS[pack_id].items()
    ]
    base = next(f for f in figures if f.pack == DEFAULT_PACK and f.path == "share (common)")
    header = (
        f"{'pack':24} {'path':22} {'decision':11} {'answers':>7} {'typed':>5} {'words':>6} {'slack':>5} {'teams':>5}"
    )
    print(header)
    print("-" * len(header))
    for f in figures:
        flag = {None: "", True: "  met", False: "  MISSED"}[target_met(f)]
        also = f"  asked how to share: {', '.join(f.how_to_share_asked)}" if f.how_to_share_asked else ""
        print(
            f"{f.pack:24} {f.path:22} {f.decision or '-':11} {f.answers:>7} {f.typed:>5} {f.words:>6} "
            f"{f.slack_interactions:>5} {f.teams_cards:>5}{flag}{also}"
        )
    print(f"(baseline: the default pack's common share path, {base.answers} answers and {base.words} words)")
    result = {
        "bench": "check_length",
        "default_pack": DEFAULT_PACK,
        "paths": [asdict(f) | {"met": target_met(f)} for f in figures],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
