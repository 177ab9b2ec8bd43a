from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.settings import Settings
from tests.support.postgres import temporary_database

# A Tuesday morning in term time.
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


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


def make_settings(database_url: str, **overrides: object) -> Settings:
    return Settings(_env_file=None, database_url=database_url, **overrides)  # type: ignore[call-arg]


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
