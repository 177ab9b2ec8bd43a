"""`sharecheck manifest slack`: the filled manifest validates against Slack's manifest schema (Draft 7)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from sharecheck.cli import main

SCHEMA = Path(__file__).parent.parent / "data" / "slack-schemas_manifest.schema.2.0.0.json"
BOT_SCOPES = ["commands", "chat:write", "im:write", "users:read"]


def manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("SHARECHECK_PUBLIC_URL", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "slack.yaml"
    assert main(["manifest", "slack", "--out", str(out)]) == 0
    loaded: dict[str, Any] = yaml.safe_load(out.read_text(encoding="utf-8"))
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(loaded)
    return loaded


def test_manifest_is_filled_from_settings_and_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = manifest(tmp_path, monkeypatch, SHARECHECK_PUBLIC_URL="https://sharecheck.example.org/")
    url = "https://sharecheck.example.org/slack/events"
    assert loaded["features"]["slash_commands"] == [
        {
            "command": "/share-check",
            "url": url,
            "description": "Start or carry on with a guided information-sharing check",
            "usage_hint": "[help | pending | resume | digest | admin]",
            "should_escape": True,
        }
    ]
    assert loaded["settings"]["interactivity"] == {"is_enabled": True, "request_url": url}
    assert loaded["settings"]["socket_mode_enabled"] is False
    assert loaded["oauth_config"]["scopes"] == {"bot": BOT_SCOPES}  # the minimum, nothing more
    # several workspaces: the install flow's redirect, and the uninstall events that delete an installation
    assert loaded["oauth_config"]["redirect_urls"] == ["https://sharecheck.example.org/slack/oauth_redirect"]
    assert loaded["settings"]["event_subscriptions"] == {
        "request_url": url,
        "bot_events": ["app_uninstalled", "tokens_revoked"],
    }
    assert loaded["features"]["bot_user"]["display_name"] == "ShareCheck"
    assert loaded["features"]["app_home"]["messages_tab_enabled"] is True


def test_socket_mode_follows_the_app_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = manifest(tmp_path, monkeypatch, SLACK_APP_TOKEN="xapp-1-A0-1-abc")
    assert loaded["settings"]["socket_mode_enabled"] is True


def test_manifest_to_stdout_keeps_the_scope_reasons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHARECHECK_PUBLIC_URL", raising=False)
    assert main(["manifest", "slack"]) == 0
    out, err = capsys.readouterr()
    assert "im:write # open that DM" in out
    assert "SHARECHECK_PUBLIC_URL is unset" in err


def test_a_broken_manifest_is_caught_by_the_schema() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    bad = {"display_information": {"name": "x" * 36}, "features": {"slash_commands": [{"command": "share-check"}]}}
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(bad))
    assert len(errors) >= 2


def test_unknown_platform_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["manifest", "discord"])
    assert "invalid choice" in capsys.readouterr().err
