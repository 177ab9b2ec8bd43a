"""Bot Framework credentials -> the Agents SDK's connection configuration (one place that reads them)."""

from __future__ import annotations

from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.core import AgentAuthConfiguration
from microsoft_agents.hosting.core.authorization import AuthTypes

from bot.settings import Settings

# The SDK looks the outbound connection up by this name.
SERVICE_CONNECTION = "SERVICE_CONNECTION"
# Audience for outbound connector calls when there is no app id (emulator mode).
BOT_FRAMEWORK_AUDIENCE = "https://api.botframework.com"


def auth_configuration(settings: Settings) -> AgentAuthConfiguration:
    """Anonymous (emulator) without an app id; otherwise tokens are required and validated against the app id."""
    if settings.teams_emulator_mode:
        return AgentAuthConfiguration(anonymous_allowed=True, connection_name=SERVICE_CONNECTION)
    app_type = (settings.microsoft_app_type or "SingleTenant").lower()
    if app_type == "userassignedmsi":
        return AgentAuthConfiguration(
            auth_type=AuthTypes.user_managed_identity,
            client_id=settings.microsoft_app_id,
            tenant_id=settings.microsoft_app_tenant_id,
            connection_name=SERVICE_CONNECTION,
            anonymous_allowed=False,
        )
    # a multi-tenant registration gets its outbound tokens from the botframework.com tenant
    tenant = settings.microsoft_app_tenant_id or ("botframework.com" if app_type == "multitenant" else None)
    return AgentAuthConfiguration(
        auth_type=AuthTypes.client_secret,
        client_id=settings.microsoft_app_id,
        tenant_id=tenant,
        client_secret=settings.microsoft_app_password,
        connection_name=SERVICE_CONNECTION,
        anonymous_allowed=False,
    )


def connection_manager(settings: Settings) -> MsalConnectionManager:
    return MsalConnectionManager(connections_configurations={SERVICE_CONNECTION: auth_configuration(settings)})
