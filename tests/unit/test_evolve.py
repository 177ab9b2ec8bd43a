"""dialogs.evolve.evolve must build exactly what pydantic's model_copy(update=...) builds."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, PrivateAttr

from dialogs.content import load_pack
from dialogs.engine import Engine
from dialogs.evolve import evolve
from dialogs.messages import Prompt
from dialogs.state import AnswerValue, DialogState
from tests.support.settings import T0


def same(a: BaseModel, b: BaseModel) -> None:
    assert type(a) is type(b)
    assert a.__dict__ == b.__dict__
    assert a.model_fields_set == b.model_fields_set
    assert a.__pydantic_extra__ == b.__pydantic_extra__
    assert a.__pydantic_private__ == b.__pydantic_private__
    assert a.model_dump_json() == b.model_dump_json()
    assert a.model_dump(exclude_unset=True) == b.model_dump(exclude_unset=True)
    assert a == b


def test_evolve_matches_model_copy_on_state_prompt_and_answer() -> None:
    turn = Engine(load_pack("children-england-2024")).start(T0)
    state, prompt = turn.state, turn.message
    assert isinstance(prompt, Prompt)
    update: dict[str, object] = {"history": ["case_reference"], "revision": 1, "step": "immediate_danger"}
    same(evolve(state, update), state.model_copy(update=update))
    same(evolve(prompt, {"revision": 4, "notice": "n"}), prompt.model_copy(update={"revision": 4, "notice": "n"}))
    value = AnswerValue(choices=(), at=T0)
    same(evolve(value, {"choices": ("yes",), "at": T0}), AnswerValue(choices=("yes",), at=T0))


def test_evolve_leaves_the_original_alone_and_copies_the_fields_set() -> None:
    state = DialogState(pack_id="p", pack_version="1.0.0", step="a", started_at=T0, updated_at=T0)
    new = evolve(state, {"revision": 2})
    new.urgent = True  # assignment marks the field set on the copy only
    assert state.urgent is False and state.revision == 0
    assert "urgent" in new.model_fields_set and "urgent" not in state.model_fields_set
    assert "revision" in new.model_fields_set and "revision" not in state.model_fields_set


class _WithPrivate(BaseModel):
    model_config = ConfigDict(extra="allow")

    x: int
    _note: str = PrivateAttr(default="n")


def test_models_with_extra_or_private_attributes_fall_back_to_model_copy() -> None:
    model = _WithPrivate(x=1, y=2)
    same(evolve(model, {"x": 3}), model.model_copy(update={"x": 3}))
