"""The platform-neutral aiohttp application: health, readiness, metrics, and the middleware every request passes.

The channels (Slack, Teams, the receipt page) add their routes to it in the composition root (``sharecheck.web``).

Every request passes, outermost first: a request id (taken from X-Request-Id if sane, else made; in the logs and
the response), metrics and one log line (route, status, time: never the path's values or the client's address),
errors (any unhandled exception becomes a JSON 500 without a traceback, logged with the request id), and hygiene
(bodies over the size limit get a JSON 413 before they are read; on a route that declared what it takes
(``accept_bodies``), bodies of another type or in a charset other than UTF-8 a JSON 415).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from bot.db.migrate import current_revision, head_revision
from bot.logging_setup import REQUEST_ID
from bot.metrics import HTTP_LATENCY, HTTP_REQUESTS
from bot.runtime import Runtime

log = logging.getLogger(__name__)

RUNTIME = web.AppKey("runtime", Runtime)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_BODY = 256 * 1024
"""Slack and Bot Framework payloads are a few kilobytes; a quarter of a megabyte is generous."""
REQUEST_ID_HEADER = "X-Request-Id"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
BODY_TYPES = web.AppKey("body_types", dict[str, frozenset[str]])
"""The content types each route that takes a body accepts, by route, as its mount declared them."""
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
BODY_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii"})
"""Every platform and browser we serve sends UTF-8 (or says nothing); any other charset is refused before a
handler decodes the body with it (an unknown one would fail the decoder itself)."""


def json_error(status: int, message: str, **extra: object) -> web.Response:
    body: dict[str, object] = {"error": message, **extra}
    if (request_id := REQUEST_ID.get()) is not None:
        body["request_id"] = request_id
    return web.json_response(body, status=status)


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    # a caller's id is kept only if it is short and plain, so it cannot smuggle text into logs or headers
    request_id = incoming if SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    token = REQUEST_ID.set(request_id)
    try:
        response = await handler(request)
        if not response.prepared:
            response.headers[REQUEST_ID_HEADER] = request_id
        return response
    except web.HTTPException as exc:
        exc.headers[REQUEST_ID_HEADER] = request_id
        raise
    finally:
        REQUEST_ID.reset(token)


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = _route(request)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        elapsed = time.perf_counter() - started
        HTTP_REQUESTS.labels(route, str(status)).inc()
        HTTP_LATENCY.labels(route).observe(elapsed)
        log.info(
            "request handled",
            extra={"method": request.method, "route": route, "status": status, "duration_ms": round(elapsed * 1000)},
        )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        return json_error(413, "request body too large", max_bytes=request.app[MAX_BODY_KEY])
    except web.HTTPException as exc:
        if exc.status >= 500:
            log.error("request failed with %d", exc.status)
            return json_error(exc.status, "internal error")
        raise
    except asyncio.CancelledError:
        raise
    except Exception:  # anything else is our bug: log it (type and stack, no message), answer without details
        log.exception("unhandled error in %s %s", request.method, _route(request))
        return json_error(500, "internal error")


@web.middleware
async def hygiene_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in BODY_METHODS:
        limit = request.app[MAX_BODY_KEY]
        if request.content_length is not None and request.content_length > limit:
            return json_error(413, "request body too large", max_bytes=limit)
        allowed = request.app[BODY_TYPES].get(_route(request))
        if allowed is not None and request.content_type not in allowed:
            return json_error(415, "unsupported content type", accepted=sorted(allowed))
        if allowed is not None and (request.charset or "utf-8").lower() not in BODY_CHARSETS:
            return json_error(415, "unsupported charset", accepted=["utf-8"])
    return await handler(request)


def accept_bodies(app: web.Application, path: str, *content_types: str) -> None:
    """Declare what ``path`` takes: other bodies are answered 415 before its handler runs."""
    app[BODY_TYPES][path] = frozenset(content_types)


MAX_BODY_KEY = web.AppKey("max_body", int)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    # public: it says ready or not, nothing else (no schema revision, no reason); the reason goes to the log
    runtime = request.app[RUNTIME]
    try:
        async with runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        current = await current_revision(runtime.engine)
    except Exception as exc:  # any failure to reach the database means not ready
        log.warning("not ready: database unreachable (%s)", type(exc).__name__)
        return _not_ready()
    if current != head_revision():
        log.warning("not ready: database migrations pending")
        return _not_ready()
    return web.json_response({"status": "ready"})


def _not_ready() -> web.Response:
    return web.json_response({"status": "unavailable"}, status=503)


async def metrics(request: web.Request) -> web.Response:
    # the database gauges are re-counted here at most every few seconds, so scrapes stay cheap
    with contextlib.suppress(TimeoutError):  # a slow database must not stall the scrape
        await asyncio.wait_for(request.app[RUNTIME].gauges.refresh(), timeout=2)
    response = web.Response(body=generate_latest())
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response


SERVER_NAME = "ShareCheck"
"""The ``Server`` header of every response: no product versions for a scanner to match against advisories."""


async def _server_header(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = SERVER_NAME


def _hide_server_version() -> None:
    """Responses aiohttp writes before any app sees the request (a malformed request line or header: 400) take
    the library's default ``Server: Python/3.x aiohttp/3.x``; aiohttp has no hook for those, so the default
    itself is replaced. Every app response also sets the header through ``on_response_prepare``."""
    from aiohttp import web_response

    web_response.SERVER_SOFTWARE = SERVER_NAME  # type: ignore[attr-defined]


def _base_app(runtime: Runtime, max_body: int) -> web.Application:
    _hide_server_version()
    app = web.Application(
        middlewares=[request_id_middleware, metrics_middleware, error_middleware, hygiene_middleware],
        client_max_size=max_body,
    )
    app[RUNTIME] = runtime
    app[MAX_BODY_KEY] = max_body
    app[BODY_TYPES] = {}
    app.on_response_prepare.append(_server_header)
    return app


def build_metrics_app(runtime: Runtime) -> web.Application:
    """The separate listener of ``SHARECHECK_METRICS_PORT``: ``/metrics`` and nothing else."""
    app = _base_app(runtime, MAX_BODY)
    app.router.add_get("/metrics", metrics)
    return app


def build_core_app(runtime: Runtime, max_body: int = MAX_BODY) -> web.Application:
    """Health, readiness and (without a metrics port) metrics; the channels mount their own routes on it."""
    app = _base_app(runtime, max_body)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if runtime.settings.sharecheck_metrics_port is None:
        app.router.add_get("/metrics", metrics)  # with a metrics port, only that listener serves it
    app.on_startup.append(_freeze_startup_objects)
    return app


async def _freeze_startup_objects(_app: web.Application) -> None:
    """Everything loaded to start (SDKs, SQLAlchemy's compiled statements, content packs) lives as long as the
    process: moved out of the garbage collector's generations, so each collection scans only request garbage."""
    gc.collect()
    gc.freeze()
