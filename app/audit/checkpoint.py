"""Signed checkpoints of the audit log: C2SP tlog-checkpoint bodies in C2SP signed notes (Ed25519).

A checkpoint commits to the whole log at one size:

    <origin>\\n<tree size>\\n<base64 root hash>\\n[<extension line>\\n ...]
    \\n
    — <key name> <base64(4-byte key ID || 64-byte Ed25519 signature over the text above)>\\n

Key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]. The verifier key string
"<name>+<hex key ID>+<base64(0x01 || public key)>" is what a recipient needs to check checkpoints;
it is the same format as Go's golang.org/x/mod/sumdb/note, so standard tooling can check them too.
Specs: https://c2sp.org/tlog-checkpoint and https://c2sp.org/signed-note.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from .merkle import HASH_SIZE

__all__ = [
    "BadSignatureError",
    "Checkpoint",
    "CheckpointError",
    "MalformedCheckpointError",
    "UnknownKeyError",
    "decode_verifier_key",
    "encode_verifier_key",
    "generate_signing_key",
    "key_id",
    "parse_checkpoint",
    "private_key_from_bytes",
    "private_key_from_text",
    "private_key_to_bytes",
    "private_key_to_text",
    "public_key_from_bytes",
    "public_key_to_bytes",
    "sign_checkpoint",
    "sign_note",
    "verify_checkpoint",
    "verify_note",
]

_ED25519 = b"\x01"  # signed-note signature type for Ed25519
_SIG_PREFIX = "\u2014 "  # em dash, space
_MAX_SIGNATURES = 100  # the spec asks verifiers to accept at least 16
_MAX_NOTE_BYTES = 1 << 20
_SIZE_RE = re.compile(r"0|[1-9][0-9]*")
_CONTROL_RE = re.compile(r"[\x00-\x09\x0b-\x1f]")


class CheckpointError(ValueError):
    """A checkpoint or signed note could not be parsed or verified."""


class MalformedCheckpointError(CheckpointError):
    """The text is not a well-formed signed note or checkpoint."""


class UnknownKeyError(CheckpointError):
    """The note carries no signature by the expected key (name and key ID)."""


class BadSignatureError(CheckpointError):
    """A signature by the expected key is present but does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, tree size, RFC 6962 root hash and optional extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin or _CONTROL_RE.search(self.origin):
            raise MalformedCheckpointError("origin must be one non-empty line")
        if not isinstance(self.size, int) or isinstance(self.size, bool) or self.size < 0:
            raise MalformedCheckpointError("tree size must be a non-negative int")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise MalformedCheckpointError(f"root hash must be {HASH_SIZE} bytes")
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for line in self.extensions:
            if not line or "\n" in line or _CONTROL_RE.search(line):
                raise MalformedCheckpointError("extension lines must be non-empty single lines")
        try:
            self.body().encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedCheckpointError("checkpoint text is not valid Unicode") from None

    def body(self) -> str:
        """Return the note text that gets signed (ends with a newline)."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode("ascii")]
        lines.extend(self.extensions)
        return "\n".join(lines) + "\n"


# --- keys -------------------------------------------------------------------------------------


def _check_key_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() for c in name) or _CONTROL_RE.search(name):
        raise ValueError("key name must be non-empty, without spaces or '+'")


def public_key_to_bytes(public_key: Ed25519PublicKey) -> bytes:
    """Return the 32-byte RFC 8032 encoding of an Ed25519 public key."""
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_from_bytes(data: bytes) -> Ed25519PublicKey:
    """Load an Ed25519 public key from its 32 raw bytes."""
    return Ed25519PublicKey.from_public_bytes(data)


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """Return the 4-byte signed-note key ID: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    _check_key_name(name)
    material = name.encode("utf-8") + b"\n" + _ED25519 + public_key_to_bytes(public_key)
    return hashlib.sha256(material).digest()[:4]


def encode_verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """Return "<name>+<hex key ID>+<base64(0x01 || public key)>", the key a recipient trusts."""
    raw = _ED25519 + public_key_to_bytes(public_key)
    return f"{name}+{key_id(name, public_key).hex()}+{base64.b64encode(raw).decode('ascii')}"


def decode_verifier_key(vkey: str) -> tuple[str, Ed25519PublicKey]:
    """Parse a verifier key string; return (key name, public key). Raises CheckpointError."""
    # The name cannot contain '+', the base64 part can: split on the first two only.
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise MalformedCheckpointError("verifier key must be <name>+<key id>+<key>")
    name, hex_id, b64 = parts
    try:
        _check_key_name(name)
    except ValueError as err:
        raise MalformedCheckpointError(f"verifier key: {err}") from None
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise MalformedCheckpointError("verifier key ID must be 8 lowercase hex digits")
    raw = _b64decode(b64, "verifier key")
    if len(raw) != 33 or raw[:1] != _ED25519:
        raise MalformedCheckpointError("verifier key is not an Ed25519 (type 0x01) key")
    public_key = public_key_from_bytes(raw[1:])
    if key_id(name, public_key).hex() != hex_id:
        raise MalformedCheckpointError("verifier key ID does not match its name and key")
    return name, public_key


def generate_signing_key() -> Ed25519PrivateKey:
    """Return a fresh Ed25519 private key for signing checkpoints."""
    return Ed25519PrivateKey.generate()


def private_key_to_bytes(private_key: Ed25519PrivateKey) -> bytes:
    """Return the 32-byte RFC 8032 seed of a private key (for an external key store)."""
    return private_key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )


def private_key_from_bytes(seed: bytes) -> Ed25519PrivateKey:
    """Load a private key from its 32-byte seed."""
    return Ed25519PrivateKey.from_private_bytes(seed)


def private_key_to_text(private_key: Ed25519PrivateKey, password: bytes | None = None) -> str:
    """Return the key as PKCS#8 PEM, encrypted with `password` when one is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    return pem.decode("ascii")


def private_key_from_text(text: str, password: bytes | None = None) -> Ed25519PrivateKey:
    """Load a PKCS#8 PEM private key written by `private_key_to_text`; it must be Ed25519."""
    key = serialization.load_pem_private_key(text.encode("ascii"), password=password)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


# --- signed notes -----------------------------------------------------------------------------


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise MalformedCheckpointError(f"{what} is not valid base64") from None


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """Return `text` signed as a C2SP signed note by `name` with `private_key`."""
    if not text.endswith("\n") or "\n\n" in "\n" + text or _CONTROL_RE.search(text):
        raise MalformedCheckpointError("note text must be non-empty lines ending in a newline")
    try:
        message = text.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedCheckpointError("note text is not valid Unicode") from None
    kid = key_id(name, private_key.public_key())
    signature = private_key.sign(message)
    blob = base64.b64encode(kid + signature).decode("ascii")
    return f"{text}\n{_SIG_PREFIX}{name} {blob}\n"


def _split_note(note: str | bytes) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """Split a note into its text and its (key name, key ID, signature) lines; check the syntax."""
    if isinstance(note, bytes):
        if len(note) > _MAX_NOTE_BYTES:
            raise MalformedCheckpointError("note is too large")
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedCheckpointError("note is not valid UTF-8") from None
    else:
        try:
            if len(note.encode("utf-8")) > _MAX_NOTE_BYTES:
                raise MalformedCheckpointError("note is too large")
        except UnicodeEncodeError:
            raise MalformedCheckpointError("note is not valid Unicode") from None
    if _CONTROL_RE.search(note):
        raise MalformedCheckpointError("note contains control characters")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise MalformedCheckpointError("note has no signature block")
    text, sig_block = note[: split + 1], note[split + 2 :]
    lines = sig_block[:-1].split("\n") if sig_block else []
    if not lines:
        raise MalformedCheckpointError("note has no signatures")
    if len(lines) > _MAX_SIGNATURES:
        raise MalformedCheckpointError("note has too many signatures")
    signatures = []
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise MalformedCheckpointError("signature line must start with an em dash and a space")
        name, sep, blob = line[len(_SIG_PREFIX) :].partition(" ")
        if not sep or not name or "+" in name or any(c.isspace() for c in name) or " " in blob:
            raise MalformedCheckpointError("malformed signature line")
        raw = _b64decode(blob, "signature")
        if len(raw) < 5:
            raise MalformedCheckpointError("signature is too short")
        signatures.append((name, raw[:4], raw[4:]))
    return text, signatures


def verify_note(note: str | bytes, name: str, public_key: Ed25519PublicKey) -> str:
    """Return the text of a signed note after checking the signature by (`name`, `public_key`).

    Signatures by other keys are ignored, as the signed-note spec requires (they may be witness
    cosignatures). Raises UnknownKeyError if the key did not sign, BadSignatureError if its
    signature does not verify, MalformedCheckpointError if the note cannot be parsed.
    """
    text, signatures = _split_note(note)
    kid = key_id(name, public_key)
    found = False
    for sig_name, sig_kid, signature in signatures:
        if sig_name != name or sig_kid != kid:
            continue
        found = True
        try:
            public_key.verify(signature, text.encode("utf-8"))
        except InvalidSignature:
            raise BadSignatureError(f"signature by {name} does not verify") from None
    if not found:
        raise UnknownKeyError(f"no signature by key {name}+{kid.hex()}")
    return text


# --- checkpoints ------------------------------------------------------------------------------


def _parse_body(text: str) -> Checkpoint:
    if not text.endswith("\n"):
        raise MalformedCheckpointError("checkpoint text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedCheckpointError("checkpoint needs origin, size and root hash lines")
    origin, size_line, root_line, *extensions = lines
    if not _SIZE_RE.fullmatch(size_line):
        raise MalformedCheckpointError("tree size must be a decimal number without leading zeros")
    root_hash = _b64decode(root_line, "root hash")
    if len(root_hash) != HASH_SIZE:
        raise MalformedCheckpointError(f"root hash must be {HASH_SIZE} bytes")
    return Checkpoint(origin, int(size_line), root_hash, tuple(extensions))


def parse_checkpoint(text: str | bytes) -> Checkpoint:
    """Parse a signed checkpoint WITHOUT checking any signature (for display and debugging only).

    Plain bodies without a signature block are accepted too.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedCheckpointError("checkpoint is not valid UTF-8") from None
    body = _split_note(text)[0] if "\n\n" in text else text
    if _CONTROL_RE.search(body):
        raise MalformedCheckpointError("checkpoint contains control characters")
    return _parse_body(body)


def sign_checkpoint(cp: Checkpoint, name: str, private_key: Ed25519PrivateKey) -> str:
    """Return the checkpoint as a signed note text, signed by `name` with `private_key`."""
    return sign_note(cp.body(), name, private_key)


def verify_checkpoint(
    text: str | bytes,
    name: str,
    public_key: Ed25519PublicKey,
    *,
    origin: str | None = None,
) -> Checkpoint:
    """Verify a signed checkpoint and return it; raise a CheckpointError subclass otherwise.

    Pass `origin` to also insist the checkpoint is for this log (a key may sign several).
    """
    cp = _parse_body(verify_note(text, name, public_key))
    if origin is not None and cp.origin != origin:
        raise MalformedCheckpointError(f"checkpoint is for {cp.origin!r}, not {origin!r}")
    return cp
