"""The audit log's signing key, and making, storing and reading its signed checkpoints.

The Ed25519 key lives in a PEM file (config AUDIT_SIGNING_KEY_FILE, default
instance/audit-signing.key), created on first use with mode 0600; a file readable by group or
others is refused, like the secret key and the master key. The log's origin, which is also the
key name, is AUDIT_LOG_ORIGIN or "amanat.<organisation name slug>/audit".

Checkpoints are made incrementally: each stored checkpoint keeps the Merkle tree's state at its
size, so the next one hashes only the entries added since (recomputed from their rows, not taken
from the stored leaf hashes). A new checkpoint therefore continues the history that was already
signed; it never re-signs a log that was rewritten underneath it. `amanat audit verify` is what
recomputes everything from the first entry.

When: on demand (`amanat audit checkpoint`, exports), after a verification that passed, and
automatically after the commit that writes an entry whose seq is a multiple of
AUDIT_CHECKPOINT_EVERY (default 1000) -- see `init_app`.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from flask import Flask, current_app
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    encode_verifier_key,
    generate_signing_key,
    parse_checkpoint,
    private_key_from_text,
    private_key_to_text,
    sign_checkpoint,
)
from app.audit.merkle import TreeBuilder
from app.audit.scan import scan
from app.crypto.private_files import PrivateFileError, create_private_once, read_private_text
from app.extensions import db
from app.models.audit import AuditEntry
from app.models.base import utcnow
from app.models.checkpoints import AuditCheckpoint

DEFAULT_CHECKPOINT_EVERY = 1000
_DUE = "amanat.audit_checkpoint_due"


class AuditKeyError(RuntimeError):
    """The signing key file is missing where it must exist, unreadable, unsafe or not a key."""


class LogIntegrityError(RuntimeError):
    """The entries after the last checkpoint do not check out; no checkpoint is signed over them."""


@dataclass(frozen=True)
class SigningKey:
    """The log's key name (= origin), private key and the verifier key recipients trust."""

    name: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def verifier_key(self) -> str:
        return encode_verifier_key(self.name, self.public_key)


# --- the key -----------------------------------------------------------------------------------


def log_origin(config: Any = None) -> str:
    """The log's name: AUDIT_LOG_ORIGIN, else "amanat.<organisation slug>/audit"."""
    config = config if config is not None else current_app.config
    configured = config.get("AUDIT_LOG_ORIGIN")
    if configured:
        return str(configured)
    ascii_name = unicodedata.normalize("NFKD", str(config.get("ORGANISATION_NAME") or ""))
    ascii_name = ascii_name.encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-") or "log"
    return f"amanat.{slug}/audit"


def key_path(config: Any = None) -> Path:
    config = config if config is not None else current_app.config
    return Path(config["AUDIT_SIGNING_KEY_FILE"])


def _read_key(path: Path) -> Ed25519PrivateKey:
    try:
        text = read_private_text(path, what="The audit signing key")
    except (FileNotFoundError, PrivateFileError) as error:
        raise AuditKeyError(f"{error} Checkpoints signed with an exposed key prove less."
                            if isinstance(error, PrivateFileError) else
                            f"The audit signing key {path} cannot be opened: {error}") from None
    try:
        return private_key_from_text(text)
    except (ValueError, TypeError):
        raise AuditKeyError(f"{path} is not an Ed25519 private key in PEM form.") from None


def _create_key(path: Path) -> Ed25519PrivateKey:
    """Write a fresh key atomically (0600); if another process won the race, use theirs."""
    key = generate_signing_key()
    if not create_private_once(path, private_key_to_text(key).encode("ascii")):
        return _read_key(path)
    return key


def signing_key(*, create: bool = True) -> SigningKey:
    """Load the signing key; create it on first use unless `create` is False."""
    path = key_path()
    if not path.exists() and create:
        current_app.logger.warning("Created the audit signing key %s (mode 0600).", path)
        return SigningKey(log_origin(), _create_key(path))
    return SigningKey(log_origin(), _read_key(path))


# --- checkpoints -------------------------------------------------------------------------------


def encode_state(builder: TreeBuilder) -> str:
    return "\n".join(base64.b64encode(h).decode("ascii") for h in builder.state()[1])


def decode_state(size: int, text: str) -> TreeBuilder:
    roots = [base64.b64decode(line) for line in text.split("\n") if line]
    return TreeBuilder.from_state(size, roots)


def latest_checkpoint(session: Session | None = None) -> AuditCheckpoint | None:
    session = session or db.session
    return session.execute(
        select(AuditCheckpoint).order_by(AuditCheckpoint.size.desc()).limit(1)
    ).scalar_one_or_none()


def store_checkpoint(builder: TreeBuilder, key: SigningKey,
                     session: Session | None = None) -> AuditCheckpoint:
    """Sign the tree's current head and add it to `session` (flushed, not committed)."""
    session = session or db.session
    root = builder.root()
    text = sign_checkpoint(Checkpoint(key.name, builder.size, root), key.name, key.private_key)
    row = AuditCheckpoint(size=builder.size, root_hash=root.hex(), signed_text=text,
                          tree_state=encode_state(builder), created_at=utcnow())
    session.add(row)
    session.flush()
    return row


def _resume(last: AuditCheckpoint | None) -> TreeBuilder:
    if last is None:
        return TreeBuilder()
    try:
        builder = decode_state(last.size, last.tree_state)
    except ValueError:
        raise LogIntegrityError(
            f"The stored tree state of the checkpoint at size {last.size} is damaged; "
            "run 'amanat audit verify'.") from None
    try:
        signed = parse_checkpoint(last.signed_text)
    except CheckpointError:
        signed = None
    root = builder.root()
    if signed is None or (signed.size, signed.root_hash, root.hex()) != (last.size, root,
                                                                           last.root_hash):
        raise LogIntegrityError(
            f"The checkpoint at size {last.size} does not match its stored tree state; "
            "run 'amanat audit verify'.")
    return builder


def make_checkpoint(session: Session | None = None) -> AuditCheckpoint:
    """Sign and store a checkpoint over every committed entry; return the newest checkpoint.

    Only the entries since the last checkpoint are read (and recomputed); if one of them does not
    match its stored hash or seqs have a gap, LogIntegrityError is raised and nothing is signed.
    When nothing was added since the last checkpoint, that one is returned unchanged.
    """
    session = session or db.session
    key = signing_key()
    last = latest_checkpoint(session)
    builder = _resume(last)
    start = builder.size
    top = session.execute(select(func.max(AuditEntry.seq))).scalar() or 0
    if top < start:
        raise LogIntegrityError(
            f"The log has {top} entries but was checkpointed at size {start}: "
            "entries were deleted. Run 'amanat audit verify'.")
    if last is not None and top == start:
        return last
    for chunk in scan(db.engine, start + 1, top):
        if chunk.missing or chunk.mismatched or chunk.unreadable:
            first = min([m[0] for m in chunk.missing] + chunk.mismatched
                        + [u[0] for u in chunk.unreadable])
            raise LogIntegrityError(
                f"Entry {first} does not check out; no checkpoint was signed. "
                "Run 'amanat audit verify'.")
        leaves = chunk.leaves
        builder.extend(leaves[i:i + 32] for i in range(0, len(leaves), 32))
    return store_checkpoint(builder, key, session)


def checkpoint_every(config: Any = None) -> int:
    config = config if config is not None else current_app.config
    return int(config.get("AUDIT_CHECKPOINT_EVERY") or DEFAULT_CHECKPOINT_EVERY)


def make_checkpoint_now() -> AuditCheckpoint | None:
    """Make a checkpoint in its own session and commit it; log and return None on failure."""
    with Session(db.engine, expire_on_commit=False) as session:
        try:
            row = make_checkpoint(session)
            session.commit()
            return row
        except IntegrityError:
            session.rollback()  # another process stored the same size first
            return latest_checkpoint(session)
        except (LogIntegrityError, AuditKeyError) as error:
            session.rollback()
            current_app.logger.error("Audit checkpoint not made: %s", error)
            return None


def init_app(app: Flask) -> None:
    """Make a checkpoint after a commit that wrote an entry whose seq is a multiple of N.

    The test costs a modulo per entry; seqs are contiguous, so every N-th entry passes through
    here once. The checkpoint is made after the commit, in a separate session, so the request's
    own transaction never waits on it and a failure cannot undo the change it recorded.
    """
    app.config.setdefault("AUDIT_CHECKPOINT_EVERY", DEFAULT_CHECKPOINT_EVERY)
    if getattr(init_app, "_listening", False):
        return
    init_app._listening = True  # type: ignore[attr-defined]  # listeners are process-wide

    @event.listens_for(AuditEntry, "after_insert")
    def _note_due(_mapper: Any, _connection: Any, entry: AuditEntry) -> None:
        from sqlalchemy.orm import object_session

        every = checkpoint_every()
        session = object_session(entry)
        if session is not None and every > 0 and entry.seq % every == 0:
            session.info[_DUE] = True

    @event.listens_for(Session, "after_commit")
    def _make_if_due(session: Session) -> None:
        if session.info.pop(_DUE, False):
            try:
                make_checkpoint_now()
            except Exception:  # the change is committed; never fail the request now
                current_app.logger.exception("Audit checkpoint not made")

    @event.listens_for(Session, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop(_DUE, None)
