"""The Slack adapter: a slack-bolt AsyncApp whose listeners translate Slack payloads for the conversation.

Every listener acknowledges first (Slack allows 3 seconds) and hands the rest to a guarded background task: an
exception there is logged, never turned into Bolt's 404. What a request asks is ``commands.py``'s to say, what
happens is the conversation's (bot/conversation/), and how the reply looks and goes is ``SlackMessenger``'s. A
modal's submission waits a little for the answer, so a refusal keeps the modal open with the reason.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from pydantic import ValidationError
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.listener.async_builtins import AsyncTokenRevocationListeners
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import ids, render
from adapters.slack.commands import SLACK, button_command, modal_message, slash_command, submission_command, who
from adapters.slack.directory import SlackDirectory
from adapters.slack.messenger import SlackMessenger, Turn
from adapters.slack.oauth import SlackInstallations, SlackOAuthStates, installations_for, oauth_settings
from adapters.slack.parse import (
    BlockActions,
    EventCallback,
    Opened,
    SlashCommand,
    ViewSubmission,
    error_block,
    field_blocks,
    parse_payload,
)
from adapters.slack.socket import QuietConnectRetries, build_socket_handler, keep_connected
from bot.body_shape import BodyRefused, check_shape
from bot.conversation import Command, Conversation, Who
from bot.conversation.replies import AskTyped, NoteRequest, Reply, ShowInPlace, Unchanged
from bot.runtime import Runtime
from dialogs.messages import Prompt

log = logging.getLogger(__name__)

COMMAND = render.SLASH_COMMAND
PAYLOAD = "sharecheck_payload"
"""Key in Bolt's context where the validated payload waits for the listener."""
SUBMIT_WAIT = 2.0
"""How long a modal submission waits for the answer to be checked before acknowledging anyway (Slack allows 3 s)."""
DRAIN_TIMEOUT = 10.0
BAD_REQUEST = "Bad request: not a payload ShareCheck understands."
TOO_LONG = "That is too long: keep it under 200 characters."
FORM_UNREADABLE = "That form could not be read: please close it and open the questions again."
ModalAck = dict[str, Any]
"""What a modal's submission is acknowledged with: {} closes it, else a ``response_action``."""


class _SameTokenWarning(logging.Filter):
    """Bolt warns that its token is unused whenever SLACK_BOT_TOKEN is in the environment and a client is given;
    our client carries that very token, so the warning would only puzzle an operator."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


BOLT_LOG = logging.getLogger("sharecheck.bolt")
BOLT_LOG.addFilter(_SameTokenWarning())
BOLT_LOG.addFilter(QuietConnectRetries())


class _Validate(AsyncMiddleware):
    """Runs after Bolt's signature check and before anything else reads the body: refuse the wrong shape with 400.

    A plain middleware class, not a function: Bolt's argument injection would itself trip over a malformed body.
    """

    async def async_process(self, *, req: Any, resp: Any, next: Callable[[], Awaitable[Any]]) -> Any:
        try:
            check_shape(req.body)  # no extreme nesting, no text a database column cannot hold
        except BodyRefused as exc:
            log.info("slack: refused a payload: %s", exc)
            return BoltResponse(status=400, body=BAD_REQUEST)
        try:
            payload = parse_payload(req.body)
        except ValidationError as exc:
            where = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors(include_input=False)})
            log.info("slack: refused a malformed payload (%s)", ", ".join(where)[:300])
            return BoltResponse(status=400, body=BAD_REQUEST)
        if payload is None:
            # a kind we never subscribed to: answer as Bolt would for an unmatched request, without letting
            # Bolt's own logging of the unknown shape fail (it raised on, e.g., a shortcut with "view": null)
            log.info("slack: ignored a request of a kind ShareCheck does not handle")
            return BoltResponse(status=404, body="not handled")
        req.context[PAYLOAD] = payload
        if not _web_url(req.context.get("response_url")):
            # Bolt itself posts there (its reply to a workspace without an installation): an empty or
            # malformed one would fail that post and the request with it
            req.context.pop("response_url", None)
        return await next()


def _web_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


WORKSPACE_CLIENT: contextvars.ContextVar[AsyncWebClient | None] = contextvars.ContextVar(
    "slack_workspace_client", default=None
)
"""Several workspaces: the Web API client Bolt authorized for the request being handled (its workspace's bot
token). Set before the listener runs, so the work it hands to tasks (which copy the context) uses it too."""


class _UseWorkspaceClient(AsyncMiddleware):
    """Runs after Bolt's authorization, which put the request's workspace bot token on ``context.client``."""

    async def async_process(self, *, req: Any, resp: Any, next: Callable[[], Awaitable[Any]]) -> Any:
        WORKSPACE_CLIENT.set(req.context.client)
        return await next()


def _form_error_block(sub: ViewSubmission) -> str:
    """Where a refusal that names no field is shown: the note's input; a form's first text input (typed text is
    what the personal-data warning is about), else its first input; a typed answer's input."""
    state = sub.view.state
    if sub.view.callback_id == ids.FOLLOW_UP_VIEW:
        return ids.NOTE_BLOCK
    if sub.view.callback_id != ids.FIELDS_VIEW:
        return error_block(state)
    blocks = field_blocks(state)
    typed = [b for b in blocks if (v := state.get(b)) is not None and v.type == "plain_text_input"]
    return (typed or blocks or [ids.TEXT_BLOCK])[0]


def modal_answer(reply: Reply, sub: ViewSubmission, block: str) -> tuple[ModalAck, Reply | None]:
    """How the submitted modal answers ``reply`` (stays open with errors, shows the next form, closes), and what is
    left for the DM message to show."""
    if isinstance(reply, ShowInPlace):
        if reply.refused is not None:
            errors = render.refusal_errors(reply.message, reply.refused, block)
            # the modal stays open with everything typed in it; each refused input says what to change
            return ({"response_action": "errors", "errors": errors}, None) if errors else ({}, reply)
        if reply.stale:
            # a second submission, or a form for a step already passed: nothing changed, and the modal says so
            return {"response_action": "update", "view": render.unchanged_modal().to_dict()}, None
        message = reply.message
        if isinstance(message, Prompt) and render.needs_form(message) and (where := modal_message(sub)):
            # the next question is typed too: its form takes this one's place
            return {"response_action": "update", "view": render.modal(message, *where).to_dict()}, reply
        return {}, reply
    if isinstance(reply, Unchanged):
        if reply.reason is None:
            return {}, None  # a delivery already acted on
        if sub.view.callback_id == ids.FOLLOW_UP_VIEW:
            return {"response_action": "errors", "errors": {block: render.truncate(reply.reason, 500)}}, None
        return {"response_action": "update", "view": render.unchanged_modal(reply.reason).to_dict()}, None
    if isinstance(reply, AskTyped) and isinstance(reply.prompt, NoteRequest):
        # the note is still missing (or looks like it names someone): asked again under the input
        return {"response_action": "errors", "errors": {block: render.truncate(reply.prompt.prompt, 500)}}, None
    return {}, reply


def web_client(token: str | None, api_url: str) -> AsyncWebClient:
    """The Web API client: retries once more on connection errors, and waits out a 429's Retry-After."""
    return AsyncWebClient(
        token=token,
        base_url=api_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
        ],
    )


class SlackAdapter:
    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.installations: SlackInstallations | None = None
        secret = settings.slack_signing_secret
        self._verifier = SignatureVerifier(secret) if secret else None
        oauth = None
        if settings.slack_oauth_enabled:
            # several workspaces: no token of our own; Bolt authorizes each request with its workspace's
            if settings.slack_bot_token is not None or secret is None:
                raise ValueError("OAuth mode needs SLACK_SIGNING_SECRET and no SLACK_BOT_TOKEN")
            self.installations = installations_for(runtime)
            oauth = oauth_settings(settings, self.installations, SlackOAuthStates(runtime.sessions, runtime.clock))
            self.client = web_client(None, settings.slack_api_url)
        elif settings.slack_bot_token is not None:
            self.client = web_client(settings.slack_bot_token, settings.slack_api_url)
        else:
            raise ValueError("the Slack adapter needs SLACK_BOT_TOKEN, or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET")
        self.bolt = AsyncApp(
            name="sharecheck",
            client=self.client,
            signing_secret=secret or "",
            # Every listener acks, then hands the rest to a task of its own (_spawn) and returns, so the response
            # goes as soon as the listener returns. Bolt's other mode would run the listener in a task and poll
            # for its ack every 10 ms, adding up to 10 ms to every ack.
            process_before_response=True,
            before_authorize=_Validate(),
            oauth_settings=oauth,
            logger=BOLT_LOG,
        )
        if oauth is not None:
            self.bolt.use(_UseWorkspaceClient())
        self._tasks: set[asyncio.Task[None]] = set()
        self._dm: dict[tuple[str, str], str] = {}
        self.conversation = Conversation(runtime, SLACK, SlackDirectory(lambda: self.api))
        self._register()

    @property
    def http_enabled(self) -> bool:
        """HTTP needs the signing secret; without one only Socket Mode can be served."""
        return self._verifier is not None

    @property
    def socket_mode(self) -> bool:
        return self.runtime.settings.slack_app_token is not None

    @property
    def api(self) -> AsyncWebClient:
        """The Web API client for the workspace being served: the request's own with OAuth, else the one token's."""
        return WORKSPACE_CLIENT.get() or self.client

    # --- wiring ---------------------------------------------------------------------------

    def _register(self) -> None:
        bolt = self.bolt
        bolt.command(COMMAND)(self._on_command)
        bolt.action(re.compile("^" + re.escape(ids.MULTI)))(self._on_toggle)
        bolt.action(re.compile("^" + re.escape(ids.CHOICE)))(self._on_button)
        for action_id in sorted(ids.REF_ACTIONS | {ids.RECONSIDER, ids.START}):
            bolt.action(action_id)(self._on_button)
        bolt.action(re.compile("^" + re.escape(ids.FOLLOW_UP)))(self._on_button)
        bolt.action(re.compile(".*"))(self._on_unknown_action)  # registered last: Bolt takes the first match
        for callback_id in (ids.ANSWER_VIEW, ids.FIELDS_VIEW, ids.FOLLOW_UP_VIEW):
            bolt.view_submission(callback_id)(self._on_submit)
            bolt.view_closed(callback_id)(self._on_closed)
        bolt.view_submission(re.compile(".*"))(self._on_unknown_view)
        bolt.view_closed(re.compile(".*"))(self._on_unknown_view)
        bolt.event("app_uninstalled")(self._on_lifecycle)
        bolt.event("tokens_revoked")(self._on_lifecycle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """POST /slack/events: Bolt verifies the signature, our middleware the payload, then a listener acks."""
        try:
            bolt_request = await to_bolt_request(request)
        except (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError):
            # Bolt cannot even parse the body (JSON nested past the recursion limit, too): answer 401 if it is
            # not signed by Slack, else 400
            # (not valid UTF-8 cannot carry a valid signature over the text Slack signs, so it gets 401)
            body = (await request.read()).decode("utf-8", "replace")
            if not self._signed(body, request.headers):
                return web.Response(status=401, text="invalid request")
            log.info("slack: refused a request whose body could not be parsed")
            return web.Response(status=400, text=BAD_REQUEST)
        return await to_aiohttp_response(await self.bolt.async_dispatch(bolt_request))

    async def install(self, request: web.Request) -> web.StreamResponse:
        """GET /slack/install: Bolt's install page (an *Add to Slack* link carrying a fresh state, and its cookie)."""
        flow = self.bolt.oauth_flow
        assert flow is not None  # the route exists only with OAuth
        return await to_aiohttp_response(await flow.handle_installation(await to_bolt_request(request)))

    async def oauth_redirect(self, request: web.Request) -> web.StreamResponse:
        """GET /slack/oauth_redirect: Bolt checks the state, exchanges the code (oauth.v2.access), saves the install."""
        flow = self.bolt.oauth_flow
        assert flow is not None
        return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))

    def _signed(self, body: str, headers: Mapping[str, str]) -> bool:
        if self._verifier is None:
            return False
        timestamp = headers.get("X-Slack-Request-Timestamp", "0")
        signature = headers.get("X-Slack-Signature", "")
        return bool(self._verifier.is_valid(body, timestamp, signature))

    async def lifespan(self, _app: web.Application) -> AsyncIterator[None]:
        """aiohttp cleanup context: one HTTP session for all Web API calls, Socket Mode, finishing tasks on stop."""
        session = aiohttp.ClientSession()
        self.client.session = session
        socket = None
        connecting: asyncio.Task[None] | None = None
        app_token = self.runtime.settings.slack_app_token
        if app_token is not None:
            socket = build_socket_handler(self.bolt, self.runtime.settings)
            # in the background: the server listens (Teams, health) even while Slack cannot be reached
            connecting = asyncio.create_task(keep_connected(socket, app_token, self.client))
        try:
            yield
        finally:
            if connecting is not None:
                connecting.cancel()
                await asyncio.gather(connecting, return_exceptions=True)
            if socket is not None:
                await socket.close_async()  # type: ignore[no-untyped-call]
            try:
                async with asyncio.timeout(DRAIN_TIMEOUT):
                    await self.drain()
            except TimeoutError:
                log.warning("slack: %d tasks still running at shutdown", len(self._tasks))
            self.client.session = None
            await session.close()

    # --- background work ------------------------------------------------------------------

    def _spawn(self, name: str, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(self._guarded(name, work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @staticmethod
    async def _guarded(name: str, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except SlackApiError as exc:
            log.warning("slack %s: Web API answered %s", name, exc.response.get("error", "an error"))
        except Exception as exc:
            # the type and where, never the message: it could quote what someone typed
            where = "".join(traceback.format_tb(exc.__traceback__))
            log.error("slack %s failed: %s\n%s", name, type(exc).__name__, where)

    async def drain(self) -> None:
        """Wait for the work started after acks (tests; shutdown: callers bound it with asyncio.timeout)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- listeners: acknowledge, then hand over -------------------------------------------

    async def _on_command(self, ack: Any, context: Any, respond: AsyncRespond | None) -> None:
        cmd: SlashCommand = context[PAYLOAD]
        # typed in a channel (a DM's id starts with D): a check's move to the DM is said in the ack itself,
        # which saves a response_url call on the busiest request
        notice = None if _maybe_dm(cmd.channel_id) else self.conversation.moved_notice(slash_command(cmd))
        await ack(text=notice) if notice else await ack()
        turn = Turn(cmd.team_id, cmd.user_id, trigger_id=cmd.trigger_id, respond=respond, noticed=bool(notice))
        self._spawn("command", self._command(cmd, turn))

    async def _on_button(self, ack: Any, context: Any, respond: AsyncRespond | None) -> None:
        await ack()
        payload: BlockActions = context[PAYLOAD]
        team, user = payload.team.id, payload.user.id
        try:
            command = button_command(payload)
        except ValidationError:
            log.info("slack: refused a button press that does not fit an answer (team %s)", team)
            return
        if command is None:  # pragma: no cover - only our action ids are routed here
            return
        turn = Turn(team, user, payload.message, payload.trigger_id, respond)
        self._spawn(command.verb.value, self._turn(who(team, user, delivery=payload.trigger_id), command, turn))

    async def _on_toggle(self, ack: Any) -> None:
        await ack()  # ticking a box changes nothing until Continue

    async def _on_submit(self, ack: Any, context: Any) -> None:
        """A typed answer, a form or a follow-up's note submitted: answered while Slack waits, so a refusal keeps
        the modal open with the reason."""
        sub: ViewSubmission = context[PAYLOAD]
        block = _form_error_block(sub)
        try:
            command = submission_command(sub)
        except ValidationError:
            text = FORM_UNREADABLE if sub.view.callback_id == ids.FIELDS_VIEW else TOO_LONG
            await ack(response_action="errors", errors={block: text})
            return
        team, user = sub.team.id, sub.user.id
        turn = Turn(team, user, modal_message(sub))  # no trigger: the ack itself shows the next form
        decided: asyncio.Future[ModalAck] = asyncio.get_running_loop().create_future()
        asking = who(team, user, delivery=sub.trigger_id)
        self._spawn("submission", self._submit(asking, command, turn, sub, block, decided))
        try:
            answer = await asyncio.wait_for(asyncio.shield(decided), SUBMIT_WAIT)
        except TimeoutError:
            # still being checked: close the modal now; the DM message shows the outcome, a refusal included
            answer = {} if decided.cancel() else decided.result()
        await ack(**answer)

    async def _on_closed(self, ack: Any) -> None:
        await ack()  # closing the modal leaves the check where it was; the DM message still has its buttons

    async def _on_unknown_action(self, ack: Any, context: Any) -> None:
        await ack()
        payload = context.get(PAYLOAD)
        if isinstance(payload, BlockActions):
            log.info("slack: ignored unknown action id %r (team %s)", payload.action.action_id[:64], payload.team.id)

    async def _on_unknown_view(self, ack: Any, context: Any) -> None:
        await ack()
        payload = context.get(PAYLOAD)
        callback = getattr(getattr(payload, "view", None), "callback_id", "")
        log.info("slack: ignored a view with unknown callback id %r", str(callback)[:64])

    async def _on_lifecycle(self, context: Any) -> None:
        """``app_uninstalled`` or ``tokens_revoked``: with OAuth, Bolt's own handlers delete the installation
        (Bolt acknowledges events itself once the listener returns)."""
        event: EventCallback = context[PAYLOAD]
        if self.installations is None:
            log.warning(
                "slack: %s in workspace %s; SLACK_BOT_TOKEN no longer works there", event.event.type, event.team_id
            )
            return
        listeners = AsyncTokenRevocationListeners(self.installations)
        if event.event.type == "app_uninstalled":
            await listeners.handle_app_uninstalled_events(context)
        else:
            await listeners.handle_tokens_revoked_events(event.event.model_dump(exclude_none=True), context)

    # --- the work after the ack -----------------------------------------------------------

    def _messenger(self, turn: Turn) -> SlackMessenger:
        return SlackMessenger(self.api, self._dm_channel, turn)

    async def _command(self, cmd: SlashCommand, turn: Turn) -> None:
        private = await self._in_dm(cmd.team_id, cmd.user_id, cmd.channel_id)
        asking = who(cmd.team_id, cmd.user_id, private=private, channel=cmd.channel_id, delivery=cmd.trigger_id)
        await self._turn(asking, slash_command(cmd), turn)

    async def _in_dm(self, team: str, user: str, channel: str | None) -> bool:
        """Typed in their DM with ShareCheck (else in a channel, where a check's messages are not shown)."""
        if not _maybe_dm(channel):
            return False  # a channel, a private channel or a group DM
        try:
            return await self._dm_channel(team, user) == channel
        except SlackApiError:
            return False  # the DM cannot be opened: not typed there either

    async def _turn(self, asking: Who, command: Command, turn: Turn) -> None:
        await self.conversation.turn(asking, command, self._messenger(turn))

    async def _submit(
        self,
        asking: Who,
        command: Command,
        turn: Turn,
        sub: ViewSubmission,
        block: str,
        decided: asyncio.Future[ModalAck],
    ) -> None:
        try:
            reply = await self.conversation.handle(asking, command)
        except BaseException:
            if not decided.done():
                decided.set_result({})  # failed: close the modal (the failure is logged by _guarded)
            raise
        if decided.cancelled():
            # the modal closed before the answer was checked: the DM message shows everything, a refusal too
            await self._messenger(turn).send(reply)
            return
        answer, rest = modal_answer(reply, sub, block)
        decided.set_result(answer)
        if rest is not None:
            await self._messenger(turn).send(rest)

    async def _dm_channel(self, team: str, user: str) -> str:
        key = (team, user)
        channel = self._dm.get(key)
        if channel is None:
            opened = Opened.model_validate((await self.api.conversations_open(users=user)).data)
            channel = self._dm[key] = opened.channel.id
        return channel


def _maybe_dm(channel: str | None) -> bool:
    """A DM's id starts with D; any other id (or none) is a channel, a private channel or a group DM."""
    return channel is not None and channel.startswith("D")
