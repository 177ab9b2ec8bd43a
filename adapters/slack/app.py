"""The Slack adapter: a slack-bolt AsyncApp whose listeners translate Slack payloads into CheckService calls.

Every listener acknowledges first (Slack allows 3 seconds) and does the rest in a guarded background task:
an exception there is logged, never turned into Bolt's 404. The conversation lives in the practitioner's DM
with the bot, in one message that is updated in place; typed answers are taken in a modal.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import ValidationError
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
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
from adapters.slack.oauth import SlackInstallations, SlackOAuthStates, installations_for, oauth_settings
from adapters.slack.parse import (
    BlockActions,
    ChoiceRef,
    EventCallback,
    FollowUpRef,
    FormRef,
    NoteRef,
    Opened,
    Posted,
    Ref,
    SlashCommand,
    UserInfo,
    ViewSubmission,
    choice_answer,
    error_block,
    field_blocks,
    fields_answer,
    form_answer,
    mentioned_channel,
    mentioned_user,
    multi_answer,
    note_text,
    parse_payload,
)
from adapters.slack.socket import QuietConnectRetries, build_socket_handler, keep_connected
from bot.checks.models import Actor, CheckNotFound, Outcome, Reply
from bot.followups.models import AnswerResult, FollowUpNotFound, NoteRequired
from bot.runtime import Runtime
from bot.services.dedupe import first_time
from bot.services.help import help_message
from bot.services.receipts import ReceiptNotFound
from bot.services.roles import BootstrapAdmin, NotPermitted
from bot.services.users import remember_user
from dialogs.messages import Completion, Info, Message, Prompt
from dialogs.state import Answer

log = logging.getLogger(__name__)

PLATFORM = "slack"
COMMAND = render.SLASH_COMMAND
PAYLOAD = "sharecheck_payload"
"""Key in Bolt's context where the validated payload waits for the listener."""
SUBMIT_WAIT = 2.0
"""How long a modal submission waits for the answer to be checked before acknowledging anyway (Slack allows 3 s)."""
DRAIN_TIMEOUT = 10.0
BAD_REQUEST = "Bad request: not a payload ShareCheck understands."
TOO_LONG = "That is too long: keep it under 200 characters."
FORM_UNREADABLE = "That form could not be read: please close it and open the questions again."
NOT_YOURS = "That follow-up is not one ShareCheck can find for you, so nothing was changed."
REVOKE_USAGE = f"Say which case: `{COMMAND} revoke CS-2024-0113` (the case reference, as in the summary)."
DISAGREE_USAGE = f"Say which case: `{COMMAND} disagree CS-2024-0113` (the case reference of a share you recorded)."
NOT_RECONSIDERED = "That decision is not one of your 'do not share' decisions, so nothing was reopened."
NOT_A_LEAD = (
    "Digests are for safeguarding leads, so there is none for you. "
    "Your ShareCheck administrator can make you a lead with `/share-check admin lead add`."
)
SLACK_HELP = (
    f"Administrators: `{COMMAND} admin lead add @lead @practitioner …` (or `#channel`, or `all` for the "
    f"workspace), `{COMMAND} admin lead remove @lead`, `{COMMAND} admin add @person` (make an administrator), "
    f"`{COMMAND} admin remove @person`.",
)
ADMIN_USAGE = Info(
    title="ShareCheck administration",
    lines=(
        f"`{COMMAND} admin lead add @lead @practitioner @practitioner` makes @lead the lead for those practitioners.",
        f"`{COMMAND} admin lead add @lead #channel` for checks started in that channel; "
        f"`{COMMAND} admin lead add @lead all` for the whole workspace.",
        f"`{COMMAND} admin lead remove @lead` ends all of @lead's assignments.",
        f"`{COMMAND} admin add @person` makes @person a ShareCheck administrator; "
        f"`{COMMAND} admin remove @person` ends that.",
        "Pick people and channels with @ and # so Slack fills in who they are.",
    ),
)


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
        return await next()


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
    """Where a form's refusal that names no field is shown: its first text input (typed text is what the
    personal-data warning is about), else its first input."""
    blocks = field_blocks(sub.view.state)
    typed = [b for b in blocks if (v := sub.view.state.get(b)) is not None and v.type == "plain_text_input"]
    return (typed or blocks or [ids.TEXT_BLOCK])[0]


def _wants_form(message: Message) -> bool:
    return isinstance(message, Prompt) and render.needs_form(message)


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
        self._known_users: set[tuple[str, str]] = set()
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
        bolt.action(re.compile("^" + re.escape(ids.CHOICE)))(self._on_action)
        for action_id in sorted(ids.REF_ACTIONS):
            bolt.action(action_id)(self._on_action)
        bolt.action(re.compile("^" + re.escape(ids.FOLLOW_UP)))(self._on_follow_up)
        bolt.action(ids.RECONSIDER)(self._on_reconsider)
        bolt.action(ids.START)(self._on_start)
        bolt.action(re.compile(".*"))(self._on_unknown_action)  # registered last: Bolt takes the first match
        bolt.view_submission(ids.ANSWER_VIEW)(self._on_submit)
        bolt.view_closed(ids.ANSWER_VIEW)(self._on_closed)
        bolt.view_submission(ids.FIELDS_VIEW)(self._on_submit)
        bolt.view_closed(ids.FIELDS_VIEW)(self._on_closed)
        bolt.view_submission(ids.FOLLOW_UP_VIEW)(self._on_note)
        bolt.view_closed(ids.FOLLOW_UP_VIEW)(self._on_closed)
        bolt.view_submission(re.compile(".*"))(self._on_unknown_view)
        bolt.view_closed(re.compile(".*"))(self._on_unknown_view)
        bolt.event("app_uninstalled")(self._on_lifecycle)
        bolt.event("tokens_revoked")(self._on_lifecycle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """POST /slack/events: Bolt verifies the signature, our middleware the payload, then a listener acks."""
        try:
            bolt_request = await to_bolt_request(request)
        except (ValueError, TypeError, AttributeError, KeyError, IndexError):
            # Bolt cannot even parse the body: answer 401 if it is not signed by Slack, else 400
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
        except CheckNotFound:
            log.info("slack %s: no such check for this user", name)
        except Exception as exc:
            # the type and where, never the message: it could quote what someone typed
            where = "".join(traceback.format_tb(exc.__traceback__))
            log.error("slack %s failed: %s\n%s", name, type(exc).__name__, where)

    async def drain(self) -> None:
        """Wait for the work started after acks (tests; shutdown: callers bound it with asyncio.timeout)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _first_time(self, team_id: str, trigger_id: str | None) -> bool:
        """False for Slack's retry of a delivery already handled (same trigger id)."""
        if trigger_id is None:
            return True
        key = f"{PLATFORM}:{team_id}:{trigger_id}"
        if await first_time(self.runtime.transactions, key, self.runtime.clock.now()):
            return True
        log.info("slack: ignored a repeated delivery for team %s", team_id)
        return False

    # --- listeners: acknowledge, then hand over -------------------------------------------

    async def _on_command(self, ack: Any, context: Any, respond: Any) -> None:
        cmd: SlashCommand = context[PAYLOAD]
        sub = cmd.subcommand
        if sub in ("", "start", "resume"):
            if sub == "resume":
                await ack()  # nothing to say yet: there may be no check to carry on with
            else:
                await ack(text="Your check is in your direct messages with ShareCheck.")
            self._spawn("command", self._open_check(cmd, sub == "resume", respond))
        elif sub == "pending":
            await ack()
            self._spawn("pending", self._pending(cmd, respond))
        elif sub == "digest":
            await ack()
            self._spawn("digest", self._digest(cmd, respond))
        elif cmd.words and cmd.words[0].lower() == "revoke":
            await ack()
            self._spawn("revoke", self._revoke(cmd, respond))
        elif cmd.words and cmd.words[0].lower() == "disagree":
            await ack()
            self._spawn("disagree", self._disagree(cmd, respond))
        elif cmd.words and cmd.words[0].lower() == "admin":
            await ack()
            self._spawn("admin", self._admin(cmd, respond))
        else:
            engine = self.runtime.packs.engine()
            info = help_message(engine.pack, COMMAND, engine.links)
            at = next((n for n, line in enumerate(info.lines) if line.startswith(f"`{COMMAND} help`")), 0)
            info = info.model_copy(update={"lines": (*info.lines[:at], *SLACK_HELP, *info.lines[at:])})
            await ack(text=render.fallback(info.title), blocks=render.to_dicts(render.info_blocks(info)))

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

    async def _on_toggle(self, ack: Any) -> None:
        await ack()  # ticking a box changes nothing until Continue

    async def _on_action(self, ack: Any, context: Any) -> None:
        await ack()
        self._spawn("action", self._act(context[PAYLOAD]))

    async def _on_follow_up(self, ack: Any, context: Any) -> None:
        await ack()
        self._spawn("follow-up", self._follow_up_click(context[PAYLOAD]))

    async def _on_reconsider(self, ack: Any, context: Any) -> None:
        await ack()
        self._spawn("reconsider", self._reconsider(context[PAYLOAD]))

    async def _on_start(self, ack: Any, context: Any) -> None:
        await ack()
        payload: BlockActions = context[PAYLOAD]
        self._spawn("start", self._start_click(payload))

    async def _on_note(self, ack: Any, context: Any) -> None:
        """A follow-up note submitted: answer while Slack waits (a refusal keeps the modal open with the reason)."""
        sub: ViewSubmission = context[PAYLOAD]
        ref = sub.view.note_ref()
        note = note_text(sub.view.state)
        decided: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._spawn("follow-up note", self._note_submit(sub, ref, note, decided))
        try:
            error = await asyncio.wait_for(asyncio.shield(decided), SUBMIT_WAIT)
        except TimeoutError:
            error = None  # still being recorded: close the modal; the message is updated when it is done
        if error:
            await ack(response_action="errors", errors={ids.NOTE_BLOCK: render.truncate(error, 500)})
            return
        await ack()

    async def _on_unknown_action(self, ack: Any, context: Any) -> None:
        await ack()
        payload = context.get(PAYLOAD)
        if isinstance(payload, BlockActions):
            log.info("slack: ignored unknown action id %r (team %s)", payload.action.action_id[:64], payload.team.id)

    async def _on_submit(self, ack: Any, context: Any) -> None:
        """A typed answer or a form submitted: answer while Slack waits, so a refusal keeps the modal open."""
        sub: ViewSubmission = context[PAYLOAD]
        ref = sub.view.form_ref()
        state = sub.view.state
        is_form = sub.view.callback_id == ids.FIELDS_VIEW
        block = _form_error_block(sub) if is_form else error_block(state)
        try:
            answer = fields_answer(ref, state) if is_form else form_answer(ref, state)
        except ValidationError:
            await ack(response_action="errors", errors={block: FORM_UNREADABLE if is_form else TOO_LONG})
            return
        decided: asyncio.Future[Reply | None] = asyncio.get_running_loop().create_future()
        self._spawn("submission", self._submit(sub, ref, answer, decided))
        try:
            reply = await asyncio.wait_for(asyncio.shield(decided), SUBMIT_WAIT)
        except TimeoutError:
            # still being checked: close the modal now; the DM message shows the outcome, a refusal included
            reply = None if decided.cancel() else decided.result()
        if reply is None:
            await ack()
            return
        if reply.outcome is Outcome.REFUSED:
            errors = render.refusal_errors(reply.message, reply.error, block)
            if errors:
                # the modal stays open with everything typed in it; each refused input says what to change
                await ack(response_action="errors", errors=errors)
                return
        if reply.outcome in (Outcome.STALE, Outcome.CLOSED):
            # a second submission, or a form for a step already passed: nothing changed, and the modal says so
            await ack(response_action="update", view=render.unchanged_modal(reply.error).to_dict())
            return
        if reply.outcome is Outcome.ADVANCED and _wants_form(reply.message):
            # the next question is typed too: show its form in place of this one
            assert isinstance(reply.message, Prompt)
            view = render.modal(reply.message, ref.ch, ref.ts)
            await ack(response_action="update", view=view.to_dict())
            return
        await ack()

    async def _on_closed(self, ack: Any) -> None:
        await ack()  # closing the modal leaves the check where it was; the DM message still has its buttons

    async def _on_unknown_view(self, ack: Any, context: Any) -> None:
        await ack()
        payload = context.get(PAYLOAD)
        callback = getattr(getattr(payload, "view", None), "callback_id", "")
        log.info("slack: ignored a view with unknown callback id %r", str(callback)[:64])

    # --- the work after the ack -----------------------------------------------------------

    async def _open_check(self, cmd: SlashCommand, resume_only: bool, respond: Any) -> None:
        if not await self._first_time(cmd.team_id, cmd.trigger_id):
            return
        actor = Actor(PLATFORM, cmd.team_id, cmd.user_id)
        await self._remember(actor)
        checks = self.runtime.checks
        reply = await checks.resume(actor) if resume_only else await checks.start(actor, channel_id=cmd.channel_id)
        if reply is None:
            blocks = render.to_dicts(render.no_check_blocks())
            await respond(text=render.NO_CHECK, blocks=blocks, response_type="ephemeral")
            return
        await self._open_in_dm(actor, reply.message, cmd.trigger_id)

    async def _open_in_dm(self, actor: Actor, message: Message, trigger_id: str | None) -> None:
        channel = await self._dm_channel(actor)
        posted = await self._post(channel, message)
        if _wants_form(message) and trigger_id:
            # the first question wants typing: open its form at once, while the trigger is fresh
            assert isinstance(message, Prompt)
            view = render.modal(message, posted.channel, posted.ts)
            await self.api.views_open(trigger_id=trigger_id, view=view.to_dict())

    async def _start_click(self, payload: BlockActions) -> None:
        """'Start a check' pressed (where ShareCheck said there was none): the check opens in the DM."""
        actor = Actor(PLATFORM, payload.team.id, payload.user.id)
        if not await self._first_time(actor.workspace_id, payload.trigger_id):
            return
        await self._remember(actor)
        reply = await self.runtime.checks.start(actor)
        await self._open_in_dm(actor, reply.message, payload.trigger_id)

    async def _reconsider(self, payload: BlockActions) -> None:
        """'Reconsider with new information' on a 'do not share' summary: a new check, linked to the first."""
        actor = Actor(PLATFORM, payload.team.id, payload.user.id)
        if not await self._first_time(actor.workspace_id, payload.trigger_id):
            return
        where = payload.message
        try:
            reply = await self.runtime.checks.reconsider(actor, payload.action.check_ref().c)
        except CheckNotFound:
            await self._ephemeral(actor, where, NOT_RECONSIDERED)
            return
        if reply.outcome is Outcome.REFUSED:
            await self._ephemeral(actor, where, reply.error or "Finish or cancel the check you have in progress first.")
            return
        channel = await self._dm_channel(actor)
        posted = await self._post(channel, reply.message)
        if _wants_form(reply.message) and payload.trigger_id:
            assert isinstance(reply.message, Prompt)
            view = render.modal(reply.message, posted.channel, posted.ts)
            await self.api.views_open(trigger_id=payload.trigger_id, view=view.to_dict())

    async def _revoke(self, cmd: SlashCommand, respond: Any) -> None:
        """`/share-check revoke CASE-REF`: withdraw this practitioner's live receipt links for the case."""
        if len(cmd.words) != 2:
            await respond(text=REVOKE_USAGE, response_type="ephemeral")
            return
        actor = Actor(PLATFORM, cmd.team_id, cmd.user_id)
        case_reference = cmd.words[1]
        try:
            revoked = await self.runtime.receipts.revoke(actor, case_reference)
        except ReceiptNotFound as exc:
            await respond(text=render.escape(str(exc)), response_type="ephemeral")
            return
        links = "receipt link" if revoked == 1 else "receipt links"
        text = (
            f"Revoked {revoked} {links} for case {case_reference}. The receipt page now says the link is not "
            "available and takes no answer; the revocation is in the case's record."
        )
        await respond(text=render.escape(text), response_type="ephemeral")

    async def _disagree(self, cmd: SlashCommand, respond: Any) -> None:
        """`/share-check disagree CASE-REF`: start the professional disagreement route about that share."""
        if len(cmd.words) != 2:
            await respond(text=DISAGREE_USAGE, response_type="ephemeral")
            return
        actor = Actor(PLATFORM, cmd.team_id, cmd.user_id)
        try:
            result = await self.runtime.followups.start_disagreement(actor, case_reference=cmd.words[1])
        except FollowUpNotFound as exc:
            await respond(text=render.escape(str(exc)), response_type="ephemeral")
            return
        blocks = render.info_blocks(result.reply)
        text = render.fallback(render.unmention(result.reply.title))
        await respond(text=text, blocks=render.to_dicts(blocks), response_type="ephemeral")

    async def _pending(self, cmd: SlashCommand, respond: Any) -> None:
        actor = Actor(PLATFORM, cmd.team_id, cmd.user_id)
        pending = await self.runtime.checks.pending(actor)
        blocks = render.pending_blocks(pending)
        await respond(text="Still open for you", blocks=render.to_dicts(blocks), response_type="ephemeral")

    async def _act(self, payload: BlockActions) -> None:
        action = payload.action
        ref = action.ref()
        actor = Actor(PLATFORM, payload.team.id, payload.user.id)
        where = payload.message
        if not await self._first_time(actor.workspace_id, payload.trigger_id):
            return
        checks = self.runtime.checks
        if action.action_id == ids.FORM:
            await self._open_form(actor, ref, payload.trigger_id, where)
            return
        reply: Reply
        if action.action_id == ids.BACK:
            reply = await checks.back(actor, ref.c, ref.r)
        elif action.action_id == ids.CANCEL:
            reply = await checks.cancel(actor, ref.c, ref.r)
        elif action.action_id == ids.URGENT:
            reply = await checks.urgent(actor, ref.c, ref.r)
        elif action.action_id == ids.MULTI_SUBMIT:
            reply = await checks.answer(actor, ref.c, multi_answer(ref, payload.state))
        else:
            assert isinstance(ref, ChoiceRef)  # parse.Action.ref gives a ChoiceRef for every choice button
            reply = await checks.answer(actor, ref.c, choice_answer(ref))
        if reply.outcome is Outcome.ADVANCED and _wants_form(reply.message) and payload.trigger_id and where:
            # the next question is typed: open its form first, while the trigger is fresh, saving a click
            # (the DM message gets the form button too, in case the modal is closed)
            assert isinstance(reply.message, Prompt)
            view = render.modal(reply.message, *where)
            await self.api.views_open(trigger_id=payload.trigger_id, view=view.to_dict())
        await self._show(actor, reply, where)

    # --- follow-ups: one click, or a note in a modal --------------------------------------

    async def _follow_up_click(self, payload: BlockActions) -> None:
        actor = Actor(PLATFORM, payload.team.id, payload.user.id)
        if not await self._first_time(actor.workspace_id, payload.trigger_id):
            return
        ref: FollowUpRef = payload.action.follow_up_ref()
        where = payload.message
        if ref.n is not None:
            # a note is asked for: for a required one, the service checks first that the follow-up is theirs
            question = ref.p
            if ref.n == "r":
                try:
                    result = await self.runtime.followups.answer(actor, ref.f, ref.v, None)
                except NoteRequired as exc:
                    question = str(exc) or question
                except (FollowUpNotFound, ValueError):
                    await self._ephemeral(actor, where, NOT_YOURS)
                    return
                else:  # the service took it without a note after all (its content changed): show the result
                    await self._show_answer(actor, result, where)
                    return
            await self._open_note(actor, ref, question, payload.trigger_id, where)
            return
        try:
            result = await self.runtime.followups.answer(actor, ref.f, ref.v, None)
        except NoteRequired as exc:
            # an old button from before a note was required: ask for it now
            await self._open_note(actor, ref.model_copy(update={"n": "r"}), str(exc), payload.trigger_id, where)
            return
        except (FollowUpNotFound, ValueError):
            await self._ephemeral(actor, where, NOT_YOURS)
            return
        await self._show_answer(actor, result, where)

    async def _open_note(
        self, actor: Actor, ref: FollowUpRef, question: str, trigger_id: str | None, where: tuple[str, str] | None
    ) -> None:
        if trigger_id is None:
            return
        meta: dict[str, Any] = {"f": str(ref.f), "v": ref.v}
        if where is not None:
            meta.update(ch=where[0], ts=where[1])
        view = render.note_modal(meta, question, required=ref.n == "r")
        await self.api.views_open(trigger_id=trigger_id, view=view.to_dict())

    async def _note_submit(
        self, sub: ViewSubmission, ref: NoteRef, note: str | None, decided: asyncio.Future[str | None]
    ) -> None:
        actor = Actor(PLATFORM, sub.team.id, sub.user.id)
        result: AnswerResult | None = None
        error: str | None = None
        try:
            if await self._first_time(actor.workspace_id, sub.trigger_id):
                result = await self.runtime.followups.answer(actor, ref.f, ref.v, note)
        except NoteRequired as exc:
            error = str(exc) or "Please add a note."
        except (FollowUpNotFound, ValueError):
            error = NOT_YOURS
        finally:
            if not decided.done():
                decided.set_result(error)
        if result is not None:
            where = (ref.ch, ref.ts) if ref.ch and ref.ts else None
            await self._show_answer(actor, result, where)

    async def _show_answer(self, actor: Actor, result: AnswerResult, where: tuple[str, str] | None) -> None:
        """The follow-up message shows the result in place of its buttons (also after a second click, which
        changed nothing: the service says it was already answered, and the stale buttons go)."""
        blocks = render.answered_blocks(result.reply) if result.changed else render.info_blocks(result.reply)
        await self._update(actor, where, blocks, render.fallback(render.unmention(result.reply.title)))

    async def _ephemeral(self, actor: Actor, where: tuple[str, str] | None, text: str) -> None:
        channel = where[0] if where else await self._dm_channel(actor)
        await self.api.chat_postEphemeral(channel=channel, user=actor.user_id, text=render.escape(text))

    # --- digest and administration --------------------------------------------------------

    async def _digest(self, cmd: SlashCommand, respond: Any) -> None:
        runtime = self.runtime
        if not await runtime.digests.is_lead(PLATFORM, cmd.team_id, cmd.user_id):
            await respond(text=NOT_A_LEAD, response_type="ephemeral")
            return
        digest = await runtime.digests.build_so_far(PLATFORM, cmd.team_id, cmd.user_id, runtime.packs.pack())
        blocks, text = render.outbound_blocks(digest)
        await respond(text=text, blocks=render.to_dicts(blocks), response_type="ephemeral")

    async def _admin(self, cmd: SlashCommand, respond: Any) -> None:
        actor = Actor(PLATFORM, cmd.team_id, cmd.user_id)
        try:
            # mrkdwn built here from ids the mention patterns validated, so it needs no escaping
            text = await self._admin_do(actor, cmd.words[1:])
        except (NotPermitted, BootstrapAdmin) as exc:
            text = render.escape(str(exc))
        except ValueError:
            text = None
        if text is None:
            blocks = render.to_dicts(render.info_blocks(ADMIN_USAGE))
            await respond(text=ADMIN_USAGE.title, blocks=blocks, response_type="ephemeral")
            return
        await respond(text=text, response_type="ephemeral")

    async def _admin_do(self, actor: Actor, words: list[str]) -> str | None:
        """Carry out an admin command; None means it was not understood (the usage is shown)."""
        roles = self.runtime.roles
        verbs = [w.lower() for w in words[:2]]
        if verbs == ["lead", "add"] and len(words) >= 4:
            lead = mentioned_user(words[2])
            targets = words[3:]
            if lead is None:
                return None
            if [t.lower() for t in targets] == ["all"]:
                await roles.add_lead(actor, lead, "workspace")
                return f"<@{lead}> is now the safeguarding lead for the whole workspace."
            users = [mentioned_user(t) for t in targets]
            channels = [mentioned_channel(t) for t in targets]
            if any(u is None and c is None for u, c in zip(users, channels, strict=True)):
                return None
            picked_users = [u for u in users if u]
            picked_channels = [c for c in channels if c]
            if picked_users:
                await roles.add_lead(actor, lead, "user", picked_users)
            if picked_channels:
                await roles.add_lead(actor, lead, "channel", picked_channels)
            named = [f"<@{u}>" for u in picked_users] + [f"<#{c}>" for c in picked_channels]
            return f"<@{lead}> is now the safeguarding lead for {', '.join(named)}."
        if verbs == ["lead", "remove"] and len(words) == 3:
            lead = mentioned_user(words[2])
            if lead is None:
                return None
            removed = await roles.remove_lead(actor, lead)
            return f"<@{lead}> is no longer a lead ({removed} assignment{'s' if removed != 1 else ''} removed)."
        if verbs[:1] == ["add"] and len(words) == 2:
            user = mentioned_user(words[1])
            if user is None:
                return None
            added = await roles.grant_admin(actor, user)
            return f"<@{user}> is {'now' if added else 'already'} a ShareCheck administrator."
        if verbs[:1] == ["remove"] and len(words) == 2:
            user = mentioned_user(words[1])
            if user is None:
                return None
            removed = await roles.remove_admin(actor, user)
            return f"<@{user}> is {'no longer' if removed else 'not'} a ShareCheck administrator."
        return None

    async def _open_form(self, actor: Actor, ref: Ref, trigger_id: str | None, where: tuple[str, str] | None) -> None:
        current = (await self.runtime.checks.current(actor, ref.c)).message
        if not isinstance(current, Prompt) or (current.step_id, current.revision) != (ref.s, ref.r):
            log.info("slack: ignored a form button for a step already passed (check %s)", ref.c)
            return
        if trigger_id is None or where is None:
            return
        view = render.modal(current, *where)
        await self.api.views_open(trigger_id=trigger_id, view=view.to_dict())

    async def _submit(
        self, sub: ViewSubmission, ref: FormRef, answer: Answer, decided: asyncio.Future[Reply | None]
    ) -> None:
        reply: Reply | None = None
        try:
            actor = Actor(PLATFORM, sub.team.id, sub.user.id)
            if await self._first_time(actor.workspace_id, sub.trigger_id):
                reply = await self.runtime.checks.answer(actor, ref.c, answer)
        finally:
            if not decided.done():
                decided.set_result(reply)
        if reply is None:
            return
        if reply.outcome is Outcome.REFUSED:
            if decided.cancelled():
                # the modal was closed before the refusal was known: the DM message says why instead
                await self._show(actor, reply, (ref.ch, ref.ts))
            return
        if answer.recipient is not None and answer.recipient.user_id:
            # the follow-up will ask this colleague: keep their time zone so it waits for their working hours
            await self._remember(Actor(PLATFORM, actor.workspace_id, answer.recipient.user_id))
        await self._show(actor, reply, (ref.ch, ref.ts))

    async def _show(self, actor: Actor, reply: Reply, where: tuple[str, str] | None) -> None:
        """Update the check's message in place; a finished check also gets its summary as a new message."""
        if reply.outcome in (Outcome.STALE, Outcome.CLOSED):
            # a double click, a stale button or a retry: the message already shows the current step
            log.info("slack: %s answer ignored for check %s", reply.outcome.value, reply.check_id)
            return
        message = reply.message
        if isinstance(message, Completion):
            await self._update(actor, where, render.finished_blocks(message), render.completion_fallback(message))
            channel = where[0] if where else await self._dm_channel(actor)
            await self._post(channel, message)
            # the notes to copy as a second message, so the summary itself fits the window
            notes = render.to_dicts(render.notes_blocks(message))
            await self.api.chat_postMessage(channel=channel, blocks=notes, text=render.NOTES_FALLBACK)
            return
        blocks, text = render.message_blocks(message)
        await self._update(actor, where, blocks, text)

    # --- Web API calls --------------------------------------------------------------------

    async def _remember(self, actor: Actor) -> None:
        """Keep the user's time zone (follow-ups respect working hours); once per user per process."""
        key = (actor.workspace_id, actor.user_id)
        if key in self._known_users:
            return
        try:
            info = UserInfo.model_validate((await self.api.users_info(user=actor.user_id)).data)
        except (SlackApiError, ValidationError) as exc:
            log.warning("slack: users.info failed for %s (%s); time zone not stored", actor, type(exc).__name__)
            return
        await remember_user(
            self.runtime.transactions,
            PLATFORM,
            actor.workspace_id,
            actor.user_id,
            self.runtime.clock.now(),
            tz=info.user.tz,
        )
        self._known_users.add(key)

    async def _dm_channel(self, actor: Actor) -> str:
        key = (actor.workspace_id, actor.user_id)
        channel = self._dm.get(key)
        if channel is None:
            opened = Opened.model_validate((await self.api.conversations_open(users=actor.user_id)).data)
            channel = self._dm[key] = opened.channel.id
        return channel

    async def _post(self, channel: str, message: Message) -> Posted:
        blocks, text = render.message_blocks(message)
        response = await self.api.chat_postMessage(channel=channel, blocks=render.to_dicts(blocks), text=text)
        return Posted.model_validate(response.data)

    async def _update(self, actor: Actor, where: tuple[str, str] | None, blocks: render.Blocks, text: str) -> None:
        if where is not None:
            try:
                await self.api.chat_update(channel=where[0], ts=where[1], blocks=render.to_dicts(blocks), text=text)
                return
            except SlackApiError as exc:
                # the message was deleted or can no longer be edited: carry on in a new one
                log.info("slack: chat.update answered %s; posting a new message", exc.response.get("error"))
        channel = await self._dm_channel(actor)
        await self.api.chat_postMessage(channel=channel, blocks=render.to_dicts(blocks), text=text)
