"""Data sealed under a passphrase for transfer between installations (e.g. an exported bundle).

AES-256-GCM under a key derived by scrypt (the same parameters and passphrase rules as the
master-key backup, app/crypto/backup.py); the header is bound as associated data.
"""

from __future__ import annotations

import base64
import binascii
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .backup import SCRYPT_N, SCRYPT_P, SCRYPT_R, _check_params, _derive, _passphrase_bytes
from .errors import WrongKeyError

SEALED_FORMAT = "amanat-sealed"
SEALED_VERSION = 1


def _aad(content: str, n: int, salt: bytes) -> bytes:
    return f"{SEALED_FORMAT}|v{SEALED_VERSION}|{content}|scrypt|{n}|".encode() + salt


def seal(data: bytes, passphrase: str, *, content: str, scrypt_n: int = SCRYPT_N) -> str:
    """A JSON text holding `data` encrypted under `passphrase`; `content` names what it is."""
    secret = _passphrase_bytes(passphrase)
    _check_params(scrypt_n, SCRYPT_R, SCRYPT_P)
    salt, nonce = os.urandom(16), os.urandom(12)
    key = _derive(secret, salt, scrypt_n, SCRYPT_R, SCRYPT_P)
    sealed = AESGCM(key).encrypt(nonce, data, _aad(content, scrypt_n, salt))
    return json.dumps({"format": SEALED_FORMAT, "version": SEALED_VERSION, "content": content,
                       "kdf": "scrypt", "n": scrypt_n, "salt": base64.b64encode(salt).decode(),
                       "nonce": base64.b64encode(nonce).decode(),
                       "ciphertext": base64.b64encode(sealed).decode()}) + "\n"


def is_sealed(value: object) -> bool:
    return isinstance(value, dict) and value.get("format") == SEALED_FORMAT


def unseal(value: dict, passphrase: str, *, content: str) -> bytes:
    """The data of a sealed document; WrongKeyError for a wrong passphrase or altered file."""
    secret = _passphrase_bytes(passphrase)
    try:
        if value["version"] != SEALED_VERSION or value["content"] != content:
            raise WrongKeyError(f"This sealed file does not hold {content}.")
        n = int(value["n"])
        salt = base64.b64decode(value["salt"], validate=True)
        nonce = base64.b64decode(value["nonce"], validate=True)
        sealed = base64.b64decode(value["ciphertext"], validate=True)
        _check_params(n, SCRYPT_R, SCRYPT_P)
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise WrongKeyError("The sealed file is damaged (unreadable fields).") from None
    try:
        return AESGCM(_derive(secret, salt, n, SCRYPT_R, SCRYPT_P)).decrypt(
            nonce, sealed, _aad(content, n, salt))
    except InvalidTag:
        raise WrongKeyError("The passphrase is wrong, or the sealed file was altered.") from None
