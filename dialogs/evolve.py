"""A cheaper ``model_copy(update=...)`` for the engine's hot path.

Every answer copies the dialog state and the step's prompt template. pydantic's ``model_copy`` goes
through ``__copy__``, which calls ``copy.copy`` on the field dict, the extra dict and the fields-set
before applying the update: about 4 us a copy, 2 to 3 times what the same result costs built
directly. ``model_construct`` is no help: on pydantic 2.14 it walks every field's default and is
slower than validating. ``evolve`` builds the same object ``model_copy`` would (same field dict,
same fields-set, no extra, no private attributes) for the models it is used on, which have neither
extra fields nor private attributes; anything else goes through ``model_copy`` unchanged.
tests/test_evolve.py pins the equivalence, so a pydantic upgrade that changes the layout fails a test.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_setattr = object.__setattr__


def evolve(model: M, update: Mapping[str, object]) -> M:
    """``model.model_copy(update=update)``, without validating ``update`` (as model_copy does not)."""
    if model.__pydantic_extra__ is not None or getattr(model, "__pydantic_private__", None) is not None:
        return model.model_copy(update=dict(update))
    cls = type(model)
    new = cls.__new__(cls)
    _setattr(new, "__dict__", {**model.__dict__, **update})
    _setattr(new, "__pydantic_extra__", None)
    _setattr(new, "__pydantic_fields_set__", model.__pydantic_fields_set__ | update.keys())
    _setattr(new, "__pydantic_private__", None)
    return new
