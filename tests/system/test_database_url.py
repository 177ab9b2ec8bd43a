"""DATABASE_URL as other tools write it: postgresql:// and postgres:// run on asyncpg, sqlite:// on aiosqlite,
and any other driver is refused at start with the reason (never the URL, which can hold a password)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.db.migrate import current_revision, head_revision
from bot.runtime import Runtime
from bot.settings import Settings
from tests.support.cli import run
from tests.support.settings import make_settings


@pytest.mark.parametrize(
    ("given", "served"),
    [
        (
            "postgresql://sharecheck:pw@db-host:5432/sharecheck",
            "postgresql+asyncpg://sharecheck:pw@db-host:5432/sharecheck",
        ),
        ("postgres://sharecheck@db-host/sharecheck", "postgresql+asyncpg://sharecheck@db-host/sharecheck"),
        ("postgresql+asyncpg://db-host/sharecheck?ssl=require", "postgresql+asyncpg://db-host/sharecheck?ssl=require"),
        ("sqlite:///./var/sharecheck.db", "sqlite+aiosqlite:///./var/sharecheck.db"),
        ("sqlite:////srv/sharecheck/sharecheck.db", "sqlite+aiosqlite:////srv/sharecheck/sharecheck.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_plain_urls_are_served_with_the_async_drivers(given: str, served: str) -> None:
    settings = make_settings(given)
    assert settings.database_url == served
    assert settings.is_sqlite == served.startswith("sqlite")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg2://sharecheck:hunter2-secret@db-host/sharecheck",
        "postgresql+psycopg://sharecheck:hunter2-secret@db-host/sharecheck",
        "mysql://sharecheck:hunter2-secret@db-host/sharecheck",
        "sqlite+pysqlite:///hunter2-secret.db",
        "hunter2-secret",
    ],
)
def test_other_drivers_are_refused_with_the_reason_and_without_the_url(url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        make_settings(url)
    message = str(refused.value)
    assert "DATABASE_URL" in message and ("postgresql://" in message) and "sqlite:///" in message
    assert "hunter2" not in message


def test_the_command_line_refuses_an_unsupported_driver_without_printing_the_password(
    env: dict[str, str],
) -> None:
    result = run(["db", "upgrade"], env | {"DATABASE_URL": "postgresql+psycopg2://sc:hunter2-secret@db-host/sc"})
    assert result.returncode == 2
    assert "DATABASE_URL scheme 'postgresql+psycopg2' is not supported" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_a_plain_sqlite_url_migrates_from_the_command_line(env: dict[str, str], tmp_path: Path) -> None:
    result = run(["db", "upgrade"], env | {"DATABASE_URL": f"sqlite:///{tmp_path / 'plain.db'}"})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "plain.db").exists()


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
async def test_a_plain_postgresql_url_runs_on_asyncpg(postgres_url: str, scheme: str) -> None:
    plain = postgres_url.replace("postgresql+asyncpg://", f"{scheme}://", 1)
    settings = Settings(_env_file=None, database_url=plain)  # type: ignore[call-arg]
    runtime = await Runtime.create(settings, migrate=True)
    try:
        assert runtime.engine.dialect.driver == "asyncpg"
        assert await current_revision(runtime.engine) == head_revision()
    finally:
        await runtime.close()
