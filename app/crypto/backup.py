"""Passphrase-protected export and import of the master key, for offline backup."""

import base64
import binascii
import json
import os
import unicodedata

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .errors import WrongKeyError
from .keyring import master_key_id
from .providers import MASTER_KEY_BYTES

BACKUP_FORMAT = "amanat-master-key-backup"
BACKUP_VERSION = 1
BEGIN_LINE = "-----BEGIN AMANAT MASTER KEY BACKUP-----"
END_LINE = "-----END AMANAT MASTER KEY BACKUP-----"
MIN_PASSPHRASE_CHARS = 12
SCRYPT_N = 2**17  # 128 MiB and ~0.3 s per derivation; OWASP's recommended scrypt setting
SCRYPT_R = 8
SCRYPT_P = 1
MIN_SCRYPT_N = 2**14  # the scrypt paper's interactive setting; the floor for import too
MAX_SCRYPT_N = 2**18  # bounds the memory a crafted backup can make us allocate (256 MiB)
_SALT_BYTES = 16
_NONCE_BYTES = 12


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _passphrase_bytes(passphrase: str) -> bytes:
    # NFKC so the same passphrase typed on different keyboards derives the same key
    text = unicodedata.normalize("NFKC", passphrase)
    if len(text) < MIN_PASSPHRASE_CHARS:
        raise ValueError(
            f"The backup passphrase must have at least {MIN_PASSPHRASE_CHARS} characters."
        )
    return text.encode("utf-8")


def _check_params(n: int, r: int, p: int) -> None:
    if n & (n - 1) or not MIN_SCRYPT_N <= n <= MAX_SCRYPT_N or r != SCRYPT_R or p != SCRYPT_P:
        raise ValueError(
            f"scrypt parameters must be n = 2**14..2**18 (a power of two), r = {SCRYPT_R}, "
            f"p = {SCRYPT_P}."
        )


def _aad(key_id: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return f"{BACKUP_FORMAT}|v{BACKUP_VERSION}|{key_id}|scrypt|{n}|{r}|{p}|".encode() + salt


def _derive(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase)


def export_master_key(master_key: bytes, passphrase: str, *, scrypt_n: int = SCRYPT_N) -> str:
    """Return an armoured text block holding ``master_key`` sealed under ``passphrase``.

    The key is encrypted with AES-256-GCM under a key derived by scrypt (parameters and salt
    are recorded in the block). ``scrypt_n`` exists so tests can run faster; it cannot go below
    2**14.
    """
    if len(master_key) != MASTER_KEY_BYTES:
        raise ValueError("The master key must be 32 bytes.")
    secret = _passphrase_bytes(passphrase)
    _check_params(scrypt_n, SCRYPT_R, SCRYPT_P)
    salt, nonce = os.urandom(_SALT_BYTES), os.urandom(_NONCE_BYTES)
    key_id = master_key_id(master_key)
    wrapping = AESGCM(_derive(secret, salt, scrypt_n, SCRYPT_R, SCRYPT_P))
    sealed = wrapping.encrypt(nonce, master_key, _aad(key_id, salt, scrypt_n, SCRYPT_R, SCRYPT_P))
    body = {
        "format": BACKUP_FORMAT,
        "version": BACKUP_VERSION,
        "key_id": key_id,
        "kdf": "scrypt",
        "n": scrypt_n,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
        "salt": _b64(salt),
        "cipher": "AES-256-GCM",
        "nonce": _b64(nonce),
        "ciphertext": _b64(sealed),
    }
    return f"{BEGIN_LINE}\n{json.dumps(body, indent=1)}\n{END_LINE}\n"


def _damaged(detail: str) -> WrongKeyError:
    return WrongKeyError(
        f"The master key backup is damaged or not an Amanat key backup ({detail})."
    )


def import_master_key(blob: str, passphrase: str) -> bytes:
    """Recover the master key from ``export_master_key`` output.

    Raises WrongKeyError for a wrong passphrase or a damaged block, ValueError for a
    passphrase too short to be one Amanat would have accepted.
    """
    secret = _passphrase_bytes(passphrase)
    text = blob.strip()
    if not (text.startswith(BEGIN_LINE) and text.endswith(END_LINE)):
        raise _damaged("missing BEGIN/END lines")
    try:
        body = json.loads(text[len(BEGIN_LINE) : -len(END_LINE)])
        if body["format"] != BACKUP_FORMAT or body["version"] != BACKUP_VERSION:
            raise _damaged("unknown format or version")
        if body["kdf"] != "scrypt" or body["cipher"] != "AES-256-GCM":
            raise _damaged("unknown algorithm")
        n, r, p = int(body["n"]), int(body["r"]), int(body["p"])
        key_id = str(body["key_id"])
        salt = base64.b64decode(body["salt"], validate=True)
        nonce = base64.b64decode(body["nonce"], validate=True)
        sealed = base64.b64decode(body["ciphertext"], validate=True)
    except (ValueError, KeyError, TypeError, OverflowError, binascii.Error):
        raise _damaged("unreadable fields") from None
    try:
        _check_params(n, r, p)
    except ValueError:
        raise _damaged("unsupported scrypt parameters") from None
    if len(salt) != _SALT_BYTES or len(nonce) != _NONCE_BYTES:
        raise _damaged("bad salt or nonce length")
    wrapping = AESGCM(_derive(secret, salt, n, r, p))
    try:
        master_key = wrapping.decrypt(nonce, sealed, _aad(key_id, salt, n, r, p))
    except InvalidTag:
        raise WrongKeyError(
            "The passphrase is wrong, or the key backup was altered. Check the passphrase "
            "(it is case-sensitive) and that the whole block was copied."
        ) from None
    if len(master_key) != MASTER_KEY_BYTES or master_key_id(master_key) != key_id:
        raise _damaged("key does not match its recorded id")
    return master_key
