"""Structured logs with request ids and no personal data; request hygiene; /metrics content."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from adapters.console import CONSOLE, ConsoleChat
from bot.clock import ManualClock
from bot.conversation import Conversation
from bot.db.models import Check
from bot.delivery import RetryLater
from bot.logging_setup import JsonFormatter, RequestIdFilter, quiet_noisy_loggers
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from bot.services.audit import verify
from bot.services.export import ExportFilter, export_records
from bot.services.retention import purge
from dialogs.messages import FollowUpPrompt
from dialogs.state import Recipient
from sharecheck.web import build_app
from tests.support.console import RECIPIENT
from tests.support.deliverers import RecordingDeliverer
from tests.support.service_checks import ALICE, complete
from tests.support.settings import T0
from tests.support.teams import EMULATOR

NAME = "Jayden Okonkwo-Whitfield"
NHS = "943 476 5919"
ADDRESS = "14 Larkspur Crescent"
NOTE = "Spoke to Marguerite Fairbanks-Oduya"
SECRETS = (NAME, NHS, ADDRESS, NOTE, "Okonkwo", "Larkspur", "Fairbanks")


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return dict(EMULATOR)


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The JSON lines the production handler would write, captured."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[TestClient]:
    app = build_app(runtime, max_body=2048)

    async def boom(_request: web.Request) -> web.Response:
        raise RuntimeError(f"could not save the answer {NAME!r}")

    app.router.add_get("/boom", boom)
    async with TestClient(TestServer(app)) as c:
        yield c


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


async def test_request_ids_are_taken_if_sane_made_otherwise_and_logged(
    client: TestClient, json_log: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    resp = await client.get("/healthz", headers={"X-Request-Id": "lb-7f3a:42"})
    assert resp.headers["X-Request-Id"] == "lb-7f3a:42"
    for bad in ("x" * 200, "has space", "<script>", ""):
        made = (await client.get("/healthz", headers={"X-Request-Id": bad})).headers["X-Request-Id"]
        assert made != bad and len(made) == 32
    assert (await client.get("/nope")).headers["X-Request-Id"]
    lines = [line for line in _lines(json_log) if line["message"] == "request handled"]
    first = lines[0]
    assert first["request_id"] == "lb-7f3a:42" and first["route"] == "/healthz" and first["status"] == 200
    assert {"time", "level", "logger", "method", "duration_ms"} <= set(first)
    assert lines[-1]["status"] == 404


async def test_unhandled_errors_are_a_json_500_without_a_traceback(
    client: TestClient, json_log: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    resp = await client.get("/boom", headers={"X-Request-Id": "req-500"})
    assert resp.status == 500 and resp.content_type == "application/json"
    assert await resp.json() == {"error": "internal error", "request_id": "req-500"}
    logged = [line for line in _lines(json_log) if line.get("level") == "ERROR"]
    assert logged and logged[0]["request_id"] == "req-500" and logged[0]["error"] == "builtins.RuntimeError"
    assert any("boom" in frame for frame in logged[0]["stack"])  # type: ignore[attr-defined]
    assert NAME not in json_log.getvalue()  # (the message is left out: it may repeat input)


async def test_oversize_and_wrong_type_bodies_get_json_errors(client: TestClient) -> None:
    big = await client.post(
        "/api/messages", data=b"{" + b" " * 4096 + b"}", headers={"Content-Type": "application/json"}
    )
    assert big.status == 413 and (await big.json())["error"] == "request body too large"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit is met while reading
        for _ in range(8):
            yield b" " * 1024

    streamed = await client.post("/api/messages", data=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status == 413 and (await streamed.json())["max_bytes"] == 2048
    wrong = await client.post("/api/messages", data=b"{}", headers={"Content-Type": "text/plain"})
    assert wrong.status == 415 and (await wrong.json())["accepted"] == ["application/json"]
    for resp in (big, streamed, wrong):
        assert "Traceback" not in await resp.text()


async def test_metrics_show_follow_ups_errors_retries_and_sealing(
    runtime: Runtime, clock: ManualClock, client: TestClient
) -> None:
    await complete(runtime, ALICE, {"decision": "share", "recipient": Recipient(user_id="U0BOB")})
    deliverer = RecordingDeliverer()
    deliverer.fail_next("U0BOB", RetryLater("rate limited", after=1))
    clock.advance(timedelta(hours=5))
    stats = await Scheduler(runtime, {"slack": deliverer}).run_once()
    assert stats.retried == 1 and stats.sealed > 0
    body = await (await client.get("/metrics")).text()
    assert 'sharecheck_follow_ups{state="awaiting"} 1.0' in body
    assert 'sharecheck_follow_ups{state="confirmed"} 0.0' in body
    assert "sharecheck_outbox_queued 1.0" in body
    assert 'sharecheck_platform_api_errors_total{error="temporary",platform="slack"}' in body
    assert 'sharecheck_delivery_retries_total{platform="slack"}' in body
    assert "sharecheck_audit_sealed_total" in body and "sharecheck_audit_unsealed_records 0.0" in body
    assert 'sharecheck_checks_started_total{platform="slack"}' in body
    assert "sharecheck_scheduler_lag_seconds_bucket" in body


async def test_no_personal_data_in_logs_through_a_whole_check(
    runtime: Runtime, clock: ManualClock, caplog: pytest.LogCaptureFixture, json_log: io.StringIO
) -> None:
    caplog.set_level(logging.DEBUG)
    quiet_noisy_loggers()
    # even with SQL logging switched on, statement parameters (the typed answers) are never written
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    try:
        script = [
            *("2", "1"),  # before you start: nobody in danger, I was asked
            *("1", "1", "", "CS-2024-0113"),  # should you share: purpose, risk of harm, no worries, the reference
            "1",  # share
            f"So the health visitor can monitor {NAME}, NHS {NHS}.",
            "keep",  # the personal data warning: the practitioner keeps the text
            RECIPIENT,
            *("2", "1", "1", "2"),  # how: NHSmail, now, public task, no special category information
            "4",  # not telling the family: not practicable, so a few details follow
            "now",  # when I was asked
            f"{NAME} of {ADDRESS} cannot be reached before the visit.",  # why not tell them
            "a",  # before you send: all true
            "s",  # save on the review
        ]
        stdout = io.StringIO()
        chat = ConsoleChat(Conversation(runtime, CONSOLE), "p7", io.StringIO("\n".join(script) + "\n"), stdout)
        assert await chat.run() == 0
        assert "DECISION RECORDED" in stdout.getvalue()
        async with runtime.sessions() as s:
            typed = json.dumps((await s.scalars(select(Check.state).where(Check.user_id == "p7"))).one()["answers"])
        assert NHS in typed and ADDRESS in typed, "both typed answers were taken (and kept)"

        await complete(
            runtime,
            ALICE,
            {
                "decision": "share",
                "recipient": Recipient(organisation=f"{ADDRESS} surgery", role=NAME),
                "what": f"{NAME} at risk: the recipient needs the summary",
            },
        )
        deliverer = RecordingDeliverer()
        clock.advance(timedelta(hours=5))
        await Scheduler(runtime, {"slack": deliverer}).run_once()
        asked = deliverer.to("U0ALICE")[0]
        assert isinstance(asked, FollowUpPrompt)
        await runtime.followups.answer(ALICE, uuid.UUID(asked.follow_up_id), "confirmed", NOTE)
        await Scheduler(runtime, {"slack": deliverer}).run_once()
        assert await export_records(runtime.sessions, ExportFilter(since=T0 - timedelta(days=1)))
        assert (await verify(runtime.sessions)).intact
        clock.advance(timedelta(days=7 * 365))
        await purge(runtime.sessions, runtime.packs, clock.now(), timedelta(days=6 * 365), apply=True)
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records), "SQL logging was on"
    everything = caplog.text + json_log.getvalue() + "\n".join(str(r.args) for r in caplog.records)
    for secret in SECRETS:
        assert secret not in everything, secret
    assert "9434765919" not in everything.replace(" ", "")
