"""Envelope encryption: random data keys wrapped under the master key and kept in a key store."""

import hashlib
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import NamedTuple, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import DecryptionError, KeyFormatError, KeyMissingError, ShreddedError, WrongKeyError
from .providers import MASTER_KEY_BYTES, KeyProvider

DATA_KEY_BYTES = 32
MAX_KEY_ID = 2**32 - 1  # key ids travel as 4 unsigned bytes in every ciphertext

PURPOSE_GENERAL = "general"  # case and testimony fields; rotated with `amanat keys rotate`
PURPOSE_PERSON = "person"  # one key per person, destroyed to crypto-shred an identity
PURPOSE_EVIDENCE = "evidence"  # evidence files (kept apart so field rotation leaves files alone)
PURPOSE_BLIND_INDEX = "blind-index"  # root of the blind-index keys; never rotated casually

MASTER_ID_INFO = b"amanat-master-key-id|v1"
_WRAP_VERSION = 1
_NONCE_BYTES = 12
_WRAPPED_LEN = 1 + _NONCE_BYTES + DATA_KEY_BYTES + 16
_PURPOSE_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_PINNED: ContextVar[dict[str, int] | None] = ContextVar("amanat_active_keys", default=None)
PENDING_WRAPPING = b""  # placeholder stored by add() until replace_wrapping() sets the real one


@dataclass
class WrappedKey:
    """One data key as the key store keeps it; ``wrapped`` is None once shredded."""

    key_id: int
    purpose: str
    wrapped: bytes | None
    master_key_id: str
    active: bool = False
    destroyed: bool = False


class KeyStore(Protocol):
    """Where wrapped data keys live (a database table in the app, a dict in tests).

    ``add`` stores a new, inactive key and returns its integer id. Because the wrapping's
    associated data includes that id, the key ring calls ``add`` with ``PENDING_WRAPPING`` and
    then ``replace_wrapping`` with the real bytes: run both in one transaction.
    ``activate`` makes one key the active key of its purpose (and no other).
    ``destroy`` sets ``wrapped`` to None, ``destroyed`` to True and ``active`` to False; it
    must overwrite the row, not add a new version of it.
    """

    def get(self, key_id: int) -> WrappedKey | None: ...

    def add(self, purpose: str, wrapped: bytes, master_key_id: str) -> int: ...

    def active(self, purpose: str) -> WrappedKey | None: ...

    def activate(self, key_id: int) -> None: ...

    def all(self) -> Iterable[WrappedKey]: ...

    def replace_wrapping(self, key_id: int, wrapped: bytes, master_key_id: str) -> None: ...

    def destroy(self, key_id: int) -> None: ...


class MemoryKeyStore:
    """A key store in a dict, for tests and tools; it hands out copies, never its own records."""

    def __init__(self) -> None:
        self._keys: dict[int, WrappedKey] = {}
        self._next_id = 1

    def _require(self, key_id: int) -> WrappedKey:
        record = self._keys.get(key_id)
        if record is None:
            raise KeyMissingError(f"Data key {key_id} is not in the key store.")
        return record

    def get(self, key_id: int) -> WrappedKey | None:
        record = self._keys.get(key_id)
        return replace(record) if record else None

    def add(self, purpose: str, wrapped: bytes, master_key_id: str) -> int:
        key_id = self._next_id
        self._next_id += 1
        self._keys[key_id] = WrappedKey(key_id, purpose, wrapped, master_key_id)
        return key_id

    def active(self, purpose: str) -> WrappedKey | None:
        for record in self._keys.values():
            if record.purpose == purpose and record.active and not record.destroyed:
                return replace(record)
        return None

    def activate(self, key_id: int) -> None:
        target = self._require(key_id)
        for record in self._keys.values():
            if record.purpose == target.purpose:
                record.active = record is target

    def all(self) -> Iterator[WrappedKey]:
        return (replace(record) for record in list(self._keys.values()))

    def replace_wrapping(self, key_id: int, wrapped: bytes, master_key_id: str) -> None:
        record = self._require(key_id)
        record.wrapped = wrapped
        record.master_key_id = master_key_id

    def destroy(self, key_id: int) -> None:
        record = self._require(key_id)
        record.wrapped = None
        record.destroyed = True
        record.active = False


def master_key_id(master_key: bytes) -> str:
    """Name a master key without revealing it: 8 bytes of SHA-256 over an HKDF fingerprint."""
    fingerprint = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=MASTER_ID_INFO).derive(
        master_key
    )
    return hashlib.sha256(fingerprint).digest()[:8].hex()


def _wrap_aad(key_id: int, purpose: str) -> bytes:
    return b"amanat-dek|" + str(key_id).encode("ascii") + b"|" + purpose.encode("ascii")


def _wrap(master: AESGCM, key_id: int, purpose: str, data_key: bytes) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = master.encrypt(nonce, data_key, _wrap_aad(key_id, purpose))
    return bytes([_WRAP_VERSION]) + nonce + sealed


def _unwrap(master: AESGCM, record: WrappedKey) -> bytes:
    """Unwrap ``record`` or raise InvalidTag; a malformed record raises DecryptionError."""
    wrapped = record.wrapped
    if wrapped is None or len(wrapped) != _WRAPPED_LEN or wrapped[0] != _WRAP_VERSION:
        raise DecryptionError(f"Wrapped data key {record.key_id} is malformed or incomplete.")
    nonce, sealed = wrapped[1 : 1 + _NONCE_BYTES], wrapped[1 + _NONCE_BYTES :]
    return master.decrypt(nonce, sealed, _wrap_aad(record.key_id, record.purpose))


class _Unwrapped(NamedTuple):
    key: bytes
    aead: AESGCM
    loaded_at: float


class KeyRing:
    """Gives out data keys by id, creating, rotating, re-wrapping and shredding them.

    The master key is fetched from the provider on first use and held in memory. Unwrapped
    data keys (and their AESGCM objects) are cached in a bounded LRU; entries expire after
    ``cache_ttl`` seconds so a key shredded by another process stops working here too.
    """

    def __init__(
        self,
        provider: KeyProvider,
        store: KeyStore,
        *,
        cache_size: int = 10_000,
        cache_ttl: float = 300.0,
    ) -> None:
        self.provider = provider
        self.store = store
        self._cache_size = cache_size
        self._cache_ttl = cache_ttl
        self._cache: OrderedDict[int, _Unwrapped] = OrderedDict()
        self._lock = threading.RLock()
        self._master: tuple[AESGCM, str] | None = None

    # -- master key -----------------------------------------------------------------------
    def _master_state(self) -> tuple[AESGCM, str]:
        with self._lock:
            if self._master is None:
                self._master = self._load_master(self.provider.load())
            return self._master

    def _load_master(self, key: bytes) -> tuple[AESGCM, str]:
        if len(key) != MASTER_KEY_BYTES:
            raise KeyFormatError(f"{self.provider.describe()} gave a key of the wrong length.")
        return AESGCM(key), master_key_id(key)

    @property
    def master_key_id(self) -> str:
        """Public name of the loaded master key (a fingerprint, never the key)."""
        return self._master_state()[1]

    def check_master(self) -> None:
        """Prove the loaded master key unwraps this store's data keys (fine if there are none).

        Raises WrongKeyError if the data keys were wrapped by another master key, or if some
        were (a master-key rotation was interrupted), and DecryptionError if a key wrapped by
        this very master key fails authentication (the key store was altered).
        """
        current = self.master_key_id
        summary = getattr(self.store, "live_keys_by_master", None)
        if summary is not None:
            # The store counts in one query and hands back one sample of ours: start-up stays
            # fast with hundreds of thousands of person keys.
            counts, mine = summary(current)
            foreign = {mid: n for mid, n in counts.items() if mid != current}
        else:
            mine = None
            foreign = {}
            for record in self.store.all():
                if record.destroyed or not record.wrapped:
                    continue
                if record.master_key_id == current:
                    mine = mine or record
                else:
                    foreign[record.master_key_id] = foreign.get(record.master_key_id, 0) + 1
        if foreign:
            others = ", ".join(f"{count} by {mid}" for mid, count in sorted(foreign.items()))
            if mine is None:
                raise WrongKeyError(
                    f"The master key from {self.provider.describe()} (id {current}) is not the "
                    f"one that wrapped this database's data keys ({others}). Restore the right "
                    "key file or import the key backup."
                )
            raise WrongKeyError(
                f"Some data keys are wrapped by another master key ({others}), not by the "
                f"loaded one (id {current}): a master-key rotation was interrupted. Finish it "
                "with the new key before using the database."
            )
        if mine is not None:
            try:
                _unwrap(self._master_state()[0], mine)
            except InvalidTag:
                raise DecryptionError(
                    f"Data key {mine.key_id} claims master key {current} but fails "
                    "authentication: the key store has been altered."
                ) from None

    def rewrap_all(self, new_master_key: bytes) -> int:
        """Master-key rotation: re-wrap every live data key under ``new_master_key``.

        Resumable: keys already wrapped by the new key are skipped. Returns how many keys were
        re-wrapped. Afterwards this ring uses the new key; the caller must then persist it
        (``provider.store``) — see docs/crypto-format.md for the crash-safe order.
        """
        if len(new_master_key) != MASTER_KEY_BYTES:
            raise KeyFormatError("The new master key must be 32 bytes.")
        new_aead, new_id = self._load_master(new_master_key)
        count = 0
        with self._lock:
            old_aead, old_id = self._master_state()
            for record in self.store.all():
                if record.destroyed or record.wrapped is None or record.master_key_id == new_id:
                    continue
                data_key = self._unwrap_checked(old_aead, old_id, record)
                wrapped = _wrap(new_aead, record.key_id, record.purpose, data_key)
                self.store.replace_wrapping(record.key_id, wrapped, new_id)
                count += 1
            self._master = (new_aead, new_id)
        return count

    # -- data keys --------------------------------------------------------------------------
    def _unwrap_checked(self, master: AESGCM, current_id: str, record: WrappedKey) -> bytes:
        """Unwrap, telling a wrong master key (WrongKeyError) from tampering (DecryptionError)."""
        try:
            return _unwrap(master, record)
        except InvalidTag:
            if record.master_key_id != current_id:
                raise WrongKeyError(
                    f"Data key {record.key_id} was wrapped by master key {record.master_key_id}, "
                    f"but the key from {self.provider.describe()} is {current_id}. Restore the "
                    "right key file or import the key backup."
                ) from None
            raise DecryptionError(
                f"Wrapped data key {record.key_id} failed authentication: the key store has "
                "been altered."
            ) from None

    def _entry(self, key_id: int) -> _Unwrapped:
        with self._lock:
            entry = self._cache.get(key_id)
            if entry is not None and time.monotonic() - entry.loaded_at < self._cache_ttl:
                self._cache.move_to_end(key_id)
                return entry
        # fetched outside the lock so one slow store query does not stall other threads
        record = self.store.get(key_id)
        if record is None:
            raise KeyMissingError(f"Data key {key_id} is not in the key store.")
        if record.destroyed or record.wrapped is None:
            with self._lock:
                self._cache.pop(key_id, None)
            raise ShreddedError(key_id=key_id)
        return self._remember(key_id, self._unwrap_checked(*self._master_state(), record))

    def _remember(self, key_id: int, key: bytes) -> _Unwrapped:
        entry = _Unwrapped(key, AESGCM(key), time.monotonic())
        with self._lock:
            self._cache[key_id] = entry
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return entry

    def preload(self, key_ids: Iterable[int]) -> None:
        """Unwrap these keys into the cache with one key-store read (e.g. every person on a page).

        Keys already cached, destroyed or missing are skipped here; using them later raises as
        usual. Without `get_many` on the store this does nothing (keys load one by one on use).
        """
        get_many = getattr(self.store, "get_many", None)
        now = time.monotonic()
        with self._lock:
            wanted = {k for k in key_ids if k is not None and not (
                k in self._cache and now - self._cache[k].loaded_at < self._cache_ttl)}
        if not wanted or get_many is None:
            return
        master = self._master_state()
        for record in get_many(sorted(wanted)):
            if record.destroyed or record.wrapped is None:
                continue
            self._remember(record.key_id, self._unwrap_checked(*master, record))

    def data_key(self, key_id: int) -> bytes:
        """Return the unwrapped 32-byte data key ``key_id``."""
        return self._entry(key_id).key

    def aead(self, key_id: int) -> AESGCM:
        """Return a cached AES-256-GCM object for data key ``key_id``."""
        return self._entry(key_id).aead

    def new_key(self, purpose: str, make_active: bool = True) -> int:
        """Create a random data key for ``purpose`` and return its id.

        Use ``make_active=True`` for rotation of shared keys ("general", "evidence") and
        ``make_active=False`` for per-person keys, whose ids the caller stores on the person.
        """
        if not _PURPOSE_RE.fullmatch(purpose):
            raise ValueError(f"Key purpose {purpose!r} must match {_PURPOSE_RE.pattern}.")
        data_key = os.urandom(DATA_KEY_BYTES)
        with self._lock:
            master, current_id = self._master_state()
            key_id = self.store.add(purpose, PENDING_WRAPPING, current_id)
            if not 0 < key_id <= MAX_KEY_ID:
                raise ValueError(f"The key store returned key id {key_id}, outside 1..2**32-1.")
            self.store.replace_wrapping(
                key_id, _wrap(master, key_id, purpose, data_key), current_id
            )
            if make_active:
                self.store.activate(key_id)
            self._remember(key_id, data_key)
        return key_id

    def new_keys(self, purpose: str, count: int) -> list[int]:
        """``count`` new inactive keys (per-person keys for a bulk import), stored in one go.

        Each is generated and wrapped exactly as ``new_key(purpose, make_active=False)`` does;
        a store with ``free_ids`` and ``add_many`` takes them in two statements, any other store
        one by one through ``new_key``.
        """
        free_ids = getattr(self.store, "free_ids", None)
        add_many = getattr(self.store, "add_many", None)
        if free_ids is None or add_many is None:
            return [self.new_key(purpose, make_active=False) for _ in range(count)]
        if not _PURPOSE_RE.fullmatch(purpose):
            raise ValueError(f"Key purpose {purpose!r} must match {_PURPOSE_RE.pattern}.")
        with self._lock:
            master, current_id = self._master_state()
            key_ids = free_ids(count)
            records, keys = [], []
            for key_id in key_ids:
                if not 0 < key_id <= MAX_KEY_ID:
                    raise ValueError(f"The key store returned key id {key_id}, outside 1..2**32-1.")
                data_key = os.urandom(DATA_KEY_BYTES)
                records.append(WrappedKey(key_id, purpose, _wrap(master, key_id, purpose, data_key),
                                          current_id))
                keys.append(data_key)
            add_many(records)
            for key_id, data_key in zip(key_ids, keys, strict=True):
                self._remember(key_id, data_key)
        return key_ids

    def active_key_id(self, purpose: str) -> int:
        """Id of the active key for ``purpose``, creating one if there is none."""
        pinned = _PINNED.get()
        if pinned is not None and purpose in pinned:
            return pinned[purpose]
        with self._lock:
            record = self.store.active(purpose)
            key_id = record.key_id if record is not None else self.new_key(purpose,
                                                                            make_active=True)
        if pinned is not None:
            pinned[purpose] = key_id
        return key_id

    @staticmethod
    @contextmanager
    def active_keys_pinned() -> Iterator[None]:
        """Inside this block ``active_key_id`` asks the store once per purpose (a bulk import
        encrypts thousands of fields under the same general key in one transaction); outside it
        every call reads the store, so a rotation elsewhere is seen at once."""
        token = _PINNED.set({})
        try:
            yield
        finally:
            _PINNED.reset(token)

    def destroy(self, key_id: int) -> None:
        """Crypto-shred data key ``key_id``: its wrapped bytes are erased from the store."""
        with self._lock:
            if self.store.get(key_id) is None:
                raise KeyMissingError(f"Data key {key_id} is not in the key store.")
            self.store.destroy(key_id)
            self._cache.pop(key_id, None)
