"""Argon2id password hashing with parameters from configuration, and the password rules."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_LENGTH = 12
MAX_LENGTH = 128
MIN_STRENGTH = 3  # zxcvbn score 0..4; 3 = "safely unguessable" for online attacks


@lru_cache(maxsize=4)
def _hasher(memory_kib: int, time_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(
        time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
    )


def hasher() -> PasswordHasher:
    cfg = current_app.config
    return _hasher(cfg["ARGON2_MEMORY_KIB"], cfg["ARGON2_TIME_COST"], cfg["ARGON2_PARALLELISM"])


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    # zxcvbn's bundled list of 30,000 passwords most often seen in breaches.
    return frozenset(FREQUENCY_LISTS["passwords"])


def hash_password(password: str) -> str:
    if len(password) > MAX_LENGTH:
        raise ValueError("password too long")
    return hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Check a password; an oversized one is refused before any hashing happens."""
    if not stored_hash or len(password) > MAX_LENGTH:
        hasher().hash("timing-equaliser")  # similar cost for unknown users
        return False
    try:
        return hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return hasher().check_needs_rehash(stored_hash)


def _letters(value: str) -> str:
    return "".join(ch for ch in value.casefold() if ch.isalnum())


def _contains_context(password: str, user_inputs: tuple[str, ...]) -> bool:
    """NIST 800-63B context words: the account's name or email local part inside the password."""
    squeezed = _letters(password)
    for value in user_inputs:
        candidates = {_letters(value), _letters(value.split("@")[0])}
        if any(len(c) >= 4 and c in squeezed for c in candidates):
            return True
    return False


def password_problems(password: str, user_inputs: tuple[str, ...] = ()) -> list[str]:
    """Why this password is not acceptable (empty when it is). No composition rules, per NIST 800-63B."""
    if len(password) < MIN_LENGTH:
        return [str(_l("Use at least %(n)d characters.", n=MIN_LENGTH))]
    if len(password) > MAX_LENGTH:
        return [str(_l("Use at most %(n)d characters.", n=MAX_LENGTH))]
    if password.lower() in _common_passwords():
        return [str(_l("This password appears in lists of breached passwords; choose another."))]
    if _contains_context(password, user_inputs):
        return [str(_l("Do not use your name or email address in your password."))]
    words = tuple(part for value in user_inputs for part in value.replace("@", " ").split() if part)
    result = zxcvbn(password, user_inputs=list(words))
    if result["score"] < MIN_STRENGTH:
        hint = result["feedback"].get("warning") or ""
        message = str(_l("This password is too easy to guess. Try a few unrelated words."))
        return [f"{message} {hint}".strip()]
    return []
