"""The aiohttp web application: health, readiness, metrics, and the platform adapters' routes."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from bot.db.migrate import current_revision, head_revision
from bot.metrics import HTTP_LATENCY, HTTP_REQUESTS
from bot.runtime import Runtime

RUNTIME = web.AppKey("runtime", Runtime)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
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
        HTTP_REQUESTS.labels(route, str(status)).inc()
        HTTP_LATENCY.labels(route).observe(time.perf_counter() - started)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    try:
        async with runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        current = await current_revision(runtime.engine)
    except Exception:  # any failure to reach the database means not ready
        return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)
    head = head_revision()
    if current != head:
        return web.json_response({"status": "unavailable", "database": "migrations pending"}, status=503)
    return web.json_response({"status": "ready", "database": "ok", "schema": current})


async def metrics(_request: web.Request) -> web.Response:
    response = web.Response(body=generate_latest())
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response


def build_app(runtime: Runtime) -> web.Application:
    app = web.Application(middlewares=[metrics_middleware], client_max_size=256 * 1024)
    app[RUNTIME] = runtime
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    if runtime.settings.slack_enabled:
        from adapters.slack import mount_slack

        mount_slack(app, runtime)

    if runtime.settings.sharecheck_public_url is not None:
        from bot.receipt_page import mount_receipts  # receipt links exist only with a public URL

        mount_receipts(app, runtime)

    from adapters.teams import mount_teams  # lazily: the Agents SDK loads only when the app is built

    mount_teams(app, runtime)
    return app
