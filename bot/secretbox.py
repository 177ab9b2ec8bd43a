"""Secrets kept in the database (Slack bot tokens), encrypted with a key derived from SHARECHECK_SECRET_KEY.

AES-256-GCM under a key from HKDF-SHA256 (a separate key per purpose, so the receipt form's HMAC key is never
used as is). Each value is bound to where it is stored (the associated data, for example the workspace a token
belongs to): a ciphertext copied onto another row does not decrypt.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "v1:"
"""Stored values start with the format version, so the scheme can change without guessing."""
NONCE = 12


class SecretUnreadable(Exception):
    """A stored secret that this key cannot decrypt (another SHARECHECK_SECRET_KEY, or an edited row)."""


class SecretBox:
    def __init__(self, secret_key: bytes, purpose: str) -> None:
        if not secret_key:
            raise ValueError("an empty secret key")
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"sharecheck {purpose}".encode()).derive(
            secret_key
        )
        self._aead = AESGCM(derived)

    def seal(self, plaintext: str, bound_to: str) -> str:
        nonce = os.urandom(NONCE)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), bound_to.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, stored: str, bound_to: str) -> str:
        if not stored.startswith(PREFIX):
            raise SecretUnreadable("unknown format")
        try:
            raw = base64.urlsafe_b64decode(stored[len(PREFIX) :])
            return self._aead.decrypt(raw[:NONCE], raw[NONCE:], bound_to.encode()).decode()
        except (InvalidTag, ValueError) as exc:
            raise SecretUnreadable("cannot be decrypted with this key") from exc


__all__ = ["SecretBox", "SecretUnreadable"]
