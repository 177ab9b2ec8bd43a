"""The action, block and callback ids ShareCheck puts into Slack messages and modals.

Rendering (render.py) writes them and parsing (parse.py) reads them back, so both import them from here.
"""

from __future__ import annotations

PREFIX = "sc:"
CHOICE = "sc:choice:"
"""Prefix of a choice button's action id; the choice id follows (action ids must be unique in a message)."""
MULTI = "sc:multi:"
"""Prefix of a checkboxes element's action id (toggling one is acknowledged and ignored)."""
MULTI_SUBMIT = "sc:multi_submit"
FORM = "sc:form"
"""Opens the modal for a typed answer, or for a form's fields."""
CHANGE = "sc:change"
"""The review screen's 'change an answer' menu: the picked option's value is a ``ChoiceRef`` (``v`` = change:<step>)."""
BACK = "sc:back"
CANCEL = "sc:cancel"
URGENT = "sc:urgent"

MULTI_BLOCK = "sc_multi"
NAV_BLOCK = "sc_nav"

ANSWER_VIEW = "sc:answer"
"""callback_id of the modal that takes a typed answer."""
TEXT_BLOCK = "sc_text"
USER_BLOCK = "sc_user"
ORG_BLOCK = "sc_org"
ROLE_BLOCK = "sc_role"
FIELDS_VIEW = "sc:fields"
"""callback_id of the modal that answers a form: one input block per field."""
FIELD_BLOCK = "sc_f:"
"""Prefix of a form field's input block id; the field id follows."""
INPUT_ACTION = "value"
"""action_id of the single element inside each input block."""

FOLLOW_UP = "sc:fu:"
"""Prefix of a follow-up answer button's action id; the choice id follows. Its value is a ``FollowUpRef``."""
FOLLOW_UP_VIEW = "sc:fu_note"
"""callback_id of the modal that takes a follow-up answer's note (what is unclear, how it was confirmed)."""
NOTE_BLOCK = "sc_note"

RECONSIDER = "sc:reconsider"
"""On a 'do not share' summary: reopen the decision with new information. Its value is a ``CheckRef``."""
RECONSIDER_BLOCK = "sc_reconsider"

START = "sc:start"
"""'Start a check', wherever ShareCheck says there is none: opens a new check in the DM (no value)."""
START_BLOCK = "sc_start"

REF_ACTIONS = frozenset({MULTI_SUBMIT, FORM, BACK, CANCEL, URGENT, CHANGE})
"""Our action ids (besides choices) whose value (or picked option's value) carries a check reference."""
