"""Teams: one card-submission step through /api/messages, against a bare Agents SDK echo bot served the same way.

Each server runs in its own process on 127.0.0.1 (real TCP); this process runs the load, and the fake Bot
Framework connector both servers reply to. Our step is an Action.Submit answer that advances a real check
(database write, event trail) and updates the card in place on the connector; the echo bot replies with a
text message. Also: proactive sends per second through stored conversation references to a connector that
takes 100 ms per call, and the cards a complete check produces.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from dialogs.content import Pack
from tests.support.fake_connector import FakeConnector
from tests.support.teams import USER, activity, card_answer, step_of

CONCURRENCY = 32
REQUESTS = 800
WARMUP = 100
ROUNDS = 3
"""Echo and step are measured alternately, round by round, both servers up: load from other processes on a shared
machine then hits both sides alike, and the best round of each is compared (the median is printed too)."""
PROACTIVE_SENDS = 300
PROACTIVE_CONCURRENCY = 32
CONNECTOR_LATENCY = 0.1
COUNTED = 30
COUNTED_WARMUP = 10
"""Requests counted under callgrind (about 50 times slower than a plain run), after a few to warm each server."""
COUNTED_START_S = 120


# --- the two servers (each in its own process) ---------------------------------------------


def _serve_sharecheck(db: str, ready: Any) -> None:
    async def main() -> None:
        from bot.runtime import Runtime
        from bot.settings import Settings
        from sharecheck.web import build_app

        settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{db}", sharecheck_teams_emulator=True)
        runtime = await Runtime.create(settings, migrate=True)
        await _run(build_app(runtime), ready)

    asyncio.run(main())


def _serve_echo(ready: Any) -> None:
    async def main() -> None:
        from microsoft_agents.activity import TurnContextProtocol
        from microsoft_agents.authentication.msal import MsalConnectionManager
        from microsoft_agents.hosting.aiohttp import CloudAdapter, jwt_authorization_decorator
        from microsoft_agents.hosting.core import ActivityHandler, AgentAuthConfiguration

        class Echo(ActivityHandler):
            async def on_message_activity(self, turn_context: TurnContextProtocol[Any]) -> None:
                await turn_context.send_activity(f"echo: {turn_context.activity.text}")

        cfg = AgentAuthConfiguration(anonymous_allowed=True)
        connections = MsalConnectionManager(connections_configurations={"SERVICE_CONNECTION": cfg})
        adapter = CloudAdapter(connection_manager=connections)
        agent = Echo()

        @jwt_authorization_decorator  # type: ignore[untyped-decorator]
        async def messages(request: web.Request) -> web.StreamResponse:
            response = await adapter.process(request, agent)
            return response or web.Response(status=202)

        app = web.Application()
        app["agent_configuration"] = connections.get_default_connection_configuration()
        app.router.add_post("/api/messages", messages)
        await _run(app, ready)

    asyncio.run(main())


async def _run(app: web.Application, ready: Any) -> None:
    import logging

    logging.disable(logging.WARNING)  # the SDK logs every turn without an app id
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    ready.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    await asyncio.Event().wait()


def _start(target: Callable[..., None], *args: Any) -> tuple[Any, str]:
    ctx = mp.get_context("spawn")
    ready = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, ready), daemon=True)
    proc.start()
    return proc, f"http://127.0.0.1:{ready.get(timeout=60)}/api/messages"


# --- load ----------------------------------------------------------------------------------


async def _load(url: str, bodies: list[dict[str, Any]], concurrency: int, expect: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue = list(reversed(bodies))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            while queue:
                body = queue.pop()
                started = time.perf_counter()
                async with session.post(url, json=body) as resp:
                    await resp.read()
                    assert resp.status == expect, resp.status
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return len(bodies) / elapsed, latencies


async def _post_all(url: str, bodies: list[dict[str, Any]], concurrency: int = 16) -> None:
    await _load(url, bodies, concurrency, 202)


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU a server process has used so far (Linux /proc; None elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def _measured(pid: int, url: str, bodies: list[dict[str, Any]]) -> tuple[float, list[float], float | None]:
    """One round, with the server's CPU time per request: on a shared 2-core machine requests/s move with what
    else runs, but the CPU a request costs the server hardly does, so it shows where a change really helped."""
    before = _cpu_seconds(pid)
    rate, latencies = await _load(url, bodies, CONCURRENCY, 202)
    after = _cpu_seconds(pid)
    cpu_ms = None if before is None or after is None else (after - before) * 1000 / len(bodies)
    return rate, latencies, cpu_ms


def _rates(results: list[tuple[float, list[float], float | None]]) -> dict[str, Any]:
    best_rate, best_latencies, _ = max(results, key=lambda r: r[0])
    cpu = [r[2] for r in results if r[2] is not None]
    return {
        "rps": best_rate,
        "median_rps": statistics.median(r[0] for r in results),
        "p50_ms": statistics.median(best_latencies) * 1000,
        "rounds": [round(r[0]) for r in results],
        "cpu_ms": statistics.median(cpu) if cpu else None,
    }


async def _first_steps(url: str, connector: FakeConnector, n: int) -> list[dict[str, Any]]:
    """Start ``n`` checks, each for its own user, and return each user's answer to the first card it got."""
    users = [f"29:bench-user-{i}" for i in range(n)]
    await _post_all(url, [activity(connector.url, text="share-check", user=u) for u in users])
    # the first card each user got, and its id on the connector (Submit answers name it as replyToId)
    first: dict[str, tuple[dict[str, Any], str]] = {}
    for call in connector.calls:
        if call.cards() and call.kind == "reply":
            first[call.body["recipient"]["id"]] = (call.cards()[0], call.response_id or "")
    # the pack the server runs (SHARECHECK_CONTENT_DIR may hold another version of it)
    from bot.packs import PackRegistry
    from bot.settings import Settings

    settings = Settings(_env_file=None)
    pack = PackRegistry(settings.sharecheck_content_pack, own_packs=settings.sharecheck_content_dir).engine().pack
    submissions = []
    for user in users:
        card, card_id = first[user]
        submissions.append(activity(connector.url, value=first_answer(pack, card), user=user, reply_to=card_id))
    return submissions


def _echoes(connector: FakeConnector, n: int) -> list[dict[str, Any]]:
    return [activity(connector.url, text=f"hello {i}") for i in range(n)]


async def bench_step_and_echo(connector: FakeConnector, tmp: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    step_proc, step_url = _start(_serve_sharecheck, str(tmp / "bench.db"))
    echo_proc, echo_url = _start(_serve_echo)
    try:
        submissions = await _first_steps(step_url, connector, WARMUP + ROUNDS * REQUESTS)
        echoes = _echoes(connector, WARMUP + ROUNDS * REQUESTS)
        connector.calls.clear()
        await _load(echo_url, echoes[:WARMUP], CONCURRENCY, 202)
        await _load(step_url, submissions[:WARMUP], CONCURRENCY, 202)
        steps, echo = [], []
        for r in range(ROUNDS):
            part = slice(WARMUP + r * REQUESTS, WARMUP + (r + 1) * REQUESTS)
            echo.append(await _measured(echo_proc.pid, echo_url, echoes[part]))
            steps.append(await _measured(step_proc.pid, step_url, submissions[part]))
        updates = sum(1 for c in connector.calls if c.kind == "update")
        assert updates == WARMUP + ROUNDS * REQUESTS, f"expected every step to update its card, got {updates}"
        return _rates(steps), _rates(echo)
    finally:
        step_proc.kill()
        echo_proc.kill()


def first_answer(pack: Pack, card: dict[str, Any]) -> dict[str, Any]:
    """The Submit data that answers the first step the default way (nobody in immediate danger), whatever it asks."""
    action, inputs = card_answer(pack, card)
    return {**action["data"], **inputs}


# --- instructions per request (each server under callgrind) -------------------------------


class _PortFile:
    """Stands in for the multiprocessing queue a server puts its port on, for a server started by command line."""

    def __init__(self, path: str) -> None:
        self.path = path

    def put(self, port: int) -> None:
        Path(self.path).write_text(str(port))


async def _callgrind(
    tools: tuple[str, str], argv: list[str], port_file: Path
) -> tuple[asyncio.subprocess.Process, str, Path]:
    """Start one server of this module (``--serve``) under callgrind, counting nothing until told; its process,
    URL and callgrind output file."""
    valgrind, _ = tools
    out = port_file.with_suffix(".callgrind")
    proc = await asyncio.create_subprocess_exec(
        valgrind,
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "bench.bench_teams_step",
        "--serve",
        *argv,
        str(port_file),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    port = await asyncio.to_thread(_port_when_ready, port_file, proc)
    if port is None:
        if proc.returncode is None:
            proc.kill()
        raise RuntimeError(f"a server under callgrind did not start ({' '.join(argv)})")
    return proc, f"http://127.0.0.1:{port}/api/messages", out


def _port_when_ready(port_file: Path, proc: asyncio.subprocess.Process) -> str | None:
    for _ in range(COUNTED_START_S * 10):
        if port_file.exists() and (port := port_file.read_text()):
            return port
        if proc.returncode is not None:
            return None
        time.sleep(0.1)
    return None


async def _control(tools: tuple[str, str], *args: str) -> None:
    _, control = tools
    proc = await asyncio.create_subprocess_exec(
        control, *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    if await proc.wait():
        raise RuntimeError(f"callgrind_control {' '.join(args)} failed")


def _totals(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError("callgrind wrote no totals")


async def _instructions(tools: tuple[str, str], pid: int, out: Path, url: str, bodies: list[dict[str, Any]]) -> float:
    """Instructions the server ran, all threads, for ``bodies`` posted one at a time: a count, not a time, so
    the same code gives the same figure however busy the machine is."""
    await _control(tools, "-i", "on", str(pid))
    await _load(url, bodies, 1, 202)
    await _control(tools, "-d", str(pid))  # the first dump: what ran since counting was switched on
    return await asyncio.to_thread(_totals, Path(f"{out}.1")) / len(bodies)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    await proc.wait()


async def bench_instructions(tmp: Path) -> dict[str, float] | None:
    """Instructions per request for our step and for the echo bot, each server under callgrind; None without
    valgrind. Requests per second move with whatever else the machine runs; this ratio does not."""
    valgrind, control = shutil.which("valgrind"), shutil.which("callgrind_control")
    if valgrind is None or control is None:
        print("instructions per request: not measured (valgrind is not installed)")
        return None
    tools = (valgrind, control)
    connector = FakeConnector(record=True)
    await connector.start()
    counts: dict[str, float] = {}
    try:
        proc, url, out = await _callgrind(tools, ["step", str(tmp / "counted.db")], tmp / "step.port")
        try:
            bodies = await _first_steps(url, connector, COUNTED_WARMUP + COUNTED)
            await _load(url, bodies[:COUNTED_WARMUP], 1, 202)
            counts["step"] = await _instructions(tools, proc.pid, out, url, bodies[COUNTED_WARMUP:])
        finally:
            await _stop(proc)
        proc, url, out = await _callgrind(tools, ["echo"], tmp / "echo.port")
        try:
            bodies = _echoes(connector, COUNTED_WARMUP + COUNTED)
            await _load(url, bodies[:COUNTED_WARMUP], 1, 202)
            counts["echo"] = await _instructions(tools, proc.pid, out, url, bodies[COUNTED_WARMUP:])
        finally:
            await _stop(proc)
    finally:
        await connector.stop()
    updates = sum(1 for c in connector.calls if c.kind == "update")
    assert updates == COUNTED_WARMUP + COUNTED, f"expected every counted step to update its card, got {updates}"
    return counts


# --- proactive and cards per check (in this process) ---------------------------------------


async def bench_proactive(tmp: Path) -> dict[str, float]:
    from adapters.teams.proactive import send_proactive
    from bot.runtime import Runtime
    from bot.services.users import get_user, remember_user
    from bot.settings import Settings
    from dialogs.messages import Info

    connector = FakeConnector(latency=CONNECTOR_LATENCY, record=False)
    await connector.start()
    settings = Settings(
        _env_file=None, database_url=f"sqlite+aiosqlite:///{tmp / 'proactive.db'}", sharecheck_teams_emulator=True
    )
    runtime = await Runtime.create(settings, migrate=True)
    try:
        ref = {
            "bot": {"id": "28:sharecheck-bot"},
            "conversation": {"id": "a:1personal-conversation", "conversationType": "personal"},
            "channelId": "msteams",
            "serviceUrl": connector.url,
            "user": {"id": USER},
        }
        await remember_user(runtime.transactions, "teams", "tenant", USER, runtime.clock.now(), conversation_ref=ref)
        FakeConnector.open(connector.url, "a:1personal-conversation")  # the user's chat: the connector knows it
        user = await get_user(runtime.sessions, "teams", "tenant", USER)
        assert user is not None
        message = Info(title="Did the information for CS-2024-0113 arrive?", lines=("Please confirm.",))

        async def run(n: int, concurrency: int) -> float:
            sem = asyncio.Semaphore(concurrency)

            async def one() -> None:
                async with sem:
                    await send_proactive(runtime, user, message)

            started = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(n)))
            return n / (time.perf_counter() - started)

        sequential = await run(20, 1)
        concurrent = await run(PROACTIVE_SENDS, PROACTIVE_CONCURRENCY)
        return {"sequential_per_s": sequential, "concurrent_per_s": concurrent}
    finally:
        await runtime.close()
        await connector.stop()


async def cards_per_check(tmp: Path) -> dict[str, int]:
    from aiohttp.test_utils import TestClient, TestServer

    from bot.runtime import Runtime
    from bot.settings import Settings
    from sharecheck.web import build_app
    from tests.support.teams import Session

    counts: dict[str, int] = {}
    for style in ("execute", "submit"):
        connector = FakeConnector()
        await connector.start()
        db = tmp / f"cards-{style}.db"
        settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{db}", sharecheck_teams_emulator=True)
        runtime = await Runtime.create(settings, migrate=True)
        try:
            async with TestClient(TestServer(build_app(runtime))) as client:
                session = Session(client, connector, runtime.packs.engine(), style=style)
                card = await session.say("share-check")
                while (step := step_of(card)) is not None:
                    card = await session.answer_step(card, step)
            counts[f"cards_{style}"] = len(session.cards)
            counts[f"connector_calls_{style}"] = len(connector.calls)
        finally:
            await runtime.close()
            await connector.stop()
    return counts


async def main() -> None:
    import logging

    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        connector = FakeConnector(record=True)
        await connector.start()
        try:
            step, echo = await bench_step_and_echo(connector, tmp)
        finally:
            await connector.stop()
        proactive = await bench_proactive(tmp)
        cards = await cards_per_check(tmp)
        counted = await bench_instructions(tmp)
    ratio = step["rps"] / echo["rps"]
    median_ratio = step["median_rps"] / echo["median_rps"]
    print(
        f"/api/messages, {CONCURRENCY} concurrent, {ROUNDS} alternating rounds of {REQUESTS} requests, "
        "replies to a local fake connector (best round; all rounds in brackets):"
    )
    print(f"  ShareCheck card-submission step: {step['rps']:,.0f} req/s, p50 {step['p50_ms']:.1f} ms {step['rounds']}")
    print(f"  bare Agents SDK echo bot:        {echo['rps']:,.0f} req/s, p50 {echo['p50_ms']:.1f} ms {echo['rounds']}")
    print(f"  step/echo = {ratio:.2f} (best rounds), {median_ratio:.2f} (median rounds); target at least 0.50")
    if step["cpu_ms"] is not None and echo["cpu_ms"] is not None:
        print(
            f"  server CPU per request (median round): step {step['cpu_ms']:.2f} ms, echo {echo['cpu_ms']:.2f} ms "
            f"(echo/step = {echo['cpu_ms'] / step['cpu_ms']:.2f}: less noisy than requests/s on a shared machine)"
        )
    if counted is not None:
        step_m, echo_m = counted["step"] / 1e6, counted["echo"] / 1e6
        print(
            f"  server instructions per request (callgrind, {COUNTED} one at a time): step {step_m:.2f} M, "
            f"echo {echo_m:.2f} M (step/echo = {step_m / echo_m:.2f}: a count, the same however busy the machine)"
        )
    print(
        f"proactive sends, connector at {CONNECTOR_LATENCY * 1000:.0f} ms: "
        f"{proactive['sequential_per_s']:.1f}/s one at a time, "
        f"{proactive['concurrent_per_s']:.0f}/s with {PROACTIVE_CONCURRENCY} in flight"
    )
    print(
        f"cards per complete check: {cards['cards_execute']} (Action.Execute: 1 sent, the rest in invoke responses, "
        f"{cards['connector_calls_execute']} connector call); {cards['cards_submit']} (Action.Submit: "
        f"{cards['connector_calls_submit']} connector calls, each step an in-place update)"
    )
    print(
        json.dumps(
            {
                "bench": "teams_step",
                "step_rps": round(step["rps"]),
                "step_p50_ms": round(step["p50_ms"], 1),
                "echo_rps": round(echo["rps"]),
                "echo_p50_ms": round(echo["p50_ms"], 1),
                "ratio": round(ratio, 3),
                "median_ratio": round(median_ratio, 3),
                "step_cpu_ms": None if step["cpu_ms"] is None else round(step["cpu_ms"], 2),
                "echo_cpu_ms": None if echo["cpu_ms"] is None else round(echo["cpu_ms"], 2),
                "proactive_sequential_per_s": round(proactive["sequential_per_s"], 1),
                "proactive_concurrent_per_s": round(proactive["concurrent_per_s"]),
                **cards,
                **({} if counted is None else {f"{k}_instructions": round(v) for k, v in counted.items()}),
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:  # one server, started by bench_instructions under callgrind
        if sys.argv[2] == "step":
            _serve_sharecheck(sys.argv[3], _PortFile(sys.argv[4]))
        else:
            _serve_echo(_PortFile(sys.argv[3]))
    else:
        asyncio.run(main())
