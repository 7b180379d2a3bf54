"""Keyed pseudonyms: HMAC-SHA-256 with a secret that never lives in the warehouse or the data folder.

Unlike a plain md5 or SHA of an e-mail address, a keyed hash cannot be reversed by hashing a list of known
addresses without the key. The key comes from `CX_PSEUDONYM_KEY` (hex) or from the key file
(`CX_PSEUDONYM_KEY_FILE`), which is created with 32 random bytes and mode 0600 on first use.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_ENV = "CX_PSEUDONYM_KEY"


def pseudonym_key(key_file: Path) -> bytes:
    from_env = os.environ.get(KEY_ENV)
    if from_env:
        return bytes.fromhex(from_env)
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # O_EXCL: two processes starting at once cannot each write a different key
        try:
            descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return bytes.fromhex(key_file.read_text().strip())
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    return bytes.fromhex(key_file.read_text().strip())


def pseudonym(key: bytes, value: str) -> str:
    """The hex HMAC-SHA-256 of `value` (UTF-8) under `key`."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def identifier_pseudonym(key: bytes, identifier_type: str, normalised_value: str) -> str:
    """The suppression list's entry for one identifier: typed, so a CRM id and a cookie with the same text differ."""
    return pseudonym(key, f"{identifier_type}:{normalised_value}")
