"""The SQLite files and the secret key: owner-only modes, no short keys, a key file published whole, one per database."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from bot.db.engine import create_engine
from bot.secret_key import SecretKeyRefused, key_file, resolve_secret_key
from tests.support.settings import make_settings


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common default (022), under which SQLite's own files come out world-readable."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_database_folder_and_files_are_owner_only(tmp_path: Path, usual_umask: None) -> None:
    database = tmp_path / "var" / "sharecheck.db"
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x TEXT)"))
            await conn.execute(text("INSERT INTO t VALUES ('a case reference')"))
        async with engine.connect() as conn:  # WAL mode: the -wal and -shm files exist while a connection is open
            await conn.execute(text("SELECT x FROM t"))
            files = {p.name: mode(p) for p in database.parent.iterdir()}
    finally:
        await engine.dispose()
    assert mode(database.parent) == 0o700
    assert files == {"sharecheck.db": 0o600, "sharecheck.db-wal": 0o600, "sharecheck.db-shm": 0o600}


async def test_an_existing_folder_keeps_its_mode(tmp_path: Path, usual_umask: None) -> None:
    shared = tmp_path / "srv"
    shared.mkdir(mode=0o750)
    engine = create_engine(f"sqlite+aiosqlite:///{shared / 'sc.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x TEXT)"))
    finally:
        await engine.dispose()
    assert mode(shared) == 0o750 and mode(shared / "sc.db") == 0o600


@pytest.mark.parametrize("key", ["x", "a" * 31, "é" * 15])
def test_a_secret_key_shorter_than_32_bytes_is_refused(key: str) -> None:
    with pytest.raises(ValidationError, match="SHARECHECK_SECRET_KEY must be at least 32 bytes"):
        make_settings("sqlite+aiosqlite://", sharecheck_secret_key=key)
    good = make_settings("sqlite+aiosqlite://", sharecheck_secret_key="k" * 32)
    assert resolve_secret_key(good) == b"k" * 32


def test_the_command_line_says_why_a_short_key_is_refused(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SHARECHECK_", "SLACK_", "MICROSOFT_"))}
    env = clean | {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sc.db'}", "SHARECHECK_SECRET_KEY": "short"}
    done = subprocess.run(
        [sys.executable, "-m", "sharecheck", "packs"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "SHARECHECK_SECRET_KEY must be at least 32 bytes" in done.stderr and "short" not in done.stderr


@pytest.mark.parametrize("content", [b"", b"\n", b"0123456789"])
def test_a_short_or_empty_key_file_is_refused(tmp_path: Path, content: bytes) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'sc.db'}")
    path = key_file(settings.database_url)
    assert path is not None
    path.write_bytes(content)
    with pytest.raises(SecretKeyRefused, match="needs at least 32"):
        resolve_secret_key(settings)


def test_each_database_has_its_own_key_file(tmp_path: Path, usual_umask: None) -> None:
    first = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'school.db'}")
    second = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'trust.db'}")
    one, two = resolve_secret_key(first), resolve_secret_key(second)
    assert one != two and len(one) == len(two) == 64
    assert resolve_secret_key(first) == one and resolve_secret_key(second) == two  # kept, not regenerated
    assert sorted(p.name for p in tmp_path.iterdir()) == ["school.db.secret-key", "trust.db.secret-key"]
    assert mode(tmp_path / "school.db.secret-key") == 0o600
    assert key_file("sqlite+aiosqlite://") is None and key_file("postgresql+asyncpg://x@h/db") is None


def test_a_process_arriving_while_the_key_is_written_never_reads_it_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second process starts while the first is between creating its key and finishing the file: it must
    get a whole key, and both must end up signing with the same one."""
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'sc.db'}")
    real = secrets.token_hex
    seen: list[bytes] = []

    def token_hex(nbytes: int | None = None) -> str:
        if not seen:  # the first process is generating its key: the second one starts now
            seen.append(b"")
            seen[0] = resolve_secret_key(settings)
        return real(nbytes)

    monkeypatch.setattr(secrets, "token_hex", token_hex)
    first = resolve_secret_key(settings)
    [second] = seen
    assert len(second) == 64 and first == second
    assert [p.name for p in tmp_path.iterdir()] == ["sc.db.secret-key"]  # no temporary file left behind
