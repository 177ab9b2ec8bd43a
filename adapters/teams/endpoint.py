"""``POST /api/messages``: token check, request validation, then the SDK's CloudAdapter runs the turn.

The SDK's own request handling answers 500 to a body that is not an Activity and prints stack traces
from its default turn-error handler, so requests are checked here first (415, 400) and turn errors are
logged by type only: neither responses nor logs carry what a practitioner typed.
"""

from __future__ import annotations

import logging
import warnings
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from aiohttp import web
from microsoft_agents.activity import Activity, ActivityTypes
from microsoft_agents.hosting.aiohttp import CloudAdapter, jwt_authorization_decorator
from microsoft_agents.hosting.core import AgentAuthConfiguration, TurnContext
from microsoft_agents.hosting.core.authorization import ClaimsIdentity
from microsoft_agents.hosting.core.http import HttpResponse
from pydantic import ValidationError

from adapters.teams.agent import ShareCheckAgent, notice, wording
from adapters.teams.auth import connection_manager
from adapters.teams.connector import PooledClientFactory
from adapters.teams.messenger import card_activity
from bot.body_shape import BodyRefused, load_json
from bot.runtime import Runtime
from bot.settings import is_loopback_host
from bot.web import accept_bodies

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The key under which the SDK's JWT decorator looks for the auth configuration on the aiohttp app.
AGENT_CONFIGURATION = "agent_configuration"
MESSAGES = "/api/messages"
# Activity types that act for a user and so must say who the user is.
USER_ACTIVITIES = frozenset({ActivityTypes.message, ActivityTypes.invoke})


@dataclass
class TeamsApp:
    """One adapter and agent per runtime: the web app and the scheduler's proactive sends share them."""

    runtime: Runtime
    adapter: CloudAdapter
    agent: ShareCheckAgent
    auth: AgentAuthConfiguration


_APPS: dict[int, TeamsApp] = {}


def teams_app(runtime: Runtime) -> TeamsApp:
    key = id(runtime)
    found = _APPS.get(key)
    if found is not None and found.runtime is runtime:
        return found
    connections = connection_manager(runtime.settings)
    factory = PooledClientFactory(connections)
    adapter = CloudAdapter(connection_manager=connections, channel_service_client_factory=factory)
    adapter.on_turn_error = _on_turn_error
    runtime.on_close(factory.close)  # the pooled connector connections end with the runtime
    app = TeamsApp(runtime, adapter, ShareCheckAgent(runtime), connections.get_default_connection_configuration())
    _APPS[key] = app
    weakref.finalize(runtime, _APPS.pop, key, None)
    return app


async def _on_turn_error(context: TurnContext, error: Exception) -> None:
    """Replaces the SDK default, which prints a traceback and sends the exception text to the user."""
    activity = context.activity
    log.error("teams: turn failed for a %s activity: %s", activity.type if activity else "?", type(error).__name__)
    if activity is not None and activity.type == ActivityTypes.message:
        try:
            await context.send_activity(card_activity(notice(wording().content.failed)))
        except Exception as exc:  # the connector itself may be what failed
            log.info("teams: could not tell the user about the failure (%s)", type(exc).__name__)


class _ParsedRequest:
    """The SDK's HttpRequestProtocol over a request whose JSON body was already read and checked."""

    def __init__(self, request: web.Request, body: dict[str, Any]) -> None:
        self._request = request
        self._body = body

    @property
    def method(self) -> str:
        return self._request.method

    @property
    def headers(self) -> Mapping[str, str]:
        return self._request.headers

    async def json(self) -> dict[str, Any]:
        return self._body

    def get_claims_identity(self) -> ClaimsIdentity | None:
        claims: ClaimsIdentity | None = self._request.get("claims_identity")
        return claims

    def get_path_param(self, name: str) -> str:
        return self._request.match_info[name]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class _QuietActivityValidation(logging.Filter):
    """The SDK logs every body that is not an Activity at ERROR, with the values that failed (which can be what
    someone typed) and a stack trace; ``_problem`` answers those 400 and says only how many fields were wrong."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("Validation error for Activity"))


_QUIET = _QuietActivityValidation()


def _problem(body: dict[str, Any]) -> str | None:
    """Why this body is not an activity we can act on, or None."""
    try:
        activity = Activity.model_validate(body)
    except ValidationError as exc:
        return f"not a valid activity ({exc.error_count()} invalid field(s))"
    if not activity.type or not activity.conversation or not activity.conversation.id:
        return "an activity needs type and conversation.id"
    if not activity.service_url:
        return "an activity needs serviceUrl"
    if activity.type in USER_ACTIVITIES and not (activity.from_property and activity.from_property.id):
        return "an activity needs from.id"
    return None


PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP")
"""Headers a reverse proxy adds: emulator mode takes only direct local requests, so any of them means refusal."""


def _emulator_refusal(request: web.Request) -> str | None:
    """Why emulator mode (no token checks) must not take this request, judged before the body is read."""
    if any(name in request.headers for name in PROXY_HEADERS):
        return "emulator mode takes only direct local requests, not proxied ones"
    if not is_loopback_host(request.remote):
        return "emulator mode takes only requests from this machine"
    return None


def _loopback_service_url(body: dict[str, Any]) -> bool:
    """Emulator mode replies only to a connector on this machine: the reply goes where serviceUrl says."""
    url = body.get("serviceUrl")
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and is_loopback_host(parts.hostname)


def make_handler(teams: TeamsApp) -> Handler:
    emulator = teams.runtime.settings.teams_emulator_mode

    async def messages(request: web.Request) -> web.StreamResponse:
        if request.content_type != "application/json":
            return _error(415, "Content-Type must be application/json")
        try:
            body = load_json(await request.read())  # also refuses extreme nesting and text no column can hold
        except BodyRefused as exc:
            return _error(400, str(exc))
        if not isinstance(body, dict):
            return _error(400, "body must be a JSON object")
        problem = _problem(body)
        if problem is not None:
            return _error(400, problem)
        if emulator and not _loopback_service_url(body):
            # refused before the turn: nothing recorded, and no request leaves for an address someone typed
            return _error(403, "emulator mode replies only to a loopback serviceUrl (127.0.0.1, ::1, localhost)")
        try:
            result: HttpResponse = await teams.adapter.process_request(_ParsedRequest(request, body), teams.agent)
        except Exception as exc:  # never a stack trace in a response
            log.error("teams: request failed: %s", type(exc).__name__)
            return _error(500, "internal error")
        if result.body is not None:
            return web.json_response(result.body, status=result.status_code, headers=result.headers)
        return web.Response(status=result.status_code, headers=result.headers)

    # the decorator (not middleware) so only this route needs a token: /healthz and /slack/events stay open
    checked = cast(Handler, jwt_authorization_decorator(messages))  # type: ignore[no-untyped-call]

    async def guarded(request: web.Request) -> web.StreamResponse:
        if emulator and (refusal := _emulator_refusal(request)) is not None:
            return _error(403, refusal)
        try:
            return await checked(request)
        except web.HTTPException:
            raise
        except Exception as exc:
            # `messages` answers its own failures, so this came from the token check: the SDK 1.9 raises
            # KeyError for a signed token without a 'kid' header instead of rejecting it
            log.warning("teams: token rejected: %s", type(exc).__name__)
            return _error(401, "Invalid token or authentication failed.")

    return guarded


def mount(app: web.Application, runtime: Runtime) -> None:
    teams = teams_app(runtime)
    sdk_validation = logging.getLogger("microsoft_agents.activity.activity")
    if _QUIET not in sdk_validation.filters:
        sdk_validation.addFilter(_QUIET)
    if runtime.settings.teams_emulator_mode:
        # without an app id the SDK warns on every turn that it has none: expected here, so keep logs readable
        logging.getLogger("microsoft_agents.hosting.core.connector.client.user_token_client").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        # the SDK reads this plain-string key; aiohttp prefers AppKey objects and would warn
        warnings.simplefilter("ignore")
        app[AGENT_CONFIGURATION] = teams.auth
    app.router.add_post(MESSAGES, make_handler(teams))
    accept_bodies(app, MESSAGES, "application/json")
