"""Slack for several workspaces: Bolt's OAuth install flow, with its installation and state stores in our database.

With SLACK_CLIENT_ID and SLACK_CLIENT_SECRET set, each workspace installs the app at ``GET /slack/install``;
Slack sends the browser back to ``GET /slack/oauth_redirect``, where Bolt's ``AsyncOAuthFlow`` checks the state
(a cookie and a row here, used once), exchanges the code with ``oauth.v2.access`` and saves the installation
through ``SlackInstallations``. Bolt then authorizes every request with that workspace's bot token, and the
scheduler's deliveries look the token up by workspace (team) id. ``app_uninstalled`` and ``tokens_revoked``
delete the installation. Bot tokens are sealed at rest (bot.secretbox) with a key derived from
SHARECHECK_SECRET_KEY, bound to their workspace.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from datetime import timedelta
from typing import Any, cast

from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.db.engine import insert_with_conflicts
from bot.db.models import SlackInstallation, SlackOAuthState
from bot.runtime import Runtime
from bot.secretbox import SecretBox, SecretUnreadable
from bot.settings import Settings

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
BOT_SCOPES = ("commands", "chat:write", "im:write", "users:read")
"""The manifest's bot scopes (manifest/slack.yaml says why each); a test keeps the two the same."""
STATE_TTL = timedelta(minutes=10)
"""How long an install page's state stays usable (Bolt's cookie lives as long)."""
TOKEN_FIELDS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")


class SlackInstallations(AsyncInstallationStore):
    """Bolt's installation store on our database: one row per workspace (or organisation), tokens sealed.

    Bolt calls ``async_find_bot`` for each request (bot-only: ShareCheck asks for no user scopes) and
    ``async_save`` at the end of the install flow; ``bot_token_for`` serves the scheduler.
    """

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, client_id: str, secret_key: bytes
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.client_id = client_id
        self._box = SecretBox(secret_key, "slack installation tokens")

    @property
    def logger(self) -> logging.Logger:
        return log

    # --- keys and sealing ------------------------------------------------------------------

    @staticmethod
    def _key(enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None) -> tuple[str, str]:
        # an organisation-wide install serves every workspace of the organisation: it is found by enterprise alone
        return enterprise_id or "", "" if is_enterprise_install else team_id or ""

    def _bound(self, row_key: tuple[str, str], field: str) -> str:
        return f"slack:{self.client_id}:{row_key[0]}:{row_key[1]}:{field}"

    def _seal(self, row_key: tuple[str, str], field: str, value: str | None) -> str | None:
        return None if value is None else self._box.seal(value, self._bound(row_key, field))

    def _open(self, row: SlackInstallation, field: str) -> str | None:
        stored: str | None = getattr(row, field)
        if stored is None:
            return None
        return self._box.open(stored, self._bound((row.enterprise_id, row.team_id), field))

    # --- AsyncInstallationStore --------------------------------------------------------------

    async def async_save(self, installation: Installation) -> None:
        key = self._key(installation.enterprise_id, installation.team_id, installation.is_enterprise_install)
        values: dict[str, Any] = {
            "client_id": self.client_id,
            "enterprise_id": key[0],
            "team_id": key[1],
            "app_id": installation.app_id,
            "is_enterprise_install": bool(installation.is_enterprise_install),
            "bot_id": installation.bot_id,
            "bot_user_id": installation.bot_user_id,
            "bot_scopes": ",".join(installation.bot_scopes or ()) or None,
            "bot_token_expires_at": installation.bot_token_expires_at,
            "user_id": installation.user_id,
            "user_scopes": ",".join(installation.user_scopes or ()) or None,
            "user_token_expires_at": installation.user_token_expires_at,
            "token_type": installation.token_type,
            "installed_at": self.clock.now(),
        }
        for field in TOKEN_FIELDS:
            values[field] = self._seal(key, field, getattr(installation, field))
        async with self.sessions.begin() as session:
            table = cast(Table, SlackInstallation.__table__)
            insert = insert_with_conflicts(session.get_bind().dialect.name, table).values(id=uuid.uuid4(), **values)
            # a reinstall (new scopes, another installer) replaces the workspace's row
            await session.execute(
                insert.on_conflict_do_update(index_elements=["client_id", "enterprise_id", "team_id"], set_=values)
            )
        log.info("slack: installed in workspace %s", key[1] or key[0])

    async def async_save_bot(self, bot: Bot) -> None:
        """Bolt calls this after rotating a bot token (token rotation is off in our manifest, but keep it right)."""
        key = self._key(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)
        async with self.sessions.begin() as session:
            await session.execute(
                update(SlackInstallation)
                .where(*self._where(key))
                .values(
                    bot_token=self._seal(key, "bot_token", bot.bot_token),
                    bot_refresh_token=self._seal(key, "bot_refresh_token", bot.bot_refresh_token),
                    bot_token_expires_at=bot.bot_token_expires_at,
                )
            )

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        row = await self._row(self._key(enterprise_id, team_id, is_enterprise_install))
        if row is None or (user_id is not None and row.user_id != user_id):
            return None
        try:
            bot_token, bot_refresh, user_token, user_refresh = (self._open(row, field) for field in TOKEN_FIELDS)
        except SecretUnreadable:
            log.warning("slack: the installation for %s cannot be read with this SHARECHECK_SECRET_KEY", row.team_id)
            return None
        return Installation(
            app_id=row.app_id,
            enterprise_id=row.enterprise_id or None,
            team_id=row.team_id or None,
            bot_id=row.bot_id,
            bot_user_id=row.bot_user_id,
            bot_scopes=row.bot_scopes or "",
            bot_token_expires_at=row.bot_token_expires_at,
            user_id=row.user_id,
            user_scopes=row.user_scopes or "",
            user_token_expires_at=row.user_token_expires_at,
            is_enterprise_install=row.is_enterprise_install,
            token_type=row.token_type,
            installed_at=row.installed_at,
            bot_token=bot_token,
            bot_refresh_token=bot_refresh,
            user_token=user_token,
            user_refresh_token=user_refresh,
        )

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        installation = await self.async_find_installation(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )
        if installation is None or installation.bot_token is None:
            return None
        return installation.to_bot()

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        # the bot token is all ShareCheck installs, so without it the installation is gone
        await self._delete((enterprise_id or "", team_id or ""), "bot token revoked")

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        key = (enterprise_id or "", team_id or "")
        if user_id is None:
            await self._delete(key, "uninstalled")
            return
        # only that person's own token (ShareCheck asks for none, so normally there is nothing to clear)
        async with self.sessions.begin() as session:
            await session.execute(
                update(SlackInstallation)
                .where(*self._where(key), SlackInstallation.user_id == user_id)
                .values(user_token=None, user_refresh_token=None, user_token_expires_at=None, user_scopes=None)
            )

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self._delete((enterprise_id or "", team_id or ""), "uninstalled")

    # --- for the scheduler -------------------------------------------------------------------

    async def bot_token_for(self, team_id: str) -> str | None:
        """The bot token serving this workspace, or None when ShareCheck is not (or no longer) installed there.

        Raises ``SecretUnreadable`` when the token cannot be decrypted (SHARECHECK_SECRET_KEY is not the one it
        was saved with): an operator's fault to fix, not a workspace that left, so deliveries wait for it.
        """
        async with self.sessions() as session:
            row = await session.scalar(
                select(SlackInstallation)
                .where(SlackInstallation.client_id == self.client_id, SlackInstallation.team_id == team_id)
                .limit(1)
            )
        return None if row is None else self._open(row, "bot_token")

    # --- rows ------------------------------------------------------------------------------------

    def _where(self, key: tuple[str, str]) -> tuple[Any, ...]:
        return (
            SlackInstallation.client_id == self.client_id,
            SlackInstallation.enterprise_id == key[0],
            SlackInstallation.team_id == key[1],
        )

    async def _row(self, key: tuple[str, str]) -> SlackInstallation | None:
        async with self.sessions() as session:
            row: SlackInstallation | None = await session.scalar(select(SlackInstallation).where(*self._where(key)))
            return row

    async def _delete(self, key: tuple[str, str], why: str) -> None:
        async with self.sessions.begin() as session:
            result = await session.execute(delete(SlackInstallation).where(*self._where(key)))
        if result.rowcount:  # type: ignore[attr-defined]
            log.info("slack: %s in workspace %s; its installation is deleted", why, key[1] or key[0])


class SlackOAuthStates(AsyncOAuthStateStore):
    """Bolt's OAuth state store on our database: each state is good once, for ``STATE_TTL``, on any instance."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(32)
        now = self.clock.now()
        async with self.sessions.begin() as session:
            await session.execute(delete(SlackOAuthState).where(SlackOAuthState.expires_at <= now))
            session.add(SlackOAuthState(state=state, expires_at=now + STATE_TTL))
        return state

    async def async_consume(self, state: str) -> bool:
        if not state or len(state) > 64:
            return False
        async with self.sessions.begin() as session:
            result = await session.execute(
                delete(SlackOAuthState).where(
                    SlackOAuthState.state == state, SlackOAuthState.expires_at > self.clock.now()
                )
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def installations_for(runtime: Runtime) -> SlackInstallations:
    """The installation store of this runtime (the adapter's and the scheduler's are alike: state is in the DB)."""
    client_id = runtime.settings.slack_client_id
    if client_id is None:
        raise ValueError("SLACK_CLIENT_ID is unset")
    # the same key that signs the receipt form, resolved once by the runtime (bot.services.receipts)
    return SlackInstallations(runtime.sessions, runtime.clock, client_id, runtime.receipts.secret_key)


def oauth_settings(
    settings: Settings, installations: SlackInstallations, states: SlackOAuthStates
) -> AsyncOAuthSettings:
    """Bolt's OAuth settings: our stores, our paths, the manifest's scopes."""
    assert settings.slack_client_id is not None and settings.slack_client_secret is not None
    public = str(settings.sharecheck_public_url).rstrip("/") if settings.sharecheck_public_url else None
    oauth = AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=list(BOT_SCOPES),
        # Slack checks it against the app's redirect URLs; without a public URL it uses the app's only one
        redirect_uri=public + REDIRECT_PATH if public else None,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        installation_store=installations,
        installation_store_bot_only=True,
        state_store=states,
        state_expiration_seconds=int(STATE_TTL.total_seconds()),
    )
    # Bolt would call auth.test before every ack to learn the bot's ids; they are fixed for a token, so keep them
    # per token (a reinstall brings a new token, and an uninstalled workspace's token is never looked up again)
    authorize = oauth.authorize
    assert isinstance(authorize, AsyncInstallationStoreAuthorize)
    authorize.cache_enabled = True
    return oauth


__all__ = [
    "BOT_SCOPES",
    "INSTALL_PATH",
    "REDIRECT_PATH",
    "SlackInstallations",
    "SlackOAuthStates",
    "installations_for",
    "oauth_settings",
]
