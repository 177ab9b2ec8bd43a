"""``sharecheck serve``: the aiohttp server, with graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from bot.runtime import Runtime
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.startup import startup_summary
from bot.web import build_metrics_app
from sharecheck.platforms import build_deliverers
from sharecheck.web import build_app

log = logging.getLogger(__name__)


class StartupRefused(RuntimeError):
    """A configuration that would be unsafe to serve."""


def check_safe_to_serve(settings: Settings) -> None:
    if settings.slack_bot_token and not settings.slack_signing_secret and not settings.slack_app_token:
        raise StartupRefused(
            "SLACK_BOT_TOKEN is set without SLACK_SIGNING_SECRET: Slack requests could not be verified."
        )
    if (settings.slack_client_id is None) != (settings.slack_client_secret is None):
        raise StartupRefused("Set both SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (several workspaces), or neither.")
    if settings.slack_oauth_enabled:
        if settings.slack_bot_token:
            raise StartupRefused(
                "SLACK_BOT_TOKEN is set with SLACK_CLIENT_ID and SLACK_CLIENT_SECRET: choose one token for one "
                "workspace (or an Enterprise Grid organisation), or the install flow for several, not both."
            )
        if not settings.slack_signing_secret:
            raise StartupRefused(
                "SLACK_CLIENT_ID is set without SLACK_SIGNING_SECRET: Slack requests could not be verified."
            )
        if not settings.is_sqlite and settings.sharecheck_secret_key is None:
            raise StartupRefused(
                "SLACK_CLIENT_ID is set without SHARECHECK_SECRET_KEY on a shared database: the workspaces' bot "
                "tokens are encrypted with it, so every instance needs the same key."
            )
    if settings.sharecheck_public_url and not settings.is_sqlite and settings.sharecheck_secret_key is None:
        raise StartupRefused(
            "SHARECHECK_PUBLIC_URL is set without SHARECHECK_SECRET_KEY on a shared database: every instance must "
            "sign the receipt form with the same key. Set it to a long random string (python -c "
            "'import secrets; print(secrets.token_hex(32))')."
        )
    if not settings.loopback_host and settings.teams_emulator_mode:
        raise StartupRefused(
            f"HOST={settings.host} is not a loopback address and SHARECHECK_TEAMS_EMULATOR=true: Teams emulator mode "
            "(no token checks) must not be on the network. Serve on 127.0.0.1, or unset SHARECHECK_TEAMS_EMULATOR "
            "(and set the Bot Framework credentials to use Teams)."
        )
    if settings.sharecheck_metrics_port == settings.port:
        raise StartupRefused("SHARECHECK_METRICS_PORT must differ from PORT (it is a separate listener).")


LISTEN_BACKLOG = 1024
"""Connections the kernel queues before the server accepts them. aiohttp's default, 128, is overrun when a
few hundred people type /share-check in the same second (a team briefing's end): the kernel drops the extra
connection attempts and their clients try again a whole second later (bench/bench_slack_ack.py saw it)."""


async def run_server(settings: Settings, scheduler: bool = True, stop: asyncio.Event | None = None) -> None:
    check_safe_to_serve(settings)
    # every instance migrates at start; on PostgreSQL an advisory lock makes the first do it and the rest wait
    runtime = await Runtime.create(settings, migrate=True)
    await runtime.roles.record_settings()  # SHARECHECK_ADMINS / SHARECHECK_DEFAULT_LEAD changes go on the trail
    runners: list[web.AppRunner] = []
    scheduler_task: asyncio.Task[None] | None = None
    stop = stop or asyncio.Event()
    try:
        app = build_app(runtime)
        runners.append(await _listen(app, settings.host, settings.port))
        # which surfaces are on, where, and how to try a check: one record, so a JSON log keeps it on one line
        log.info("%s", startup_summary(settings, app, scheduler_on=scheduler))
        if settings.sharecheck_metrics_port is not None:
            runners.append(await _listen(build_metrics_app(runtime), settings.host, settings.sharecheck_metrics_port))
            log.info("metrics on http://%s:%s/metrics only", settings.host, settings.sharecheck_metrics_port)
        _stop_on_signals(stop)
        if scheduler:
            scheduler_task = asyncio.create_task(Scheduler(runtime, build_deliverers(runtime)).run(stop))
        await stop.wait()
    finally:
        log.info("shutting down: finishing in-flight requests")
        stop.set()  # also when start-up failed half way: the scheduler, if started, stops too
        for runner in runners:
            await runner.cleanup()
        if scheduler_task is not None:
            await scheduler_task  # it releases its claims as it stops
        await runtime.close()


async def _listen(app: web.Application, host: str, port: int) -> web.AppRunner:
    # no aiohttp access log: its lines carry client addresses and raw paths; bot.web logs each request instead
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=LISTEN_BACKLOG)
    await site.start()
    return runner


async def run_scheduler(settings: Settings, once: bool = False, stop: asyncio.Event | None = None) -> int:
    """``sharecheck scheduler``: the scheduler alone, for scale-out; ``--once`` for cron-style runs."""
    # every instance migrates at start; on PostgreSQL an advisory lock makes the first do it and the rest wait
    runtime = await Runtime.create(settings, migrate=True)
    try:
        await runtime.roles.record_settings()
        scheduler = Scheduler(runtime, build_deliverers(runtime))
        if once:
            try:
                stats = await scheduler.run_once()
            finally:
                await scheduler.close()
            log.info(
                "scheduler pass: %d follow-ups advanced, %d delivered, %d retried, %d undeliverable, %d events sealed",
                stats.advanced,
                stats.delivered,
                stats.retried,
                stats.failed,
                stats.sealed,
            )
            return 0
        stop = stop or asyncio.Event()
        _stop_on_signals(stop)
        await scheduler.run(stop)
        return 0
    finally:
        await runtime.close()


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def serve(settings: Settings, scheduler: bool = True) -> int:
    try:
        asyncio.run(run_server(settings, scheduler))
    except StartupRefused as exc:
        log.error("refusing to start: %s", exc)
        return 2
    return 0
