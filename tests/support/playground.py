"""Microsoft's Agents Playground and `sharecheck serve` run side by side, and the Playground's page in chromium."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, require_browser

HERE = Path(__file__).parent.parent / "system"  # where the Playground is installed (tests/system/playground)

PLAYGROUND = HERE / "playground"

CLI = PLAYGROUND / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"

PRELOAD = PLAYGROUND / "loopback.js"

REPO = HERE.parent.parent

DOCS = REPO / "docs"

ARTIFACTS = HERE.parent / "artifacts"

CARD = "application/vnd.microsoft.card.adaptive"

STEP_WAIT = 30.0
"""Seconds to wait for the bot's answer to one press (a loaded 2-core machine answers in well under one)."""


def require_playground() -> None:
    missing = []
    if shutil.which("node") is None:
        missing.append("node (apt-get install nodejs npm)")
    if not CLI.exists():
        missing.append("the Agents Playground (cd tests/system/playground && npm ci)")
    if missing:
        reason = "the Playground test needs " + " and ".join(missing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; under CI it must run")
        pytest.skip(reason)
    require_browser()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode} before listening:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listening on {port} after {within} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Stack:
    bot_port: int
    playground_port: int
    playground_log: Path
    serve_log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.playground_port}/"

    def refused_outgoing(self) -> list[str]:
        lines = self.playground_log.read_text(errors="replace").splitlines()
        return [line for line in lines if line.startswith("[loopback] refused")]


@contextmanager
def serve_with_playground(work: Path, settings: dict[str, str]) -> Iterator[Stack]:
    """``sharecheck serve`` (emulator mode, loopback, SQLite in ``work``, plus ``settings``) and the Playground
    pointed at it, both stopped after; their logs are copied to tests/artifacts/."""
    require_playground()
    bot_port, playground_port = free_port(), free_port()
    # no Slack, no app id, nothing from the developer's own environment or .env (cwd is the temp directory)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "SHARECHECK_"))}
    for name in ("DATABASE_URL", "HOST", "PORT"):
        env.pop(name, None)
    serve_env = env | {
        "HOST": "127.0.0.1",
        "PORT": str(bot_port),
        "DATABASE_URL": f"sqlite+aiosqlite:///{work / 'sharecheck.db'}",
        "SHARECHECK_TEAMS_EMULATOR": "true",
        **settings,
    }
    serve_log = work / "serve.log"
    playground_log = work / "playground.log"
    with serve_log.open("wb") as serve_out, playground_log.open("wb") as playground_out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "sharecheck", "serve"],
            cwd=work,
            env=serve_env,
            stdout=serve_out,
            stderr=subprocess.STDOUT,
        )
        node = shutil.which("node")
        assert node is not None  # require_playground() checked
        playground = subprocess.Popen(
            [
                node,
                "--require",
                str(PRELOAD),
                str(CLI),
                "--app-endpoint",
                f"http://127.0.0.1:{bot_port}/api/messages",
                "--channel-id",
                "msteams",
                "--port",
                str(playground_port),
                "--service-url",
                f"http://127.0.0.1:{playground_port}/_connector",
                "--disable-telemetry",
            ],
            cwd=work,
            env=env | {"APPLICATION_INSIGHTS_NO_STATSBEAT": "true"},
            stdout=playground_out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(bot_port, serve, serve_log)
            wait_for_port(playground_port, playground, playground_log)
            yield Stack(bot_port, playground_port, playground_log, serve_log)
        finally:
            stop(playground)
            stop(serve)
            ARTIFACTS.mkdir(exist_ok=True)
            shutil.copy(serve_log, ARTIFACTS / "playground-serve.log")
            shutil.copy(playground_log, ARTIFACTS / "playground.log")


@dataclass
class Exchange:
    """One activity between the bot and the Playground, from the Playground's own log stream."""

    name: str
    outgoing: bool
    """Sent by the bot (a message, an update) rather than by the Playground to the bot."""
    status: int
    request: dict[str, Any]
    response: Any


@dataclass
class Traffic:
    exchanges: list[Exchange] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    """Addresses the page tried to reach off this machine (aborted)."""

    def take(self, payload: str | bytes) -> None:
        try:
            frame = json.loads(payload)
        except ValueError:
            return
        log = frame.get("log") if isinstance(frame, dict) else None
        if not isinstance(log, dict) or not log.get("activityName"):
            return
        response = log.get("response") or {}
        self.exchanges.append(
            Exchange(
                name=str(log["activityName"]),
                outgoing=log.get("from") == "User Application",
                status=int(response.get("statusCode", 0)),
                request=(log.get("request") or {}).get("body") or {},
                response=response.get("body"),
            )
        )

    def cards(self) -> list[dict[str, Any]]:
        """Every card the Playground accepted from the bot, in order: messages sent, and invoke answers."""
        found: list[dict[str, Any]] = []
        for ex in self.exchanges:
            if ex.outgoing and 200 <= ex.status < 300:
                found.extend(a["content"] for a in ex.request.get("attachments") or () if a.get("contentType") == CARD)
            elif ex.name == "invoke" and ex.status == 200 and isinstance(ex.response, dict):
                value = ex.response.get("value")
                if isinstance(value, dict) and value.get("type") == "AdaptiveCard":
                    found.append(value)
        return found

    def summary(self) -> list[str]:
        """What the Playground accepted and refused: one line per kind of exchange and status."""
        seen: dict[str, int] = {}
        for ex in self.exchanges:
            key = f"{'bot -> playground' if ex.outgoing else 'playground -> bot'} {ex.name} {ex.status}"
            if ex.status >= 400:
                key += f" {json.dumps(ex.response)[:160]}"
            seen[key] = seen.get(key, 0) + 1
        return [f"{n} x {key}" for key, n in seen.items()]


class Playground:
    """The Playground's page: type into its chat box, press buttons on the latest card, wait for answers."""

    def __init__(self, page: Any, traffic: Traffic) -> None:
        self.page = page
        self.traffic = traffic

    def wait_until(self, ready: Callable[[], Any], what: str, within: float = STEP_WAIT) -> Any:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            found = ready()
            if found:
                return found
            self.page.wait_for_timeout(100)  # lets Playwright deliver the page's websocket frames
        raise AssertionError(f"{what}: not seen within {within} s; exchanges: {self.traffic.summary()}")

    def say(self, text: str) -> int:
        """Type a message to the bot; returns how many cards there were before, to wait for the answer after."""
        before = len(self.traffic.cards())
        box = self.page.locator("[data-lexical-editor=true]")
        box.click()
        self.page.keyboard.type(text)
        self.page.keyboard.press("Enter")
        return before

    def card_after(self, before: int, what: str, test: Callable[[dict[str, Any]], bool] = lambda _: True) -> Any:
        def found() -> dict[str, Any] | None:
            later = [c for c in self.traffic.cards()[before:] if test(c)]
            return later[-1] if later else None

        return self.wait_until(found, what)

    def shown(self, text: str) -> Any:
        """The newest card on the page that shows ``text`` (other messages may arrive meanwhile: a digest, a notice)."""
        found = self.page.locator(".ac-adaptiveCard").filter(has_text=text).last
        found.wait_for()
        return found


def text_of(card: dict[str, Any]) -> str:
    return json.dumps(card, ensure_ascii=False)


def title_of(card: dict[str, Any]) -> str:
    """A step card's title: what tells it from the card before it (the progress line is the same all through a
    section)."""
    return next(
        str(b["text"])
        for b in card["body"]
        if b.get("type") == "TextBlock" and b.get("size") == "Medium" and b.get("weight") == "Bolder"
    )


def screenshot(playground: Playground, name: str) -> None:
    """Into tests/artifacts/; into docs/ too with SHARECHECK_REFRESH_DOCS=1 (so a test run leaves the tree clean)."""
    ARTIFACTS.mkdir(exist_ok=True)
    playground.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    if os.environ.get("SHARECHECK_REFRESH_DOCS") == "1":
        shutil.copy(ARTIFACTS / f"{name}.png", DOCS / f"{name}.png")


@contextmanager
def open_playground(stack: Stack) -> Iterator[Playground]:
    """The Playground's page in headless chromium, every request off this machine aborted."""
    from playwright.sync_api import Route, sync_playwright

    traffic = Traffic()

    def route(r: Route) -> None:
        if urlparse(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:  # its page asks an Office CDN for fonts and an animation: never off this machine
            traffic.blocked.append(r.request.url)
            r.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.route("**/*", route)
        page.on("websocket", lambda ws: ws.on("framereceived", traffic.take))
        page.goto(stack.url)
        try:
            yield Playground(page, traffic)
        finally:
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / "playground-exchanges.txt").write_text("\n".join(traffic.summary()) + "\n")
            browser.close()
