"""The server's secret key (it signs the receipt page's form): from the setting, else one file per SQLite database.

- A key shorter than ``MIN_KEY_BYTES`` is refused, from the setting (bot/settings.py) or from the file: an
  HMAC key of a byte or two can be guessed, and then any page could post a receipt form.
- The file is named after the database file (``sharecheck.db`` -> ``sharecheck.db.secret-key``), so two
  databases in one folder never share a key.
- It is published whole: the key is written and synced to a private temporary file (0600) that is then
  hard-linked to its name. A link never replaces an existing file, so two processes starting together agree
  on the first key published, and neither can ever read a file that exists but is still empty.
"""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.settings import MIN_SECRET_KEY_BYTES, Settings

log = logging.getLogger(__name__)

KEY_FILE_SUFFIX = ".secret-key"


class SecretKeyRefused(ValueError):
    """The key in a key file is too short (or empty) to sign anything safely."""


def resolve_secret_key(settings: Settings) -> bytes:
    """The key that signs the receipt form: the setting, else the one kept beside a SQLite database.

    PostgreSQL deployments run several instances, which must share one key, so there it must be set
    (``serve`` refuses to start with a public URL and no key); an in-memory database gets a throwaway one.
    """
    if settings.sharecheck_secret_key is not None:
        return settings.sharecheck_secret_key.get_secret_value().encode()
    path = key_file(settings.database_url)
    if path is None:
        if settings.sharecheck_public_url is not None:
            log.warning("SHARECHECK_SECRET_KEY is unset: using a key for this process only")
        return secrets.token_bytes(32)
    try:
        return _checked(path.read_bytes().strip(), path)
    except FileNotFoundError:
        return _publish(path)


def key_file(database_url: str) -> Path | None:
    """``<database file>.secret-key`` beside a SQLite file; None for other databases and in-memory ones."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        return None
    database = Path(url.database)
    return database.with_name(database.name + KEY_FILE_SUFFIX)


def _checked(key: bytes, path: Path) -> bytes:
    if len(key) < MIN_SECRET_KEY_BYTES:
        raise SecretKeyRefused(
            f"the key file {path} holds {len(key)} bytes; a key needs at least {MIN_SECRET_KEY_BYTES}. "
            "Delete the file to have a new key generated (forms already open in a browser will need reloading), "
            "or set SHARECHECK_SECRET_KEY."
        )
    return key


def _publish(path: Path) -> bytes:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(key)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:  # another process published first: use theirs, so both sign alike
            return _checked(path.read_bytes().strip(), path)
    finally:
        os.unlink(temporary)
    log.info("generated a secret key for this SQLite database in %s", path)
    return key
