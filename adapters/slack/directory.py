"""What Slack can tell the conversation about a person of the workspace: their time zone (users.info)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from pydantic import ValidationError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.parse import UserInfo

log = logging.getLogger(__name__)


class SlackDirectory:
    def __init__(self, api: Callable[[], AsyncWebClient]) -> None:
        self._api = api
        """The Web API client of the workspace being served (with OAuth, each request's own)."""

    async def time_zone(self, workspace_id: str, user_id: str) -> str | None:
        try:
            info = UserInfo.model_validate((await self._api().users_info(user=user_id)).data)
        except (SlackApiError, ValidationError) as exc:
            log.warning("slack: users.info failed in %s (%s); time zone not stored", workspace_id, type(exc).__name__)
            return None
        return info.user.tz
