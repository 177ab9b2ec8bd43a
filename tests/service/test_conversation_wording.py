"""The conversation's wording file: validated at start, one source for the copy every platform repeats."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from bot.conversation.handler import Conversation
from bot.conversation.wording import CONTENT_FILE, ConversationContent, Wording, conversation_content, shared_copy
from bot.runtime import Runtime
from dialogs.messages import Info
from tests.support.conversation import SLACK, TEAMS


def test_the_content_file_loads_and_is_versioned() -> None:
    content = conversation_content()
    assert content.version.count(".") == 2
    assert shared_copy().immediate_risk == "Immediate risk: act first, record after. This record shows what you did."
    assert shared_copy().no_names == "Use the case reference, not names."


def test_a_misspelt_placeholder_stops_start_up() -> None:
    raw = yaml.safe_load(CONTENT_FILE.read_text(encoding="utf-8"))
    raw["stale"] = "Nothing changed, {comand}."
    with pytest.raises(ValidationError, match="comand"):
        ConversationContent.model_validate(raw)
    raw = yaml.safe_load(CONTENT_FILE.read_text(encoding="utf-8"))
    raw["shared"]["no_names"] = "Use {command}."
    with pytest.raises(ValidationError, match="shared lines"):
        ConversationContent.model_validate(raw)


def test_each_surface_names_its_own_command_and_place() -> None:
    content = conversation_content()
    assert Wording(SLACK)(content.closed).endswith("Type `/share-check` to start a new one.")
    assert Wording(TEAMS)(content.closed).endswith("Type `share-check` to start a new one.")
    assert Wording(TEAMS)(content.admin.lead_here, lead="{user:29:x}").endswith("started from this team.")
    assert (
        Wording(SLACK)
        .count(content.revoke.one, content.revoke.other, 3, case_reference="C")
        .startswith("Revoked 3 receipt links for case C:")
    )


async def test_the_welcome_offers_a_start(runtime: Runtime) -> None:
    welcome = Conversation(runtime, TEAMS).welcome()
    assert welcome.offer_start and isinstance(welcome.message, Info)
    assert welcome.message.lines[1] == (
        "Type `share-check` to start, `share-check pending` for what is still open, `share-check help` for more."
    )
