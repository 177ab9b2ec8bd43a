"""``sharecheck manifest slack``: the app manifest in manifest/slack.yaml, filled in from settings.

The template keeps its comments (why each scope is needed) in the output: Slack accepts YAML manifests.
"""

from __future__ import annotations

import json
from pathlib import Path
from string import Template

from adapters.slack.oauth import REDIRECT_PATH
from bot.settings import Settings

TEMPLATE = Path(__file__).resolve().parents[2] / "manifest" / "slack.yaml"
EVENTS_PATH = "/slack/events"
PLACEHOLDER_URL = "https://sharecheck.example.invalid"
"""Used when SHARECHECK_PUBLIC_URL is unset; Slack refuses it, so the operator notices."""


def events_url(settings: Settings) -> str:
    base = str(settings.sharecheck_public_url or PLACEHOLDER_URL).rstrip("/")
    return base + EVENTS_PATH


def slack_manifest(settings: Settings, template: Path = TEMPLATE) -> str:
    if not template.is_file():
        raise FileNotFoundError(f"the Slack manifest template is missing: {template}")
    return Template(template.read_text(encoding="utf-8")).substitute(
        # JSON strings are YAML scalars: a URL can never break the document's structure
        events_url=json.dumps(events_url(settings)),
        redirect_url=json.dumps(str(settings.sharecheck_public_url or PLACEHOLDER_URL).rstrip("/") + REDIRECT_PATH),
        socket_mode="true" if settings.slack_app_token else "false",
    )
