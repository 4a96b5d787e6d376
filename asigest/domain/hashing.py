"""Secrets: argon2id for passwords and PINs, SHA-256 for random API tokens and session secrets."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

# Compared against when the user does not exist, so a wrong badge costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("asigest-dummy-secret")

TOKEN_PREFIX = "asg_"


def hash_secret(secret: str) -> str:
    """An argon2id hash of a password or PIN."""
    return _hasher.hash(secret)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    """True when ``secret`` matches ``stored_hash``; always spends the same effort."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, secret) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_api_token() -> str:
    """A fresh bearer token: a recognisable prefix and 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What is stored for a token: its SHA-256 (hex)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_session_secret() -> str:
    """A fresh login-session secret (256 random bits), kept only in the signed cookie;
    the database keeps its ``token_digest``."""
    return secrets.token_urlsafe(32)
