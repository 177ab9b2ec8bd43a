"""Fixtures every group uses: the manual clock, the databases, the whole Runtime, and a clean environment for
the command line. Each group's own are in its conftest.py; helpers are in tests/support/."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.runtime import Runtime
from tests.support.postgres import temporary_database
from tests.support.settings import T0, make_settings


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'sharecheck.db'}"


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with temporary_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'sharecheck.db'}"
    else:
        async with temporary_database() as url:
            yield url


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Settings the `runtime` fixture adds; a test module overrides this fixture (e.g. Teams emulator mode)."""
    return {}


@pytest.fixture
async def runtime(db_url: str, clock: ManualClock, settings_overrides: dict[str, object]) -> AsyncIterator[Runtime]:
    rt = await Runtime.create(make_settings(db_url, **settings_overrides), clock=clock, migrate=True)
    try:
        yield rt
    finally:
        await rt.close()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment for `python -m sharecheck` in a subprocess (tests/support/cli.py): no deployment's settings, a
    fresh SQLite file (the console adapter's and the command line's tests both use it)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SHARECHECK_", "SLACK_", "MICROSOFT_"))}
    return clean | {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sc.db'}"}
