"""Settings for a test: no .env file read, the database given, anything else as overrides; and the tests' time."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.settings import Settings

# A Tuesday morning in term time.
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def make_settings(database_url: str, **overrides: object) -> Settings:
    return Settings(_env_file=None, database_url=database_url, **overrides)  # type: ignore[call-arg]
